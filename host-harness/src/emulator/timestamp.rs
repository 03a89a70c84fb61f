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
            .map_err(|e| {
                format!("invalid timestamp {text:?} ({e}); expected e.g. 2026-05-02T18:41:00.000Z")
            })
    }

    /// `YYYY-MM-DDTHH:MM:SS.000Z`.
    pub fn to_trakt(self) -> String {
        match DateTime::<Utc>::from_timestamp(self.0, 0) {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
            None => "1970-01-01T00:00:00.000Z".to_string(),
        }
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
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected an RFC 3339 timestamp string or Unix seconds")
        })? {
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
}
