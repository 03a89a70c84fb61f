//! Pieces shared by the ratings, history and collection routes: per-type counters, `400`/`420`
//! replies, and parsing of the datetime values in bodies and queries.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use crate::catalog::date_start;
use crate::library::MediaType;
use crate::route::{Ctx, Reply};
use crate::timestamp::Timestamp;

/// Where non-VIP users are sent on `420` (`X-Upgrade-URL`) and `426`, as Trakt's 2026 answers say.
pub const UPGRADE_URL: &str = "https://app.trakt.tv/vip";

/// Per-type counters, rendered as `{"movies": n, "shows": n, "seasons": n, "episodes": n}`
/// ([`all_json`](Self::all_json)) or `{"movies": n, "episodes": n}` ([`me_json`](Self::me_json)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts(pub [u64; 4]);

impl Counts {
    pub(crate) fn bump(&mut self, t: MediaType) {
        self.0[t as usize] += 1;
    }

    pub(crate) fn get(&self, t: MediaType) -> u64 {
        self.0[t as usize]
    }

    pub(crate) fn all_json(&self) -> Value {
        self.json(&MediaType::ALL)
    }

    pub(crate) fn me_json(&self) -> Value {
        self.json(&[MediaType::Movie, MediaType::Episode])
    }

    fn json(&self, types: &[MediaType]) -> Value {
        let mut m = Map::new();
        for t in types {
            m.insert(t.plural().into(), self.get(*t).into());
        }
        Value::Object(m)
    }
}

pub(crate) fn bad_request(e: impl std::fmt::Display) -> Reply {
    Reply::error(400, "bad_request", e.to_string())
}

/// Trakt's answer when an account limit would be exceeded: `420` with `X-Upgrade-URL`,
/// `X-VIP-User` and `X-Account-Limit`.
pub(crate) fn account_limit(vip: bool, what: &str, limit: u64, count: usize, more: usize) -> Reply {
    Reply::error(
        420,
        "account_limit_exceeded",
        format!("{what} limit of {limit} items exceeded: {count} present, {more} more requested"),
    )
    .header("x-upgrade-url", UPGRADE_URL)
    .header("x-vip-user", vip.to_string())
    .header("x-account-limit", limit.to_string())
}

/// A date-time in a body: RFC 3339 (`2026-05-01T21:10:00.000Z`, `...+02:00`), or without an
/// offset (`2026-05-01T21:10:00`, read as UTC).
pub(crate) fn parse_datetime(text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = Timestamp::parse(text) {
        return Ok(t);
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text.trim(), f) {
            return Ok(Timestamp(t.and_utc().timestamp()));
        }
    }
    Err(format!("invalid date-time {text:?}; expected e.g. 2026-05-02T18:41:00.000Z"))
}

/// A `watched_at` / `collected_at` / `rated_at` request value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// Not given: the request time.
    Now,
    At(Timestamp),
    /// `"released"`: the item's release (see `Lookup::release`).
    Released,
    /// `"unknown"`: watched at an unknown time (stored as the Unix epoch).
    Unknown,
}

/// Reads `field`'s value (`None` or `null` = [`When::Now`]); `keywords` lists the accepted
/// non-date values among `released` and `unknown`. Anything else is an error naming the field.
pub(crate) fn parse_when(value: Option<&Value>, field: &str, keywords: &[&str]) -> Result<When, String> {
    let expected = if keywords.is_empty() {
        "a UTC date-time".to_string()
    } else {
        format!("a UTC date-time or {}", keywords.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(" or "))
    };
    match value {
        None | Some(Value::Null) => Ok(When::Now),
        Some(Value::String(s)) if s == "released" && keywords.contains(&"released") => Ok(When::Released),
        Some(Value::String(s)) if s == "unknown" && keywords.contains(&"unknown") => Ok(When::Unknown),
        Some(Value::String(s)) => {
            parse_datetime(s).map(When::At).map_err(|_| format!("invalid `{field}` {s:?}: expected {expected}"))
        }
        Some(other) => Err(format!("invalid `{field}` {other}: expected {expected}")),
    }
}

/// A `start_at` / `end_at` query value: a date-time as in bodies, or `YYYY-MM-DD` (the start of
/// that day for `start_at`, its last second for `end_at`, so both bounds include the whole day).
/// `Ok(None)` when absent or empty.
pub(crate) fn query_time(ctx: &Ctx<'_>, name: &str, end: bool) -> Result<Option<Timestamp>, Reply> {
    let Some(text) = ctx.query(name).map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(day) = date_start(text) {
        return Ok(Some(if end { Timestamp(day.0 + 86_399) } else { day }));
    }
    parse_datetime(text).map(Some).map_err(|_| {
        bad_request(format!(
            "invalid `{name}` {text:?}: expected a UTC date-time (2026-05-01T00:00:00.000Z) or YYYY-MM-DD"
        ))
    })
}
