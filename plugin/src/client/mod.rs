//! The one Trakt client: request building, pacing, retries, auth replay, the request ledger
//! and the mapping of Trakt's statuses onto typed errors.
//!
//! One client lives for the whole component instance, so the pacing buckets hold across
//! calls, chunks and features (CrossWatch rebuilt its limiter per call, reference
//! crosswatch.md 10.1).
//!
//! Jobs: `call` builds requests, `retry` sends them (backoff, `Retry-After`, 401 refresh
//! and replay), `status` says what an answer means (retryable, typed errors).

mod call;
pub mod ledger;
pub mod pacing;
pub mod paging;
mod retry;
mod status;
#[cfg(test)]
mod tests;
pub mod transport;

use crate::config::Options;
use crate::error::AdapterError;
use ledger::{Ledger, LedgerEntry};
use pacing::Pacer;
use retry::Jitter;
use status::classify;
use transport::{Auth, Clock, Response, Transport};

pub use call::Call;
pub use status::rate_limit_remaining;

/// Settings the client takes from the options.
#[derive(Debug, Clone)]
struct Settings {
    api_url: String,
    timeout_ms: u32,
    max_attempts: u32,
    retry_after_cap_secs: u64,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
}

pub struct Client {
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    auth: Box<dyn Auth>,
    settings: Settings,
    pacer: Pacer,
    jitter: Jitter,
    ledger: Ledger,
    /// `remaining` of the last `X-Ratelimit` header seen.
    pub rate_limit_remaining: Option<u32>,
}

impl Client {
    pub fn new(transport: Box<dyn Transport>, clock: Box<dyn Clock>, auth: Box<dyn Auth>, opts: &Options) -> Client {
        let now = clock.now_ms();
        let seed = now.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (clock.wall_unix_secs() as u64).rotate_left(29);
        let mut c = Client {
            transport,
            clock,
            auth,
            settings: Settings {
                api_url: String::new(),
                timeout_ms: 0,
                max_attempts: 1,
                retry_after_cap_secs: 0,
                backoff_base_ms: 1,
                backoff_max_ms: 1,
            },
            pacer: Pacer::new(&opts.rate_limit),
            jitter: Jitter(seed),
            ledger: Ledger::new(),
            rate_limit_remaining: None,
        };
        c.apply_options(opts);
        c
    }

    /// Take new options; pacing state is kept where the bucket settings did not change.
    pub fn apply_options(&mut self, opts: &Options) {
        self.settings = Settings {
            api_url: opts.api_url.trim_end_matches('/').to_string(),
            timeout_ms: opts.timeout_ms,
            max_attempts: opts.max_retries.max(1),
            retry_after_cap_secs: u64::from(opts.retry_after_cap_secs),
            backoff_base_ms: u64::from(opts.backoff_base_ms.max(1)),
            backoff_max_ms: u64::from(opts.backoff_max_ms.max(1)),
        };
        self.pacer.configure(&opts.rate_limit);
    }

    pub fn timeout_ms(&self) -> u32 {
        self.settings.timeout_ms
    }

    /// Wall-clock Unix seconds (state-file timestamps, shadow age).
    pub fn wall_unix_secs(&self) -> i64 {
        self.clock.wall_unix_secs()
    }

    /// Start a new ledger (a new host call begins).
    pub fn reset_ledger(&mut self) {
        self.ledger.reset();
    }

    /// The ledger of the current (or most recent) host call.
    pub fn ledger_entries(&self) -> Vec<LedgerEntry> {
        self.ledger.entries()
    }

    /// The most recent ledger entry.
    pub fn last_entry(&self) -> Option<&LedgerEntry> {
        self.ledger.last()
    }

    /// Record on the last ledger entry a failure found in its (successful) response.
    pub fn note_failure(&mut self, e: &AdapterError) {
        self.ledger.annotate_last(e.to_string());
    }

    /// Send a call with pacing, retries and auth replay, and map non-success statuses to
    /// typed errors. Ok carries a 2xx (or 304) response.
    pub fn execute(&mut self, call: &Call) -> Result<Response, AdapterError> {
        let mut entry = self.entry_for(call);
        let result = self.send_with_retries(call, &mut entry).and_then(|resp| classify(call, resp));
        if let Err(e) = &result {
            entry.error = e.to_string();
        }
        self.ledger.push(entry);
        result
    }

    /// Send a call with pacing, retries and auth replay; return whatever final response came
    /// back (health reads the status itself).
    pub fn exchange(&mut self, call: &Call) -> Result<Response, AdapterError> {
        let mut entry = self.entry_for(call);
        let result = self.send_with_retries(call, &mut entry);
        match &result {
            Err(e) => entry.error = e.to_string(),
            Ok(r) if !matches!(r.status, 200..=299 | 304) => entry.error = format!("HTTP {}", r.status),
            Ok(_) => {}
        }
        self.ledger.push(entry);
        result
    }

    fn entry_for(&self, call: &Call) -> LedgerEntry {
        LedgerEntry { method: call.method.as_str().into(), path: call.path_and_query(), ..LedgerEntry::default() }
    }
}
