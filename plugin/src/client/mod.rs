//! The one Trakt client: request building, pacing, retries, auth replay, the request ledger
//! and the mapping of Trakt's statuses onto typed errors.
//!
//! One client lives for the whole component instance, so the pacing buckets hold across
//! calls, chunks and features (CrossWatch rebuilt its limiter per call, reference
//! crosswatch.md 10.1).

pub mod ledger;
pub mod pacing;
pub mod paging;
pub mod transport;

use crate::config::Options;
use crate::error::AdapterError;
use crate::log::{self, Level};
use ledger::{Ledger, LedgerEntry};
use pacing::{Bucket, Pacer};
use transport::{Auth, AuthFailure, Clock, Method, Request, Response, Transport, TransportError};

pub const USER_AGENT: &str = concat!("crosswatch-trakt-adapter/", env!("CARGO_PKG_VERSION"));
/// Wait of a 429 without a usable `Retry-After` (e.g. a Cloudflare HTML page).
const RETRY_AFTER_FALLBACK_SECS: u64 = 10;

/// One request to make, relative to the API origin.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Path such as "/sync/watchlist".
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Safe to repeat when an earlier attempt may have reached the server (timeout,
    /// connection lost, 5xx). GETs and watchlist/ratings writes and history removes are; a
    /// history add is not (Trakt records a new play each time): it is resent only when it
    /// provably never reached Trakt (connect error, 429).
    pub idempotent: bool,
    /// Overrides `max_retries` (total attempts) for this call.
    pub max_attempts: Option<u32>,
    /// Overrides the configured timeout for this call.
    pub timeout_ms: Option<u32>,
    /// Extra request headers (e.g. `If-None-Match`).
    pub headers: Vec<(String, String)>,
}

impl Call {
    pub fn get(path: &str) -> Call {
        Call {
            method: Method::Get,
            path: path.to_string(),
            query: Vec::new(),
            body: Vec::new(),
            idempotent: true,
            max_attempts: None,
            timeout_ms: None,
            headers: Vec::new(),
        }
    }

    pub fn post(path: &str, body: String, idempotent: bool) -> Call {
        Call { method: Method::Post, body: body.into_bytes(), idempotent, ..Call::get(path) }
    }

    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Call {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Path and encoded query, e.g. "/sync/watchlist?page=2&limit=250".
    pub fn path_and_query(&self) -> String {
        let mut s = self.path.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(&encode(k));
            s.push('=');
            s.push_str(&encode(v));
        }
        s
    }

    fn what(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

/// Settings the client takes from the options.
#[derive(Debug, Clone)]
struct Settings {
    api_url: String,
    timeout_ms: u32,
    max_attempts: u32,
    retry_after_cap_secs: u64,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
}

/// SplitMix64: backoff jitter without a `wasi:random` import.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, max].
    fn upto(&mut self, max: u64) -> u64 {
        if max == u64::MAX { self.next() } else { self.next() % (max + 1) }
    }
}

pub struct Client {
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    auth: Box<dyn Auth>,
    settings: Settings,
    pacer: Pacer,
    jitter: Jitter,
    ledger: Ledger,
    /// `remaining` of the last `X-Ratelimit` header seen.
    pub rate_limit_remaining: Option<u32>,
}

impl Client {
    pub fn new(transport: Box<dyn Transport>, clock: Box<dyn Clock>, auth: Box<dyn Auth>, opts: &Options) -> Client {
        let now = clock.now_ms();
        let seed = now.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (clock.wall_unix_secs() as u64).rotate_left(29);
        let mut c = Client {
            transport,
            clock,
            auth,
            settings: Settings {
                api_url: String::new(),
                timeout_ms: 0,
                max_attempts: 1,
                retry_after_cap_secs: 0,
                backoff_base_ms: 1,
                backoff_max_ms: 1,
            },
            pacer: Pacer::new(&opts.rate_limit),
            jitter: Jitter(seed),
            ledger: Ledger::new(),
            rate_limit_remaining: None,
        };
        c.apply_options(opts);
        c
    }

    /// Take new options; pacing state is kept where the bucket settings did not change.
    pub fn apply_options(&mut self, opts: &Options) {
        self.settings = Settings {
            api_url: opts.api_url.trim_end_matches('/').to_string(),
            timeout_ms: opts.timeout_ms,
            max_attempts: opts.max_retries.max(1),
            retry_after_cap_secs: u64::from(opts.retry_after_cap_secs),
            backoff_base_ms: u64::from(opts.backoff_base_ms.max(1)),
            backoff_max_ms: u64::from(opts.backoff_max_ms.max(1)),
        };
        self.pacer.configure(&opts.rate_limit);
    }

    pub fn timeout_ms(&self) -> u32 {
        self.settings.timeout_ms
    }

    /// Wall-clock Unix seconds (state-file timestamps, shadow age).
    pub fn wall_unix_secs(&self) -> i64 {
        self.clock.wall_unix_secs()
    }

    /// Start a new ledger (a new host call begins).
    pub fn reset_ledger(&mut self) {
        self.ledger.reset();
    }

    /// The ledger of the current (or most recent) host call.
    pub fn ledger_entries(&self) -> Vec<LedgerEntry> {
        self.ledger.entries()
    }

    /// The most recent ledger entry.
    pub fn last_entry(&self) -> Option<&LedgerEntry> {
        self.ledger.last()
    }

    /// Record on the last ledger entry a failure found in its (successful) response.
    pub fn note_failure(&mut self, e: &AdapterError) {
        self.ledger.annotate_last(e.to_string());
    }

    /// Send a call with pacing, retries and auth replay, and map non-success statuses to
    /// typed errors. Ok carries a 2xx (or 304) response.
    pub fn execute(&mut self, call: &Call) -> Result<Response, AdapterError> {
        let mut entry = self.entry_for(call);
        let result = self.send_with_retries(call, &mut entry).and_then(|resp| classify(call, resp));
        if let Err(e) = &result {
            entry.error = e.to_string();
        }
        self.ledger.push(entry);
        result
    }

    /// Send a call with pacing, retries and auth replay; return whatever final response came
    /// back (health reads the status itself).
    pub fn exchange(&mut self, call: &Call) -> Result<Response, AdapterError> {
        let mut entry = self.entry_for(call);
        let result = self.send_with_retries(call, &mut entry);
        match &result {
            Err(e) => entry.error = e.to_string(),
            Ok(r) if !matches!(r.status, 200..=299 | 304) => entry.error = format!("HTTP {}", r.status),
            Ok(_) => {}
        }
        self.ledger.push(entry);
        result
    }

    fn entry_for(&self, call: &Call) -> LedgerEntry {
        LedgerEntry { method: call.method.as_str().into(), path: call.path_and_query(), ..LedgerEntry::default() }
    }

    /// The retry loop.
    ///
    /// - every attempt first takes a token of the read or write bucket;
    /// - 401: ask the host to refresh, replay once (not counted against the attempt budget);
    ///   a failed refresh is `Auth` (or `Transport` when the refresh itself could not run);
    /// - 429, 500, 502, 503, 504, 520, 521, 522: retried up to the attempt budget with full
    ///   jitter backoff; a 429 waits at least its `Retry-After` (10 s when missing), and one
    ///   beyond `retry_after_cap_secs` fails at once as `RateLimited`;
    /// - connect errors are retried; timeouts and lost connections only for idempotent calls;
    ///   denied, TLS and invalid requests never;
    /// - a non-idempotent call is resent only after a connect error or a 429 (it provably
    ///   did not reach Trakt / was not applied); a timeout, lost connection or 5xx fails at
    ///   once with a message saying the write may or may not have been applied.
    fn send_with_retries(&mut self, call: &Call, entry: &mut LedgerEntry) -> Result<Response, AdapterError> {
        let req = self.build_request(call);
        let bucket = if call.method.is_write() { Bucket::Write } else { Bucket::Read };
        let attempts = call.max_attempts.unwrap_or(self.settings.max_attempts).max(1);
        let cap_secs = self.settings.retry_after_cap_secs;
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            match self.pacer.acquire(bucket, &mut *self.clock, cap_secs * 1000) {
                Ok(w) => entry.waited_ms += w,
                Err(w) => return Err(self.over_cap(call, w.div_ceil(1000))),
            }
            entry.attempts += 1;
            entry.bytes_sent += req.body.len() as u64;
            let t0 = self.clock.now_ms();
            let result = self.transport.send(&req);
            let t1 = self.clock.now_ms();
            self.pacer.complete(bucket, t1);
            entry.elapsed_ms += t1.saturating_sub(t0);
            let resp = match result {
                Ok(resp) => resp,
                Err(err) => {
                    entry.status = 0;
                    entry.bytes_received = 0;
                    let retryable = match err {
                        TransportError::Connect(_) => true,
                        TransportError::Timeout(_) | TransportError::ConnectionLost(_) => call.idempotent,
                        _ => false,
                    };
                    if !retryable || attempt >= attempts {
                        log::event(Level::Error, "http", "http_exception_giveup", &[
                            ("method", call.method.as_str().into()),
                            ("path", call.path.clone()),
                            ("attempt", attempt.to_string()),
                            ("error", err.describe()),
                        ]);
                        let unsure = !call.idempotent
                            && matches!(err, TransportError::Timeout(_) | TransportError::ConnectionLost(_));
                        return Err(AdapterError::Transport(if unsure {
                            format!(
                                "{}: {}; the write may or may not have been applied: check Trakt before sending it again",
                                call.what(),
                                err.describe()
                            )
                        } else {
                            format!("{}: {}", call.what(), err.describe())
                        }));
                    }
                    let wait = self.backoff_ms(attempt);
                    log::event(Level::Warn, "http", "http_retry", &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("status", "0".into()),
                        ("attempt", attempt.to_string()),
                        ("wait_ms", wait.to_string()),
                        ("error", err.describe()),
                    ]);
                    self.clock.sleep_ms(wait);
                    entry.waited_ms += wait;
                    continue;
                }
            };
            entry.status = resp.status;
            entry.bytes_received = resp.body.len() as u64;
            if let Some(h) = resp.header("x-ratelimit") {
                entry.rate_limit = Some(h.to_string());
                let (now, wall) = (self.clock.now_ms(), self.clock.wall_unix_secs());
                self.pacer.observe(h, bucket, now, wall);
                if let Some(r) = rate_limit_remaining(&resp) {
                    self.rate_limit_remaining = Some(r);
                }
            }
            log::event(Level::Debug, "http", "http_response", &[
                ("method", call.method.as_str().into()),
                ("path", call.path.clone()),
                ("status", resp.status.to_string()),
                ("attempt", attempt.to_string()),
            ]);
            let status = resp.status;
            if status == 401 && !refreshed {
                refreshed = true;
                attempt -= 1;
                self.refresh_token()?;
                continue;
            }
            if truncated(&resp) && call.idempotent && attempt < attempts {
                // A body shorter than its Content-Length is a connection lost mid-answer (most
                // hosts report it as such; this covers those that do not).
                let wait = self.backoff_ms(attempt);
                log::event(Level::Warn, "http", "http_retry", &[
                    ("method", call.method.as_str().into()),
                    ("path", call.path.clone()),
                    ("status", status.to_string()),
                    ("attempt", attempt.to_string()),
                    ("wait_ms", wait.to_string()),
                    ("error", "truncated body".into()),
                ]);
                self.clock.sleep_ms(wait);
                entry.waited_ms += wait;
                continue;
            }
            if !is_retryable_status(status) {
                return Ok(resp);
            }
            let wait = if status == 429 {
                let secs = retry_after_secs(&resp);
                if secs > cap_secs {
                    return Err(self.over_cap(call, secs));
                }
                if attempt >= attempts {
                    return Ok(resp);
                }
                let wait = (secs * 1000).max(self.backoff_ms(attempt));
                log::event(Level::Warn, "http", "rate_limit_retry", &[
                    ("method", call.method.as_str().into()),
                    ("path", call.path.clone()),
                    ("retry_after_s", secs.to_string()),
                    ("attempt", attempt.to_string()),
                    ("wait_ms", wait.to_string()),
                ]);
                wait
            } else {
                if !call.idempotent {
                    log::event(Level::Error, "http", "http_giveup_unsafe", &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("status", status.to_string()),
                    ]);
                    return Err(AdapterError::Http {
                        status,
                        message: format!(
                            "Trakt answered {status} for {}: the write may or may not have been applied, so it \
                             was not resent: check Trakt before sending it again",
                            call.what(),
                        ),
                    });
                }
                if attempt >= attempts {
                    return Ok(resp);
                }
                let wait = self.backoff_ms(attempt);
                log::event(Level::Warn, "http", "http_retry", &[
                    ("method", call.method.as_str().into()),
                    ("path", call.path.clone()),
                    ("status", status.to_string()),
                    ("attempt", attempt.to_string()),
                    ("wait_ms", wait.to_string()),
                ]);
                wait
            };
            self.clock.sleep_ms(wait);
            entry.waited_ms += wait;
        }
    }

    /// Full jitter: uniform in [0, min(backoff_max, base * 2^(attempt-1))].
    fn backoff_ms(&mut self, attempt: u32) -> u64 {
        let exp = self.settings.backoff_base_ms.saturating_mul(1u64 << (attempt.max(1) - 1).min(40));
        self.jitter.upto(exp.min(self.settings.backoff_max_ms))
    }

    fn over_cap(&self, call: &Call, secs: u64) -> AdapterError {
        log::event(Level::Warn, "http", "rate_limited", &[
            ("method", call.method.as_str().into()),
            ("path", call.path.clone()),
            ("retry_after_s", secs.to_string()),
            ("cap_s", self.settings.retry_after_cap_secs.to_string()),
        ]);
        rate_limited(secs, call, true)
    }

    fn build_request(&self, call: &Call) -> Request {
        let mut headers: Vec<(String, String)> = vec![
            ("trakt-api-version".into(), "2".into()),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
            ("User-Agent".into(), USER_AGENT.into()),
        ];
        headers.extend(call.headers.iter().cloned());
        Request {
            method: call.method,
            url: format!("{}{}", self.settings.api_url, call.path_and_query()),
            headers,
            body: call.body.clone(),
            timeout_ms: call.timeout_ms.unwrap_or(self.settings.timeout_ms),
        }
    }

    fn refresh_token(&mut self) -> Result<(), AdapterError> {
        match self.auth.refresh() {
            Ok(()) => {
                log::event(Level::Info, "auth", "token_refreshed", &[]);
                Ok(())
            }
            Err(e) => {
                // A refused or impossible refresh means "log in again" (auth); a refresh that
                // could not be performed right now (network, server) is a transport problem.
                let err = match e {
                    AuthFailure::NotConfigured(m) => AdapterError::Auth(format!(
                        "Trakt answered 401 and no token refresh is possible ({m}): log in to Trakt again"
                    )),
                    AuthFailure::InvalidGrant(m) => AdapterError::Auth(format!(
                        "Trakt answered 401 and the refresh token was rejected ({m}): log in to Trakt again"
                    )),
                    AuthFailure::Failed(m) => AdapterError::Transport(format!(
                        "Trakt answered 401 and the token refresh could not be performed ({m}): try again later"
                    )),
                };
                log::event(Level::Error, "auth", "token_refresh_failed", &[("reason", err.to_string())]);
                Err(err)
            }
        }
    }
}

/// A body shorter than the response's own `Content-Length`.
fn truncated(resp: &Response) -> bool {
    resp.header_u64("content-length").is_some_and(|n| n > resp.body.len() as u64)
}

/// Statuses worth another attempt: rate limit, server errors and Cloudflare's origin errors.
fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 520 | 521 | 522)
}

/// A 429's `Retry-After` in integer seconds; 10 s when missing or unparsable (Cloudflare).
fn retry_after_secs(resp: &Response) -> u64 {
    resp.header_u64("retry-after").unwrap_or(RETRY_AFTER_FALLBACK_SECS)
}

/// `remaining` of the JSON `X-Ratelimit` header, when present and readable.
pub fn rate_limit_remaining(resp: &Response) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(resp.header("x-ratelimit")?).ok()?;
    v.get("remaining")?.as_u64().map(|n| n.min(u64::from(u32::MAX)) as u32)
}

/// `over_cap`: Trakt asked for a longer wait than the client sleeps through; otherwise the
/// attempts ran out while Trakt kept answering 429.
fn rate_limited(secs: u64, call: &Call, over_cap: bool) -> AdapterError {
    let secs = secs.min(u64::from(u32::MAX)) as u32;
    let why = if over_cap { "longer than this run waits" } else { "and kept refusing after every retry" };
    AdapterError::RateLimited {
        retry_after_secs: secs,
        message: format!("Trakt rate limit reached on {}: Trakt asks to wait {secs} s, {why}; run again later", call.what()),
    }
}

/// A body that is an HTML page rather than Trakt's JSON (Cloudflare block pages).
fn is_html(resp: &Response) -> bool {
    let ct_html = resp.header("content-type").is_some_and(|c| c.to_ascii_lowercase().contains("text/html"));
    let start = resp.body.iter().find(|b| !b.is_ascii_whitespace());
    ct_html || start == Some(&b'<')
}

/// Map a final response onto success or a typed error whose message says what to do.
fn classify(call: &Call, resp: Response) -> Result<Response, AdapterError> {
    let what = call.what();
    let body = match resp.body_snippet() {
        b if b.trim().is_empty() => String::new(),
        b => format!(" ({})", b.trim()),
    };
    let http = |status: u16, advice: &str| AdapterError::Http {
        status,
        message: format!("Trakt answered {status} for {what}: {advice}{body}"),
    };
    match resp.status {
        200..=299 | 304 => Ok(resp),
        400 => Err(http(400, "Trakt could not parse the request; this is an adapter bug, please report it with the log")),
        401 => Err(AdapterError::Auth(format!(
            "Trakt rejected the access token for {what} even after a refresh: log in to Trakt again"
        ))),
        403 if is_html(&resp) => Err(AdapterError::Forbidden(format!(
            "Trakt answered 403 for {what}: blocked by Cloudflare (missing User-Agent?); if it persists, \
             wait a few minutes or check that your IP is not blocked{body}"
        ))),
        403 => Err(AdapterError::Forbidden(format!(
            "Trakt answered 403 for {what}: the API key is invalid or the app may have been deleted: check \
             client_id against your app at trakt.tv/oauth/applications{body}"
        ))),
        404 => Err(http(404, "not found on Trakt: check the item's ids")),
        405 => Err(http(405, "method not allowed; the Trakt API may have changed: update the adapter")),
        409 => Err(http(409, "conflict: Trakt already has this (or it is in progress)")),
        412 => Err(http(
            412,
            "Trakt wants the content type application/json; a proxy between you and Trakt may strip it",
        )),
        420 => {
            let limit = resp.header_u64("x-account-limit").map(|n| n.min(u64::from(u32::MAX)) as u32);
            let vip = header_bool(&resp, "x-vip-user");
            let upgrade_url = resp.header("x-upgrade-url").map(str::to_string);
            let mut message = format!("Trakt account limit reached for {what}");
            if let Some(l) = limit {
                message.push_str(&format!(" (limit {l})"));
            }
            match (vip, &upgrade_url) {
                (Some(true), _) => message.push_str(": remove items on Trakt to make room"),
                (_, Some(u)) => message.push_str(&format!(": remove items on Trakt or upgrade to VIP at {u}")),
                _ => message.push_str(": remove items on Trakt or upgrade to VIP"),
            }
            Err(AdapterError::AccountLimit { limit, vip, upgrade_url, message })
        }
        422 => Err(http(422, "Trakt rejected the values sent: check the items")),
        423 => {
            let state = if header_bool(&resp, "x-account-deactivated") == Some(true) {
                "deactivated"
            } else if header_bool(&resp, "x-account-locked") == Some(true) {
                "locked"
            } else {
                "locked or deactivated"
            };
            Err(AdapterError::Locked(format!(
                "Trakt answered 423 for {what}: the account is {state}; contact Trakt support"
            )))
        }
        426 => Err(AdapterError::VipOnly(match resp.header("x-upgrade-url") {
            Some(u) => format!("Trakt answered 426 for {what}: this needs Trakt VIP; upgrade at {u}"),
            None => format!("Trakt answered 426 for {what}: this needs Trakt VIP"),
        })),
        429 => Err(rate_limited(retry_after_secs(&resp), call, false)),
        status @ 500..=599 => Err(http(status, "Trakt is having trouble; try again later")),
        status => Err(http(status, "unexpected answer")),
    }
}

fn header_bool(resp: &Response, name: &str) -> Option<bool> {
    resp.header(name).and_then(|v| match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
}

/// Percent-encode a query component (unreserved characters kept).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimit;
    use crate::log::take_lines;
    use crate::testkit::{resp, Fakes};

    fn has_line(lines: &[String], prefix: &str) -> bool {
        lines.iter().any(|l| l.starts_with(prefix))
    }

    #[test]
    fn builds_url_and_headers() {
        let f = Fakes::new(|_| Ok(resp(200, &[], "[]")));
        let mut c = f.client(&Options { api_url: "http://127.0.0.1:9/".into(), ..Options::default() });
        c.execute(&Call::get("/sync/watchlist").query("page", 1).query("limit", 250)).unwrap();
        let sent = f.requests();
        assert_eq!(sent.len(), 1);
        let r = &sent[0];
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.url, "http://127.0.0.1:9/sync/watchlist?page=1&limit=250");
        assert_eq!(r.timeout_ms, 10_000);
        let h = |n: &str| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
        assert_eq!(h("trakt-api-version"), Some("2"));
        assert_eq!(h("content-type"), Some("application/json"));
        assert_eq!(h("accept"), Some("application/json"));
        assert_eq!(h("user-agent"), Some(concat!("crosswatch-trakt-adapter/", env!("CARGO_PKG_VERSION"))));
        assert!(h("authorization").is_none());
    }

    #[test]
    fn retries_503_with_full_jitter_within_bounds() {
        let f = Fakes::script(vec![
            Ok(resp(503, &[], "")),
            Ok(resp(503, &[], "")),
            Ok(resp(503, &[], "")),
            Ok(resp(200, &[], "{}")),
        ]);
        let mut c = f.client(&Options::default());
        take_lines();
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.requests().len(), 4);
        let s = f.sleeps();
        assert_eq!(s.len(), 3);
        assert!(s[0] <= 1000 && s[1] <= 2000 && s[2] <= 4000, "{s:?}");
        assert!(!(s[0] == s[1] && s[1] == s[2]), "jittered: {s:?}");
        let lines = take_lines();
        let first = format!("[TRAKT:http] WARN http_retry method=GET path=/x status=503 attempt=1 wait_ms={}", s[0]);
        assert!(lines.contains(&first), "{lines:?}");
        let e = &c.ledger_entries()[0];
        assert_eq!((e.status, e.attempts, e.waited_ms), (200, 4, s.iter().sum::<u64>()));
    }

    #[test]
    fn every_retryable_status_is_retried() {
        for status in [429u16, 500, 502, 503, 504, 520, 521, 522] {
            let f = Fakes::script(vec![Ok(resp(status, &[("retry-after", "1")], "")), Ok(resp(200, &[], "{}"))]);
            let mut c = f.client(&Options::default());
            assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200, "{status}");
            assert_eq!(f.requests().len(), 2, "{status}");
            assert_eq!(f.sleeps().len(), 1, "{status}");
        }
    }

    #[test]
    fn backoff_is_capped_by_backoff_max() {
        let f = Fakes::new(|_| Ok(resp(500, &[], "")));
        let mut c = f.client(&Options { max_retries: 8, backoff_base_ms: 100, backoff_max_ms: 250, ..Options::default() });
        assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Http { status: 500, .. })));
        let s = f.sleeps();
        assert_eq!(s.len(), 7);
        assert!(s[0] <= 100 && s[1] <= 200, "{s:?}");
        assert!(s.iter().all(|w| *w <= 250), "{s:?}");
    }

    #[test]
    fn attempt_count_honours_max_retries() {
        for (max, sent) in [(1u32, 1usize), (3, 3), (5, 5)] {
            let f = Fakes::new(|_| Ok(resp(502, &[], "bad gateway")));
            let mut c = f.client(&Options { max_retries: max, ..Options::default() });
            match c.execute(&Call::get("/x")) {
                Err(AdapterError::Http { status: 502, message }) => assert!(message.contains("bad gateway"), "{message}"),
                other => panic!("{other:?}"),
            }
            assert_eq!(f.requests().len(), sent);
            assert_eq!(f.sleeps().len(), sent - 1);
            assert_eq!(c.ledger_entries()[0].attempts, max);
        }
        let f = Fakes::new(|_| Err(TransportError::Timeout("slow".into())));
        let mut c = f.client(&Options { max_retries: 2, ..Options::default() });
        assert!(matches!(c.execute(&Call::post("/w", "{}".into(), true)), Err(AdapterError::Transport(_))));
        assert_eq!(f.requests().len(), 2, "an idempotent write is retried after a timeout");
    }

    #[test]
    fn refreshes_once_on_401_and_replays() {
        let f = Fakes::script(vec![Ok(resp(401, &[], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.refreshes(), 1);
        assert_eq!(f.requests().len(), 2);
        assert!(f.sleeps().is_empty());
        assert_eq!(c.ledger_entries()[0].attempts, 2);
    }

    #[test]
    fn second_401_is_auth_error() {
        let f = Fakes::new(|_| Ok(resp(401, &[], "")));
        let mut c = f.client(&Options::default());
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::Auth(m)) => assert!(m.contains("log in to Trakt again"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.refreshes(), 1);
        assert_eq!(f.requests().len(), 2);
    }

    #[test]
    fn failed_refresh_is_auth_error_without_replay() {
        let f = Fakes::new(|_| Ok(resp(401, &[], "")));
        f.fail_refresh(AuthFailure::InvalidGrant("invalid_grant".into()));
        let mut c = f.client(&Options::default());
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::Auth(m)) => assert!(m.contains("log in")),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1);

        let f = Fakes::new(|_| Ok(resp(401, &[], "")));
        f.fail_refresh(AuthFailure::Failed("auth server unreachable".into()));
        let mut c = f.client(&Options::default());
        assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Transport(_))));
    }

    #[test]
    fn retry_after_3_waits_3s() {
        let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "3")], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        take_lines();
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.sleeps(), vec![3000], "max(3 s, jitter <= 1 s)");
        let t = f.send_times();
        assert_eq!(t[1] - t[0], 3000);
        assert!(has_line(&take_lines(), "[TRAKT:http] WARN rate_limit_retry method=GET path=/x retry_after_s=3 attempt=1 wait_ms=3000"));
    }

    #[test]
    fn retry_after_over_cap_fails_at_once() {
        let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "500")], "")));
        let mut c = f.client(&Options::default());
        take_lines();
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::RateLimited { retry_after_secs: 500, message }) => {
                assert!(message.contains("wait 500 s") && message.contains("run again later"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(f.sleeps().is_empty());
        assert_eq!(f.requests().len(), 1);
        assert!(has_line(&take_lines(), "[TRAKT:http] WARN rate_limited method=GET path=/x retry_after_s=500 cap_s=120"));
        let e = &c.ledger_entries()[0];
        assert_eq!((e.status, e.attempts), (429, 1));
        assert!(e.error.starts_with("rate limited: "), "{}", e.error);

        // The cap is configurable.
        let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "500")], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options { retry_after_cap_secs: 600, ..Options::default() });
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.sleeps(), vec![500_000]);
    }

    #[test]
    fn cloudflare_429_without_retry_after_waits_10s() {
        let page = "<html><head><title>Error 1015</title></head><body>You are being rate limited</body></html>";
        let f = Fakes::script(vec![
            Ok(resp(429, &[("content-type", "text/html"), ("server", "cloudflare")], page)),
            Ok(resp(200, &[], "{}")),
        ]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.sleeps(), vec![10_000]);

        // Attempts exhausted on a 429: rate-limited with the wait Trakt asked for.
        let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "7")], "")));
        let mut c = f.client(&Options { max_retries: 2, ..Options::default() });
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::RateLimited { retry_after_secs: 7, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 2);
    }

    #[test]
    fn non_idempotent_post_is_resent_only_when_provably_not_applied() {
        // Timeout: may have reached Trakt -> not resent.
        let f = Fakes::new(|_| Err(TransportError::Timeout("slow".into())));
        let mut c = f.client(&Options::default());
        match c.execute(&Call::post("/sync/history", "{}".into(), false)) {
            Err(AdapterError::Transport(m)) => assert!(m.contains("may or may not have been applied"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1);

        // Connection lost: same.
        let f = Fakes::new(|_| Err(TransportError::ConnectionLost("reset".into())));
        let mut c = f.client(&Options::default());
        assert!(matches!(c.execute(&Call::post("/sync/history", "{}".into(), false)), Err(AdapterError::Transport(_))));
        assert_eq!(f.requests().len(), 1);

        // 5xx: not resent, typed http error.
        let f = Fakes::new(|_| Ok(resp(503, &[], "")));
        let mut c = f.client(&Options::default());
        match c.execute(&Call::post("/sync/history", "{}".into(), false)) {
            Err(AdapterError::Http { status: 503, message }) => assert!(message.contains("may or may not have been applied"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1);

        // Connect error: never reached Trakt -> resent.
        let f = Fakes::script(vec![Err(TransportError::Connect("refused".into())), Ok(resp(201, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::post("/sync/history", "{}".into(), false)).unwrap().status, 201);
        assert_eq!(f.requests().len(), 2);

        // 429: not applied -> resent after Retry-After.
        let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "2")], "")), Ok(resp(201, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::post("/sync/history", "{}".into(), false)).unwrap().status, 201);
        assert_eq!(f.requests().len(), 2);
        assert_eq!(f.sleeps(), vec![2000]);
    }

    #[test]
    fn transport_errors_that_are_never_retried() {
        for err in [
            TransportError::Denied("origin".into()),
            TransportError::Tls("bad cert".into()),
            TransportError::InvalidRequest("bad header".into()),
        ] {
            let e = err.clone();
            let f = Fakes::new(move |_| Err(e.clone()));
            let mut c = f.client(&Options::default());
            assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Transport(_))), "{err:?}");
            assert_eq!(f.requests().len(), 1, "{err:?}");
            assert!(f.sleeps().is_empty());
        }
        let f = Fakes::script(vec![Err(TransportError::ConnectionLost("reset".into())), Ok(resp(200, &[], "[]"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        let e = &c.ledger_entries()[0];
        assert_eq!((e.attempts, e.status, e.error.as_str()), (2, 200, ""));
    }

    #[test]
    fn trakt_statuses_are_typed_after_one_request() {
        let f = Fakes::new(|_| {
            Ok(resp(420, &[("x-account-limit", "250"), ("x-vip-user", "false"), ("x-upgrade-url", "https://trakt.tv/vip")], ""))
        });
        let mut c = f.client(&Options::default());
        match c.execute(&Call::post("/sync/watchlist", "{}".into(), true)) {
            Err(AdapterError::AccountLimit { limit, vip, upgrade_url, message }) => {
                assert_eq!(limit, Some(250));
                assert_eq!(vip, Some(false));
                assert_eq!(upgrade_url.as_deref(), Some("https://trakt.tv/vip"));
                assert_eq!(
                    message,
                    "Trakt account limit reached for POST /sync/watchlist (limit 250): remove items on Trakt or \
                     upgrade to VIP at https://trakt.tv/vip"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1, "420 is never retried");

        type Case<'a> = (u16, Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (403, vec![("content-type", "application/json")], "{\"error\":\"forbidden\"}", "forbidden: Trakt answered 403 for GET /x: the API key is invalid or the app may have been deleted: check client_id"),
            (403, vec![("content-type", "text/html")], "<html>Attention Required! | Cloudflare</html>", "forbidden: Trakt answered 403 for GET /x: blocked by Cloudflare (missing User-Agent?)"),
            (423, vec![("x-account-locked", "false"), ("x-account-deactivated", "true")], "", "locked: Trakt answered 423 for GET /x: the account is deactivated; contact Trakt support"),
            (423, vec![], "", "locked: Trakt answered 423 for GET /x: the account is locked or deactivated; contact Trakt support"),
            (426, vec![("x-upgrade-url", "https://app.trakt.tv/vip")], "", "vip only: Trakt answered 426 for GET /x: this needs Trakt VIP; upgrade at https://app.trakt.tv/vip"),
            (400, vec![], "", "http 400: Trakt answered 400 for GET /x: Trakt could not parse the request; this is an adapter bug"),
            (404, vec![], "", "http 404: Trakt answered 404 for GET /x: not found on Trakt"),
            (405, vec![], "", "http 405: Trakt answered 405 for GET /x: method not allowed"),
            (409, vec![], "", "http 409: Trakt answered 409 for GET /x: conflict"),
            (412, vec![], "", "http 412: Trakt answered 412 for GET /x: Trakt wants the content type application/json"),
            (422, vec![], "{\"errors\":{}}", "http 422: Trakt answered 422 for GET /x: Trakt rejected the values sent: check the items ({\"errors\":{}})"),
            (501, vec![], "", "http 501: Trakt answered 501 for GET /x: Trakt is having trouble"),
        ];
        for (status, headers, body, want) in cases {
            let (h, b): (Vec<(String, String)>, String) =
                (headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body.to_string());
            let f = Fakes::new(move |_| {
                let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                Ok(resp(status, &hs, &b))
            });
            let mut c = f.client(&Options::default());
            let err = c.execute(&Call::get("/x")).unwrap_err();
            assert!(err.to_string().starts_with(want), "{status}: {err}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(f.requests().len(), 1, "{status} is not retried");
            assert!(f.sleeps().is_empty());
        }
    }

    #[test]
    fn ledger_of_a_retried_get() {
        let rl = r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":997,"until":"2023-11-14T22:30:30Z"}"#;
        let f = Fakes::script(vec![Ok(resp(503, &[("x-ratelimit", rl)], "down")), Ok(resp(200, &[], "[1,2]"))]);
        f.set_latency(7);
        let mut c = f.client(&Options::default());
        c.reset_ledger();
        c.execute(&Call::get("/sync/watchlist").query("page", 2).query("limit", 250)).unwrap();
        let entries = c.ledger_entries();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.method, "GET");
        assert_eq!(e.path, "/sync/watchlist?page=2&limit=250");
        assert_eq!((e.status, e.attempts), (200, 2));
        assert_eq!(e.waited_ms, f.sleeps()[0]);
        assert_eq!(e.elapsed_ms, 14);
        assert_eq!((e.bytes_sent, e.bytes_received), (0, 5));
        assert_eq!(e.rate_limit.as_deref(), Some(rl));
        assert_eq!(e.error, "");
        assert_eq!(c.rate_limit_remaining, Some(997));

        // A failing POST: bytes of every attempt, the error text; a reset starts over.
        let f = Fakes::new(|_| Ok(resp(502, &[], "")));
        let mut c = f.client(&Options { max_retries: 3, ..Options::default() });
        let _ = c.execute(&Call::post("/sync/watchlist", "{\"movies\":[]}".into(), true));
        let e = &c.ledger_entries()[0];
        assert_eq!((e.method.as_str(), e.status, e.attempts, e.bytes_sent), ("POST", 502, 3, 39));
        assert!(e.error.starts_with("http 502: "), "{}", e.error);
        assert!(e.waited_ms >= f.sleeps()[0] + f.sleeps()[1]);
        c.reset_ledger();
        assert!(c.ledger_entries().is_empty());
    }

    #[test]
    fn x_ratelimit_remaining_zero_delays_the_next_request_until_reset() {
        // Fake wall clock at the first request: 1_700_001_000 = 2023-11-14T22:30:00Z.
        let rl = r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":0,"until":"2023-11-14T22:30:30Z"}"#;
        let f = Fakes::script(vec![Ok(resp(200, &[("x-ratelimit", rl)], "{}")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        c.execute(&Call::get("/a")).unwrap();
        c.execute(&Call::get("/b")).unwrap();
        assert_eq!(f.sleeps(), vec![30_000]);
        let t = f.send_times();
        assert_eq!(t[1] - t[0], 30_000);
        assert_eq!(c.ledger_entries()[1].waited_ms, 30_000);

        // A reset beyond the Retry-After cap fails at once without sending.
        let rl = r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"remaining":0,"until":"2023-11-14T22:34:00Z"}"#;
        let f = Fakes::script(vec![Ok(resp(200, &[("x-ratelimit", rl)], "{}"))]);
        let mut c = f.client(&Options::default());
        c.execute(&Call::get("/a")).unwrap();
        match c.execute(&Call::get("/b")) {
            Err(AdapterError::RateLimited { retry_after_secs: 240, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1);
        assert_eq!(c.ledger_entries()[1].attempts, 0);
    }

    #[test]
    fn read_bucket_holds_the_1001st_get_to_the_window() {
        let f = Fakes::new(|_| Ok(resp(200, &[], "{}")));
        f.set_latency(10);
        let mut c = f.client(&Options::default());
        for _ in 0..1000 {
            c.execute(&Call::get("/x")).unwrap();
        }
        assert!(f.sleeps().is_empty());
        c.execute(&Call::get("/x")).unwrap();
        // The first GET finished at +10 ms; the 1001st goes 300 s after that.
        assert_eq!(f.sleeps(), vec![300_010 - 10_000]);
        let t = f.send_times();
        assert_eq!(t[1000] - t[0], 300_010);
        assert_eq!(c.ledger_entries()[1000].waited_ms, 290_010);

        let f = Fakes::new(|_| Ok(resp(200, &[], "{}")));
        let opts = Options { rate_limit: RateLimit { read_limit: 500, ..RateLimit::default() }, ..Options::default() };
        let mut c = f.client(&opts);
        for _ in 0..501 {
            c.execute(&Call::get("/x")).unwrap();
        }
        assert_eq!(f.sleeps(), vec![300_000]);

        let f = Fakes::new(|_| Ok(resp(201, &[], "{}")));
        let opts = Options { rate_limit: RateLimit { enabled: false, ..RateLimit::default() }, ..Options::default() };
        let mut c = f.client(&opts);
        for _ in 0..1500 {
            c.execute(&Call::get("/x")).unwrap();
        }
        for _ in 0..5 {
            c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
        }
        assert!(f.sleeps().is_empty(), "disabled buckets never wait");
    }

    #[test]
    fn writes_are_spaced_one_second_apart() {
        let f = Fakes::new(|_| Ok(resp(201, &[], "{}")));
        let mut c = f.client(&Options::default());
        c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
        f.advance(300);
        c.execute(&Call::get("/r")).unwrap();
        c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
        c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
        assert_eq!(f.sleeps(), vec![700, 1000]);
        let t = f.send_times();
        assert_eq!((t[2] - t[0], t[3] - t[2]), (1000, 1000));
        assert_eq!(c.ledger_entries()[2].waited_ms, 700);
    }

    #[test]
    fn a_truncated_body_is_retried_like_a_lost_connection() {
        let f = Fakes::script(vec![
            Ok(resp(200, &[("content-length", "10")], "[1,")),
            Ok(resp(200, &[("content-length", "5")], "[1,2]")),
        ]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().body, b"[1,2]");
        assert_eq!(f.requests().len(), 2);
        // Not for a write that may have been applied: the answer is returned as it came.
        let f = Fakes::script(vec![Ok(resp(201, &[("content-length", "10")], "{"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::post("/sync/history", "{}".into(), false)).unwrap().status, 201);
        assert_eq!(f.requests().len(), 1);
    }

    #[test]
    fn jitter_needs_no_random_import() {
        let mut j = Jitter(42);
        let draws: Vec<u64> = (0..1000).map(|_| j.upto(1000)).collect();
        assert!(draws.iter().all(|d| *d <= 1000));
        assert!(draws.iter().any(|d| *d < 100) && draws.iter().any(|d| *d > 900));
        assert_eq!(Jitter(7).upto(0), 0);
    }
}
