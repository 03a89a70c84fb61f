//! The checks an API or OAuth request passes before its handler runs, in Trakt's order: the app
//! headers (`trakt-api-key`, `trakt-api-version`), the body's `Content-Type`, the
//! `Authorization: Bearer` token, the rate limits, and a body that parses. Each failure is the
//! reply Trakt gives.

use serde_json::Value;

use crate::reply::Reply;
use crate::route::Access;
use crate::state::State;

use super::request::{header, media_type, Incoming};

/// What an API request brings to its handler once it passed [`api`].
pub(crate) struct Passed {
    /// The parsed JSON body.
    pub body: Option<Value>,
    /// The `X-Ratelimit` value to attach (`RateLimitConfig::send_header_always`).
    pub rate_header: Option<String>,
}

/// An OAuth request's body: JSON, or form fields as a JSON object. No app headers are needed.
pub(crate) fn oauth_body(req: &Incoming) -> Result<Option<Value>, Reply> {
    let content_type = header(&req.headers, "content-type").unwrap_or("");
    if req.body.is_empty() {
        Ok(None)
    } else if media_type(content_type) == "application/x-www-form-urlencoded" {
        let text = String::from_utf8_lossy(&req.body);
        Ok(Some(Value::Object(
            crate::encoding::parse_urlencoded(&text).into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
        )))
    } else {
        serde_json::from_slice(&req.body).map(Some).map_err(|e| {
            Reply::error(400, "invalid_request", format!("The request body could not be parsed as JSON: {e}"))
        })
    }
}

/// Checks an API request against the account `state` that serves it (see
/// `Accounts::for_api`). `token` is the bearer token, `api_key` the `trakt-api-key`. `account`
/// gets the account's username as soon as the token is found valid, so a request refused later
/// (rate limit, bad body) is still logged as that account's.
pub(crate) fn api(
    req: &Incoming,
    state: &mut State,
    access: Access,
    token: Option<&str>,
    api_key: Option<&str>,
    now_ms: i64,
    account: &mut Option<String>,
) -> Result<Passed, Reply> {
    let content_type = header(&req.headers, "content-type").unwrap_or("");
    match api_key {
        None | Some("") => {
            return Err(Reply::error(403, "forbidden", "Missing trakt-api-key header (your app's client_id)"));
        }
        Some(key) if key != state.library.auth.client_id => {
            return Err(Reply::error(403, "forbidden", "Invalid API key or unapproved app"));
        }
        Some(_) => {}
    }
    match header(&req.headers, "trakt-api-version").map(str::trim) {
        Some("2") => {}
        other => {
            return Err(Reply::error(
                400,
                "invalid_api_version",
                format!(
                    "trakt-api-version header must be 2 (got {})",
                    other.map_or("nothing".into(), |v| format!("{v:?}"))
                ),
            ));
        }
    }
    if !req.body.is_empty() && media_type(content_type) != "application/json" {
        return Err(Reply::error(412, "precondition_failed", "Use application/json content type"));
    }
    // Token.
    let auth = &state.library.auth;
    let now_secs = now_ms.div_euclid(1000);
    let token_error = match token {
        None => Some(("unauthorized", "Missing Authorization: Bearer <access_token> header")),
        Some(t) if t.is_empty() || t != auth.access_token || auth.revoked => {
            Some(("invalid_token", "The access token is invalid"))
        }
        Some(_) if auth.expires_at.is_some_and(|e| now_secs >= e) => {
            Some(("invalid_token", "The access token expired"))
        }
        Some(_) => None,
    };
    if let (Some((code, description)), Access::User) = (token_error, access) {
        return Err(Reply::error(401, code, description).header(
            "www-authenticate",
            format!("Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"{description}\""),
        ));
    }
    let user = if token_error.is_none() { Some(state.library.user.username.clone()) } else { None };
    account.clone_from(&user);
    let client_id = state.library.auth.client_id.clone();
    let rate_header = state.rate.check(req.method == "GET", user.as_deref(), &client_id, now_ms)?;
    let body = if req.body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => Some(v),
            Err(e) => {
                return Err(Reply::error(
                    400,
                    "bad_request",
                    format!("The request body could not be parsed as JSON: {e}"),
                ))
            }
        }
    };
    Ok(Passed { body, rate_header })
}
