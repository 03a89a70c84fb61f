//! What a call may spend while the component waits in the host (issue 12, points 3 and 6):
//! - every `crosswatch:sync` import call costs fuel, a flat [`IMPORT_CALL_FUEL`] plus
//!   [`IMPORT_BYTE_FUEL`] per byte crossing it, so a flood of cheap host calls exhausts the
//!   call's CPU budget as a loop in guest code would;
//! - no host call returns into the guest after the call's wall-clock deadline: the call stops
//!   there with the wall-clock limit error (epoch interruption only fires in guest code);
//! - a `wasi:clocks` sleep (`subscribe-duration`, `subscribe-instant`) never outlasts that
//!   deadline, so a one-hour sleep under a two-second limit ends after two seconds.
//!
//! The Python host applies the same rules (host-harness/python/crosswatch_trakt_wasm/runtime.py).

use std::time::Instant;

use wasmtime::component::{Linker, Resource};
use wasmtime::{CallHook, StoreContextMut, Trap};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as MonotonicClock;
use wasmtime_wasi::p2::DynPollable;

use super::HostState;
pub use crate::policy::{IMPORT_BYTE_FUEL, IMPORT_CALL_FUEL};

/// The monotonic clock interface as wasmtime-wasi 48 defines it; components importing any
/// 0.2.x version are linked to it (semver-compatible names), so shadowing it here covers all.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The error a call stops with when the host is about to return into the guest after the
/// call's wall-clock deadline.
#[derive(Debug)]
pub(super) struct CallDeadlineReached;

impl std::fmt::Display for CallDeadlineReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's wall-clock deadline passed while the component waited in a host call")
    }
}

impl std::error::Error for CallDeadlineReached {}

impl HostState {
    /// Charge one import call carrying `bytes` of arguments.
    pub(super) fn charge_import(&mut self, bytes: usize) {
        self.pending_fuel = self.pending_fuel.saturating_add(IMPORT_CALL_FUEL).saturating_add(byte_fuel(bytes));
    }

    /// Charge `bytes` of results handed back to the guest.
    pub(super) fn charge_bytes(&mut self, bytes: usize) {
        self.pending_fuel = self.pending_fuel.saturating_add(byte_fuel(bytes));
    }
}

fn byte_fuel(bytes: usize) -> u64 {
    (bytes as u64).saturating_mul(IMPORT_BYTE_FUEL)
}

/// The store's call hook: on every return from a host function into the guest, take the
/// fuel the import charged and stop the call once the fuel is gone or the deadline passed.
pub(super) fn on_host_transition(mut store: StoreContextMut<'_, HostState>, hook: CallHook) -> wasmtime::Result<()> {
    if !matches!(hook, CallHook::ReturningFromHost) {
        return Ok(());
    }
    let charge = std::mem::take(&mut store.data_mut().pending_fuel);
    if charge > 0 {
        let left = store.get_fuel()?;
        store.set_fuel(left.saturating_sub(charge))?;
        if charge >= left {
            return Err(wasmtime::Error::new(Trap::OutOfFuel));
        }
    }
    let data = store.data();
    let past = data.call_deadline.is_some_and(|deadline| Instant::now() >= deadline);
    if past || data.deadline_reached {
        return Err(wasmtime::Error::new(CallDeadlineReached));
    }
    Ok(())
}

/// Replace wasmtime-wasi's `subscribe-duration` and `subscribe-instant` with versions whose
/// pollable is ready at the call's deadline at the latest (the sleep itself stays
/// wasmtime-wasi's `Deadline` pollable, waited on by its `wasi:io/poll`).
pub(super) fn link_capped_sleeps(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, HostState>, (nanos,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let capped = capped_nanos(store.data().call_deadline, nanos);
            Ok((MonotonicClock::subscribe_duration(&mut store.data_mut().clocks(), capped)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, HostState>, (when,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let deadline = store.data().call_deadline;
            let mut clocks = store.data_mut().clocks();
            let now = MonotonicClock::now(&mut clocks)?;
            let capped = capped_nanos(deadline, when.saturating_sub(now));
            Ok((MonotonicClock::subscribe_duration(&mut clocks, capped)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `nanos`, or the time left until `deadline` when that is shorter.
fn capped_nanos(deadline: Option<Instant>, nanos: u64) -> u64 {
    match deadline {
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            nanos.min(u64::try_from(left.as_nanos()).unwrap_or(u64::MAX))
        }
        None => nanos,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_sleep_is_capped_at_the_time_left_and_never_lengthened() {
        let hour = Duration::from_secs(3600).as_nanos() as u64;
        assert_eq!(capped_nanos(None, hour), hour);
        let soon = Instant::now() + Duration::from_secs(2);
        let capped = capped_nanos(Some(soon), hour);
        assert!(capped <= 2_000_000_000 && capped > 1_000_000_000, "{capped}");
        assert_eq!(capped_nanos(Some(soon), 5), 5);
        assert_eq!(capped_nanos(Some(Instant::now() - Duration::from_secs(1)), hour), 0);
    }
}
