//! Credentials held by the host and the `auth` import: the refresh-token grant, with the
//! rotated pair persisted to config.json before it is used.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::json;

use crate::config::{persist_tokens, Credentials, TokenUpdate};
use crate::imports::log::{Level, LogSink};

/// Credentials plus a generation counter, so a refresh request can tell whether the token
/// that failed has already been replaced.
#[derive(Debug)]
pub struct CredState {
    pub creds: Credentials,
    generation: u64,
    used_generation: u64,
}

impl CredState {
    pub fn mark_used(&mut self) {
        self.used_generation = self.generation;
    }
}

/// Shared between the `http` import (which signs) and the `auth` import (which refreshes).
#[derive(Clone, Debug)]
pub struct SharedCredentials(Arc<Mutex<CredState>>);

impl SharedCredentials {
    pub fn new(creds: Credentials) -> SharedCredentials {
        SharedCredentials(Arc::new(Mutex::new(CredState { creds, generation: 0, used_generation: 0 })))
    }

    pub fn lock(&self) -> MutexGuard<'_, CredState> {
        // A panic while holding the lock cannot leave the credentials half-updated (they are
        // replaced whole), so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Credentials {
        self.lock().creds.clone()
    }
}

/// Why a refresh failed; mirrors the WIT `auth-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFault {
    NotConfigured(String),
    InvalidGrant(String),
    Failed(String),
}

pub struct AuthBroker {
    creds: SharedCredentials,
    /// Where rotated tokens are saved; None for in-memory credentials (embedders, tests).
    config_path: Option<PathBuf>,
    /// OAuth base URL, e.g. https://auth.trakt.tv.
    oauth_base: String,
    log: LogSink,
    agent: ureq::Agent,
}

impl AuthBroker {
    pub fn new(creds: SharedCredentials, config_path: Option<PathBuf>, oauth_base: String, log: LogSink) -> AuthBroker {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        AuthBroker { creds, config_path, oauth_base, log, agent }
    }

    /// The refresh-token grant. The lock is held throughout: one refresher at a time, and a
    /// caller whose token was already replaced returns at once.
    pub fn refresh(&self) -> Result<(), AuthFault> {
        let mut state = self.creds.lock();
        if state.generation > state.used_generation {
            self.log.event(Level::Debug, "auth", "token_refresh_skipped", &[("reason", "already_refreshed")]);
            return Ok(());
        }
        let c = &state.creds;
        if c.refresh_token.is_empty() || c.client_secret.is_empty() {
            return Err(AuthFault::NotConfigured(
                "cannot refresh the Trakt token: trakt.refresh_token or trakt.client_secret is missing from the config; \
                 log in again"
                    .into(),
            ));
        }
        let url = format!("{}/oauth/token", self.oauth_base.trim_end_matches('/'));
        let body = json!({
            "refresh_token": c.refresh_token,
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
            "grant_type": "refresh_token",
        });
        let response = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("User-Agent", format!("cw-host/{}", env!("CARGO_PKG_VERSION")))
            .send(body.to_string());
        let mut response = response.map_err(|e| {
            self.log.event(Level::Error, "auth", "token_refresh_error", &[("error", &e.to_string())]);
            AuthFault::Failed(format!("token refresh could not reach {url}: {e}"))
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status == 400 || status == 401 {
            let grant = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_default();
            self.log.event(Level::Error, "auth", "token_refresh_failed", &[("status", &status.to_string()), ("error", &grant)]);
            return Err(AuthFault::InvalidGrant(format!(
                "Trakt rejected the refresh token (HTTP {status} {}): log in to Trakt again to get new tokens",
                if grant.is_empty() { "invalid_grant".to_string() } else { grant }
            )));
        }
        if !(200..300).contains(&status) {
            self.log.event(Level::Error, "auth", "token_refresh_failed", &[("status", &status.to_string())]);
            return Err(AuthFault::Failed(format!(
                "token refresh failed with HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        let update = parse_token(&text).map_err(AuthFault::Failed)?;
        // Trakt rotates refresh tokens: the old one is dead now, so the new pair must reach
        // disk before anything uses it.
        if let Some(path) = &self.config_path {
            if let Err(e) = persist_tokens(path, &update) {
                self.log.event(Level::Error, "auth", "token_save_failed", &[("error", &e.0)]);
                // Keep the new pair in memory anyway: the old refresh token no longer works.
            }
        }
        state.creds.access_token = update.access_token;
        state.creds.refresh_token = update.refresh_token;
        state.creds.expires_at = update.expires_at;
        state.generation += 1;
        let expires = update.expires_at.to_string();
        self.log.event(Level::Info, "auth", "token_refreshed", &[("expires_at", &expires)]);
        Ok(())
    }
}

/// Trakt's token object (`access_token`, `refresh_token`, `expires_in`, `created_at`, ...).
pub fn parse_token(text: &str) -> Result<TokenUpdate, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the token endpoint answered invalid JSON: {e}"))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let access_token = s("access_token").filter(|t| !t.is_empty()).ok_or("the token answer has no access_token")?;
    let refresh_token = s("refresh_token").filter(|t| !t.is_empty()).ok_or("the token answer has no refresh_token")?;
    let expires_in = v.get("expires_in").and_then(|x| x.as_i64()).unwrap_or(0);
    let created_at = v.get("created_at").and_then(|x| x.as_i64()).unwrap_or_else(|| chrono::Utc::now().timestamp());
    Ok(TokenUpdate {
        access_token,
        refresh_token,
        expires_at: if expires_in > 0 { created_at + expires_in } else { 0 },
        token_type: s("token_type"),
        scope: s("scope"),
    })
}
