//! The crash journal of history adds: `trakt_history.journal.json`.
//!
//! ```json
//! {"schema": 1, "batches": [{"id": "1780336800-3", "created_at": "2026-06-01T18:00:00Z",
//!   "plays": [{"key": "tmdb:603@1780336800", "kind": "movie",
//!              "watched_at": "2026-06-01T18:00:00.000Z", "item": {"type": "movie", ...}}]}]}
//! ```
//!
//! A history add is not idempotent (Trakt records a new play every time), so every POST is
//! journaled first and the batch removed once Trakt's answer decided it. A batch still in the
//! file means its outcome is unknown: the process died, or the answer never came and the
//! reconciliation could not read Trakt. `watched_at` is the text sent; `item` the minimal
//! item (CrossWatch JSON) with that `watched_at`, so a batch can be sent again as is.
//!
//! Writes go through the host's atomic state writes. A journal that cannot be written stops
//! the send (the caller reports `journal_unavailable`): there is never an unjournaled add.
//! A batch that cannot be removed stays and is reconciled by the next run, which finds its
//! plays on Trakt (or sends the missing ones again): harmless.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::index::{Index, PlayKind};
use super::windows::windows;
use super::FEATURE;
use crate::error::AdapterError;
use crate::features::Ctx;
use crate::log::{self, Level};
use crate::model::json::item_from_json;
use crate::model::{item_key, Item};
use crate::state::{self, Store, HISTORY_JOURNAL};
use crate::time::{self, WatchedAt};

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalPlay {
    pub key: String,
    /// "movie" or "episode".
    pub kind: String,
    /// The text sent.
    pub watched_at: String,
    pub item: Value,
}

impl JournalPlay {
    /// The play as an input item (its `watched_at` the text sent).
    pub fn to_item(&self) -> Option<Item> {
        let mut item = item_from_json(&self.item)?;
        item.watched_at = Some(self.watched_at.clone());
        Some(item)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Batch {
    pub id: String,
    pub created_at: String,
    pub plays: Vec<JournalPlay>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Doc {
    schema: u32,
    batches: Vec<Batch>,
}

fn load(store: &mut dyn Store) -> Vec<Batch> {
    state::load::<Doc>(store, FEATURE, HISTORY_JOURNAL, SCHEMA).map(|d| d.batches).unwrap_or_default()
}

fn store_batches(store: &mut dyn Store, batches: Vec<Batch>) -> bool {
    if batches.is_empty() {
        return state::delete(store, FEATURE, HISTORY_JOURNAL);
    }
    // Never `save_or_delete`: deleting on a failed write would drop other batches.
    state::save(store, FEATURE, HISTORY_JOURNAL, &Doc { schema: SCHEMA, batches })
}

/// Batches left in the journal.
pub fn pending(store: &mut dyn Store) -> Vec<Batch> {
    load(store)
}

/// Record `batch` before its POST. `false`: it could not be written, do not send.
pub fn begin(store: &mut dyn Store, batch: &Batch) -> bool {
    let mut batches = load(store);
    batches.retain(|b| b.id != batch.id);
    batches.push(batch.clone());
    let ok = store_batches(store, batches);
    if !ok {
        log::event(Level::Error, FEATURE, "journal_unavailable", &[("batch", batch.id.clone())]);
    }
    ok
}

/// Replace the batches `ids` by `keep` (when given): used once Trakt's answer decided them.
pub fn replace(store: &mut dyn Store, ids: &[&str], keep: Option<Batch>) {
    let mut batches = load(store);
    batches.retain(|b| !ids.contains(&b.id.as_str()));
    batches.extend(keep.filter(|b| !b.plays.is_empty()));
    if !store_batches(store, batches) {
        log::event(Level::Warn, FEATURE, "journal_not_cleared", &[("batches", ids.join(","))]);
    }
}

/// Remove batch `id`.
pub fn end(store: &mut dyn Store, id: &str) {
    replace(store, &[id], None);
}

/// A journaled play as the reconciliation needs it.
pub struct Pending {
    pub item: Item,
    pub key: String,
    pub kind: PlayKind,
    pub when: WatchedAt,
}

impl Pending {
    pub fn of(p: &JournalPlay) -> Option<Pending> {
        let item = p.to_item()?;
        let kind = PlayKind::of(&item.kind())?;
        let when = time::parse_watched_at(&p.watched_at)?;
        Some(Pending { key: item_key(&item), item, kind, when })
    }

    pub fn minute(&self) -> Option<i64> {
        match self.when {
            WatchedAt::Minute(m) => Some(m),
            WatchedAt::Unknown => Some(0),
            WatchedAt::Released => None,
        }
    }
}

/// Read Trakt's history around the minutes of `plays` (`start_at`/`end_at` windows per kind,
/// all pages) and say which are there: `Some(true)` landed, `Some(false)` not, `None` for a
/// `released` play (its minute is Trakt's to choose: the caller decides from a full index).
/// Also returns the rows read.
pub fn landed(ctx: &mut Ctx, plays: &[Pending]) -> Result<(Vec<Option<bool>>, Index), AdapterError> {
    let mut rows = Index::default();
    let mut per_kind: BTreeMap<PlayKind, Vec<i64>> = BTreeMap::new();
    for p in plays {
        if let Some(m) = p.minute() {
            per_kind.entry(p.kind).or_default().push(m);
        }
    }
    for (kind, minutes) in per_kind {
        for (from, to) in windows(minutes) {
            let query = [("start_at", time::format_utc_millis(from)), ("end_at", time::format_utc_millis(to))];
            super::index::read_into(ctx, kind.path(), &query, &mut rows)?;
        }
    }
    let lookup = rows.lookup();
    let flags = plays.iter().map(|p| p.minute().map(|m| !lookup.find_at(&p.item, &p.key, m).is_empty())).collect();
    Ok((flags, rows))
}
