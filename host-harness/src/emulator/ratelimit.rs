//! Trakt's rate-limit buckets (section 5), off unless `EmulatorConfig::rate_limit` is set.
//!
//! Fixed windows per bucket: `AUTHED_API_GET_LIMIT` and `AUTHED_API_POST_LIMIT` keyed by user
//! (requests with a valid token), `UNAUTHED_API_GET_LIMIT` keyed by `client_id`. POST, PUT and
//! DELETE count as writes. Over the limit: `429` with `Retry-After` (integer seconds) and the JSON
//! `X-Ratelimit` header.

use std::collections::HashMap;

use serde_json::json;

use super::server::Reply;
use super::timestamp::Timestamp;

/// Bucket sizes. `Default` is Trakt's documented limits: GET 1000 per 300 s, writes 1 per second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub get_limit: u32,
    pub get_period_secs: u32,
    pub post_limit: u32,
    pub post_period_secs: u32,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            get_limit: 1000,
            get_period_secs: 300,
            post_limit: 1,
            post_period_secs: 1,
        }
    }
}

#[derive(Debug)]
struct Window {
    start_ms: i64,
    count: u32,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    config: Option<RateLimitConfig>,
    windows: HashMap<(&'static str, String), Window>,
}

impl RateLimiter {
    pub(crate) fn new(config: Option<RateLimitConfig>) -> RateLimiter {
        RateLimiter {
            config,
            windows: HashMap::new(),
        }
    }

    /// Counts one request; `Err` is the `429` reply when the bucket is exhausted.
    pub(crate) fn check(
        &mut self,
        is_get: bool,
        user: Option<&str>,
        client_id: &str,
        now_ms: i64,
    ) -> Result<(), Reply> {
        let Some(cfg) = &self.config else {
            return Ok(());
        };
        let (name, key, limit, period) = match (is_get, user) {
            (true, Some(u)) => (
                "AUTHED_API_GET_LIMIT",
                u,
                cfg.get_limit,
                cfg.get_period_secs,
            ),
            (true, None) => (
                "UNAUTHED_API_GET_LIMIT",
                client_id,
                cfg.get_limit,
                cfg.get_period_secs,
            ),
            (false, u) => (
                "AUTHED_API_POST_LIMIT",
                u.unwrap_or(client_id),
                cfg.post_limit,
                cfg.post_period_secs,
            ),
        };
        let period_ms = i64::from(period) * 1000;
        let w = self
            .windows
            .entry((name, key.to_string()))
            .or_insert(Window {
                start_ms: now_ms,
                count: 0,
            });
        if now_ms >= w.start_ms + period_ms {
            *w = Window {
                start_ms: now_ms,
                count: 0,
            };
        }
        if w.count < limit {
            w.count += 1;
            return Ok(());
        }
        let until_ms = w.start_ms + period_ms;
        let retry_after = ((until_ms - now_ms + 999) / 1000).max(1);
        let until = Timestamp((until_ms + 999).div_euclid(1000));
        let header = json!({ "name": name, "period": period, "limit": limit, "remaining": 0, "until": until.to_plain_z() });
        Err(Reply::error(
            429,
            "rate_limit_exceeded",
            format!("API rate limit exceeded. Please wait {retry_after} seconds then retry your request."),
        )
        .header("retry-after", retry_after.to_string())
        .header("x-ratelimit", header.to_string()))
    }
}
