//! The `Clock` and `Auth` seams natively: the system clocks, and no token refresh.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use trakt_adapter::native::{Auth, AuthFailure, Clock};

pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn sleep_ms(&mut self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    fn wall_unix_secs(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// A 401 stays a 401: this runner holds no refresh token (cw-host's `health` refreshes and
/// saves the token into the config first).
pub struct NoRefresh;

impl Auth for NoRefresh {
    fn refresh(&mut self) -> Result<(), AuthFailure> {
        Err(AuthFailure::NotConfigured(
            "trakt-adapter-native does not refresh tokens: refresh with `cw-host health` or pass a fresh --access-token"
                .into(),
        ))
    }
}
