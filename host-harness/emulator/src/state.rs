//! [`State`]: one account's mutable state behind the server's lock: its library, the indexes
//! derived from it, its tokens' counters, rate-limit buckets and device codes.

use sha2::{Digest, Sha256};

use crate::catalog::{CatalogIndex, Lookup};
use crate::device::DeviceCode;
use crate::encoding::hex;
use crate::library::Library;
use crate::ratelimit::RateLimiter;
use crate::render::Fragments;
use crate::user_index::UserIndex;

/// One account's mutable state (behind one lock).
pub(crate) struct State {
    pub library: Library,
    pub index: CatalogIndex,
    /// Derived lookups over ratings, history and collection.
    pub user: UserIndex,
    /// Rendered media objects of response rows (see `render`).
    pub fragments: Fragments,
    /// Next watchlist list item id.
    pub next_list_item_id: u64,
    /// Counter mixed into generated tokens and codes.
    pub token_serial: u64,
    /// Per-instance randomness for generated tokens.
    pub token_nonce: u64,
    pub access_token_ttl_secs: i64,
    pub rate: RateLimiter,
    /// Device-flow codes issued by `POST /oauth/device/code`.
    pub devices: Vec<DeviceCode>,
    pub device_interval_secs: u64,
    pub device_expires_in_secs: u64,
}

impl State {
    pub(crate) fn new(library: Library, ttl: i64, rate: RateLimiter, nonce: u64) -> Result<State, String> {
        let index = CatalogIndex::build(&library.catalog)?;
        let next_list_item_id = library.watchlist.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        let user = UserIndex::build(&library);
        Ok(State {
            library,
            index,
            user,
            fragments: Default::default(),
            next_list_item_id,
            token_serial: 0,
            token_nonce: nonce,
            access_token_ttl_secs: ttl,
            rate,
            devices: Vec::new(),
            device_interval_secs: 5,
            device_expires_in_secs: 600,
        })
    }

    /// Re-derives the catalogue index (after the library was replaced or edited).
    pub(crate) fn reindex(&mut self) -> Result<(), String> {
        self.index = CatalogIndex::build(&self.library.catalog)?;
        let max = self.library.watchlist.iter().map(|e| e.id).max().unwrap_or(0);
        self.next_list_item_id = self.next_list_item_id.max(max + 1);
        self.user.rebuild_ratings(&self.library);
        self.user.rebuild_history(&self.library);
        self.user.rebuild_collection(&self.library);
        self.fragments.clear();
        Ok(())
    }

    pub(crate) fn lookup(&self) -> Lookup<'_> {
        Lookup::new(&self.library.catalog, &self.index)
    }

    /// A fresh 64-hex-digit token (or code), unique within this emulator.
    pub(crate) fn new_token(&mut self, kind: &str) -> String {
        self.token_serial += 1;
        let mut h = Sha256::new();
        h.update(format!("{kind}:{}:{}", self.token_serial, self.token_nonce));
        hex(&h.finalize())
    }
}
