//! The size of history add bodies, adapted to how Trakt copes with them.
//!
//! Bodies start at `history_chunk_size` (default 250: each POST takes a one-second slot of
//! Trakt's write bucket, so 10,000 plays cost 40 slots instead of 100 at 100). Trakt's time
//! to answer grows with the body while the deadline does not, and a 5xx, a timeout or an
//! unreadable answer on a large body may be the body's size. So after an unknown outcome on a
//! body of `n` plays (read back first, as every unknown outcome is: `batch`), the rest goes in
//! bodies of `n / 2`, never below [`FLOOR`] (or the configured size when smaller), and after
//! [`GROW_AFTER`] bodies in a row that Trakt answered the size doubles again, up to the
//! configured one. A 4xx or 420 is Trakt refusing the content, not the size: it changes nothing.
//!
//! At the floor the rule is the one from before the sizes adapted: the plays found missing are
//! sent once more, and when that body's outcome is unknown too the call stops (its missing
//! plays and every later one unresolved): Trakt is failing, not the body size.

use crate::features::history::FEATURE;
use crate::log::{self, Level};

/// Smallest body a failure shrinks to.
pub const FLOOR: usize = 25;
/// Answered bodies in a row before the size doubles.
pub const GROW_AFTER: u32 = 4;

#[derive(Debug)]
pub struct ChunkSize {
    max: usize,
    floor: usize,
    size: usize,
    /// Bodies answered in a row at `size`.
    answered: u32,
    /// A body at the floor failed and its missing plays are being sent once more.
    struck: bool,
}

impl ChunkSize {
    pub fn new(configured: u32) -> ChunkSize {
        let max = configured.max(1) as usize;
        ChunkSize { max, floor: FLOOR.min(max), size: max, answered: 0, struck: false }
    }

    /// Plays in the next body.
    pub fn get(&self) -> usize {
        self.size
    }

    /// Whether the missing plays of a body of `n` whose outcome stays unknown are sent again:
    /// always above the floor (in smaller bodies), once at the floor.
    pub fn resend_after(&self, n: usize) -> bool {
        n > self.floor || !self.struck
    }

    /// Trakt answered a body: after `GROW_AFTER` in a row, double the size.
    pub fn answered(&mut self) {
        self.struck = false;
        if self.size >= self.max {
            return;
        }
        self.answered += 1;
        if self.answered >= GROW_AFTER {
            let from = self.size;
            self.size = (from * 2).min(self.max);
            self.answered = 0;
            log::event(
                Level::Info,
                FEATURE,
                "chunk_grown",
                &[("from", from.to_string()), ("to", self.size.to_string()), ("answered", GROW_AFTER.to_string())],
            );
        }
    }

    /// The outcome of a body of `n` plays stayed unknown; `missing`: some of its plays were not
    /// on Trakt when read back (they are sent again when `resend_after(n)` said so).
    pub fn failed(&mut self, n: usize, missing: bool) {
        self.answered = 0;
        if n > self.floor {
            let from = self.size;
            self.size = (n / 2).max(self.floor);
            log::event(
                Level::Warn,
                FEATURE,
                "chunk_shrunk",
                &[("from", from.to_string()), ("to", self.size.to_string()), ("failed_body", n.to_string())],
            );
        } else {
            self.size = self.size.min(self.floor);
            self.struck |= missing;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::take_lines;

    #[test]
    fn halves_to_the_floor_then_grows_back_after_answered_bodies() {
        take_lines();
        let mut c = ChunkSize::new(250);
        assert_eq!((c.get(), c.resend_after(250)), (250, true));
        c.failed(250, true);
        assert_eq!(c.get(), 125);
        c.failed(125, false);
        c.failed(62, true);
        c.failed(31, true);
        assert_eq!(c.get(), 25, "never below the floor");
        assert!(c.resend_after(25), "at the floor, once more");
        c.failed(25, true);
        assert_eq!(c.get(), 25);
        assert!(!c.resend_after(25), "a second unknown outcome at the floor stops");
        for _ in 0..GROW_AFTER {
            c.answered();
        }
        assert_eq!(c.get(), 50);
        assert!(c.resend_after(25), "an answer clears the strike");
        for _ in 0..3 * GROW_AFTER {
            c.answered();
        }
        assert_eq!(c.get(), 250, "doubling stops at the configured size");
        let lines = take_lines();
        assert!(lines.contains(&"[TRAKT:history] WARN chunk_shrunk from=250 to=125 failed_body=250".to_string()));
        assert!(lines.contains(&"[TRAKT:history] INFO chunk_grown from=25 to=50 answered=4".to_string()));
        assert!(lines.contains(&"[TRAKT:history] INFO chunk_grown from=200 to=250 answered=4".to_string()));

        // A short body (the last of a call, or missing plays) shrinks from its own size.
        let mut c = ChunkSize::new(250);
        c.failed(60, true);
        assert_eq!(c.get(), 30);
        // A failure in between restarts the count to growing.
        for _ in 0..GROW_AFTER - 1 {
            c.answered();
        }
        c.failed(30, false);
        assert_eq!(c.get(), 25);
        assert!(c.resend_after(25), "everything had landed: no strike");
    }

    #[test]
    fn a_configured_size_below_the_floor_never_changes() {
        let mut c = ChunkSize::new(1);
        c.failed(1, true);
        assert_eq!(c.get(), 1);
        assert!(!c.resend_after(1));
        c.answered();
        assert_eq!(c.get(), 1);
        assert!(c.resend_after(1));
        let c = ChunkSize::new(0);
        assert_eq!(c.get(), 1);
    }
}
