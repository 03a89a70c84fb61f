//! Trakt's rate-limit buckets ("Rate Limiting" in Trakt's API docs,
//! <https://trakt.docs.apiary.io/>), off unless `EmulatorConfig::rate_limit` is set.
//!
//! Fixed windows per bucket: `AUTHED_API_GET_LIMIT` and `AUTHED_API_POST_LIMIT` keyed by user
//! (requests with a valid token; the emulator has one user, so this is "per token" except that the
//! buckets survive a token refresh, as on Trakt), `UNAUTHED_API_GET_LIMIT` keyed by `client_id`.
//! POST, PUT and DELETE count as writes. A window opens at the first request counted in it and
//! lasts `period` seconds of the emulator clock, which is monotonic with millisecond precision
//! (plus `Emulator::advance_clock`): with the default 1 write per second, two POSTs 1000 ms apart
//! both pass, 900 ms apart the second gets `429`.
//!
//! Over the limit: `429` with `Retry-After` (integer seconds, at least 1) and the JSON
//! `X-Ratelimit` header (`remaining: 0`, `until` = end of the window, `YYYY-MM-DDTHH:MM:SSZ`). A
//! `429` is not counted and changes nothing. With `send_header_always`, every request that passed
//! the check also gets `X-Ratelimit` with the real `remaining` (after counting it).

use std::collections::HashMap;

use serde_json::json;

use crate::reply::Reply;
use crate::timestamp::Timestamp;

/// Bucket sizes. `Default` is Trakt's documented limits: GET 1000 per 300 s, writes 1 per second,
/// `X-Ratelimit` only on `429`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub get_limit: u32,
    pub get_period_secs: u32,
    pub post_limit: u32,
    pub post_period_secs: u32,
    /// Also attach `X-Ratelimit` (with the real `remaining`) to every answer of a rate-limited
    /// route that passed the check, so clients can seed their buckets.
    pub send_header_always: bool,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            get_limit: 1000,
            get_period_secs: 300,
            post_limit: 1,
            post_period_secs: 1,
            send_header_always: false,
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
        RateLimiter { config, windows: HashMap::new() }
    }

    /// Counts one request; `Err` is the `429` reply when the bucket is exhausted. `Ok(Some(v))`:
    /// `send_header_always` is on and `v` is the `X-Ratelimit` value to attach.
    pub(crate) fn check(
        &mut self,
        is_get: bool,
        user: Option<&str>,
        client_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, Reply> {
        let Some(cfg) = &self.config else {
            return Ok(None);
        };
        let (name, key, limit, period) = match (is_get, user) {
            (true, Some(u)) => ("AUTHED_API_GET_LIMIT", u, cfg.get_limit, cfg.get_period_secs),
            (true, None) => ("UNAUTHED_API_GET_LIMIT", client_id, cfg.get_limit, cfg.get_period_secs),
            (false, u) => ("AUTHED_API_POST_LIMIT", u.unwrap_or(client_id), cfg.post_limit, cfg.post_period_secs),
        };
        let period_ms = i64::from(period) * 1000;
        let w = self.windows.entry((name, key.to_string())).or_insert(Window { start_ms: now_ms, count: 0 });
        if now_ms >= w.start_ms + period_ms {
            *w = Window { start_ms: now_ms, count: 0 };
        }
        let until_ms = w.start_ms + period_ms;
        let until = Timestamp((until_ms + 999).div_euclid(1000)).to_plain_z();
        if w.count < limit {
            w.count += 1;
            return Ok(cfg.send_header_always.then(|| {
                json!({ "name": name, "period": period, "limit": limit, "remaining": limit - w.count, "until": until })
                    .to_string()
            }));
        }
        let retry_after = ((until_ms - now_ms + 999) / 1000).max(1);
        let header = json!({ "name": name, "period": period, "limit": limit, "remaining": 0, "until": until });
        Err(Reply::error(
            429,
            "rate_limit_exceeded",
            format!("API rate limit exceeded. Please wait {retry_after} seconds then retry your request."),
        )
        .header("retry-after", retry_after.to_string())
        .header("x-ratelimit", header.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(reply: &Reply, name: &str) -> String {
        reply.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    #[test]
    fn buckets() {
        let mut off = RateLimiter::new(None);
        for _ in 0..5 {
            assert!(matches!(off.check(false, Some("u"), "c", 0), Ok(None)));
        }

        let mut rl =
            RateLimiter::new(Some(RateLimitConfig { get_limit: 2, get_period_secs: 10, ..RateLimitConfig::default() }));
        let t0 = 1_700_000_000_000;
        // Writes: 1 per 1000 ms of (millisecond) clock.
        assert!(rl.check(false, Some("u"), "c", t0).is_ok());
        let e = rl.check(false, Some("u"), "c", t0 + 900).unwrap_err();
        assert_eq!((e.status, header(&e, "retry-after")), (429, "1".into()));
        assert!(rl.check(false, Some("u"), "c", t0 + 999).is_err());
        assert!(rl.check(false, Some("u"), "c", t0 + 1000).is_ok());
        // Authed and unauthed GET buckets are separate.
        assert!(rl.check(true, Some("u"), "c", t0).is_ok());
        assert!(rl.check(true, Some("u"), "c", t0).is_ok());
        let e = rl.check(true, Some("u"), "c", t0 + 1).unwrap_err();
        assert_eq!(header(&e, "retry-after"), "10");
        assert!(header(&e, "x-ratelimit").contains("\"AUTHED_API_GET_LIMIT\""));
        assert!(rl.check(true, None, "c", t0).is_ok());
        assert!(rl.check(true, None, "c", t0).is_ok());
        let e = rl.check(true, None, "c", t0 + 9_500).unwrap_err();
        let x: serde_json::Value = serde_json::from_str(&header(&e, "x-ratelimit")).unwrap();
        assert_eq!(
            x,
            json!({ "name": "UNAUTHED_API_GET_LIMIT", "period": 10, "limit": 2, "remaining": 0,
                    "until": Timestamp(t0 / 1000 + 10).to_plain_z() })
        );
        assert_eq!(header(&e, "retry-after"), "1");
        assert!(rl.check(true, None, "other-app", t0).is_ok());
        assert!(rl.check(true, None, "c", t0 + 10_000).is_ok());
    }
}
