//! ISO 8601 timestamps: parsing to instants (for comparisons) and formatting (state files).
//!
//! Why instants: Trakt writes `2026-04-30T19:02:00.000Z`, other sources write
//! `2026-04-30T19:02:00Z` or `2026-04-30T21:02:00+02:00` for the same moment; comparing the
//! strings (as CrossWatch does) calls them different, or orders them wrongly across offsets.

use std::cmp::Ordering;

/// A point in time: Unix seconds plus nanoseconds (0..1e9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]` (`T` or a space; no zone = UTC).
/// `None` for anything else, including impossible dates such as February 30.
pub fn parse(s: &str) -> Option<Instant> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    // Digits only, at most 9 of them: read as they come, no overflow possible (through
    // `str::parse` a cold 20,000-play history index took 3% more wasm instructions).
    let digits = |t: &[u8]| t.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')));
    let num = |r: std::ops::Range<usize>| -> Option<i64> { digits(b.get(r)?).map(i64::from) };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos: u32 = 0;
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        // Nanosecond precision; further digits are dropped (truncation, not rounding).
        let kept = &frac.as_bytes()[..n.min(9)];
        nanos = digits(kept)? * 10u32.pow(9 - kept.len() as u32);
        rest = &frac[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replacen(':', "", 1);
            if !matches!(hm.len(), 2 | 4) || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = hm[..2].parse().ok()?;
            let om: i64 = if hm.len() == 4 { hm[2..].parse().ok()? } else { 0 };
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(Instant { secs: days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset, nanos })
}

/// Unix seconds of an ISO 8601 time (fraction dropped).
pub fn parse_secs(s: &str) -> Option<i64> {
    parse(s).map(|t| t.secs)
}

/// Compare two timestamps as instants; `None` when either does not parse.
pub fn cmp(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp(&parse(b)?))
}

/// The same instant, however each is written. Unparseable values are never the same.
pub fn same_instant(a: &str, b: &str) -> bool {
    cmp(a, b) == Some(Ordering::Equal)
}

/// `2026-05-02T18:41:00Z` for Unix seconds (UTC).
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-05-02T18:41:00.000Z` for Unix seconds (UTC): the form Trakt writes and takes.
pub fn format_utc_millis(secs: i64) -> String {
    let mut s = format_utc(secs);
    s.insert_str(s.len() - 1, ".000");
    s
}

/// Unix seconds floored to the minute (Trakt stores plays to the minute).
pub fn floor_minute(secs: i64) -> i64 {
    secs - secs.rem_euclid(60)
}

/// Last minute `format_utc` can write with a 4-digit year (9999-12-31T23:59:00Z).
const MAX_MINUTE: i64 = 253_402_300_740;

/// A history play's time as given by a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchedAt {
    /// Unix seconds, floored to the minute, 0 (the epoch) ..= 9999-12-31T23:59.
    Minute(i64),
    /// Trakt's `"released"`: the release date (plus runtime), which only Trakt knows.
    Released,
    /// Trakt's `"unknown"`: watched at an unknown time (Trakt stores it as the epoch).
    Unknown,
}

/// Parse a `watched_at`: ISO 8601 with or without an offset (none = UTC; fractions fine;
/// date-only invalid), or digits only = epoch seconds (milliseconds from 13 digits on), or the
/// literals `released` / `unknown` (any case). `None` for anything else, and for times before
/// the epoch or after year 9999 (Trakt cannot store them).
pub fn parse_watched_at(text: &str) -> Option<WatchedAt> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("released") {
        return Some(WatchedAt::Released);
    }
    if t.eq_ignore_ascii_case("unknown") {
        return Some(WatchedAt::Unknown);
    }
    let secs = if !t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t.parse().ok()?;
        if t.len() >= 13 {
            n / 1000
        } else {
            n
        }
    } else {
        parse_secs(t)?
    };
    let minute = floor_minute(secs);
    (0..=MAX_MINUTE).contains(&minute).then_some(WatchedAt::Minute(minute))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_instant_written_differently() {
        let base = parse("2026-04-30T19:02:00Z").unwrap();
        assert_eq!(base, Instant { secs: 1_777_575_720, nanos: 0 });
        for same in [
            "2026-04-30T19:02:00.000Z",
            "2026-04-30T19:02:00.000000000Z",
            "2026-04-30T21:02:00+02:00",
            "2026-04-30T21:02:00+0200",
            "2026-04-30T14:02:00-05",
            "2026-04-30 19:02:00",
            " 2026-04-30t19:02:00z ",
        ] {
            assert_eq!(parse(same), Some(base), "{same}");
            assert!(same_instant("2026-04-30T19:02:00Z", same), "{same}");
        }
        assert!(!same_instant("2026-04-30T19:02:00Z", "2026-04-30T19:02:00.001Z"));
        assert_eq!(cmp("2026-04-30T19:02:00.5Z", "2026-04-30T19:02:00.499Z"), Some(Ordering::Greater));
        assert_eq!(parse("2026-04-30T19:02:00.123456789123Z").unwrap().nanos, 123_456_789);
        assert!(!same_instant("garbage", "garbage"), "unparseable values are never equal");
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "2026-04-30",
            "2026-04-30T19:02Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-04-30T24:00:00Z",
            "2026-04-30T19:02:00.Z",
            "2026-04-30T19:02:00+2",
            "2026-04-30T19:02:00 UTC",
            "2O26-04-30T19:02:00Z",
            "2026-+4-30T19:02:00Z",
            "2026-04-30T1 :02:00Z",
            "2026-04-30T19:02:0xZ",
            "2026-04-30T19:02:00.1x2Z",
            "1714503720",
            "2026-04-30T19:02:00+25:00",
            "２０２６-04-30T19:02:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert!(parse("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn watched_at_forms() {
        use WatchedAt::*;
        let m = 1_780_336_800; // 2026-06-01T18:00:00Z
        let cases: &[(&str, Option<WatchedAt>)] = &[
            ("2026-06-01T18:00:00Z", Some(Minute(m))),
            ("2026-06-01T18:00:59.999Z", Some(Minute(m))),
            ("2026-06-01T20:00:30+02:00", Some(Minute(m))),
            ("2026-06-01T13:00:10-0500", Some(Minute(m))),
            ("2026-06-01T18:00:00", Some(Minute(m))),
            (" 2026-06-01 18:00:45 ", Some(Minute(m))),
            ("1780336800", Some(Minute(m))),
            ("1780336859", Some(Minute(m))),
            ("1780336859999", Some(Minute(m))),
            ("0", Some(Minute(0))),
            ("1970-01-01T00:00:00.000Z", Some(Minute(0))),
            ("59", Some(Minute(0))),
            ("released", Some(Released)),
            ("Unknown", Some(Unknown)),
            ("2026-06-01", None),
            ("2026-06-01T18:00Z", None),
            ("last tuesday", None),
            ("", None),
            ("-60", None),
            ("1960-01-01T00:00:00Z", None),
            ("999999999999", None), // year 33658
            ("17803368000001234567", None),
            ("2026-02-30T10:00:00Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_watched_at(text), *want, "{text:?}");
        }
        assert_eq!(format_utc_millis(m), "2026-06-01T18:00:00.000Z");
        assert_eq!(format_utc_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!((floor_minute(119), floor_minute(-1)), (60, -60));
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_777_575_720), "2026-04-30T19:02:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59Z");
        for secs in [0, 1_700_000_000, 1_777_747_500, 4_102_444_800] {
            assert_eq!(parse_secs(&format_utc(secs)), Some(secs));
        }
    }
}
