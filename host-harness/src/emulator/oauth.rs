//! OAuth (section 2): `POST /oauth/token` (refresh-token and authorization-code grants),
//! `POST /oauth/revoke`, and `GET /oauth/authorize` (redirects straight back with a code).
//!
//! The emulator has one user with exactly one valid access token and one valid refresh token
//! (in `Library::auth`). A successful grant rotates both: the previous access token answers 401
//! and the previous refresh token `400 invalid_grant`. Bodies may be JSON or form-encoded; no
//! `trakt-api-key` is needed.
//!
//! Device flow (section 2.4, `POST /oauth/device/code` and `POST /oauth/device/token` with its
//! pending/approved/denied/expired/slow-down state machine and a test hook to approve a
//! `user_code`) is not implemented yet: its routes go in [`routes`] and its state next to the
//! tokens in `server::State`.

use serde_json::{json, Value};

use super::server::{percent_encode, Access, Ctx, Reply, RouteDef};

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::new("POST", "/oauth/token", Access::OAuth, token),
        RouteDef::new("POST", "/oauth/revoke", Access::OAuth, revoke),
        RouteDef::new("GET", "/oauth/authorize", Access::OAuth, authorize),
        // Device flow goes here: "/oauth/device/code", "/oauth/device/token".
    ]
}

const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";

fn field<'v>(body: Option<&'v Value>, key: &str) -> Option<&'v str> {
    body?
        .get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn missing(param: &str) -> Reply {
    Reply::error(
        400,
        "invalid_request",
        format!("missing required parameter: {param}"),
    )
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

/// Replaces both tokens and answers with the token object (section 2.3).
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
