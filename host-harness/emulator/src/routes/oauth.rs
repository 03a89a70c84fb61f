//! OAuth ("Authentication - OAuth" and "Authentication - Devices" in Trakt's API docs,
//! <https://trakt.docs.apiary.io/>): `POST /oauth/token` (refresh-token and authorization-code
//! grants), `POST /oauth/revoke`, and `GET /oauth/authorize` (redirects straight back with a
//! code).
//!
//! Each account has exactly one valid access token and one valid refresh token (in its
//! `Library::auth`; `server::accounts` picks the account). A successful grant rotates both: the
//! previous access token answers 401 and the previous refresh token `400 invalid_grant`. Bodies
//! may be JSON or form-encoded; no `trakt-api-key` is needed.
//!
//! Device flow:
//! * `POST /oauth/device/code` `{"client_id"}` -> `200 {device_code (64 hex), user_code (8 chars
//!   A-Z0-9), verification_url "https://trakt.tv/activate", expires_in, interval}` (both from
//!   `EmulatorConfig`); no `client_id` -> `400 invalid_request`; an unknown `client_id` ->
//!   `403 invalid_client` (Trakt's `403` means "invalid API key or unapproved app").
//! * `POST /oauth/device/token` `{"code", "client_id", "client_secret"}`: missing `code` -> `400
//!   invalid_request` (JSON); wrong client credentials -> `401 invalid_client` (JSON); otherwise,
//!   with empty bodies as on Trakt: unknown code `404`; already used `409`; expired (emulator
//!   clock) `410`; denied `418`; polled again less than `interval` seconds (ms precision) after
//!   the previous accepted poll of that code `429` (not counted as a poll; the first poll may come
//!   at once); pending `400`; approved `200` + token object, rotating both tokens exactly like a
//!   refresh (the previous ones die), and the code becomes used (`409` from then on).
//! * Test hooks: `Emulator::approve_device` / `deny_device` / `pending_device_codes` and the
//!   control endpoints `POST /_emulator/device/{user_code}/approve|deny`.

use serde_json::{json, Value};

use crate::device::{DeviceCode, DeviceStatus};
use crate::encoding::percent_encode;
use crate::route::{Access, Ctx, Reply, RouteDef};

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::new("POST", "/oauth/token", Access::OAuth, token),
        RouteDef::new("POST", "/oauth/revoke", Access::OAuth, revoke),
        RouteDef::new("GET", "/oauth/authorize", Access::OAuth, authorize),
        RouteDef::new("POST", "/oauth/device/code", Access::OAuth, device_code),
        RouteDef::new("POST", "/oauth/device/token", Access::OAuth, device_token),
    ]
}

const USER_CODE_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `POST /oauth/device/code`.
fn device_code(ctx: &mut Ctx<'_>) -> Reply {
    let Some(client_id) = field(ctx.body, "client_id") else {
        return missing("client_id");
    };
    if client_id != ctx.state.library.auth.client_id {
        return Reply::error(403, "invalid_client", INVALID_CLIENT);
    }
    let device_code = ctx.state.new_token("device");
    let user_code = loop {
        let h = ctx.state.new_token("user-code");
        let code: String = h
            .as_bytes()
            .chunks(2)
            .take(8)
            .map(|pair| {
                let v = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0);
                USER_CODE_ALPHABET[usize::from(v) % 36] as char
            })
            .collect();
        if !ctx.state.devices.iter().any(|d| d.user_code == code) {
            break code;
        }
    };
    let expires_in = ctx.state.device_expires_in_secs;
    let interval = ctx.state.device_interval_secs;
    ctx.state.devices.push(DeviceCode {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        expires_at_ms: ctx.now_ms.saturating_add((expires_in as i64).saturating_mul(1000)),
        last_poll_ms: None,
        status: DeviceStatus::Pending,
    });
    Reply::json(
        200,
        json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_url": "https://trakt.tv/activate",
            "expires_in": expires_in,
            "interval": interval,
        }),
    )
}

/// `POST /oauth/device/token`.
fn device_token(ctx: &mut Ctx<'_>) -> Reply {
    let body = ctx.body;
    let Some(code) = field(body, "code") else {
        return missing("code");
    };
    let auth = &ctx.state.library.auth;
    if field(body, "client_id") != Some(auth.client_id.as_str())
        || field(body, "client_secret") != Some(auth.client_secret.as_str())
    {
        return Reply::error(401, "invalid_client", INVALID_CLIENT);
    }
    let now_ms = ctx.now_ms;
    let interval_ms = (ctx.state.device_interval_secs as i64).saturating_mul(1000);
    let Some(d) = ctx.state.devices.iter_mut().find(|d| d.device_code == code) else {
        return Reply::empty(404);
    };
    if d.status == DeviceStatus::Used {
        return Reply::empty(409);
    }
    if now_ms >= d.expires_at_ms {
        return Reply::empty(410);
    }
    if d.status == DeviceStatus::Denied {
        return Reply::empty(418);
    }
    if d.last_poll_ms.is_some_and(|last| now_ms - last < interval_ms) {
        return Reply::empty(429);
    }
    d.last_poll_ms = Some(now_ms);
    if d.status == DeviceStatus::Pending {
        return Reply::empty(400);
    }
    d.status = DeviceStatus::Used;
    issue_tokens(ctx)
}

const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";

fn field<'v>(body: Option<&'v Value>, key: &str) -> Option<&'v str> {
    body?.get(key)?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

fn missing(param: &str) -> Reply {
    Reply::error(400, "invalid_request", format!("missing required parameter: {param}"))
}

/// `POST /oauth/token`.
fn token(ctx: &mut Ctx<'_>) -> Reply {
    let body = ctx.body;
    let Some(grant) = field(body, "grant_type") else {
        return missing("grant_type");
    };
    if grant != "refresh_token" && grant != "authorization_code" {
        return Reply::error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let auth = &ctx.state.library.auth;
    if field(body, "client_id") != Some(auth.client_id.as_str())
        || field(body, "client_secret") != Some(auth.client_secret.as_str())
    {
        return Reply::error(401, "invalid_client", INVALID_CLIENT);
    }
    if grant == "refresh_token" {
        let Some(refresh) = field(body, "refresh_token") else {
            return missing("refresh_token");
        };
        if auth.revoked || refresh != auth.refresh_token {
            return Reply::error(400, "invalid_grant", INVALID_GRANT);
        }
    } else if field(body, "code").is_none() {
        return missing("code");
    }
    issue_tokens(ctx)
}

/// Replaces both tokens and answers with the token object (`access_token`, `token_type`,
/// `expires_in`, `refresh_token`, `scope`, `created_at`).
fn issue_tokens(ctx: &mut Ctx<'_>) -> Reply {
    let now = ctx.now.secs();
    let ttl = ctx.state.access_token_ttl_secs;
    let access = ctx.state.new_token("access");
    let refresh = ctx.state.new_token("refresh");
    let auth = &mut ctx.state.library.auth;
    auth.access_token = access.clone();
    auth.refresh_token = refresh.clone();
    auth.expires_at = Some(now + ttl);
    auth.revoked = false;
    Reply::json(
        200,
        json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "scope": "public",
            "created_at": now,
        }),
    )
}

/// `POST /oauth/revoke`: revokes both tokens when `token` is the current access or refresh token;
/// always `200 {}`.
fn revoke(ctx: &mut Ctx<'_>) -> Reply {
    if let Some(t) = field(ctx.body, "token") {
        let auth = &mut ctx.state.library.auth;
        if t == auth.access_token || t == auth.refresh_token {
            auth.revoked = true;
        }
    }
    Reply::json(200, json!({}))
}

/// `GET /oauth/authorize?response_type=code&client_id=..&redirect_uri=..&state=..`: the user
/// "approves" at once. Redirects to `redirect_uri?code=..&state=..`, or for
/// `urn:ietf:wg:oauth:2.0:oob` shows the code in an HTML page (`<code id="code">`).
fn authorize(ctx: &mut Ctx<'_>) -> Reply {
    if ctx.query("client_id") != Some(ctx.state.library.auth.client_id.as_str()) {
        return Reply::error(401, "invalid_client", INVALID_CLIENT);
    }
    if ctx.query("response_type") != Some("code") {
        return Reply::error(
            400,
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        );
    }
    let Some(redirect) = ctx.query("redirect_uri").map(str::to_string) else {
        return missing("redirect_uri");
    };
    let state = ctx.query("state").map(str::to_string);
    let code = ctx.state.new_token("code");
    if redirect == "urn:ietf:wg:oauth:2.0:oob" {
        return Reply::html(
            200,
            format!("<!DOCTYPE html>\n<html><body><p>Authorization code:</p><code id=\"code\">{code}</code></body></html>\n"),
        );
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{sep}code={code}");
    if let Some(s) = state {
        location.push_str(&format!("&state={}", percent_encode(&s)));
    }
    Reply::empty(302).header("location", location)
}
