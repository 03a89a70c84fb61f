//! [`Shared`]: the state the server task and the `Emulator` handle share, its locks and the
//! emulator clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::faults::FaultSet;
use crate::request_log::LoggedRequest;
use crate::route::RouteDef;
use crate::state::State;
use crate::timestamp::Timestamp;

/// State shared by the server task and the `Emulator` handle.
pub(crate) struct Shared {
    /// The primary account (see `accounts` for the lock order).
    pub state: Mutex<State>,
    /// The seed's further `accounts`, in order.
    pub accounts: Mutex<Vec<State>>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub started: Instant,
    /// Wall clock (Unix ms) at `started`; the emulator clock runs on from it monotonically.
    pub started_wall_ms: i64,
    /// Seconds added to the clock (`Emulator::advance_clock`).
    pub clock_offset: AtomicI64,
    pub faults: Mutex<FaultSet>,
    pub require_user_agent: bool,
    pub routes: Vec<RouteDef>,
}

/// Locks `m`, recovering from a poisoned lock (a panicking handler must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, Vec<LoggedRequest>> {
        lock(&self.log)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultSet> {
        lock(&self.faults)
    }

    /// Emulator time in Unix milliseconds: the wall clock at start plus the monotonic time
    /// elapsed since, plus the test offset.
    pub(crate) fn now_ms(&self) -> i64 {
        self.started_wall_ms
            + self.started.elapsed().as_millis() as i64
            + self.clock_offset.load(Ordering::SeqCst) * 1000
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp(self.now_ms().div_euclid(1000))
    }
}
