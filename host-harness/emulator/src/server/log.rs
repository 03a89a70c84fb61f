//! Request-log entries: what the server records of each API or OAuth request (never a whole
//! token).

use crate::request_log::LoggedRequest;

use super::request::Incoming;

/// The log entry of `req`: headers with lowercase names and `authorization` redacted, the body
/// when it parses as JSON.
pub(crate) fn entry(
    req: &Incoming,
    status: u16,
    at_ms: u64,
    fault: Option<String>,
    account: Option<String>,
) -> LoggedRequest {
    let headers = req
        .headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let value = if name == "authorization" { redact_authorization(&value) } else { value };
            (name, value)
        })
        .collect();
    let body = if req.body.is_empty() { None } else { serde_json::from_slice(&req.body).ok() };
    LoggedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        status,
        headers,
        body,
        at_ms,
        fault,
        account,
    }
}

/// `Bearer <redacted:LAST4>`: never log a whole token.
pub(crate) fn redact_authorization(value: &str) -> String {
    let (scheme, token) = match value.trim().split_once(' ') {
        Some((s, t)) => (Some(s), t.trim()),
        None => (None, value.trim()),
    };
    let chars: Vec<char> = token.chars().collect();
    let last4: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    match scheme {
        Some(s) => format!("{s} <redacted:{last4}>"),
        None => format!("<redacted:{last4}>"),
    }
}
