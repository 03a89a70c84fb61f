//! Timestamps as Trakt renders them: UTC, `YYYY-MM-DDTHH:MM:SS.000Z`.
//!
//! The emulator keeps whole seconds (Trakt always answers `.000` milliseconds). Input accepts any
//! RFC 3339 date-time with an offset (converted to UTC, sub-second part dropped) or an integer
//! number of Unix seconds, which is convenient in hand-written seed files.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with one-second resolution, stored as Unix seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The wall clock right now (without the emulator's test clock offset).
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp())
    }

    /// Unix seconds.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// Truncated to the whole minute (how Trakt stores `watched_at`).
    pub fn floor_minute(self) -> Timestamp {
        Timestamp(self.0.div_euclid(60) * 60)
    }

    /// Parses an RFC 3339 date-time (`2026-05-02T18:41:00.000Z`, `2026-05-02T20:41:00+02:00`).
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| Timestamp(t.timestamp()))
            .map_err(|e| format!("invalid timestamp {text:?} ({e}); expected e.g. 2026-05-02T18:41:00.000Z"))
    }

    /// `YYYY-MM-DDTHH:MM:SS.000Z`.
    pub fn to_trakt(self) -> String {
        let mut s = String::with_capacity(24);
        self.write_trakt(&mut s);
        s
    }

    /// Appends [`to_trakt`](Self::to_trakt)'s text. Years 1970..=9999 are formatted with
    /// integer arithmetic (hot path of large pages; chrono's formatter is slow unoptimized).
    pub fn write_trakt(self, out: &mut String) {
        const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        if !(0..=MAX).contains(&self.0) {
            match DateTime::<Utc>::from_timestamp(self.0, 0) {
                Some(t) => out.push_str(&t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()),
                None => out.push_str("1970-01-01T00:00:00.000Z"),
            }
            return;
        }
        let (days, secs) = (self.0 / 86_400, self.0 % 86_400);
        // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm), for days >= 0.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let digits = |out: &mut String, n: i64, width: u32| {
            for i in (0..width).rev() {
                out.push(char::from(b'0' + (n / 10_i64.pow(i) % 10) as u8));
            }
        };
        for (n, width, sep) in [
            (year, 4, '-'),
            (month, 2, '-'),
            (day, 2, 'T'),
            (secs / 3600, 2, ':'),
            (secs / 60 % 60, 2, ':'),
            (secs % 60, 2, '.'),
        ] {
            digits(out, n, width);
            out.push(sep);
        }
        out.push_str("000Z");
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (the form used inside the `X-Ratelimit` header).
    pub fn to_plain_z(self) -> String {
        match DateTime::<Utc>::from_timestamp(self.0, 0) {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            None => "1970-01-01T00:00:00Z".to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_trakt())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_trakt())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(i64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected an RFC 3339 timestamp string or Unix seconds"))?
        {
            Raw::Secs(s) => Ok(Timestamp(s)),
            Raw::Text(t) => Timestamp::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = Timestamp::parse("2026-05-02T18:41:07.123Z").unwrap();
        assert_eq!(t.to_trakt(), "2026-05-02T18:41:07.000Z");
        assert_eq!(t.floor_minute().to_trakt(), "2026-05-02T18:41:00.000Z");
        assert_eq!(Timestamp::parse("2026-05-02T20:41:07+02:00").unwrap(), t);
        assert_eq!(Timestamp(0).to_trakt(), "1970-01-01T00:00:00.000Z");
        assert_eq!(t.to_plain_z(), "2026-05-02T18:41:07Z");
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn fast_format_matches_chrono() {
        let chrono_fmt =
            |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap().format("%Y-%m-%dT%H:%M:%S.000Z").to_string();
        let mut t = 0i64;
        while t < 253_402_300_799 {
            assert_eq!(Timestamp(t).to_trakt(), chrono_fmt(t), "{t}");
            t += 7_919_993; // ~92 days, odd: walks through all months, days and times
        }
        for t in [
            0,
            59,
            951_782_400,   // 2000-02-29
            951_868_799,   // 2000-02-29T23:59:59
            4_107_542_400, // 2100-03-01
            1_767_225_599,
            253_402_300_799,
        ] {
            assert_eq!(Timestamp(t).to_trakt(), chrono_fmt(t), "{t}");
        }
        assert_eq!(Timestamp(-1).to_trakt(), "1969-12-31T23:59:59.000Z");
        assert_eq!(Timestamp(i64::MAX).to_trakt(), "1970-01-01T00:00:00.000Z");
    }
}
