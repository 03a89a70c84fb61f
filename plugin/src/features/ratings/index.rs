//! The ratings index: the live read of the four types and its cache behind
//! `/sync/last_activities`.
//!
//! ## Index cache (`trakt_ratings.index.json`)
//!
//! Schema 2 (`state::text_cache`): the index text, in key order, exactly what
//! `build-index-json` returns, then the trailer line `{"schema": 2, "generated_at": ISO,
//! "wm": {"movies": rated_at, "shows": ..., "seasons": ..., "episodes": ...}, "count": N,
//! "items_bytes": .., "items_xxh3": ..}`, where `wm` holds the four `{type}.rated_at` texts
//! of the `last_activities` read that preceded the live read. An index first reads
//! `last_activities` (one GET); when every one of the four `rated_at` is the same instant as
//! in the cache (timestamps are compared as instants: `2026-04-30T19:02:00Z` and
//! `2026-04-30T19:02:00.000Z` are unchanged), the cache is the index: a cache hit costs
//! exactly that one GET, and `build-index-json` answers with the cached text as it is (no
//! item read). A missing or unparseable value on either side counts as changed. Otherwise
//! all four types are read (all pages; any failure fails the call and leaves the cache
//! alone), de-duplicated by key keeping the newer `rated_at` (as instants; ties keep the
//! later row) and saved with the new watermarks. Rows whose rating is not an integer 1..10
//! are skipped with a warning. Schema 1 (one JSON object `{"schema": 1, "generated_at",
//! "items": {key: item}, "wm"}`) is still read, and rewritten as schema 2 when it is used.
//!
//! After a real write the cache (and this run's index) gets the written items upserted or
//! removed and keeps its `wm`: Trakt moves `rated_at` on writes, so the next index reads
//! live anyway and the cache can never hide a change. When a chunk's outcome is unknown
//! (5xx or no answer after retries) the cache is deleted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{not_older, valid_rating, Ratings, FEATURE};
use crate::client::paging::{self, Walked};
use crate::client::Call;
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::features::presence::Presence;
use crate::features::rows::{ListRow, Row};
use crate::features::stored::{in_key_order, index_json, items_of_text, StoredMap};
use crate::features::stored_items;
use crate::features::{is_session_wide, Ctx, Op, Outcome};
use crate::log::{self, Level};
use crate::model::lenient::Uint;
use crate::model::Item;
use crate::state::text_cache::{self, TRAILER_SPARE};
use crate::state::{self, RATINGS_INDEX};
use crate::time;

pub(super) const ACTIVITIES_PATH: &str = "/sync/last_activities";
/// The four rating types, in index order.
pub(super) const TYPES: [&str; 4] = ["movies", "shows", "seasons", "episodes"];
pub const INDEX_SCHEMA: u32 = 2;
/// The one-object form read (and rewritten) once after an upgrade.
const LEGACY_SCHEMA: u32 = 1;

/// The cache as older versions read it (and as this one does when the fast reading of
/// `IndexIn` does not apply: it then says why the file is not used, as before).
#[derive(Debug, Deserialize)]
struct IndexDoc {
    #[allow(dead_code)]
    schema: u32,
    generated_at: String,
    items: BTreeMap<String, Value>,
    /// Type (plural) -> `rated_at` text; types Trakt did not report are omitted.
    wm: BTreeMap<String, String>,
}

/// The cache read in one pass, its items as text until read.
#[derive(Deserialize)]
struct IndexIn<'a> {
    #[serde(default)]
    schema: Uint,
    generated_at: String,
    #[serde(borrow)]
    items: StoredMap<'a>,
    wm: BTreeMap<String, String>,
}

/// The trailer of a schema-2 file: what its index text is.
#[derive(Serialize, Deserialize)]
struct Meta {
    schema: u32,
    generated_at: String,
    wm: BTreeMap<String, String>,
    count: u64,
}

impl text_cache::Schema for Meta {
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// A cache's `generated_at`, items and watermarks.
type CachedItems = (String, BTreeMap<String, Item>, BTreeMap<String, String>);

struct Cache {
    generated_at: String,
    wm: BTreeMap<String, String>,
    body: Body,
}

enum Body {
    /// Schema 2: the index text and its item count.
    Text(String, u64),
    /// Schema 1, read and checked: rewritten as schema 2 when used.
    Legacy(BTreeMap<String, Item>),
}

impl Cache {
    /// The cached items (`None`, logged, when the text does not read back as them).
    fn items(self) -> Option<CachedItems> {
        let items = match self.body {
            Body::Legacy(items) => items,
            Body::Text(text, _) => {
                items_of_text(&text, FEATURE, RATINGS_INDEX, |it| valid_rating(it.rating).is_some())?
            }
        };
        Some((self.generated_at, items, self.wm))
    }
}

/// What `read` found: a live read (its entries in key order and their index text), the
/// cache's index text (a cache hit asked for as text), or the index, then this run's
/// `Ratings::index`.
enum Found {
    Live(Vec<(String, Item)>, String),
    Text(String),
    Index,
}

impl Ratings {
    /// The index, in key order.
    pub fn build_index(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        match self.read(ctx, false)? {
            Found::Live(entries, _) => {
                self.index = Some(crate::features::entry_map(entries.to_vec()));
                Ok(entries)
            }
            _ => Ok(self.index.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }
    }

    /// `build_index` as the text of one JSON object (`model::index_json`, in key order): the
    /// cache's own text on a cache hit, else the text the cache was saved with.
    pub fn build_index_json(&mut self, ctx: &mut Ctx) -> Result<String, AdapterError> {
        match self.read(ctx, true)? {
            Found::Live(entries, text) => {
                self.index = Some(crate::features::entry_map(entries));
                Ok(text)
            }
            Found::Text(text) => Ok(text),
            Found::Index => {
                let none = BTreeMap::new();
                index_json(self.index.as_ref().unwrap_or(&none).iter().map(|(k, it)| (k.as_str(), it)), 0)
            }
        }
    }

    /// Read the index, from the cache when Trakt confirms it. A cache hit asked for `as_text`
    /// answers with the cached text and leaves this run without an index (a write reads it
    /// when it needs it); otherwise the index is this run's.
    fn read(&mut self, ctx: &mut Ctx, as_text: bool) -> Result<Found, AdapterError> {
        let remote = watermarks(ctx)?;
        if let Some(cache) = load_cache(ctx.state) {
            let changed: Vec<&str> = TYPES
                .iter()
                .zip(remote.iter())
                .filter(|(t, r)| match (cache.wm.get(**t), r) {
                    (Some(c), Some(r)) => !time::same_instant(c, r),
                    _ => true,
                })
                .map(|(t, _)| *t)
                .collect();
            if changed.is_empty() {
                if let Some(found) = self.use_cache(ctx, cache, as_text) {
                    return Ok(found);
                }
            } else {
                log::event(Level::Info, FEATURE, "index_cache_stale", &[("changed", changed.join(","))]);
            }
        }

        let limit = ctx.opts.page_limit.clamp(1, MAX_PAGE_LIMIT);
        let mut entries: Vec<(String, Item)> = Vec::new();
        let mut pages = 0u32;
        for t in TYPES {
            let path = format!("/sync/ratings/{t}");
            let mut n = 0usize;
            let walked = paging::for_each_page(ctx.client, FEATURE, &path, &[], limit, &mut |text| {
                paging::read_rows::<Row>(text, &mut |_, raw, typed| {
                    let entry = ListRow::of(raw, typed)
                        .and_then(|row| rated_entry(&row))
                        .map_err(|why| AdapterError::Protocol(format!("{path}: row {n} is malformed: {why}")))?;
                    entries.extend(entry);
                    n += 1;
                    Ok(())
                })
            })?;
            if let Walked::Done { pages: p, .. } = walked {
                pages += p;
            }
        }
        // In key order, as the cache holds it: a live read and a cache hit give the same
        // entries and text. Of rows that share a key, the last not older than the one kept
        // replaces it.
        in_key_order(&mut entries, FEATURE, |later, kept| {
            not_older(later.rated_at.as_deref(), kept.rated_at.as_deref())
        });
        let mut wm = BTreeMap::new();
        wm.extend(TYPES.iter().zip(remote.iter()).filter_map(|(t, r)| r.clone().map(|r| (t.to_string(), r))));
        let generated_at = time::format_utc(ctx.client.wall_unix_secs());
        let text = save_cache(ctx.state, &generated_at, entries.iter().map(|(k, it)| (k.as_str(), it)), &wm)?;
        log::event(
            Level::Info,
            FEATURE,
            "index_done",
            &[("count", entries.len().to_string()), ("source", "live".into()), ("pages", pages.to_string())],
        );
        Ok(Found::Live(entries, text))
    }

    /// The index from a cache Trakt confirmed (`None` when it does not read back: the caller
    /// reads live). A schema-1 file is rewritten as schema 2 here.
    fn use_cache(&mut self, ctx: &mut Ctx, cache: Cache, as_text: bool) -> Option<Found> {
        log::event(Level::Info, FEATURE, "index_cache_hit", &[("generated_at", cache.generated_at.clone())]);
        let done = |count: usize| {
            log::event(Level::Info, FEATURE, "index_done", &[("count", count.to_string()), ("source", "cache".into())])
        };
        let legacy = matches!(cache.body, Body::Legacy(_));
        if as_text {
            if let Body::Text(text, count) = cache.body {
                done(count as usize);
                self.index = None;
                return Some(Found::Text(text));
            }
        }
        let (generated_at, items, wm) = cache.items()?;
        done(items.len());
        let mut found = Found::Index;
        if legacy {
            log::event(
                Level::Info,
                FEATURE,
                "state_migrated",
                &[("file", RATINGS_INDEX.into()), ("schema", INDEX_SCHEMA.to_string())],
            );
            if let Ok(text) = save_cache(ctx.state, &generated_at, items.iter().map(|(k, it)| (k.as_str(), it)), &wm) {
                found = Found::Text(text);
            }
        }
        self.index = Some(items);
        Some(found)
    }

    /// Keep this run's index and the cache file right after a real write.
    pub(super) fn after_write(
        &mut self,
        op: Op,
        items: &[Item],
        keys: &[String],
        outcome: &[Option<Outcome>],
        ambiguous: bool,
        ctx: &mut Ctx,
    ) {
        let changed = outcome.iter().any(|o| matches!(o, Some(Outcome::Confirmed)));
        if ambiguous {
            self.index = None;
            if state::delete(ctx.state, FEATURE, RATINGS_INDEX) {
                log::event(
                    Level::Info,
                    FEATURE,
                    "state_dropped",
                    &[("file", RATINGS_INDEX.into()), ("reason", "write_outcome_unknown".into())],
                );
            }
            return;
        }
        if !changed {
            return;
        }
        let apply = |ix: &mut BTreeMap<String, Item>| {
            let presence = Presence::new(&*ix);
            let mut upserts: Vec<(String, Item)> = Vec::new();
            let mut removals: Vec<String> = Vec::new();
            for (i, o) in outcome.iter().enumerate() {
                let found = presence.find(&items[i], &keys[i]).map(str::to_string);
                match (op, o) {
                    (Op::Add, Some(Outcome::Confirmed)) => {
                        let rated_at = items[i].rated_at.as_deref().map(str::trim).filter(|s| !s.is_empty());
                        let base =
                            found.as_ref().and_then(|k| ix.get(k)).cloned().unwrap_or_else(|| items[i].minimal());
                        let item = Item {
                            rating: valid_rating(items[i].rating).map(|r| r as f64),
                            rated_at: rated_at.map(str::to_string),
                            ..base
                        };
                        upserts.push((found.unwrap_or_else(|| keys[i].clone()), item));
                    }
                    (Op::Remove, Some(Outcome::Confirmed | Outcome::Skipped)) => removals.extend(found),
                    _ => {}
                }
            }
            for (k, it) in upserts {
                ix.insert(k, it);
            }
            for k in removals {
                ix.remove(&k);
            }
        };
        if let Some(ix) = self.index.as_mut() {
            apply(ix);
        }
        if let Some((generated_at, mut items, wm)) = load_cache(ctx.state).and_then(Cache::items) {
            apply(&mut items);
            // A cache that cannot be written is deleted (`text_cache::write`).
            let _ = save_cache(ctx.state, &generated_at, items.iter().map(|(k, it)| (k.as_str(), it)), &wm);
        }
    }
}

/// The index entry of one rating row: `None`, logged, for a row of a type this adapter does
/// not handle or with a rating that is not 1..10; `Err` for a row that is not what Trakt
/// documents.
fn rated_entry(row: &ListRow) -> Result<Option<(String, Item)>, String> {
    let Some((item, key)) = row.keyed_item()? else {
        row.log_unsupported(FEATURE);
        return Ok(None);
    };
    let Some(rating) = row.rating() else {
        log::event(
            Level::Warn,
            FEATURE,
            "index_row_skipped",
            &[("reason", "invalid_rating".into()), ("type", row.kind()), ("rating", row.rating_text())],
        );
        return Ok(None);
    };
    let rated_at =
        ["rated_at", "user_rated_at"].iter().find_map(|f| row.text(f).filter(|s| !s.is_empty())).map(str::to_string);
    Ok(Some((key, Item { rating: Some(rating as f64), rated_at, ..item })))
}

/// The four `{type}.rated_at` texts of `/sync/last_activities` (none when missing). A
/// session-wide failure fails the index; any other failure means "unknown", i.e. changed.
fn watermarks(ctx: &mut Ctx) -> Result<[Option<String>; 4], AdapterError> {
    let resp = match ctx.client.execute(&Call::get(ACTIVITIES_PATH)) {
        Ok(r) => r,
        Err(e) if is_session_wide(&e) => return Err(e),
        Err(e) => {
            log::event(Level::Warn, FEATURE, "activities_unavailable", &[("error", e.to_string())]);
            return Ok(Default::default());
        }
    };
    let v: Value = crate::model::json::from_bytes(&resp.body).unwrap_or(Value::Null);
    if !v.is_object() {
        log::event(Level::Warn, FEATURE, "activities_unavailable", &[("error", "body is not a JSON object".into())]);
    }
    Ok(TYPES.map(|t| v.get(t).and_then(|g| g.get("rated_at")).and_then(Value::as_str).map(str::to_string)))
}

/// The cache file: schema 2 as its text (checked by length and hash, not read), schema 1
/// read in one pass; a file the fast reading does not take (not JSON, another schema, a
/// field of the wrong type) goes through the old reader, which says why it is not used.
fn load_cache(store: &mut dyn state::Store) -> Option<Cache> {
    let bytes = match text_cache::read_schema::<Meta>(store, FEATURE, RATINGS_INDEX, INDEX_SCHEMA)? {
        text_cache::Read::Text { text, meta } => {
            return Some(Cache { generated_at: meta.generated_at, wm: meta.wm, body: Body::Text(text, meta.count) });
        }
        text_cache::Read::Other(bytes) => bytes,
    };
    let valid = |item: &Item| valid_rating(item.rating).is_some();
    if let Ok(doc) = crate::model::json::from_bytes::<IndexIn>(&bytes) {
        if doc.schema.0 == Some(u64::from(LEGACY_SCHEMA)) {
            let items = doc.items.items(FEATURE, RATINGS_INDEX, valid)?;
            return Some(Cache { generated_at: doc.generated_at, wm: doc.wm, body: Body::Legacy(items) });
        }
    }
    let doc: IndexDoc = state::load_from(FEATURE, RATINGS_INDEX, &bytes, LEGACY_SCHEMA)?;
    let items = stored_items(FEATURE, RATINGS_INDEX, doc.items, valid)?;
    Some(Cache { generated_at: doc.generated_at, wm: doc.wm, body: Body::Legacy(items) })
}

/// Save the cache (the index text of `items`, in key order, and its trailer) and return
/// the text; a failed write deletes the file.
fn save_cache<'a>(
    store: &mut dyn state::Store,
    generated_at: &str,
    items: impl ExactSizeIterator<Item = (&'a str, &'a Item)> + Clone,
    wm: &BTreeMap<String, String>,
) -> Result<String, AdapterError> {
    let count = items.len() as u64;
    let mut text = index_json(items, TRAILER_SPARE)?;
    let meta = Meta { schema: INDEX_SCHEMA, generated_at: generated_at.to_string(), wm: wm.clone(), count };
    text_cache::write(store, FEATURE, RATINGS_INDEX, &mut text, &meta);
    Ok(text)
}
