//! Read windows around play minutes, shared by the index (ids of this run's plays) and the
//! journal (reconciliation): a leaf, so the two need not import each other.

/// Window reads of one reconciliation per kind, at most (the closest minutes share one).
pub const MAX_WINDOWS: usize = 25;
/// Minutes closer than this are read in one window.
pub const WINDOW_GAP_SECS: i64 = 3600;

/// Minute windows `[from, to]` (inclusive seconds) covering `minutes`: neighbours closer than
/// `WINDOW_GAP_SECS` share a window, and at most `MAX_WINDOWS` windows (the smallest gaps are
/// bridged first).
pub fn windows(mut minutes: Vec<i64>) -> Vec<(i64, i64)> {
    crate::sort::sort(&mut minutes);
    minutes.dedup();
    if minutes.is_empty() {
        return Vec::new();
    }
    let mut gaps: Vec<(i64, usize)> =
        minutes.windows(2).enumerate().map(|(i, w)| (w[1] - w[0], i)).filter(|(g, _)| *g > WINDOW_GAP_SECS).collect();
    // Split at the largest gaps only.
    crate::sort::sort_by(&mut gaps, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    gaps.truncate(MAX_WINDOWS - 1);
    let mut cuts: Vec<usize> = gaps.into_iter().map(|(_, i)| i).collect();
    crate::sort::sort(&mut cuts);
    let mut out = Vec::new();
    let mut from = 0usize;
    for c in cuts {
        out.push((minutes[from], minutes[c] + 59));
        from = c + 1;
    }
    out.push((minutes[from], minutes[minutes.len() - 1] + 59));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_bridge_close_minutes_and_cap_the_count() {
        assert_eq!(windows(vec![]), vec![]);
        assert_eq!(windows(vec![120, 60, 60]), vec![(60, 179)]);
        assert_eq!(windows(vec![0, 3600, 7260]), vec![(0, 3659), (7260, 7319)]);
        let far: Vec<i64> = (0..40).map(|i| i * 86_400).collect();
        let w = windows(far);
        assert_eq!(w.len(), 25);
        assert_eq!((w[0].0, w[24].1), (0, 39 * 86_400 + 59));
        assert!(w.windows(2).all(|p| p[0].1 < p[1].0));
    }
}
