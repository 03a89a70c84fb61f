//! Client-side pacing, kept apart from the client (like rclone's pacer): one bucket for reads
//! and one for writes, driven by the injected clock.
//!
//! Trakt's documented limits are 1000 GETs per 5 minutes per user and one write per second;
//! staff later said GETs are really 500 per 5 minutes, hence the configurable read bucket.
//! The buckets live in the `Client`, which lives for the whole component instance, so every
//! feature of one run draws from the same buckets.
//!
//! Each bucket holds `limit` tokens and a spent token comes back `window` after the request
//! that spent it *completed*. So no interval of `window` ever holds more than `limit` of our
//! requests, whatever the alignment of the server's window (Trakt and the emulator count in
//! fixed windows opened by the first request). A classic refill-rate bucket does not have
//! this property: a full bucket of 1000 followed by one token per 0.3 s sends ~1000 + more
//! inside the first 5 minutes and trips a fixed-window server. Timing from completion rather
//! than send keeps the guarantee when the first request is slower to arrive (connection setup)
//! than later ones.
//!
//! When Trakt sends its JSON `X-Ratelimit` header, the matching bucket also gets Trakt's own
//! budget: at most `remaining` more requests before `until` (so `remaining: 0` means none
//! before `until`).

use std::collections::VecDeque;

use serde_json::Value;

use super::transport::Clock;
use crate::config::RateLimit;
use crate::log::{self, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Read,
    Write,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Read => "read",
            Bucket::Write => "write",
        }
    }
}

/// `limit` tokens per rolling `window_ms`.
#[derive(Debug, Clone)]
struct TokenBucket {
    on: bool,
    limit: usize,
    window_ms: u64,
    /// Monotonic times at which the tokens spent in the last window were spent (completion
    /// time once the request finished), oldest first; at most `limit`.
    spent: VecDeque<u64>,
    /// Trakt's budget from `X-Ratelimit`: `(remaining, until_ms)`.
    budget: Option<(u64, u64)>,
    /// Waiting not yet reported by a `throttle` event.
    unlogged_wait_ms: u64,
}

impl TokenBucket {
    fn new(on: bool, limit: u64, window_ms: u64) -> TokenBucket {
        TokenBucket {
            on,
            limit: limit.clamp(1, 1_000_000) as usize,
            window_ms: window_ms.max(1),
            spent: VecDeque::new(),
            budget: None,
            unlogged_wait_ms: 0,
        }
    }

    fn same_shape(&self, other: &TokenBucket) -> bool {
        self.on == other.on && self.limit == other.limit && self.window_ms == other.window_ms
    }

    /// Return the tokens whose window has passed and drop an expired Trakt budget.
    fn refill(&mut self, now_ms: u64) {
        while self.spent.front().is_some_and(|t| t.saturating_add(self.window_ms) <= now_ms) {
            self.spent.pop_front();
        }
        if self.budget.is_some_and(|(_, until)| now_ms >= until) {
            self.budget = None;
        }
    }

    /// Milliseconds until a token is available (0 = now), and whether the wait comes from
    /// Trakt's budget rather than the bucket's own window.
    fn wait_ms(&mut self, now_ms: u64) -> (u64, bool) {
        if !self.on {
            return (0, false);
        }
        self.refill(now_ms);
        if let Some((0, until)) = self.budget {
            return (until - now_ms, true);
        }
        match self.spent.front() {
            Some(oldest) if self.spent.len() >= self.limit => (oldest + self.window_ms - now_ms, false),
            _ => (0, false),
        }
    }

    fn take(&mut self, now_ms: u64) {
        if !self.on {
            return;
        }
        self.spent.push_back(now_ms);
        if let Some((remaining, _)) = &mut self.budget {
            *remaining = remaining.saturating_sub(1);
        }
    }

    /// The request that took the newest token finished at `now_ms`.
    fn complete(&mut self, now_ms: u64) {
        if let Some(last) = self.spent.back_mut() {
            *last = (*last).max(now_ms);
        }
    }
}

pub struct Pacer {
    read: TokenBucket,
    write: TokenBucket,
}

impl Pacer {
    pub fn new(cfg: &RateLimit) -> Pacer {
        Pacer { read: read_bucket(cfg), write: write_bucket(cfg) }
    }

    /// Take new settings; a bucket whose shape did not change keeps its state, and Trakt's
    /// budget is always kept.
    pub fn configure(&mut self, cfg: &RateLimit) {
        for (slot, new) in [(&mut self.read, read_bucket(cfg)), (&mut self.write, write_bucket(cfg))] {
            if !slot.same_shape(&new) {
                let budget = slot.budget;
                *slot = new;
                slot.budget = budget;
            }
        }
    }

    fn bucket(&mut self, b: Bucket) -> &mut TokenBucket {
        match b {
            Bucket::Read => &mut self.read,
            Bucket::Write => &mut self.write,
        }
    }

    /// Take one token of `b`, sleeping on `clock` until one is available; returns the
    /// milliseconds slept. A wait imposed by Trakt (`X-Ratelimit` remaining 0 until T) longer
    /// than `max_block_ms` is not slept through: `Err(wait_ms)`, nothing taken.
    pub fn acquire(&mut self, b: Bucket, clock: &mut dyn Clock, max_block_ms: u64) -> Result<u64, u64> {
        let mut waited = 0u64;
        loop {
            let now = clock.now_ms();
            let bucket = self.bucket(b);
            let (wait, trakt) = bucket.wait_ms(now);
            if wait == 0 {
                bucket.take(now);
                break;
            }
            if trakt && wait > max_block_ms {
                return Err(wait);
            }
            clock.sleep_ms(wait);
            waited += wait;
        }
        if waited > 0 {
            let bucket = self.bucket(b);
            bucket.unlogged_wait_ms += waited;
            if waited >= 500 || bucket.unlogged_wait_ms >= 1000 {
                let total = std::mem::take(&mut bucket.unlogged_wait_ms);
                log::event(
                    Level::Debug,
                    "ratelimit",
                    "throttle",
                    &[("waited_ms", total.to_string()), ("bucket", b.name().into())],
                );
            }
        }
        Ok(waited)
    }

    /// The request that took the last token of `b` has finished (answer or error).
    pub fn complete(&mut self, b: Bucket, now_ms: u64) {
        self.bucket(b).complete(now_ms);
    }

    /// Take Trakt's budget from its JSON `X-Ratelimit` header, e.g.
    /// `{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":0,"until":"2026-05-02T18:45:00Z"}`:
    /// at most `remaining` more requests before `until` (one `period`, else one window, from
    /// now when `until` is missing or further away than a period, which is clock skew). The
    /// bucket is named by `name` (GET or POST), else it is the one of the request that carried
    /// the header. Unreadable headers are ignored.
    pub fn observe(&mut self, header: &str, request_bucket: Bucket, now_ms: u64, wall_unix_secs: i64) {
        let Ok(v) = serde_json::from_str::<Value>(header) else {
            return;
        };
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        let b = if name.contains("POST") {
            Bucket::Write
        } else if name.contains("GET") {
            Bucket::Read
        } else {
            request_bucket
        };
        let Some(remaining) = v.get("remaining").and_then(Value::as_u64) else {
            return;
        };
        let bucket = self.bucket(b);
        if !bucket.on {
            return;
        }
        let period_ms = v
            .get("period")
            .and_then(Value::as_u64)
            .filter(|p| *p > 0)
            .map_or(bucket.window_ms, |p| p.saturating_mul(1000));
        let until_ms = match v.get("until").and_then(Value::as_str).and_then(parse_utc) {
            Some(until) if until <= wall_unix_secs => return, // that window is over
            Some(until) => ((until - wall_unix_secs) as u64).saturating_mul(1000).min(period_ms),
            None => period_ms,
        };
        bucket.budget = Some((remaining, now_ms.saturating_add(until_ms)));
    }
}

fn read_bucket(cfg: &RateLimit) -> TokenBucket {
    TokenBucket::new(cfg.enabled && cfg.read_enabled, u64::from(cfg.read_limit), u64::from(cfg.read_window_secs) * 1000)
}

fn write_bucket(cfg: &RateLimit) -> TokenBucket {
    let on = cfg.enabled && cfg.write_per_sec > 0.0;
    // One write per interval, burst 1 (Trakt: 1 per second).
    let interval_ms = if on { (1000.0 / cfg.write_per_sec).round().max(1.0) as u64 } else { 1000 };
    TokenBucket::new(on, 1, interval_ms)
}

/// Unix seconds of an ISO 8601 UTC time: `2026-05-02T18:45:00Z`, with optional fraction
/// (dropped) and `Z`, `+00:00` or another offset.
pub fn parse_utc(s: &str) -> Option<i64> {
    crate::time::parse_secs(s)
}

#[cfg(test)]
mod tests;
