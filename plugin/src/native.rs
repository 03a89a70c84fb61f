//! The plugin's code as a native library (cargo feature `native`, off by default; the
//! component never has it): the same `Session` the component's exports drive, over the
//! embedder's implementations of the host seams (`Transport`, `Clock`, `Auth`, `Store`).
//!
//! Why: issue 13 compares the component in `cw-host` with the same code built natively on
//! the same pages (host-harness/native-runner), so the cost of the WebAssembly runtime and
//! of the host boundary can be told apart from the plugin's own.

pub use crate::client::ledger::LedgerEntry;
pub use crate::client::transport::{Auth, AuthFailure, Clock, Method, Request, Response, Transport, TransportError};
pub use crate::error::AdapterError;
pub use crate::features::Feature;
pub use crate::state::Store;

use crate::config::Options;
use crate::Session;

/// The feature names `parse_feature` takes (the WIT `feature` cases).
pub const FEATURE_NAMES: &[&str] = &["watchlist", "ratings", "history", "playlists"];

/// A feature by its name, as `cw-host` spells them (any letter case).
pub fn parse_feature(name: &str) -> Option<Feature> {
    match name.trim().to_ascii_lowercase().as_str() {
        "watchlist" => Some(Feature::Watchlist),
        "ratings" => Some(Feature::Ratings),
        "history" => Some(Feature::History),
        "playlists" => Some(Feature::Playlists),
        _ => None,
    }
}

/// One adapter instance, as a component instance is one: options, client (pacing state),
/// per-feature caches and the store live as long as it does.
pub struct Adapter<S: Store> {
    session: Session<S>,
}

impl<S: Store> Adapter<S> {
    pub fn new(transport: Box<dyn Transport>, clock: Box<dyn Clock>, auth: Box<dyn Auth>, store: S) -> Adapter<S> {
        Adapter { session: Session::with_host(transport, clock, auth, store) }
    }

    /// The export `configure`: the options JSON a host builds from the `trakt` block.
    pub fn configure(&mut self, options_json: &str) -> Result<(), AdapterError> {
        let opts = Options::parse(options_json)?;
        self.session.configure(opts);
        Ok(())
    }

    /// The export `build-index-json`: the index as the text of one JSON object.
    pub fn build_index_json(&mut self, feature: Feature) -> Result<String, AdapterError> {
        self.session.build_index_json(feature)
    }

    /// The export `last-ledger`: the requests of the last call.
    /// `index-stream`: make the index text of `feature` ready to be read in parts.
    pub fn open_index_json(&mut self, feature: Feature) -> Result<(), AdapterError> {
        self.session.open_index_json(feature)
    }

    /// The next part of the opened text (`None` after the last).
    pub fn next_index_json_part(&mut self) -> Result<Option<String>, AdapterError> {
        self.session.next_index_json_part()
    }

    pub fn last_ledger(&self) -> Vec<LedgerEntry> {
        self.session.client.ledger_entries()
    }
}

/// The log events (`[TRAKT:<feature>] LEVEL name k=v ...`) and progress lines
/// (`[progress:<feature>] ...`) this thread logged since the last call, oldest first; the
/// buffer is emptied.
pub fn take_log_lines() -> Vec<String> {
    crate::log::take_lines()
}
