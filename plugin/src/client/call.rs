//! One request to make, and the HTTP request it becomes.

use super::Client;
use crate::client::transport::{Method, Request};

pub const USER_AGENT: &str = concat!("crosswatch-trakt-adapter/", env!("CARGO_PKG_VERSION"));

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

    pub(super) fn what(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

impl Client {
    pub(super) fn build_request(&self, call: &Call) -> Request {
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
}

/// Everything but ASCII letters, digits and `-_.~` (RFC 3986 unreserved) is escaped.
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encode a query component (unreserved characters kept).
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}
