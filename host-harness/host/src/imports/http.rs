//! The `http` import: a real HTTP client (rustls for https) behind the sandbox policy. Only
//! the configured Trakt origins are reachable, and requests to the API origin are signed here
//! so the component never holds a token or the client secret. Only the WIT's methods are
//! sent, the host owns framing and hop-by-hop headers, and the 401s it returns from the API
//! origin are counted so `auth.refresh` spends a grant only against one of them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ureq::http::{Method, Request};

use crate::imports::auth::SharedCredentials;
use crate::policy::{Destination, Policy};

/// One request as the component sends it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
    /// When the calling export's wall-clock budget ends: no request waits past it, and none
    /// is sent after it (epoch interruption only fires in guest code).
    pub deadline: Option<Instant>,
}

/// One response: any status, header names lowercased.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why no response came; mirrors the WIT `http-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFault {
    Denied(String),
    Timeout(String),
    /// Not sent, or cut off, because the call's wall-clock limit was reached: the call is over
    /// (the runtime stops it on the return into the guest; the guest would see a timeout).
    CallDeadline(String),
    Connect(String),
    ConnectionLost(String),
    Tls(String),
    InvalidRequest(String),
}

/// Largest response body accepted (a 250-row Trakt page is well under 1 MiB).
const MAX_BODY_BYTES: u64 = 256 << 20;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers the host owns on signed requests: whatever the component put there is replaced.
const SIGNED_HEADERS: &[&str] = &["authorization", "trakt-api-key"];
/// The methods `wit/host.wit` names for `request.method` (any letter case); every other
/// method is refused with `http-error::invalid-request` before anything is sent, so e.g. a
/// `TRACE` can never echo the signed request back to the component.
pub const ALLOWED_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
/// Framing, routing and hop-by-hop headers: the host's HTTP client owns them (it frames the
/// body with its own Content-Length and names the configured origin in Host), so whatever
/// the component sets of these is dropped, and so is every `Proxy-*` header.
pub const HOST_OWNED_HEADERS: &[&str] =
    &["content-length", "transfer-encoding", "connection", "host", "te", "trailer", "upgrade", "expect", "keep-alive"];

/// True for a header the component may not set (see [`HOST_OWNED_HEADERS`]).
pub fn host_owned_header(name: &str) -> bool {
    let name = name.trim();
    HOST_OWNED_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
        || name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
}

pub struct HttpBroker {
    agent: ureq::Agent,
    policy: Policy,
    creds: SharedCredentials,
    user_agent: String,
    /// 401 answers from the API origin returned to the component during the current call and
    /// not yet answered by a refresh: `auth.refresh` spends a grant only against one of them.
    unanswered_401s: AtomicU32,
}

impl HttpBroker {
    pub fn new(policy: Policy, creds: SharedCredentials) -> HttpBroker {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build();
        // ureq's own connector (TCP, rustls) with the origins looked up once per run.
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            crate::imports::resolve::RunResolver::default(),
        );
        HttpBroker {
            agent,
            policy,
            creds,
            user_agent: format!("cw-host/{}", env!("CARGO_PKG_VERSION")),
            unanswered_401s: AtomicU32::new(0),
        }
    }

    /// A new call into the component begins: 401s of earlier calls no longer earn a refresh.
    pub fn begin_call(&self) {
        self.unanswered_401s.store(0, Ordering::Relaxed);
    }

    /// Spend one 401 this broker returned from the API origin during the current call; false
    /// when there is none left (the component asks for a refresh nobody needed).
    pub fn take_401(&self) -> bool {
        self.unanswered_401s.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }

    pub fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpFault> {
        let Some(allowed) = ALLOWED_METHODS.iter().find(|m| req.method.eq_ignore_ascii_case(m)) else {
            return Err(HttpFault::InvalidRequest(format!(
                "HTTP method {:?} is not allowed: the host sends only GET, POST, PUT and DELETE",
                req.method
            )));
        };
        let destination =
            self.policy.check(&req.url).map_err(|e| HttpFault::Denied(format!("refused by host policy: {e}")))?;
        let method = Method::from_bytes(allowed.as_bytes())
            .map_err(|_| HttpFault::InvalidRequest(format!("invalid HTTP method {:?}", req.method)))?;
        let mut headers: Vec<(String, String)> = req.headers;
        headers.retain(|(k, _)| !host_owned_header(k));
        if destination == Destination::Api {
            self.sign(&mut headers);
        }
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
            headers.push(("User-Agent".into(), self.user_agent.clone()));
        }
        let timeout = match req.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(ms as u64),
        }
        .min(self.policy.limits.http_timeout_cap);
        // The call's deadline caps the request: when it is the binding limit, a timeout means
        // the call's time is up, whatever rounding made the request stop a moment before it.
        let (timeout, capped_by_deadline) = match req.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(HttpFault::CallDeadline(
                        "not sent: the call's wall-clock limit has been reached".into(),
                    ));
                }
                (timeout.min(left), left <= timeout)
            }
            None => (timeout, false),
        };

        let mut builder = Request::builder().method(method).uri(&req.url);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let result = if req.body.is_empty() {
            let request = builder.body(()).map_err(|e| HttpFault::InvalidRequest(e.to_string()))?;
            let request = self.agent.configure_request(request).timeout_global(Some(timeout)).build();
            self.agent.run(request)
        } else {
            let request = builder.body(req.body).map_err(|e| HttpFault::InvalidRequest(e.to_string()))?;
            let request = self.agent.configure_request(request).timeout_global(Some(timeout)).build();
            self.agent.run(request)
        };
        let fault = |e: ureq::Error| match fault_of(e, &req.url) {
            HttpFault::Timeout(m) if capped_by_deadline => {
                HttpFault::CallDeadline(format!("{m} (the call's wall-clock limit was reached)"))
            }
            fault => fault,
        };
        let mut response = result.map_err(fault)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = response.body_mut().with_config().limit(MAX_BODY_BYTES).read_to_vec().map_err(fault)?;
        if destination == Destination::Api && status == 401 {
            self.unanswered_401s.fetch_add(1, Ordering::Relaxed);
        }
        Ok(HttpResponse { status, headers, body })
    }

    /// Add the app key, API version and the current bearer token; note which token generation
    /// was used so a refresh request can tell whether it is already stale.
    fn sign(&self, headers: &mut Vec<(String, String)>) {
        headers.retain(|(k, _)| !SIGNED_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s)));
        let mut state = self.creds.lock();
        state.mark_used();
        headers.push(("trakt-api-key".into(), state.creds.client_id.clone()));
        headers.push(("Authorization".into(), format!("Bearer {}", state.creds.access_token)));
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("trakt-api-version")) {
            headers.push(("trakt-api-version".into(), "2".into()));
        }
    }
}

fn fault_of(e: ureq::Error, url: &str) -> HttpFault {
    let at = strip_query(url);
    match e {
        ureq::Error::Timeout(t) => HttpFault::Timeout(format!("{at}: timed out ({t})")),
        ureq::Error::HostNotFound => HttpFault::Connect(format!("{at}: host not found")),
        ureq::Error::ConnectionFailed => HttpFault::Connect(format!("{at}: connection failed")),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            HttpFault::Connect(format!("{at}: connection refused"))
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            HttpFault::Timeout(format!("{at}: timed out ({io})"))
        }
        ureq::Error::BadUri(s) => HttpFault::InvalidRequest(format!("{at}: bad URL: {s}")),
        ureq::Error::Http(h) => HttpFault::InvalidRequest(format!("{at}: {h}")),
        ureq::Error::Tls(s) => HttpFault::Tls(format!("{at}: {s}")),
        other => {
            let text = other.to_string();
            let lower = text.to_ascii_lowercase();
            if lower.contains("tls") || lower.contains("certificate") || lower.contains("rustls") {
                HttpFault::Tls(format!("{at}: {text}"))
            } else {
                HttpFault::ConnectionLost(format!("{at}: {text}"))
            }
        }
    }
}

/// Query strings never reach error texts (they carry nothing secret today, but logs are shared).
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
