//! The one Trakt client: request building, write pacing, retries, auth replay, and the
//! mapping of Trakt's statuses onto typed errors.
//!
//! One client lives for the whole component instance, so write pacing holds across calls and
//! chunks (CrossWatch rebuilt its limiter per call, reference crosswatch.md 10.1).

pub mod paging;
pub mod transport;

use crate::config::Options;
use crate::error::AdapterError;
use crate::log::{self, Level};
use transport::{Auth, AuthFailure, Clock, Method, Request, Response, Transport, TransportError};

pub const USER_AGENT: &str = concat!("crosswatch-trakt-adapter/", env!("CARGO_PKG_VERSION"));
/// Trakt allows one write per second per user.
const WRITE_SPACING_MS: u64 = 1_000;
/// Longest `Retry-After` the client sleeps through; beyond it the call fails as rate-limited.
pub const RETRY_AFTER_CAP_SECS: u64 = 120;
/// Longest single backoff sleep.
const MAX_BACKOFF_MS: u64 = 60_000;

/// One request to make, relative to the API origin.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Path such as "/sync/watchlist".
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Safe to repeat when an earlier attempt may have reached the server (timeout,
    /// connection lost). GETs and watchlist writes are; history adds will not be.
    pub idempotent: bool,
    /// Overrides `max_retries` (total attempts) for this call.
    pub max_attempts: Option<u32>,
    /// Overrides the configured timeout for this call.
    pub timeout_ms: Option<u32>,
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
        }
    }

    pub fn post(path: &str, body: String, idempotent: bool) -> Call {
        Call { method: Method::Post, body: body.into_bytes(), idempotent, ..Call::get(path) }
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Call {
        self.query.push((key.to_string(), value.to_string()));
        self
    }
}

/// Settings the client takes from the options.
#[derive(Debug, Clone)]
struct Settings {
    api_url: String,
    timeout_ms: u32,
    max_attempts: u32,
}

pub struct Client {
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    auth: Box<dyn Auth>,
    settings: Settings,
    /// Monotonic time the last write finished, for the 1/s spacing.
    last_write_ms: Option<u64>,
    /// `remaining` of the last `X-Ratelimit` header seen.
    pub rate_limit_remaining: Option<u32>,
}

impl Client {
    pub fn new(transport: Box<dyn Transport>, clock: Box<dyn Clock>, auth: Box<dyn Auth>, opts: &Options) -> Client {
        let mut c = Client {
            transport,
            clock,
            auth,
            settings: Settings { api_url: String::new(), timeout_ms: 0, max_attempts: 1 },
            last_write_ms: None,
            rate_limit_remaining: None,
        };
        c.apply_options(opts);
        c
    }

    /// Take new options; pacing state is kept.
    pub fn apply_options(&mut self, opts: &Options) {
        self.settings = Settings {
            api_url: opts.api_url.trim_end_matches('/').to_string(),
            timeout_ms: opts.timeout_ms,
            max_attempts: opts.max_retries.max(1),
        };
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn timeout_ms(&self) -> u32 {
        self.settings.timeout_ms
    }

    /// Send a call with retries and auth replay, and map non-success statuses to typed
    /// errors. Ok carries a 2xx (or 304) response.
    pub fn execute(&mut self, call: &Call) -> Result<Response, AdapterError> {
        let resp = self.exchange(call)?;
        classify(call, resp)
    }

    /// Send a call with retries and auth replay; return whatever final response came back.
    ///
    /// - 401: ask the host to refresh, replay once (not counted as an attempt); a failed
    ///   refresh is `Auth`;
    /// - 429 / 5xx: retried up to the attempt budget with backoff 1 s, 2 s, 4 s...; a 429
    ///   waits at least its `Retry-After`, and one beyond `RETRY_AFTER_CAP_SECS` fails at
    ///   once as `RateLimited`;
    /// - connect errors are retried; timeouts and lost connections only for idempotent
    ///   calls (the request may have reached Trakt); denied, TLS and invalid requests never.
    pub fn exchange(&mut self, call: &Call) -> Result<Response, AdapterError> {
        let req = self.build_request(call);
        let attempts = call.max_attempts.unwrap_or(self.settings.max_attempts).max(1);
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            if call.method.is_write() {
                self.pace_write();
            }
            let result = self.transport.send(&req);
            if call.method.is_write() {
                self.last_write_ms = Some(self.clock.now_ms());
            }
            let backoff_ms = (1000u64 << (attempt - 1).min(16)).min(MAX_BACKOFF_MS);
            match result {
                Ok(resp) => {
                    log::event(Level::Debug, "http", "http_response", &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("status", resp.status.to_string()),
                        ("attempt", attempt.to_string()),
                    ]);
                    self.note_rate_limit(&resp);
                    if resp.status == 401 && !refreshed {
                        refreshed = true;
                        attempt -= 1;
                        self.refresh_token()?;
                        continue;
                    }
                    let retryable = resp.status == 429 || (500..=599).contains(&resp.status);
                    if !retryable || attempt >= attempts {
                        return Ok(resp);
                    }
                    let mut wait_ms = backoff_ms;
                    if resp.status == 429 {
                        if let Some(secs) = resp.header_u64("retry-after") {
                            if secs > RETRY_AFTER_CAP_SECS {
                                return Err(rate_limited(secs, call));
                            }
                            wait_ms = wait_ms.max(secs * 1000);
                        }
                        log::event(Level::Warn, "ratelimit", "rate_limit_retry", &[
                            ("path", call.path.clone()),
                            ("attempt", attempt.to_string()),
                            ("wait_ms", wait_ms.to_string()),
                        ]);
                    } else {
                        log::event(Level::Warn, "http", "http_retry", &[
                            ("method", call.method.as_str().into()),
                            ("path", call.path.clone()),
                            ("status", resp.status.to_string()),
                            ("attempt", attempt.to_string()),
                            ("wait_ms", wait_ms.to_string()),
                        ]);
                    }
                    self.clock.sleep_ms(wait_ms);
                }
                Err(err) => {
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
                        return Err(AdapterError::Transport(format!(
                            "{} {}: {}",
                            call.method.as_str(),
                            call.path,
                            err.describe()
                        )));
                    }
                    log::event(Level::Warn, "http", "http_exception_retry", &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("attempt", attempt.to_string()),
                        ("wait_ms", backoff_ms.to_string()),
                        ("error", err.describe()),
                    ]);
                    self.clock.sleep_ms(backoff_ms);
                }
            }
        }
    }

    fn build_request(&self, call: &Call) -> Request {
        let mut url = format!("{}{}", self.settings.api_url, call.path);
        for (i, (k, v)) in call.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode(k));
            url.push('=');
            url.push_str(&encode(v));
        }
        Request {
            method: call.method,
            url,
            headers: vec![
                ("trakt-api-version".into(), "2".into()),
                ("Content-Type".into(), "application/json".into()),
                ("Accept".into(), "application/json".into()),
                ("User-Agent".into(), USER_AGENT.into()),
            ],
            body: call.body.clone(),
            timeout_ms: call.timeout_ms.unwrap_or(self.settings.timeout_ms),
        }
    }

    /// Keep writes at least `WRITE_SPACING_MS` apart (monotonic clock).
    fn pace_write(&mut self) {
        if let Some(last) = self.last_write_ms {
            let next = last.saturating_add(WRITE_SPACING_MS);
            let now = self.clock.now_ms();
            if now < next {
                self.clock.sleep_ms(next - now);
            }
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

    /// Remember `remaining` from Trakt's JSON `X-Ratelimit` header.
    fn note_rate_limit(&mut self, resp: &Response) {
        if let Some(remaining) = rate_limit_remaining(resp) {
            self.rate_limit_remaining = Some(remaining);
        }
    }
}

/// `remaining` of the JSON `X-Ratelimit` header, when present and readable.
pub fn rate_limit_remaining(resp: &Response) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(resp.header("x-ratelimit")?).ok()?;
    v.get("remaining")?.as_u64().map(|n| n.min(u64::from(u32::MAX)) as u32)
}

fn rate_limited(secs: u64, call: &Call) -> AdapterError {
    let secs = secs.min(u64::from(u32::MAX)) as u32;
    AdapterError::RateLimited {
        retry_after_secs: secs,
        message: format!(
            "Trakt rate limit reached on {} {}: try again after {secs} s",
            call.method.as_str(),
            call.path
        ),
    }
}

/// Map a final response onto success or a typed error.
fn classify(call: &Call, resp: Response) -> Result<Response, AdapterError> {
    let what = format!("{} {}", call.method.as_str(), call.path);
    match resp.status {
        200..=299 | 304 => Ok(resp),
        401 => Err(AdapterError::Auth(format!(
            "Trakt rejected the access token for {what} even after a refresh: log in to Trakt again"
        ))),
        403 => Err(AdapterError::Forbidden(format!(
            "Trakt answered 403 for {what}: the API key (client id) is invalid or the app was deleted \
             (or Cloudflare blocked the request): check the Trakt app settings ({})",
            resp.body_snippet()
        ))),
        420 => {
            let limit = resp.header_u64("x-account-limit").map(|n| n.min(u64::from(u32::MAX)) as u32);
            let vip = resp.header("x-vip-user").and_then(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            });
            let upgrade_url = resp.header("x-upgrade-url").map(str::to_string);
            let mut message = format!("Trakt account limit reached for {what}");
            if let Some(l) = limit {
                message.push_str(&format!(" (limit {l})"));
            }
            if vip == Some(false) {
                if let Some(u) = &upgrade_url {
                    message.push_str(&format!(": upgrade at {u} or remove items"));
                }
            }
            Err(AdapterError::AccountLimit { limit, vip, upgrade_url, message })
        }
        423 => Err(AdapterError::Locked(format!(
            "Trakt answered 423 for {what}: the account is locked or deactivated; contact Trakt support"
        ))),
        426 => Err(AdapterError::VipOnly(format!("Trakt answered 426 for {what}: this needs Trakt VIP"))),
        429 => {
            let secs = resp.header_u64("retry-after").unwrap_or(60);
            Err(rate_limited(secs, call))
        }
        status => Err(AdapterError::Http {
            status,
            message: format!("Trakt answered {status} for {what}: {}", resp.body_snippet()),
        }),
    }
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
    use crate::testkit::{resp, Fakes};

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
    fn retries_503_then_succeeds() {
        let f = Fakes::script(vec![Ok(resp(503, &[], "")), Ok(resp(503, &[], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        let r = c.execute(&Call::get("/x")).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(f.requests().len(), 3);
        assert_eq!(f.sleeps(), vec![1000, 2000]);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let f = Fakes::new(|_| Ok(resp(502, &[], "bad gateway")));
        let mut c = f.client(&Options { max_retries: 3, ..Options::default() });
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::Http { status: 502, message }) => assert!(message.contains("bad gateway")),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 3);
        assert_eq!(f.sleeps(), vec![1000, 2000]);
    }

    #[test]
    fn refreshes_once_on_401_and_replays() {
        let f = Fakes::script(vec![Ok(resp(401, &[], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.refreshes(), 1);
        assert_eq!(f.requests().len(), 2);
        assert!(f.sleeps().is_empty());
    }

    #[test]
    fn second_401_is_auth_error() {
        let f = Fakes::new(|_| Ok(resp(401, &[], "")));
        let mut c = f.client(&Options::default());
        assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Auth(_))));
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
    fn honours_retry_after_and_caps_it() {
        let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "3")], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
        assert_eq!(f.sleeps(), vec![3000]);

        let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "600")], "")));
        let mut c = f.client(&Options::default());
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::RateLimited { retry_after_secs: 600, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(f.sleeps().is_empty());
        assert_eq!(f.requests().len(), 1);
    }

    #[test]
    fn typed_errors_for_trakt_statuses() {
        let f = Fakes::new(|_| {
            Ok(resp(420, &[("x-account-limit", "250"), ("x-vip-user", "false"), ("x-upgrade-url", "https://trakt.tv/vip")], ""))
        });
        let mut c = f.client(&Options::default());
        match c.execute(&Call::post("/sync/watchlist", "{}".into(), true)) {
            Err(AdapterError::AccountLimit { limit, vip, upgrade_url, .. }) => {
                assert_eq!(limit, Some(250));
                assert_eq!(vip, Some(false));
                assert_eq!(upgrade_url.as_deref(), Some("https://trakt.tv/vip"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1, "420 is never retried");
        for (status, check) in [
            (403u16, (|e: &AdapterError| matches!(e, AdapterError::Forbidden(_))) as fn(&AdapterError) -> bool),
            (423, |e| matches!(e, AdapterError::Locked(_))),
            (426, |e| matches!(e, AdapterError::VipOnly(_))),
            (404, |e| matches!(e, AdapterError::Http { status: 404, .. })),
        ] {
            let f = Fakes::new(move |_| Ok(resp(status, &[], "")));
            let mut c = f.client(&Options::default());
            let err = c.execute(&Call::get("/x")).unwrap_err();
            assert!(check(&err), "{status}: {err:?}");
            assert_eq!(f.requests().len(), 1, "{status} is not retried");
        }
    }

    #[test]
    fn transport_errors_retry_only_when_safe() {
        let f = Fakes::script(vec![Err(TransportError::Connect("refused".into())), Ok(resp(201, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::post("/w", "{}".into(), false)).unwrap().status, 201);

        let f = Fakes::new(|_| Err(TransportError::Timeout("slow".into())));
        let mut c = f.client(&Options::default());
        assert!(matches!(c.execute(&Call::post("/w", "{}".into(), false)), Err(AdapterError::Transport(_))));
        assert_eq!(f.requests().len(), 1, "a non-idempotent write is not repeated after a timeout");

        let f = Fakes::new(|_| Err(TransportError::Timeout("slow".into())));
        let mut c = f.client(&Options { max_retries: 2, ..Options::default() });
        assert!(matches!(c.execute(&Call::post("/w", "{}".into(), true)), Err(AdapterError::Transport(_))));
        assert_eq!(f.requests().len(), 2);

        let f = Fakes::new(|_| Err(TransportError::Denied("origin".into())));
        let mut c = f.client(&Options::default());
        assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Transport(_))));
        assert_eq!(f.requests().len(), 1);
    }

    #[test]
    fn writes_are_spaced_one_second_apart() {
        let f = Fakes::new(|_| Ok(resp(201, &[], "{}")));
        let mut c = f.client(&Options::default());
        c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
        f.advance(300);
        c.execute(&Call::get("/r")).unwrap();
        c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
        assert_eq!(f.sleeps(), vec![700]);
        let times = f.send_times();
        assert!(times[2] - times[0] >= 1000);
    }

    #[test]
    fn reads_rate_limit_header() {
        let f = Fakes::new(|_| Ok(resp(200, &[("x-ratelimit", r#"{"name":"AUTHED_API_GET_LIMIT","remaining":42}"#)], "{}")));
        let mut c = f.client(&Options::default());
        c.execute(&Call::get("/x")).unwrap();
        assert_eq!(c.rate_limit_remaining, Some(42));
    }
}
