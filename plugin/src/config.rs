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
    pub history_chunk_size: u32,
    pub history_number_fallback: bool,
    pub history_collection: bool,
    pub history_collection_types: Vec<String>,
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
            watchlist_batch_size: 100,
            watchlist_limit: None,
            ratings_chunk_size: 100,
            history_chunk_size: 100,
            history_number_fallback: false,
            history_collection: false,
            history_collection_types: Vec::new(),
        }
    }
}

impl Options {
    pub fn parse(text: &str) -> Result<Options, AdapterError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| AdapterError::Config(format!("options are not valid JSON: {e}")))?;
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
            o.watchlist_limit = Some(int_in(v, "watchlist_limit", 1, 1_000_000)?);
        }
        if let Some(v) = get(&map, "ratings_chunk_size") {
            o.ratings_chunk_size = int_in(v, "ratings_chunk_size", 1, 1000)?;
        }
        if let Some(v) = get(&map, "history_chunk_size") {
            o.history_chunk_size = int_in(v, "history_chunk_size", 1, 1000)?;
        }
        if let Some(v) = get(&map, "history_number_fallback") {
            o.history_number_fallback = boolean(v, "history_number_fallback")?;
        }
        if let Some(v) = get(&map, "history_collection") {
            o.history_collection = boolean(v, "history_collection")?;
        }
        if let Some(v) = get(&map, "history_collection_types") {
            o.history_collection_types = string_list(v, "history_collection_types")?;
        }
        Ok(o)
    }
}

/// A present, non-null value.
fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn int_in(v: &Value, key: &str, min: u32, max: u32) -> Result<u32, AdapterError> {
    // Accept 100 and 100.0 (JSON writers differ), nothing else.
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64)),
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

fn boolean(v: &Value, key: &str) -> Result<bool, AdapterError> {
    v.as_bool()
        .ok_or_else(|| AdapterError::Config(format!("{key} must be true or false, got {v}")))
}

fn string_list(v: &Value, key: &str) -> Result<Vec<String>, AdapterError> {
    let err = || AdapterError::Config(format!("{key} must be a list of strings, got {v}"));
    let arr = v.as_array().ok_or_else(err)?;
    arr.iter().map(|x| x.as_str().map(str::to_string).ok_or_else(err)).collect()
}

fn timeout_ms(v: &Value) -> Result<u32, AdapterError> {
    let secs = v
        .as_f64()
        .ok_or_else(|| AdapterError::Config(format!("timeout must be a number of seconds, got {v}")))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        // `{v}` rather than `{secs}`: printing an f64 with core::fmt costs ~15 KB of wasm.
        return Err(AdapterError::Config(format!("timeout must be > 0 and <= 3600 seconds, got {v}")));
    }
    Ok((secs * 1000.0).round().max(1.0) as u32)
}

fn api_url(v: &Value) -> Result<String, AdapterError> {
    let s = v
        .as_str()
        .ok_or_else(|| AdapterError::Config(format!("api_url must be a string, got {v}")))?
        .trim();
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
        assert_eq!(o.watchlist_batch_size, 100);
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
}
