//! Adapter options, parsed from the JSON text given to `configure()`.
//!
//! The text is CrossWatch's `trakt` config block minus credentials, plus `api_url` (the host
//! always passes it). Unknown keys are ignored; a JSON `null` means "use the default", because
//! CrossWatch configs carry explicit nulls for unset keys. A known key with a wrong type or
//! range is an `AdapterError::Config` naming the key.

use serde_json::{Map, Value};

use crate::error::AdapterError;

pub const DEFAULT_API_URL: &str = "https://api.trakt.tv";
/// Trakt's page-size cap since 2026-06 (larger limits are clamped by the server).
pub const MAX_PAGE_LIMIT: u32 = 250;

/// Default items per watchlist, ratings or history write (`watchlist_batch_size`,
/// `ratings_chunk_size`, `history_chunk_size`): 250.
///
/// Trakt documents no body or item limit for sync writes; clients use 100 to 500. Bigger
/// chunks are faster: every write takes a 1 s slot of Trakt's write bucket, so 1,000 items
/// cost 4 s of pacing at 250 against 10 s at 100. They also cost more when something goes
/// wrong: a 5xx or timeout resends the whole chunk (these writes are idempotent, so this is
/// safe, only slower), a 4xx or 420 marks the whole chunk unresolved, and Trakt's time to
/// answer grows with the chunk while the request deadline (`timeout`, 10 s) does not.
/// 250 is Trakt's own page size cap (the unit it serves in one response), the free
/// watchlist limit (a whole free watchlist fits in one write) and keeps bodies small: about
/// 15 KB of flat ids, 30 KB with ratings and `rated_at`, less for nested episodes (a number
/// each under one show). CrossWatch's applier hands over at most 100 items per call, so
/// inside CrossWatch each call is one write either way; the larger default helps direct
/// hosts (the CLI) and costs nothing there. History adds are not idempotent, so there a 5xx
/// or timeout is read back before anything is resent, and the body size adapts: halved after
/// such a failure, grown back after answered bodies (`features::history::add::chunk`).
pub const DEFAULT_WRITE_BATCH: u32 = 250;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// API origin without a trailing slash, e.g. "https://api.trakt.tv".
    pub api_url: String,
    /// Whole-request deadline per attempt.
    pub timeout_ms: u32,
    /// Total attempts per request (CrossWatch's `max_retries` is an attempt count).
    pub max_retries: u32,
    pub page_limit: u32,
    pub watchlist_use_etag: bool,
    pub watchlist_shadow_ttl_hours: u32,
    pub watchlist_batch_size: u32,
    pub watchlist_limit: Option<u32>,
    pub ratings_chunk_size: u32,
    /// Plays per history add POST (the most: smaller after a 5xx or timeout, see
    /// `features::history::add::chunk`) and history ids (or items) per remove POST.
    pub history_chunk_size: u32,
    /// Episodes without usable ids but with show ids and numbers go out nested
    /// (`history_number_fallback`, alias `number_fallback`).
    pub history_number_fallback: bool,
    /// Collect confirmed plays too (`history_collection`, alias `add_collections`).
    pub history_collection: bool,
    /// "movies" and/or "shows" (`history_collection_types`, alias `collection_types`).
    pub history_collection_types: Vec<String>,
    /// Client-side pacing (`rate_limit` object).
    pub rate_limit: RateLimit,
    /// Longest `Retry-After` the client sleeps through; a longer one fails the call with
    /// `rate-limited {retry-after}` so the host can reschedule.
    pub retry_after_cap_secs: u32,
    /// First backoff step; attempt n sleeps a random time in [0, min(max, base * 2^(n-1))].
    pub backoff_base_ms: u32,
    /// Upper bound of one backoff sleep.
    pub backoff_max_ms: u32,
}

/// The `rate_limit` option object: two token buckets shared by every feature of the run.
///
/// Keys (all optional; `null` = default):
///   `enabled` (bool, default true): false disables both buckets (benchmarks, emulators);
///   `read_limit` (integer 1..100000, default 1000) GETs per `read_window_secs`;
///   `read_window_secs` (integer 1..86400, default 300);
///   `write_per_sec` (number, 0 or 0.01..1000, default 1.0): writes per second, 0 disables;
///   CrossWatch's `get_per_sec` (number >= 0): 0 disables the read bucket, a positive value is
///     ignored in favour of the window bucket above;
///   CrossWatch's `post_per_sec` (number >= 0): 0 disables the write bucket, a positive value
///     sets `write_per_sec` unless `write_per_sec` is given too.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub enabled: bool,
    /// false when `get_per_sec` is 0.
    pub read_enabled: bool,
    pub read_limit: u32,
    pub read_window_secs: u32,
    /// 0 disables write pacing.
    pub write_per_sec: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { enabled: true, read_enabled: true, read_limit: 1000, read_window_secs: 300, write_per_sec: 1.0 }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            api_url: DEFAULT_API_URL.to_string(),
            timeout_ms: 10_000,
            max_retries: 5,
            page_limit: MAX_PAGE_LIMIT,
            watchlist_use_etag: true,
            watchlist_shadow_ttl_hours: 168,
            watchlist_batch_size: DEFAULT_WRITE_BATCH,
            watchlist_limit: None,
            ratings_chunk_size: DEFAULT_WRITE_BATCH,
            history_chunk_size: DEFAULT_WRITE_BATCH,
            history_number_fallback: true,
            history_collection: false,
            history_collection_types: vec!["movies".to_string()],
            rate_limit: RateLimit::default(),
            retry_after_cap_secs: 120,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
        }
    }
}

impl Options {
    pub fn parse(text: &str) -> Result<Options, AdapterError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| AdapterError::Config(format!("options are not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(AdapterError::Config("options must be a JSON object".into()));
        };
        let mut o = Options::default();
        if let Some(v) = get(&map, "api_url") {
            o.api_url = api_url(v)?;
        }
        if let Some(v) = get(&map, "timeout") {
            o.timeout_ms = timeout_ms(v)?;
        }
        if let Some(v) = get(&map, "max_retries") {
            o.max_retries = int_in(v, "max_retries", 1, 20)?;
        }
        if let Some(v) = get(&map, "page_limit") {
            o.page_limit = int_in(v, "page_limit", 1, MAX_PAGE_LIMIT)?;
        }
        if let Some(v) = get(&map, "watchlist_use_etag") {
            o.watchlist_use_etag = boolean(v, "watchlist_use_etag")?;
        }
        if let Some(v) = get(&map, "watchlist_shadow_ttl_hours") {
            o.watchlist_shadow_ttl_hours = int_in(v, "watchlist_shadow_ttl_hours", 0, 87_600)?;
        }
        if let Some(v) = get(&map, "watchlist_batch_size") {
            o.watchlist_batch_size = int_in(v, "watchlist_batch_size", 1, 1000)?;
        }
        if let Some(v) = get(&map, "watchlist_limit") {
            // 0 means "not set", as in CrossWatch (only a positive limit overrides).
            o.watchlist_limit = Some(int_in(v, "watchlist_limit", 0, 1_000_000)?).filter(|n| *n > 0);
        }
        if let Some(v) = get(&map, "ratings_chunk_size") {
            o.ratings_chunk_size = int_in(v, "ratings_chunk_size", 1, 1000)?;
        }
        if let Some(v) = get(&map, "history_chunk_size") {
            o.history_chunk_size = int_in(v, "history_chunk_size", 1, 1000)?;
        }
        // Each history option has CrossWatch's key and the issue's short alias; when both are
        // given, CrossWatch's key wins (it is the one CrossWatch itself writes).
        if let Some((v, key)) = either(&map, "history_number_fallback", "number_fallback") {
            o.history_number_fallback = boolean(v, key)?;
        }
        if let Some((v, key)) = either(&map, "history_collection", "add_collections") {
            o.history_collection = boolean(v, key)?;
        }
        if let Some((v, key)) = either(&map, "history_collection_types", "collection_types") {
            o.history_collection_types = collection_types(v, key)?;
        }
        if let Some(v) = get(&map, "rate_limit") {
            o.rate_limit = rate_limit(v)?;
        }
        if let Some(v) = get(&map, "retry_after_cap_secs") {
            o.retry_after_cap_secs = int_in(v, "retry_after_cap_secs", 0, 86_400)?;
        }
        if let Some(v) = get(&map, "backoff_base_ms") {
            o.backoff_base_ms = int_in(v, "backoff_base_ms", 1, 60_000)?;
        }
        if let Some(v) = get(&map, "backoff_max_ms") {
            o.backoff_max_ms = int_in(v, "backoff_max_ms", 1, 3_600_000)?;
        }
        Ok(o)
    }
}

/// A present, non-null value.
fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// The value of `key`, else of `alias`, with the name it was found under.
fn either<'a>(
    map: &'a Map<String, Value>,
    key: &'static str,
    alias: &'static str,
) -> Option<(&'a Value, &'static str)> {
    get(map, key).map(|v| (v, key)).or_else(|| get(map, alias).map(|v| (v, alias)))
}

fn int_in(v: &Value, key: &str, min: u32, max: u32) -> Result<u32, AdapterError> {
    // Accept 100 and 100.0 (JSON writers differ), nothing else.
    let n = match v {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
        }
        _ => None,
    };
    let Some(n) = n else {
        return Err(AdapterError::Config(format!("{key} must be an integer, got {v}")));
    };
    if n < i64::from(min) || n > i64::from(max) {
        return Err(AdapterError::Config(format!("{key} must be between {min} and {max}, got {n}")));
    }
    Ok(n as u32)
}

fn rate_limit(v: &Value) -> Result<RateLimit, AdapterError> {
    let Value::Object(map) = v else {
        return Err(AdapterError::Config(format!("rate_limit must be an object, got {v}")));
    };
    let mut r = RateLimit::default();
    if let Some(v) = get(map, "enabled") {
        r.enabled = boolean(v, "rate_limit.enabled")?;
    }
    if let Some(v) = get(map, "read_limit") {
        r.read_limit = int_in(v, "rate_limit.read_limit", 1, 100_000)?;
    }
    if let Some(v) = get(map, "read_window_secs") {
        r.read_window_secs = int_in(v, "rate_limit.read_window_secs", 1, 86_400)?;
    }
    if let Some(v) = get(map, "get_per_sec") {
        // CrossWatch's per-second GET pacing: only "0 = off" carries over.
        r.read_enabled = non_negative(v, "rate_limit.get_per_sec")? > 0.0;
    }
    if let Some(v) = get(map, "post_per_sec") {
        r.write_per_sec = per_sec(v, "rate_limit.post_per_sec")?;
    }
    if let Some(v) = get(map, "write_per_sec") {
        r.write_per_sec = per_sec(v, "rate_limit.write_per_sec")?;
    }
    Ok(r)
}

fn non_negative(v: &Value, key: &str) -> Result<f64, AdapterError> {
    match v.as_f64() {
        Some(n) if n >= 0.0 && n.is_finite() => Ok(n),
        _ => Err(AdapterError::Config(format!("{key} must be a number >= 0, got {v}"))),
    }
}

/// 0 (off) or 0.01..=1000 per second.
fn per_sec(v: &Value, key: &str) -> Result<f64, AdapterError> {
    let n = non_negative(v, key)?;
    if n != 0.0 && !(0.01..=1000.0).contains(&n) {
        return Err(AdapterError::Config(format!("{key} must be 0 (off) or between 0.01 and 1000, got {v}")));
    }
    Ok(n)
}

fn boolean(v: &Value, key: &str) -> Result<bool, AdapterError> {
    v.as_bool().ok_or_else(|| AdapterError::Config(format!("{key} must be true or false, got {v}")))
}

/// A list of strings or one comma-separated string over "movies" and "shows" (singular
/// forms and any case accepted), de-duplicated; empty means the default `["movies"]`, as in
/// CrossWatch.
fn collection_types(v: &Value, key: &str) -> Result<Vec<String>, AdapterError> {
    let err =
        || AdapterError::Config(format!("{key} must be a list of \"movies\"/\"shows\" or a comma string, got {v}"));
    let raw: Vec<String> = match v {
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Array(a) => {
            a.iter().map(|x| x.as_str().map(str::to_string).ok_or_else(err)).collect::<Result<_, _>>()?
        }
        _ => return Err(err()),
    };
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = match t.trim().to_ascii_lowercase().as_str() {
            "" => continue,
            "movie" | "movies" => "movies",
            "show" | "shows" => "shows",
            _ => return Err(err()),
        };
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.is_empty() {
        out.push("movies".into());
    }
    Ok(out)
}

fn timeout_ms(v: &Value) -> Result<u32, AdapterError> {
    let secs =
        v.as_f64().ok_or_else(|| AdapterError::Config(format!("timeout must be a number of seconds, got {v}")))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        // `{v}` rather than `{secs}`: printing an f64 with core::fmt costs ~15 KB of wasm.
        return Err(AdapterError::Config(format!("timeout must be > 0 and <= 3600 seconds, got {v}")));
    }
    Ok((secs * 1000.0).round().max(1.0) as u32)
}

fn api_url(v: &Value) -> Result<String, AdapterError> {
    let s = v.as_str().ok_or_else(|| AdapterError::Config(format!("api_url must be a string, got {v}")))?.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| AdapterError::Config(format!("api_url must start with http:// or https://, got {s:?}")))?;
    let trimmed = s.trim_end_matches('/');
    if rest.trim_end_matches('/').is_empty() || s.contains(['?', '#', ' ']) {
        return Err(AdapterError::Config(format!("api_url must be an origin such as {DEFAULT_API_URL}, got {s:?}")));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_empty() {
        let o = Options::parse("{}").unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.page_limit, 250);
        assert_eq!((o.watchlist_batch_size, o.ratings_chunk_size), (250, 250));
        assert_eq!(o.api_url, "https://api.trakt.tv");
    }

    #[test]
    fn reads_known_keys_and_ignores_unknown() {
        let o = Options::parse(
            r#"{"timeout": 2.5, "max_retries": 3, "page_limit": 100, "watchlist_batch_size": 10,
                "watchlist_limit": null, "api_url": "http://127.0.0.1:8080/", "other": [1],
                "history_collection_types": ["movies"], "watchlist_use_etag": false}"#,
        )
        .unwrap();
        assert_eq!(o.timeout_ms, 2500);
        assert_eq!(o.max_retries, 3);
        assert_eq!(o.page_limit, 100);
        assert_eq!(o.watchlist_batch_size, 10);
        assert_eq!(o.watchlist_limit, None);
        assert_eq!(o.api_url, "http://127.0.0.1:8080");
        assert_eq!(o.history_collection_types, vec!["movies".to_string()]);
        assert!(!o.watchlist_use_etag);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (r#"{"page_limit": 251}"#, "page_limit"),
            (r#"{"page_limit": 0}"#, "page_limit"),
            (r#"{"page_limit": "250"}"#, "page_limit"),
            (r#"{"max_retries": 1.5}"#, "max_retries"),
            (r#"{"timeout": -1}"#, "timeout"),
            (r#"{"watchlist_use_etag": 1}"#, "watchlist_use_etag"),
            (r#"{"api_url": "ftp://x"}"#, "api_url"),
            (r#"{"history_collection_types": [1]}"#, "history_collection_types"),
            (r#"{"rate_limit": 5}"#, "rate_limit"),
            (r#"{"rate_limit": {"read_limit": 0}}"#, "rate_limit.read_limit"),
            (r#"{"rate_limit": {"read_limit": 100001}}"#, "rate_limit.read_limit"),
            (r#"{"rate_limit": {"read_window_secs": "300"}}"#, "rate_limit.read_window_secs"),
            (r#"{"rate_limit": {"write_per_sec": -1}}"#, "rate_limit.write_per_sec"),
            (r#"{"rate_limit": {"write_per_sec": 0.001}}"#, "rate_limit.write_per_sec"),
            (r#"{"rate_limit": {"enabled": "no"}}"#, "rate_limit.enabled"),
            (r#"{"rate_limit": {"get_per_sec": -2}}"#, "rate_limit.get_per_sec"),
            (r#"{"rate_limit": {"post_per_sec": true}}"#, "rate_limit.post_per_sec"),
            (r#"{"retry_after_cap_secs": 86401}"#, "retry_after_cap_secs"),
            (r#"{"backoff_base_ms": 0}"#, "backoff_base_ms"),
            (r#"{"backoff_max_ms": 0}"#, "backoff_max_ms"),
        ];
        for (text, key) in cases {
            match Options::parse(text) {
                Err(AdapterError::Config(m)) => assert!(m.starts_with(key), "{text}: {m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(Options::parse("[]"), Err(AdapterError::Config(_))));
        assert!(matches!(Options::parse("{"), Err(AdapterError::Config(_))));
    }

    #[test]
    fn history_options_under_both_spellings() {
        let o = Options::default();
        assert_eq!((o.history_chunk_size, o.history_number_fallback, o.history_collection), (250, true, false));
        assert_eq!(o.history_collection_types, vec!["movies".to_string()]);

        let o = Options::parse(
            r#"{"number_fallback": false, "add_collections": true, "collection_types": "Shows, movie ,shows"}"#,
        )
        .unwrap();
        assert!(!o.history_number_fallback && o.history_collection);
        assert_eq!(o.history_collection_types, vec!["shows".to_string(), "movies".to_string()]);

        // CrossWatch's key wins over the alias; an empty list is the default.
        let o = Options::parse(
            r#"{"history_number_fallback": true, "number_fallback": false, "history_collection_types": [],
                "collection_types": ["shows"], "history_chunk_size": 7}"#,
        )
        .unwrap();
        assert!(o.history_number_fallback);
        assert_eq!(o.history_collection_types, vec!["movies".to_string()]);
        assert_eq!(o.history_chunk_size, 7);

        for (text, key) in [
            (r#"{"collection_types": ["films"]}"#, "collection_types"),
            (r#"{"history_collection_types": 3}"#, "history_collection_types"),
            (r#"{"add_collections": "yes"}"#, "add_collections"),
            (r#"{"number_fallback": 1}"#, "number_fallback"),
            (r#"{"history_chunk_size": 1001}"#, "history_chunk_size"),
        ] {
            match Options::parse(text) {
                Err(AdapterError::Config(m)) => assert!(m.starts_with(key), "{text}: {m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn pacing_and_retry_options() {
        let o = Options::default();
        assert_eq!(
            o.rate_limit,
            RateLimit {
                enabled: true,
                read_enabled: true,
                read_limit: 1000,
                read_window_secs: 300,
                write_per_sec: 1.0
            }
        );
        assert_eq!(
            (o.retry_after_cap_secs, o.backoff_base_ms, o.backoff_max_ms, o.max_retries),
            (120, 1000, 60_000, 5)
        );

        let o = Options::parse(
            r#"{"rate_limit": {"read_limit": 500, "read_window_secs": 300, "write_per_sec": 0.5, "enabled": true},
                "retry_after_cap_secs": 0, "backoff_base_ms": 5, "backoff_max_ms": 50}"#,
        )
        .unwrap();
        assert_eq!(
            o.rate_limit,
            RateLimit { enabled: true, read_enabled: true, read_limit: 500, read_window_secs: 300, write_per_sec: 0.5 }
        );
        assert_eq!((o.retry_after_cap_secs, o.backoff_base_ms, o.backoff_max_ms), (0, 5, 50));

        // CrossWatch's keys: 0 disables a bucket; a positive post_per_sec sets the write rate.
        let o = Options::parse(r#"{"rate_limit": {"get_per_sec": 0, "post_per_sec": 2}}"#).unwrap();
        assert!(!o.rate_limit.read_enabled);
        assert_eq!(o.rate_limit.write_per_sec, 2.0);
        let o = Options::parse(r#"{"rate_limit": {"get_per_sec": 3.3, "post_per_sec": 0}}"#).unwrap();
        assert!(o.rate_limit.read_enabled);
        assert_eq!((o.rate_limit.read_limit, o.rate_limit.write_per_sec), (1000, 0.0));
        // write_per_sec wins over post_per_sec.
        let o = Options::parse(r#"{"rate_limit": {"post_per_sec": 0, "write_per_sec": 1.5}}"#).unwrap();
        assert_eq!(o.rate_limit.write_per_sec, 1.5);
        let o = Options::parse(r#"{"rate_limit": {"enabled": false}}"#).unwrap();
        assert!(!o.rate_limit.enabled);
        let o = Options::parse(r#"{"rate_limit": null}"#).unwrap();
        assert_eq!(o.rate_limit, RateLimit::default());
    }
}
