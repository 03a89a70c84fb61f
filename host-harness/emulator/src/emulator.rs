//! The handle on a running emulator: [`Emulator::start`] binds the socket and serves on a
//! background thread; the methods are the test hooks (credentials, the request log, dumps and
//! edits of the library, the clock, faults, the device flow).

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::device::DeviceStatus;
use crate::faults::{ConnHandle, Fault, FaultListener};
use crate::library::{Auth, Library};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::request_log::LoggedRequest;
use crate::routes;
use crate::seed::prepare_accounts;
use crate::server::accounts::account_value;
use crate::server::http::handle;
use crate::server::shared::Shared;
use crate::state::State;
use crate::timestamp::Timestamp;

/// How to start an [`Emulator`].
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; `0` picks a free one.
    pub port: u16,
    /// Initial data (see [`Library`]).
    pub seed: Library,
    /// `true`: requests without a `User-Agent` get Cloudflare's HTML `403`.
    pub require_user_agent: bool,
    /// Lifetime of issued access tokens (`expires_in`), and of the seeded token when the seed
    /// has no `auth.expires_at`.
    pub access_token_ttl_secs: i64,
    /// Trakt's rate limits (`429` + `Retry-After` + `X-Ratelimit`); `None` (default) = unlimited.
    pub rate_limit: Option<RateLimitConfig>,
    /// Device flow: the `interval` handed out (default 5); polling a code again sooner answers
    /// `429`.
    pub device_interval_secs: u64,
    /// Device flow: the `expires_in` handed out (default 600); later polls answer `410`.
    pub device_expires_in_secs: u64,
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig {
            port: 0,
            seed: Library::default(),
            require_user_agent: false,
            access_token_ttl_secs: 604_800,
            rate_limit: None,
            device_interval_secs: 5,
            device_expires_in_secs: 600,
        }
    }
}

/// The app credentials and the currently valid tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds at which `access_token` expires.
    pub expires_at: i64,
}

impl Credentials {
    fn of(a: &Auth) -> Credentials {
        Credentials {
            client_id: a.client_id.clone(),
            client_secret: a.client_secret.clone(),
            access_token: a.access_token.clone(),
            refresh_token: a.refresh_token.clone(),
            expires_at: a.expires_at.unwrap_or(0),
        }
    }
}

/// A running emulator; the server stops when this is dropped (or on [`shutdown`](Self::shutdown)).
pub struct Emulator {
    shared: Arc<Shared>,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds 127.0.0.1:`port`, starts the server on its own tokio runtime in a background thread
    /// and returns once the socket is listening. Fails on a bind error or an inconsistent seed
    /// (`InvalidInput`, with the reason).
    pub fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        let started = Instant::now();
        let now = Timestamp::now();
        let mut library = config.seed;
        library.normalize(now).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let default_expires_at = now.secs() + config.access_token_ttl_secs;
        library.auth.expires_at.get_or_insert(default_expires_at);
        let mut others = std::mem::take(&mut library.accounts);
        prepare_accounts(&library, &mut others, now, default_expires_at)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let nonce =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
                ^ u64::from(std::process::id());
        // One State per account; distinct nonces keep their generated tokens apart.
        let mut states = std::iter::once(library)
            .chain(others)
            .enumerate()
            .map(|(i, library)| {
                let mut state = State::new(
                    library,
                    config.access_token_ttl_secs,
                    RateLimiter::new(config.rate_limit.clone()),
                    nonce.wrapping_add(i as u64),
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                state.device_interval_secs = config.device_interval_secs;
                state.device_expires_in_secs = config.device_expires_in_secs;
                Ok(state)
            })
            .collect::<io::Result<Vec<State>>>()?;
        let state = states.remove(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            accounts: Mutex::new(states),
            log: Mutex::new(Vec::new()),
            started,
            started_wall_ms: chrono::Utc::now().timestamp_millis(),
            clock_offset: Default::default(),
            faults: Default::default(),
            require_user_agent: config.require_user_agent,
            routes: routes::all(),
        });

        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let thread = std::thread::Builder::new().name(format!("trakt-emulator-{port}")).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let listener = FaultListener(listener);
                let app = app.into_make_service_with_connect_info::<ConnHandle>();
                tokio::select! {
                    _ = async { axum::serve(listener, app).await } => {}
                    _ = stop_rx => {}
                }
            });
            // Drops open connections instead of waiting for idle keep-alive clients.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("emulator thread exited during start")),
        }
        Ok(Emulator { shared, port, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT`: the API and OAuth base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client credentials and the currently valid tokens (of the primary account).
    pub fn credentials(&self) -> Credentials {
        Credentials::of(&self.shared.state().library.auth)
    }

    /// [`credentials`](Self::credentials) of the account with this `user.username` (the primary
    /// or one of the seed's `accounts`); `None` if there is none.
    pub fn credentials_of(&self, username: &str) -> Option<Credentials> {
        let accounts = self.shared.accounts();
        let pick = accounts.by_username(username)?;
        Some(Credentials::of(&accounts.state(pick).library.auth))
    }

    /// Every account's username: the primary first, then the seed's `accounts` in order.
    pub fn usernames(&self) -> Vec<String> {
        let accounts = self.shared.accounts();
        accounts.all().map(|(_, s)| s.library.user.username.clone()).collect()
    }

    /// Every logged request, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log().clone()
    }

    pub fn clear_requests(&self) {
        self.shared.log().clear();
    }

    /// The whole state as seed JSON ([`Library::from_json`] reads it back): the primary
    /// account's library, with the further accounts under `accounts` (`[]` when there are none).
    pub fn dump(&self) -> serde_json::Value {
        self.shared.accounts().dump()
    }

    /// One account's own library as seed JSON (without `accounts`), by `user.username`; `None`
    /// if there is no such account.
    pub fn dump_account(&self, username: &str) -> Option<serde_json::Value> {
        let accounts = self.shared.accounts();
        let pick = accounts.by_username(username)?;
        Some(account_value(&accounts.state(pick).library))
    }

    /// A copy of the current state (the primary library, the other accounts in `accounts`).
    pub fn library(&self) -> Library {
        let accounts = self.shared.accounts();
        let mut all = accounts.all().map(|(_, s)| s.library.clone());
        let mut library = all.next().unwrap_or_default();
        library.accounts = all.collect();
        library
    }

    /// Edits the primary account's library in place (e.g. to simulate a change made on
    /// trakt.tv, or to expire the token via `auth.expires_at`). The library is normalized
    /// afterwards. Its `accounts` is empty here and must stay so (see
    /// [`with_account`](Self::with_account)).
    ///
    /// # Panics
    /// If the edit leaves the library inconsistent (message as in [`Library::normalize`]).
    pub fn with_library<R>(&self, edit: impl FnOnce(&mut Library) -> R) -> R {
        let mut st = self.shared.state();
        self.edit_state(&mut st, edit)
    }

    /// [`with_library`](Self::with_library) for the account with this `user.username`; `None`
    /// (and no edit) if there is none.
    pub fn with_account<R>(&self, username: &str, edit: impl FnOnce(&mut Library) -> R) -> Option<R> {
        let mut accounts = self.shared.accounts();
        let pick = accounts.by_username(username)?;
        Some(self.edit_state(accounts.get(pick), edit))
    }

    fn edit_state<R>(&self, st: &mut State, edit: impl FnOnce(&mut Library) -> R) -> R {
        let now = self.shared.now();
        let out = edit(&mut st.library);
        if !st.library.accounts.is_empty() {
            panic!("emulator library edit: accounts cannot be added by an edit");
        }
        st.library.normalize(now).and_then(|_| st.reindex()).unwrap_or_else(|e| panic!("emulator library edit: {e}"));
        out
    }

    /// Moves the emulator's clock forward (or back, with a negative value) by `secs`; affects
    /// token expiry, timestamps it writes and rate-limit windows.
    pub fn advance_clock(&self, secs: i64) {
        self.shared.clock_offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// The emulator's current time.
    pub fn now(&self) -> Timestamp {
        self.shared.now()
    }

    /// Adds a fault after those already injected (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.shared.faults().inject(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Device flow: the user approves the pending code `user_code` (case-insensitive); its next
    /// poll (respecting the interval) gets the tokens. `false` if no such pending, unexpired code.
    pub fn approve_device(&self, user_code: &str) -> bool {
        self.shared.decide_device(user_code, DeviceStatus::Approved)
    }

    /// Device flow: the user denies `user_code`; polls answer `418`. `false` as for approve.
    pub fn deny_device(&self, user_code: &str) -> bool {
        self.shared.decide_device(user_code, DeviceStatus::Denied)
    }

    /// User codes of the device codes that are pending and not expired, oldest first.
    pub fn pending_device_codes(&self) -> Vec<String> {
        self.shared.pending_device_codes()
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
