//! One sort for the whole component.
//!
//! The standard library's sorts are generic over the element and the comparison: each
//! `sort_by` of another type or closure is a copy of the algorithm (2-12 KB of wasm each,
//! over 100 KB for the adapter's two dozen sorts, `BTreeMap`s built with `collect` among
//! them). Here one algorithm sorts positions, comparing them through a `dyn` reference;
//! putting the elements in that order is a small generic loop. The algorithm is a plain
//! bottom-up merge sort (insertion-sorted runs of 16, then merges; a merge of two runs
//! already in order is a copy): the standard library's unstable sort of positions was 8.6
//! KB of wasm, this is under 1 KB, and with the comparison behind a `dyn` call both make
//! about as many comparisons.

use std::cmp::Ordering;

/// Positions sorted by insertion before the merges begin.
const RUN: usize = 16;

/// The positions `0..n` in the order `cmp` gives them; equal positions keep their order
/// (a stable sort).
pub fn order(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<u32> {
    let mut from: Vec<u32> = (0..n as u32).collect();
    let greater = |cmp: &mut dyn FnMut(usize, usize) -> Ordering, a: u32, b: u32| cmp(a as usize, b as usize).is_gt();
    for start in (0..n).step_by(RUN) {
        for i in start + 1..(start + RUN).min(n) {
            let mut j = i;
            while j > start && greater(cmp, from[j - 1], from[j]) {
                from.swap(j - 1, j);
                j -= 1;
            }
        }
    }
    if n <= RUN {
        // One run (ids of an item, most calls): sorted already, no second buffer.
        return from;
    }
    let mut to: Vec<u32> = vec![0; n];
    let mut width = RUN;
    while width < n {
        for start in (0..n).step_by(2 * width) {
            let (mid, end) = ((start + width).min(n), (start + 2 * width).min(n));
            if mid == end || !greater(cmp, from[mid - 1], from[mid]) {
                to[start..end].copy_from_slice(&from[start..end]);
                continue;
            }
            // Ties take the left run's position first: the sort is stable.
            let (mut i, mut j) = (start, mid);
            for slot in &mut to[start..end] {
                if i < mid && (j == end || !greater(cmp, from[i], from[j])) {
                    *slot = from[i];
                    i += 1;
                } else {
                    *slot = from[j];
                    j += 1;
                }
            }
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    from
}

/// Sort `v` by `cmp`, stably.
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let positions = order(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    permute(v, positions);
}

/// Sort `v` by the key `key` gives each element, stably.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// Sort `v` in its natural order.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// Put `v` in the order `positions` names (`positions[k]` is the place, before, of the
/// element that goes to `k`), in place: each cycle of the permutation is followed once.
fn permute<T>(v: &mut [T], mut positions: Vec<u32>) {
    for start in 0..v.len() {
        let mut at = start;
        loop {
            let from = positions[at] as usize;
            positions[at] = at as u32;
            if from == start || from == at {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_as_the_standard_library_does_and_stably() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for n in [0usize, 1, 2, 3, 5, 15, 16, 17, 31, 32, 33, 64, 100, 1000, 4099] {
            for modulo in [1u32, 3, 1000, u32::MAX] {
                let v: Vec<(u32, usize)> = (0..n).map(|i| (next() % modulo, i)).collect();
                let mut ours = v.clone();
                sort_by_key(&mut ours, |p| p.0);
                let mut std = v.clone();
                std.sort_by_key(|p| p.0);
                assert_eq!(ours, std, "n={n} modulo={modulo}");
                let mut plain: Vec<u32> = v.iter().map(|p| p.0).collect();
                let mut std_plain = plain.clone();
                sort(&mut plain);
                std_plain.sort();
                assert_eq!(plain, std_plain);
                let mut rev = v.clone();
                sort_by(&mut rev, |a, b| b.0.cmp(&a.0));
                let mut std_rev = v.clone();
                std_rev.sort_by_key(|p| std::cmp::Reverse(p.0));
                assert_eq!(rev, std_rev);
            }
        }
    }

    #[test]
    fn ordered_and_reversed_inputs() {
        for n in [0usize, 1, 16, 17, 100, 1000] {
            let up: Vec<usize> = (0..n).collect();
            assert_eq!(order(n, &mut |a, b| up[a].cmp(&up[b])), (0..n as u32).collect::<Vec<_>>());
            assert_eq!(order(n, &mut |a, b| up[b].cmp(&up[a])), (0..n as u32).rev().collect::<Vec<_>>());
        }
    }

    #[test]
    fn order_names_the_positions() {
        let v = ["c", "a", "b", "a"];
        assert_eq!(order(v.len(), &mut |a, b| v[a].cmp(v[b])), vec![1, 3, 2, 0]);
    }
}
