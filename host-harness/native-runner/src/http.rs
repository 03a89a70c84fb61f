//! The `Transport` seam over real HTTP, doing what cw-host's `http` import does for the
//! component (host-harness/host/src/imports/http.rs): framing headers are the client's, requests
//! to the API origin are signed with the app key, the API version and the bearer token, a
//! User-Agent is added when the plugin sent none, any status is a response, no redirects.

use std::time::Duration;

use trakt_adapter::native::{Method, Request, Response, Transport, TransportError};
use ureq::http;

/// cw-host's defaults (host/src/imports/http.rs): the timeout of a request that names none,
/// and the largest body read.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BODY_BYTES: u64 = 256 << 20;
/// Headers the HTTP client owns (the same list as cw-host's `HOST_OWNED_HEADERS`).
const CLIENT_OWNED_HEADERS: &[&str] =
    &["content-length", "transfer-encoding", "connection", "host", "te", "trailer", "upgrade", "expect", "keep-alive"];

pub struct HttpTransport {
    agent: ureq::Agent,
    /// API origin without a trailing slash: only requests under it are signed.
    api_url: String,
    client_id: String,
    access_token: String,
    user_agent: String,
}

impl HttpTransport {
    pub fn new(api_url: &str, client_id: String, access_token: String) -> HttpTransport {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build()
            .into();
        HttpTransport {
            agent,
            api_url: api_url.trim_end_matches('/').to_string(),
            client_id,
            access_token,
            user_agent: format!("trakt-adapter-native/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn is_api(&self, url: &str) -> bool {
        url.strip_prefix(&self.api_url).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    fn headers(&self, req: &Request) -> Vec<(String, String)> {
        let owned = |k: &str| {
            let k = k.trim();
            CLIENT_OWNED_HEADERS.iter().any(|h| k.eq_ignore_ascii_case(h))
                || k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
        };
        let mut headers: Vec<(String, String)> = req.headers.iter().filter(|(k, _)| !owned(k)).cloned().collect();
        if self.is_api(&req.url) {
            headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization") && !k.eq_ignore_ascii_case("trakt-api-key"));
            headers.push(("trakt-api-key".into(), self.client_id.clone()));
            headers.push(("Authorization".into(), format!("Bearer {}", self.access_token)));
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("trakt-api-version")) {
                headers.push(("trakt-api-version".into(), "2".into()));
            }
        }
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
            headers.push(("User-Agent".into(), self.user_agent.clone()));
        }
        headers
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, req: &Request) -> Result<Response, TransportError> {
        let method = match req.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
        };
        let mut builder = http::Request::builder().method(method).uri(&req.url);
        for (k, v) in self.headers(req) {
            builder = builder.header(k, v);
        }
        let timeout = match req.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(u64::from(ms)),
        };
        let invalid = |e: http::Error| TransportError::InvalidRequest(e.to_string());
        let result = if req.body.is_empty() {
            let request = builder.body(()).map_err(invalid)?;
            self.agent.run(self.agent.configure_request(request).timeout_global(Some(timeout)).build())
        } else {
            let request = builder.body(req.body.clone()).map_err(invalid)?;
            self.agent.run(self.agent.configure_request(request).timeout_global(Some(timeout)).build())
        };
        let mut response = result.map_err(|e| fault(e, &req.url))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body =
            response.body_mut().with_config().limit(MAX_BODY_BYTES).read_to_vec().map_err(|e| fault(e, &req.url))?;
        Ok(Response { status, headers, body })
    }
}

/// The failure kinds cw-host's broker reports (host/src/imports/http.rs `fault_of`).
fn fault(e: ureq::Error, url: &str) -> TransportError {
    let at = url.split('?').next().unwrap_or(url);
    match e {
        ureq::Error::Timeout(t) => TransportError::Timeout(format!("{at}: timed out ({t})")),
        ureq::Error::HostNotFound => TransportError::Connect(format!("{at}: host not found")),
        ureq::Error::ConnectionFailed => TransportError::Connect(format!("{at}: connection failed")),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportError::Connect(format!("{at}: connection refused"))
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            TransportError::Timeout(format!("{at}: timed out ({io})"))
        }
        ureq::Error::BadUri(s) => TransportError::InvalidRequest(format!("{at}: bad URL: {s}")),
        ureq::Error::Http(h) => TransportError::InvalidRequest(format!("{at}: {h}")),
        ureq::Error::Tls(s) => TransportError::Tls(format!("{at}: {s}")),
        other => TransportError::ConnectionLost(format!("{at}: {other}")),
    }
}
