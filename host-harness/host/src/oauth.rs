//! Trakt's OAuth endpoints as the host uses them: the refresh-token grant and the
//! device-code login (docs/trakt-api.md 2.2-2.4). Only the host talks to these: the component
//! never holds a refresh token or the client secret.

use std::time::Duration;

use serde_json::{json, Value};

use crate::config::{Credentials, TokenUpdate};

/// Why an OAuth exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// Credentials missing from the config; the message names them.
    NotConfigured(String),
    /// The grant was rejected (`invalid_grant`, denied, expired code): log in again.
    Rejected(String),
    /// Network or server trouble: try again later.
    Failed(String),
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OAuthError::NotConfigured(m) | OAuthError::Rejected(m) | OAuthError::Failed(m) => f.write_str(m),
        }
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .build()
        .into()
}

fn user_agent() -> String {
    format!("cw-host/{}", env!("CARGO_PKG_VERSION"))
}

/// POST `body` as JSON to `{base}{path}`; the status and the body text.
fn post(agent: &ureq::Agent, base: &str, path: &str, body: &Value) -> Result<(u16, String), OAuthError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut response = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("User-Agent", user_agent())
        .send(body.to_string())
        .map_err(|e| OAuthError::Failed(format!("cannot reach {url}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Ok((status, text))
}

/// The refresh-token grant. Trakt rotates refresh tokens: the old one is dead once this
/// succeeds, so the caller must persist the answer before anything else.
pub fn refresh_grant(agent: &ureq::Agent, base: &str, creds: &Credentials) -> Result<TokenUpdate, OAuthError> {
    if creds.refresh_token.is_empty() || creds.client_secret.is_empty() || creds.client_id.is_empty() {
        return Err(OAuthError::NotConfigured(
            "cannot refresh the Trakt token: trakt.client_id, trakt.client_secret and trakt.refresh_token are \
             needed in the config; run `cw-host auth login`"
                .into(),
        ));
    }
    let body = json!({
        "refresh_token": creds.refresh_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        "grant_type": "refresh_token",
    });
    let (status, text) = post(agent, base, "/oauth/token", &body)?;
    match status {
        200..=299 => parse_token(&text).map_err(OAuthError::Failed),
        // 2026 docs answer 400, older ones 401 (docs/trakt-api.md 2.2): both mean "log in again".
        400 | 401 => {
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "invalid_grant".into());
            Err(OAuthError::Rejected(format!(
                "Trakt rejected the refresh token (HTTP {status} {code}): run `cw-host auth login` to log in again"
            )))
        }
        _ => Err(OAuthError::Failed(format!(
            "token refresh failed with HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ))),
    }
}

/// Trakt's token object (`access_token`, `refresh_token`, `expires_in`, `created_at`, ...).
pub fn parse_token(text: &str) -> Result<TokenUpdate, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("the token endpoint answered invalid JSON: {e}"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let access_token = s("access_token").filter(|t| !t.is_empty()).ok_or("the token answer has no access_token")?;
    let refresh_token = s("refresh_token").filter(|t| !t.is_empty()).ok_or("the token answer has no refresh_token")?;
    let expires_in = v.get("expires_in").and_then(Value::as_i64).unwrap_or(0);
    let created_at = v.get("created_at").and_then(Value::as_i64).unwrap_or_else(|| chrono::Utc::now().timestamp());
    Ok(TokenUpdate {
        access_token,
        refresh_token,
        expires_at: if expires_in > 0 { created_at + expires_in } else { 0 },
        created_at,
        token_type: s("token_type"),
        scope: s("scope"),
    })
}

/// What `/oauth/device/code` answers.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_url: String,
    pub expires_in: u64,
    pub interval: u64,
}

pub fn device_code(agent: &ureq::Agent, base: &str, client_id: &str) -> Result<DeviceCode, OAuthError> {
    let (status, text) = post(agent, base, "/oauth/device/code", &json!({"client_id": client_id}))?;
    if !(200..300).contains(&status) {
        return Err(OAuthError::Failed(format!(
            "Trakt refused to start a device login (HTTP {status}); check trakt.client_id"
        )));
    }
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| OAuthError::Failed(format!("the device-code answer is not JSON: {e}")))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(DeviceCode {
        device_code: s("device_code")
            .ok_or_else(|| OAuthError::Failed("the device-code answer has no device_code".into()))?,
        user_code: s("user_code")
            .ok_or_else(|| OAuthError::Failed("the device-code answer has no user_code".into()))?,
        verification_url: s("verification_url").unwrap_or_else(|| "https://trakt.tv/activate".into()),
        expires_in: v.get("expires_in").and_then(Value::as_u64).unwrap_or(600),
        interval: v.get("interval").and_then(Value::as_u64).unwrap_or(5).max(1),
    })
}

/// One poll of `/oauth/device/token`.
#[derive(Debug)]
pub enum DevicePoll {
    Approved(TokenUpdate),
    /// Not approved yet: poll again after the interval.
    Pending,
    /// Polled too fast: lengthen the interval.
    SlowDown,
}

pub fn poll_device_token(
    agent: &ureq::Agent,
    base: &str,
    code: &DeviceCode,
    creds: &Credentials,
) -> Result<DevicePoll, OAuthError> {
    let body = json!({"code": code.device_code, "client_id": creds.client_id, "client_secret": creds.client_secret});
    let (status, text) = post(agent, base, "/oauth/device/token", &body)?;
    match status {
        200..=299 => Ok(DevicePoll::Approved(parse_token(&text).map_err(OAuthError::Failed)?)),
        400 => Ok(DevicePoll::Pending),
        429 => Ok(DevicePoll::SlowDown),
        404 => Err(OAuthError::Rejected("Trakt does not know this device code; run `cw-host auth login` again".into())),
        409 => Err(OAuthError::Rejected("this device code was already used; run `cw-host auth login` again".into())),
        410 => {
            Err(OAuthError::Rejected("the code expired before it was approved; run `cw-host auth login` again".into()))
        }
        418 => Err(OAuthError::Rejected("the login was denied on trakt.tv".into())),
        other => Err(OAuthError::Failed(format!(
            "unexpected answer HTTP {other} while waiting for approval: {}",
            text.chars().take(200).collect::<String>()
        ))),
    }
}
