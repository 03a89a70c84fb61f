//! What an answer means: whether to try again, and the typed error of a final one.

use super::Call;
use crate::client::transport::Response;
use crate::error::AdapterError;

/// Wait of a 429 without a usable `Retry-After` (e.g. a Cloudflare HTML page).
const RETRY_AFTER_FALLBACK_SECS: u64 = 10;

/// A body shorter than the response's own `Content-Length`.
pub(super) fn truncated(resp: &Response) -> bool {
    resp.header_u64("content-length").is_some_and(|n| n > resp.body.len() as u64)
}

/// Statuses worth another attempt: rate limit, server errors and Cloudflare's origin errors.
pub(super) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 520 | 521 | 522)
}

/// A 429's `Retry-After` in integer seconds; 10 s when missing or unparsable (Cloudflare).
pub(super) fn retry_after_secs(resp: &Response) -> u64 {
    resp.header_u64("retry-after").unwrap_or(RETRY_AFTER_FALLBACK_SECS)
}

/// `remaining` of the JSON `X-Ratelimit` header, when present and readable.
pub fn rate_limit_remaining(resp: &Response) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(resp.header("x-ratelimit")?).ok()?;
    v.get("remaining")?.as_u64().map(|n| n.min(u64::from(u32::MAX)) as u32)
}

/// `over_cap`: Trakt asked for a longer wait than the client sleeps through; otherwise the
/// attempts ran out while Trakt kept answering 429.
pub(super) fn rate_limited(secs: u64, call: &Call, over_cap: bool) -> AdapterError {
    let secs = secs.min(u64::from(u32::MAX)) as u32;
    let why = if over_cap { "longer than this run waits" } else { "and kept refusing after every retry" };
    AdapterError::RateLimited {
        retry_after_secs: secs,
        message: format!(
            "Trakt rate limit reached on {}: Trakt asks to wait {secs} s, {why}; run again later",
            call.what()
        ),
    }
}

/// A body that is an HTML page rather than Trakt's JSON (Cloudflare block pages).
pub(super) fn is_html(resp: &Response) -> bool {
    let ct_html = resp.header("content-type").is_some_and(|c| c.to_ascii_lowercase().contains("text/html"));
    let start = resp.body.iter().find(|b| !b.is_ascii_whitespace());
    ct_html || start == Some(&b'<')
}

/// Map a final response onto success or a typed error whose message says what to do.
pub(super) fn classify(call: &Call, resp: Response) -> Result<Response, AdapterError> {
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
        400 => {
            Err(http(400, "Trakt could not parse the request; this is an adapter bug, please report it with the log"))
        }
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
        412 => {
            Err(http(412, "Trakt wants the content type application/json; a proxy between you and Trakt may strip it"))
        }
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

pub(super) fn header_bool(resp: &Response, name: &str) -> Option<bool> {
    resp.header(name).and_then(|v| match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
}
