//! The seams between the client and the host: HTTP, clocks and token refresh.
//!
//! Why traits: the real implementations call WIT imports, which only exist inside a
//! component; unit tests swap in fakes (see `testkit`) so the client, the pager and the
//! features run natively.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }

    /// Writes share Trakt's 1-per-second bucket.
    pub fn is_write(self) -> bool {
        self != Method::Get
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    pub status: u16,
    /// Names lowercased by the host.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    /// A header holding a non-negative integer.
    pub fn header_u64(&self, name: &str) -> Option<u64> {
        self.header(name).and_then(|v| v.parse().ok())
    }

    /// First bytes of the body as text, for error messages.
    pub fn body_snippet(&self) -> String {
        let end = self.body.len().min(200);
        String::from_utf8_lossy(&self.body[..end]).replace(['\n', '\r'], " ")
    }
}

/// Why a request produced no response (mirror of the WIT `http-error`).
#[derive(Debug, Clone, PartialEq)]
pub enum TransportError {
    Denied(String),
    Timeout(String),
    Connect(String),
    ConnectionLost(String),
    Tls(String),
    InvalidRequest(String),
}

impl TransportError {
    pub fn describe(&self) -> String {
        match self {
            // Hosts already say who refused and why; repeating it only adds noise.
            TransportError::Denied(m) if m.contains("refused") => m.clone(),
            TransportError::Denied(m) => format!("refused by the host policy: {m}"),
            TransportError::Timeout(m) => format!("timed out: {m}"),
            TransportError::Connect(m) => format!("could not connect: {m}"),
            TransportError::ConnectionLost(m) => format!("connection lost: {m}"),
            TransportError::Tls(m) => format!("TLS failure: {m}"),
            TransportError::InvalidRequest(m) => format!("invalid request: {m}"),
        }
    }
}

pub trait Transport {
    fn send(&mut self, req: &Request) -> Result<Response, TransportError>;
}

pub trait Clock {
    /// Monotonic milliseconds (arbitrary origin).
    fn now_ms(&self) -> u64;
    fn sleep_ms(&mut self, ms: u64);
    /// Wall-clock Unix seconds (`X-Ratelimit` `until`, state-file timestamps, history dates).
    fn wall_unix_secs(&self) -> i64;
}

/// Why the host could not refresh the token (mirror of the WIT `auth-error`).
#[derive(Debug, Clone, PartialEq)]
pub enum AuthFailure {
    NotConfigured(String),
    InvalidGrant(String),
    Failed(String),
}

pub trait Auth {
    fn refresh(&mut self) -> Result<(), AuthFailure>;
}

/// The real implementations over the component's imports.
pub mod host {
    use super::*;
    use crate::bindings::crosswatch::sync::{auth as wit_auth, http as wit_http};
    use wasip2::clocks::{monotonic_clock, wall_clock};

    pub struct HostTransport;

    impl Transport for HostTransport {
        fn send(&mut self, req: &Request) -> Result<Response, TransportError> {
            let wreq = wit_http::Request {
                method: req.method.as_str().to_string(),
                url: req.url.clone(),
                headers: req.headers.clone(),
                body: req.body.clone(),
                timeout_ms: req.timeout_ms,
            };
            match wit_http::send(&wreq) {
                Ok(r) => Ok(Response { status: r.status, headers: r.headers, body: r.body }),
                Err(e) => Err(match e {
                    wit_http::HttpError::Denied(m) => TransportError::Denied(m),
                    wit_http::HttpError::Timeout(m) => TransportError::Timeout(m),
                    wit_http::HttpError::Connect(m) => TransportError::Connect(m),
                    wit_http::HttpError::ConnectionLost(m) => TransportError::ConnectionLost(m),
                    wit_http::HttpError::Tls(m) => TransportError::Tls(m),
                    wit_http::HttpError::InvalidRequest(m) => TransportError::InvalidRequest(m),
                }),
            }
        }
    }

    pub struct HostClock;

    impl Clock for HostClock {
        fn now_ms(&self) -> u64 {
            monotonic_clock::now() / 1_000_000
        }
        fn sleep_ms(&mut self, ms: u64) {
            if ms > 0 {
                monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
            }
        }
        fn wall_unix_secs(&self) -> i64 {
            i64::try_from(wall_clock::now().seconds).unwrap_or(i64::MAX)
        }
    }

    pub struct HostAuth;

    impl Auth for HostAuth {
        fn refresh(&mut self) -> Result<(), AuthFailure> {
            wit_auth::refresh().map_err(|e| match e {
                wit_auth::AuthError::NotConfigured(m) => AuthFailure::NotConfigured(m),
                wit_auth::AuthError::InvalidGrant(m) => AuthFailure::InvalidGrant(m),
                wit_auth::AuthError::Failed(m) => AuthFailure::Failed(m),
            })
        }
    }
}
