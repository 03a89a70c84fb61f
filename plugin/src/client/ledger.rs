//! The request ledger: one entry per logical request (all its attempts together), so a host
//! can print what a call did on the wire (`last-ledger`).
//!
//! Bounded: a call keeps at most `MAX_ENTRIES` entries; the requests after that are folded
//! into one summary entry at the end, so indexing a huge history does not grow memory.

/// Entries kept per call before the rest are summarised.
pub const MAX_ENTRIES: usize = 10_000;

/// Mirror of the WIT `ledger-entry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerEntry {
    pub method: String,
    /// Path and query relative to the API origin.
    pub path: String,
    /// Final HTTP status, 0 when no response came.
    pub status: u16,
    /// Requests sent (1 = no retry; a 401 replay counts).
    pub attempts: u32,
    /// Pacing, backoff and Retry-After sleeps.
    pub waited_ms: u64,
    /// Time inside the transport, all attempts.
    pub elapsed_ms: u64,
    /// Request body bytes, all attempts.
    pub bytes_sent: u64,
    /// Response body bytes of the final attempt.
    pub bytes_received: u64,
    /// Last `X-Ratelimit` header text seen on this request's responses.
    pub rate_limit: Option<String>,
    /// Why it failed ("" when it did not).
    pub error: String,
}

/// Requests beyond `MAX_ENTRIES`, summed.
#[derive(Debug, Default)]
struct Overflow {
    count: u64,
    failed: u64,
    last_error: String,
    /// The most recent summed request failed.
    last_failed: bool,
    sum: LedgerEntry,
}

#[derive(Debug, Default)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
    overflow: Option<Overflow>,
    cap: usize,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger { entries: Vec::new(), overflow: None, cap: MAX_ENTRIES }
    }

    /// A ledger keeping at most `cap` entries (tests).
    #[cfg(test)]
    pub fn with_cap(cap: usize) -> Ledger {
        Ledger { cap, ..Ledger::new() }
    }

    /// Forget everything: a new call starts.
    pub fn reset(&mut self) {
        self.entries = Vec::new();
        self.overflow = None;
    }

    pub fn push(&mut self, e: LedgerEntry) {
        if self.entries.len() < self.cap {
            self.entries.push(e);
            return;
        }
        let o = self.overflow.get_or_insert_with(Overflow::default);
        o.count += 1;
        o.last_failed = !e.error.is_empty();
        if o.last_failed {
            o.failed += 1;
            o.last_error = e.error;
        }
        let s = &mut o.sum;
        s.status = e.status;
        s.attempts = s.attempts.saturating_add(e.attempts);
        s.waited_ms += e.waited_ms;
        s.elapsed_ms += e.elapsed_ms;
        s.bytes_sent += e.bytes_sent;
        s.bytes_received += e.bytes_received;
        if e.rate_limit.is_some() {
            s.rate_limit = e.rate_limit;
        }
    }

    /// Record a failure found after the request itself succeeded (e.g. a malformed page).
    pub fn annotate_last(&mut self, error: String) {
        match &mut self.overflow {
            Some(o) => {
                if !o.last_failed {
                    o.failed += 1;
                    o.last_failed = true;
                }
                o.last_error = error;
            }
            None => {
                if let Some(e) = self.entries.last_mut() {
                    e.error = error;
                }
            }
        }
    }

    pub fn last(&self) -> Option<&LedgerEntry> {
        self.entries.last()
    }

    /// Every entry in order, then the summary of the overflow when there was one.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        let mut out = self.entries.clone();
        if let Some(o) = &self.overflow {
            let mut s = o.sum.clone();
            s.method = "*".into();
            s.path = format!("({} more requests, summed)", o.count);
            s.error = if o.failed > 0 {
                format!("{} of them failed; last: {}", o.failed, o.last_error)
            } else {
                String::new()
            };
            out.push(s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, status: u16, error: &str) -> LedgerEntry {
        LedgerEntry {
            method: "GET".into(),
            path: path.into(),
            status,
            attempts: 1,
            waited_ms: 10,
            elapsed_ms: 5,
            bytes_sent: 0,
            bytes_received: 100,
            rate_limit: None,
            error: error.into(),
        }
    }

    #[test]
    fn keeps_entries_in_order_and_resets() {
        let mut l = Ledger::new();
        l.push(entry("/a", 200, ""));
        l.push(entry("/b", 500, "http 500"));
        l.annotate_last("replaced".into());
        let e = l.entries();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].path.as_str(), e[1].path.as_str(), e[1].error.as_str()), ("/a", "/b", "replaced"));
        l.reset();
        assert!(l.entries().is_empty());
    }

    #[test]
    fn overflow_is_summed_into_one_entry() {
        let mut l = Ledger::with_cap(2);
        for i in 0..5 {
            let mut e = entry(&format!("/p{i}"), 200, if i == 3 { "boom" } else { "" });
            if i == 4 {
                e.rate_limit = Some("{\"remaining\":7}".into());
            }
            l.push(e);
        }
        let e = l.entries();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].path, "/p1");
        let s = &e[2];
        assert_eq!(s.method, "*");
        assert_eq!(s.path, "(3 more requests, summed)");
        assert_eq!((s.attempts, s.waited_ms, s.elapsed_ms, s.bytes_received), (3, 30, 15, 300));
        assert_eq!(s.rate_limit.as_deref(), Some("{\"remaining\":7}"));
        assert_eq!(s.error, "1 of them failed; last: boom");
    }
}
