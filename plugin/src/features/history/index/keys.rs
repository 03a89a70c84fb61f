//! Event keys of the plays and the key order of the index (its entries, its text, its
//! cache).
//!
//! A key is `<base>@<minute>` with `~h<id>` or `~dup<n>` after it for the other plays of a
//! title's minute. The order is the keys' byte order, found without comparing keys: titles
//! are ranked by `<base>@` (so `tmdb:12@` comes before `tmdb:1@`, as in the keys), and plays
//! sorted by numbers (rank, minute, read back, history id). That is the byte order whenever
//! the numbers written have the same number of digits (every minute from 2001 to 2286, every
//! history id of one length); each neighbour pair is then compared once to confirm it, and
//! where one is out of order (a 1990s play beside a 2020s one, `~dup10` after `~dup2`, a
//! base that holds `@`), the keys are sorted as strings instead.

use std::cmp::Ordering;

use super::Index;

/// The keys of an index's plays and the plays in key order.
#[derive(Debug, Clone, Default)]
pub struct Keyed {
    /// Aligned with `Index::plays`.
    pub keys: Vec<String>,
    /// Positions in `Index::plays`, in key order.
    pub order: Vec<u32>,
}

/// `<base>@<minute>`: the event key of a play without a same-minute collision.
pub fn event_key(base: &str, minute: i64) -> String {
    // Not `format!`: written for every play, and the formatting machinery is slow in wasm.
    let mut buf = itoa::Buffer::new();
    let minute = buf.format(minute);
    let mut key = String::with_capacity(base.len() + 1 + minute.len() + 12);
    key.push_str(base);
    key.push('@');
    key.push_str(minute);
    key
}

/// `a + "@"` against `b + "@"`, without building either.
fn cmp_with_at(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => match a.len().cmp(&b.len()) {
            Ordering::Equal => Ordering::Equal,
            // `a@` against `b`'s next byte; when that is `@` too, `a@` is a prefix of `b@`.
            Ordering::Less => b'@'.cmp(&b[n]).then(Ordering::Less),
            Ordering::Greater => a[n].cmp(&b'@').then(Ordering::Greater),
        },
        other => other,
    }
}

/// The plays in the order of (title rank, minute, read back, history id, position): sorted
/// as packed numbers (rank, minute, position), then the few plays of one title's minute by
/// the rest.
fn play_order(plays: &[super::Play], rank: &[u32]) -> Vec<u32> {
    let mut packed: Vec<u128> = plays
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // The sign bit flipped: minutes compare as unsigned numbers in their order.
            let minute = (p.minute as u64) ^ (1 << 63);
            (u128::from(rank[p.title as usize]) << 96) | (u128::from(minute) << 32) | i as u128
        })
        .collect();
    packed.sort_unstable();
    let mut order: Vec<u32> = packed.iter().map(|k| *k as u32).collect();
    let mut start = 0;
    while start < packed.len() {
        let at = packed[start] >> 32;
        let end = start + packed[start..].iter().take_while(|k| *k >> 32 == at).count();
        if end - start > 1 {
            crate::sort::sort_by_key(&mut order[start..end], |i| {
                let p = &plays[*i as usize];
                (p.id.is_none(), p.id)
            });
        }
        start = end;
    }
    order
}

impl Keyed {
    pub fn of(index: &Index) -> Keyed {
        let titles = &index.titles;
        let by_base = crate::sort::order(titles.len(), &mut |a, b| cmp_with_at(&titles[a].base, &titles[b].base));
        // Equal bases, equal rank.
        let mut rank = vec![0u32; titles.len()];
        for w in 1..by_base.len() {
            let (prev, t) = (by_base[w - 1] as usize, by_base[w] as usize);
            rank[t] = rank[prev] + u32::from(titles[prev].base != titles[t].base);
        }
        let plays = &index.plays;
        let mut order = play_order(plays, &rank);
        let mut keys = vec![String::new(); plays.len()];
        let mut prev: Option<(u32, i64)> = None;
        let mut dups = 0u32;
        for &i in &order {
            let p = &plays[i as usize];
            let plain = event_key(index.title(p).base.as_str(), p.minute);
            let at = (rank[p.title as usize], p.minute);
            keys[i as usize] = if prev != Some(at) {
                dups = 0;
                plain
            } else {
                match p.id {
                    Some(id) => {
                        let mut key = plain;
                        key.push_str("~h");
                        key.push_str(itoa::Buffer::new().format(id));
                        key
                    }
                    None => {
                        dups += 1;
                        if dups == 1 {
                            format!("{plain}~dup")
                        } else {
                            format!("{plain}~dup{dups}")
                        }
                    }
                }
            };
            prev = Some(at);
        }
        let sorted = order.windows(2).all(|w| keys[w[0] as usize] < keys[w[1] as usize]);
        if !sorted {
            order = crate::sort::order(keys.len(), &mut |a, b| keys[a].cmp(&keys[b]));
        }
        Keyed { keys, order }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::history::index::PlayKind;
    use crate::model::Item;

    fn movie(ids: &[(&str, &str)]) -> Item {
        let ids = ids.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Item { kind: "movie".into(), ids, ..Item::default() }
    }

    /// The order by sorting the keys as strings.
    fn string_order(index: &Index) -> Vec<u32> {
        let keys = index.keys();
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
        order
    }

    #[test]
    fn the_key_order_is_the_keys_byte_order_in_ordinary_and_awkward_indexes() {
        let t = 1_767_225_600; // 2026-01-01
        let titles = [
            movie(&[("tmdb", "1")]),
            movie(&[("tmdb", "12")]),
            movie(&[("tmdb", "1"), ("trakt", "9")]),
            movie(&[("tmdb", "100")]),
            movie(&[("imdb", "tt0133093")]),
            movie(&[("tmdb", "2")]),
        ];
        // Ordinary: ten-digit minutes, ids of one length, collisions read back.
        let mut ordinary = Index::default();
        for (n, item) in titles.iter().enumerate() {
            for k in 0..5i64 {
                let id = 5_000_000_000 + (n as u64) * 10 + k as u64;
                ordinary.push(item, PlayKind::Movie, t - 60 * (k % 3), Some(id), format!("x{k}"));
            }
        }
        assert_eq!(ordinary.key_order(), string_order(&ordinary).as_slice());
        let keys = ordinary.keys();
        assert!(keys.contains(&"tmdb:1@1767225600".to_string()));
        assert!(keys.iter().any(|k| k.starts_with("tmdb:12@1767225540~h")));

        // Awkward: minutes of other lengths (1990s, the epoch, before it), ids of other
        // lengths, plays not read back yet (`~dup`, `~dup10` before `~dup2`).
        let mut awkward = ordinary.clone();
        for (minute, id) in [(600_000_000, Some(7)), (0, Some(12)), (-60, None), (60, Some(5)), (600, Some(1))] {
            awkward.push(&titles[0], PlayKind::Movie, minute, id, "y".into());
            awkward.push(&titles[1], PlayKind::Movie, minute, Some(99_999), "y".into());
        }
        for _ in 0..11 {
            awkward.push(&titles[3], PlayKind::Movie, t, None, "pending".into());
        }
        assert_eq!(awkward.key_order(), string_order(&awkward).as_slice());
        assert!(awkward.keys().contains(&"tmdb:100@1767225600~dup10".to_string()));
        let mut unique = awkward.keys().to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), awkward.plays.len(), "one key per play");
    }

    #[test]
    fn bases_compare_as_they_do_with_the_at_sign_after_them() {
        let bases = ["tmdb:1", "tmdb:12", "tmdb:1#show", "tmdb:1@x", "tmdb:", "tmdb:1a", "", "@", "tmdb:1@", "a"];
        for a in bases {
            for b in bases {
                assert_eq!(cmp_with_at(a, b), format!("{a}@").cmp(&format!("{b}@")), "{a:?} {b:?}");
            }
        }
    }
}
