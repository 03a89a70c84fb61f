//! Credentials held by the host and their lifecycle: refresh ahead of expiry and on the
//! component's request (the `auth` import), one refresher at a time (in this process by a
//! mutex, across processes by a lock file beside config.json), and the rotated pair
//! persisted atomically before it is used.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{persist_tokens, Credentials, HostConfig, TokenUpdate, DEFAULT_INSTANCE};
use crate::imports::log::{Level, LogSink};
use crate::oauth::{self, OAuthError};

/// Credentials plus a generation counter, so a refresh request can tell whether the token
/// that failed has already been replaced.
#[derive(Debug)]
pub struct CredState {
    pub creds: Credentials,
    generation: u64,
    used_generation: u64,
}

impl CredState {
    /// The HTTP import signs with the current token: remember which generation that was.
    pub fn mark_used(&mut self) {
        self.used_generation = self.generation;
    }

    fn install(&mut self, update: &TokenUpdate) {
        self.creds.access_token = update.access_token.clone();
        self.creds.refresh_token = update.refresh_token.clone();
        self.creds.expires_at = update.expires_at;
        self.creds.created_at = update.created_at;
        self.generation += 1;
    }
}

/// Shared between the `http` import (which signs) and the token service (which refreshes).
#[derive(Clone, Debug)]
pub struct SharedCredentials(Arc<Mutex<CredState>>);

impl SharedCredentials {
    pub fn new(creds: Credentials) -> SharedCredentials {
        SharedCredentials(Arc::new(Mutex::new(CredState { creds, generation: 0, used_generation: 0 })))
    }

    pub fn lock(&self) -> MutexGuard<'_, CredState> {
        // Credentials are replaced whole, so a poisoned lock still holds a consistent value.
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

impl From<OAuthError> for AuthFault {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::NotConfigured(m) => AuthFault::NotConfigured(m),
            OAuthError::Rejected(m) => AuthFault::InvalidGrant(m),
            OAuthError::Failed(m) => AuthFault::Failed(m),
        }
    }
}

/// True when a token expiring at `expires_at` should be refreshed now: fewer than
/// `margin_secs` left, or less than a tenth of its lifetime when the issue time is known.
pub fn needs_refresh(creds: &Credentials, now: i64, margin_secs: i64) -> bool {
    if creds.expires_at <= 0 {
        return false; // unknown expiry: wait for a 401
    }
    let remaining = creds.expires_at - now;
    let tenth = if creds.created_at > 0 && creds.expires_at > creds.created_at {
        (creds.expires_at - creds.created_at) / 10
    } else {
        0
    };
    remaining < margin_secs.max(tenth)
}

/// The block of config.json that holds one account's tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStore {
    pub path: PathBuf,
    /// `default` (the `trakt` block) or an id under `trakt.instances`.
    pub instance: String,
}

impl TokenStore {
    pub fn default_instance(path: PathBuf) -> TokenStore {
        TokenStore { path, instance: DEFAULT_INSTANCE.into() }
    }
}

pub struct TokenService {
    creds: SharedCredentials,
    /// Where rotated tokens are saved; None for in-memory credentials (embedders, tests).
    store: Option<TokenStore>,
    /// OAuth base URL, e.g. https://auth.trakt.tv.
    oauth_base: String,
    log: LogSink,
    agent: ureq::Agent,
}

/// Why the refresh is happening, for the logs and for the "already refreshed" shortcut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshReason {
    /// Trakt answered 401 to the token last used for signing.
    Rejected,
    /// The token is close to its expiry.
    Expiring,
}

impl TokenService {
    pub fn new(creds: SharedCredentials, store: Option<TokenStore>, oauth_base: String, log: LogSink) -> TokenService {
        TokenService { creds, store, oauth_base, log, agent: oauth::agent() }
    }

    /// Refresh when the token is close to expiry (`needs_refresh`); a no-op otherwise.
    pub fn refresh_if_expiring(&self, margin_secs: i64) -> Result<bool, AuthFault> {
        let now = chrono::Utc::now().timestamp();
        if !needs_refresh(&self.creds.snapshot(), now, margin_secs) {
            return Ok(false);
        }
        self.refresh(RefreshReason::Expiring).map(|_| true)
    }

    /// The component's `auth.refresh`: a grant only against a 401 the host itself returned
    /// from the API origin during the current call (`saw_401`, spent by the HTTP broker,
    /// one per 401). Without one it answers ok and changes nothing, so a component cannot
    /// spend refresh tokens or make the host rewrite config.json at will.
    pub fn refresh_after_401(&self, saw_401: bool) -> Result<(), AuthFault> {
        if !saw_401 {
            self.log.event(Level::Warn, "auth", "token_refresh_skipped", &[("reason", "no_401")]);
            return Ok(());
        }
        self.refresh(RefreshReason::Rejected)
    }

    /// The refresh-token grant, one refresher at a time. A caller whose token was already
    /// replaced (in this process, or on disk by another process) gets the new token without
    /// another grant, since refresh tokens are single-use.
    pub fn refresh(&self, reason: RefreshReason) -> Result<(), AuthFault> {
        let mut state = self.creds.lock();
        if reason == RefreshReason::Rejected && state.generation > state.used_generation {
            self.log.event(Level::Debug, "auth", "token_refresh_skipped", &[("reason", "already_refreshed")]);
            return Ok(());
        }
        let _file_lock = match &self.store {
            Some(s) => Some(lock_beside(&s.path).map_err(AuthFault::Failed)?),
            None => None,
        };
        if let Some(store) = &self.store {
            // This account's block only; a value that cannot be decrypted is never adopted.
            let disk = HostConfig::load_instance(&store.path, &store.instance).ok().and_then(|c| c.credentials().ok());
            if let Some(disk) = disk {
                let adopt = !disk.access_token.is_empty() && disk.access_token != state.creds.access_token;
                if adopt {
                    // Another process refreshed since we read the config: use its pair.
                    let update = TokenUpdate {
                        access_token: disk.access_token,
                        refresh_token: disk.refresh_token,
                        expires_at: disk.expires_at,
                        created_at: disk.created_at,
                        token_type: None,
                        scope: None,
                    };
                    state.install(&update);
                    self.log.event(
                        Level::Info,
                        "auth",
                        "token_adopted",
                        &[("source", "config"), ("expires_at", &update.expires_at.to_string())],
                    );
                    return Ok(());
                }
            }
        }
        let update = oauth::refresh_grant(&self.agent, &self.oauth_base, &state.creds).map_err(|e| {
            let status = match &e {
                OAuthError::Rejected(_) => "rejected",
                OAuthError::NotConfigured(_) => "not_configured",
                OAuthError::Failed(_) => "failed",
            };
            self.log.event(
                Level::Error,
                "auth",
                "token_refresh_failed",
                &[("result", status), ("error", &e.to_string())],
            );
            AuthFault::from(e)
        })?;
        // The old refresh token is dead now: the new pair reaches disk before anything uses it.
        if let Some(store) = &self.store {
            if let Err(e) = persist_tokens(&store.path, &store.instance, &update) {
                // Keep the pair in memory anyway; without it this run could not continue.
                self.log.event(Level::Error, "auth", "token_save_failed", &[("error", &e.0)]);
            }
        }
        state.install(&update);
        let why = match reason {
            RefreshReason::Rejected => "rejected",
            RefreshReason::Expiring => "expiring",
        };
        self.log.event(
            Level::Info,
            "auth",
            "token_refreshed",
            &[("reason", why), ("expires_at", &update.expires_at.to_string())],
        );
        Ok(())
    }
}

/// An exclusive lock on `<config>.lock`, released when the file is dropped.
fn lock_beside(config: &Path) -> Result<File, String> {
    let mut name = config.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    let path = config.with_file_name(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open the token lock {}: {e}", path.display()))?;
    file.lock().map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(expires_at: i64, created_at: i64) -> Credentials {
        Credentials { expires_at, created_at, ..Credentials::default() }
    }

    #[test]
    fn refresh_ahead_at_a_margin_or_a_tenth_of_the_lifetime() {
        let now = 1_000_000;
        assert!(!needs_refresh(&creds(0, 0), now, 3600), "unknown expiry waits for a 401");
        assert!(needs_refresh(&creds(now + 3599, 0), now, 3600));
        assert!(!needs_refresh(&creds(now + 3601, 0), now, 3600));
        // A 7-day token: a tenth is 16.8 h, which beats the 1 h margin.
        let week = 604_800;
        let issued = now - week + 60_000;
        assert!(needs_refresh(&creds(issued + week, issued), now, 3600));
        assert!(!needs_refresh(&creds(now + week - 10, now - 10), now, 3600));
        assert!(needs_refresh(&creds(now - 5, 0), now, 0), "expired");
    }

    #[test]
    fn a_second_refresher_adopts_the_pair_another_process_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"trakt":{"client_id":"c","client_secret":"s","access_token":"new","refresh_token":"r2","expires_at":99}}"#).unwrap();
        let stale = Credentials {
            client_id: "c".into(),
            client_secret: "s".into(),
            access_token: "old".into(),
            refresh_token: "r1".into(),
            expires_at: 1,
            created_at: 0,
        };
        let shared = SharedCredentials::new(stale);
        // The OAuth origin is unreachable: adopting must not need it.
        let svc = TokenService::new(
            shared.clone(),
            Some(TokenStore::default_instance(path)),
            "http://127.0.0.1:9".into(),
            LogSink::to_writer(Box::new(std::io::sink()), Level::Error),
        );
        svc.refresh(RefreshReason::Rejected).unwrap();
        let now = shared.snapshot();
        assert_eq!((now.access_token.as_str(), now.refresh_token.as_str(), now.expires_at), ("new", "r2", 99));
    }
}
