//! The watchlist index read and its ETag shadow (`trakt_watchlist.shadow.json`).
//!
//! `{"schema": 1, "etag": "\"...\"", "ts": <unix secs of the read>, "count": <rows Trakt
//! listed>, "items": {key: item}}`, written after every complete live read (`etag` = page 1's
//! `ETag`, omitted when Trakt sends none or a blank one; `count` can exceed the items when
//! rows collided on a key). The next index sends `If-None-Match` on page 1 when
//! `watchlist_use_etag` is on, the shadow has an etag, was read less than
//! `watchlist_shadow_ttl_hours` ago, and fits on one page. A 304 reuses the shadow only when
//! page 1 is the whole list: the 304's `X-Pagination-Page-Count` is at most 1 and its
//! `X-Pagination-Item-Count` equals the shadow's `count` (without those headers: the shadow
//! is shorter than a page). Otherwise the list is read in full without `If-None-Match`.
//! A failed or partial read never touches the shadow. A 304 does not refresh `ts`: the TTL
//! bounds the age of the last full read.
//!
//! After a real write that changed the list, the shadow holds this run's updated index
//! without an etag (the old page-1 ETag describes the list before the write, so matching it
//! would mean the list is back to that state and the updated items wrong), or is deleted
//! when this run has no index it can trust. Either way the next index reads in full, as it
//! would anyway: the write changed page 1's ETag.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Watchlist, FEATURE, PATH};
use crate::client::paging::{self, Fetched, Listing};
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::features::rows::ListRow;
use crate::features::stored::FixedState;
use crate::features::stored::{ItemsOut, StoredMap};
use crate::features::stored_items;
use crate::features::Ctx;
use crate::log::{self, Level};
use crate::model::lenient::Uint;
use crate::model::Item;
use crate::state::{self, WATCHLIST_SHADOW};

pub const SHADOW_SCHEMA: u32 = 1;

/// The shadow as older versions read it (and as this one does when the fast reading of
/// `ShadowIn` does not apply: it then says why the file is not used, as before).
#[derive(Debug, Deserialize)]
struct ShadowDoc {
    #[allow(dead_code)]
    schema: u32,
    #[serde(default)]
    etag: Option<String>,
    ts: i64,
    /// Rows Trakt listed in that read (more than `items` when rows collided on a key or had
    /// an unsupported type): what a 304's `X-Pagination-Item-Count` is compared with.
    count: u64,
    items: BTreeMap<String, Value>,
}

/// The shadow read in one pass, its items left as text until the shadow is used.
#[derive(Deserialize)]
struct ShadowIn<'a> {
    #[serde(default)]
    schema: Uint,
    #[serde(default)]
    etag: Option<String>,
    ts: i64,
    count: u64,
    #[serde(borrow)]
    items: StoredMap<'a>,
}

/// The shadow as written: `ShadowDoc`'s fields in its order, the items streamed.
#[derive(Serialize)]
struct ShadowOut<'a> {
    schema: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    ts: i64,
    count: u64,
    items: ItemsOut<'a>,
}

/// The shadow's items: still text (checked when the shadow is used), or read by the old
/// reader (already checked).
enum ShadowItems<'a> {
    Stored(StoredMap<'a>),
    Read(BTreeMap<String, Item>),
}

/// A shadow file that reads as one; its items are checked before use (`checked_items`).
struct Shadow<'a> {
    etag: Option<String>,
    ts: i64,
    count: u64,
    items: ShadowItems<'a>,
}

impl Shadow<'_> {
    /// The items when every stored key is the key of its stored item (else `None`, logged).
    fn checked_items(self) -> Option<BTreeMap<String, Item>> {
        match self.items {
            ShadowItems::Stored(m) => m.items(FEATURE, WATCHLIST_SHADOW, |_| true),
            ShadowItems::Read(items) => Some(items),
        }
    }
}

impl Watchlist {
    /// The complete list: from the shadow when Trakt confirms it, else read live (and the
    /// shadow saved).
    pub(super) fn read(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        let limit = ctx.opts.page_limit.clamp(1, MAX_PAGE_LIMIT);
        let now = ctx.client.wall_unix_secs();
        let bytes = state::read_bytes(ctx.state, FEATURE, WATCHLIST_SHADOW);
        let shadow = bytes.as_deref().and_then(parse_shadow);
        let ttl_secs = i64::from(ctx.opts.watchlist_shadow_ttl_hours) * 3600;
        // Only a shadow that can be used has its items checked: a list longer than a page is
        // read in full anyway, and its shadow rewritten.
        let usable = shadow
            .filter(|s| {
                ctx.opts.watchlist_use_etag
                    && s.etag.is_some()
                    && s.ts <= now
                    && now.saturating_sub(s.ts) < ttl_secs
                    && s.count <= u64::from(limit)
            })
            .and_then(|s| Some((s.etag.clone().unwrap_or_default(), s.count, s.checked_items()?)));
        if let Some((tag, n, items)) = usable {
            match paging::fetch_conditional(ctx.client, FEATURE, PATH, limit, Some(&tag))? {
                Fetched::NotModified { page_count, item_count } => {
                    let whole = match (page_count, item_count) {
                        (Some(pages), Some(count)) => pages <= 1 && count == n,
                        (Some(pages), None) => pages <= 1,
                        (None, Some(count)) => count == n,
                        (None, None) => n < u64::from(limit),
                    };
                    if whole {
                        log::event(Level::Info, FEATURE, "index_cache_hit", &[("etag", tag)]);
                        log::event(
                            Level::Info,
                            FEATURE,
                            "index_done",
                            &[("count", items.len().to_string()), ("source", "shadow".into())],
                        );
                        return Ok(items.into_iter().collect());
                    }
                    log::event(
                        Level::Info,
                        FEATURE,
                        "index_shadow_incomplete",
                        &[
                            ("shadow_count", n.to_string()),
                            ("page_count", page_count.map(|c| c.to_string()).unwrap_or_default()),
                            ("item_count", item_count.map(|c| c.to_string()).unwrap_or_default()),
                        ],
                    );
                }
                Fetched::Full(listing) => return Self::read_listing(listing, ctx, now),
            }
        }
        let listing = paging::fetch_all(ctx.client, FEATURE, PATH, limit)?;
        Self::read_listing(listing, ctx, now)
    }

    fn read_listing(listing: Listing, ctx: &mut Ctx, now: i64) -> Result<Vec<(String, Item)>, AdapterError> {
        let mut entries: Vec<(String, Item)> = Vec::with_capacity(listing.rows.len());
        // Hashed with fixed keys (std's random seed would add a wasi:random import): keys
        // share long prefixes, which a search tree compares again and again.
        let mut seen: HashSet<String, FixedState> =
            HashSet::with_capacity_and_hasher(listing.rows.len(), FixedState::default());
        for (n, raw) in listing.rows.iter().enumerate() {
            let malformed = |why: String| AdapterError::Protocol(format!("{PATH}: row {n} is malformed: {why}"));
            let row = ListRow::read(raw.get()).map_err(malformed)?;
            let (item, key) = match row.keyed_item() {
                Ok(Some((item, key))) => (Item { listed_at: row.text("listed_at").map(str::to_string), ..item }, key),
                Ok(None) => {
                    log::event(
                        Level::Warn,
                        FEATURE,
                        "index_row_skipped",
                        &[("reason", "unsupported_type".into()), ("type", row.kind())],
                    );
                    continue;
                }
                Err(why) => return Err(malformed(why)),
            };
            if !seen.insert(key.clone()) {
                log::event(
                    Level::Warn,
                    FEATURE,
                    "index_reconcile",
                    &[("reason", "key_collision".into()), ("key", key)],
                );
                continue;
            }
            entries.push((key, item));
        }
        let doc = ShadowOut {
            schema: SHADOW_SCHEMA,
            etag: listing.etag.as_deref(),
            ts: now,
            count: listing.rows.len() as u64,
            items: ItemsOut::sorted(entries.iter().map(|(k, it)| (k.as_str(), it))),
        };
        let size = doc.items.size_estimate();
        state::save_or_delete_sized(ctx.state, FEATURE, WATCHLIST_SHADOW, &doc, size);
        log::event(
            Level::Info,
            FEATURE,
            "index_done",
            &[("count", entries.len().to_string()), ("source", "live".into()), ("pages", listing.pages.to_string())],
        );
        Ok(entries)
    }

    /// After a real write: the shadow holds this run's updated index without an etag, or is
    /// deleted when this run has no index it can trust.
    pub(super) fn store_shadow_after_write(&self, ctx: &mut Ctx) {
        match &self.index {
            Some(ix) => {
                let doc = ShadowOut {
                    schema: SHADOW_SCHEMA,
                    etag: None,
                    ts: ctx.client.wall_unix_secs(),
                    count: ix.len() as u64,
                    items: ItemsOut(ix.iter().map(|(k, it)| (k.as_str(), it)).collect()),
                };
                let size = doc.items.size_estimate();
                state::save_or_delete_sized(ctx.state, FEATURE, WATCHLIST_SHADOW, &doc, size);
            }
            None => {
                state::delete(ctx.state, FEATURE, WATCHLIST_SHADOW);
            }
        }
    }
}

/// The shadow of these bytes, read in one pass; a file the fast reading does not take (not
/// JSON, another schema, a field of the wrong type) goes through the old reader, which says
/// why it is not used.
fn parse_shadow(bytes: &[u8]) -> Option<Shadow<'_>> {
    if let Ok(doc) = serde_json::from_slice::<ShadowIn>(bytes) {
        if doc.schema.0 == Some(u64::from(SHADOW_SCHEMA)) {
            let etag = doc.etag.filter(|e| !e.trim().is_empty());
            return Some(Shadow { etag, ts: doc.ts, count: doc.count, items: ShadowItems::Stored(doc.items) });
        }
    }
    let doc: ShadowDoc = state::load_from(FEATURE, WATCHLIST_SHADOW, bytes, SHADOW_SCHEMA)?;
    let items = stored_items(FEATURE, WATCHLIST_SHADOW, doc.items, |_| true)?;
    let etag = doc.etag.filter(|e| !e.trim().is_empty());
    Some(Shadow { etag, ts: doc.ts, count: doc.count, items: ShadowItems::Read(items) })
}
