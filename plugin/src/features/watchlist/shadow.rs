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

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Watchlist, FEATURE, PATH};
use crate::client::paging::{self, Fetched, Listing};
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::features::rows::ListRow;
use crate::features::stored_items;
use crate::features::Ctx;
use crate::log::{self, Level};
use crate::model::json::item_to_json;
use crate::model::{item_key, Item};
use crate::state::{self, WATCHLIST_SHADOW};

pub const SHADOW_SCHEMA: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct ShadowDoc {
    schema: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    ts: i64,
    /// Rows Trakt listed in that read (more than `items` when rows collided on a key or had
    /// an unsupported type): what a 304's `X-Pagination-Item-Count` is compared with.
    count: u64,
    items: BTreeMap<String, Value>,
}

/// A usable shadow: every stored key is the key of its stored item.
struct Shadow {
    etag: Option<String>,
    ts: i64,
    count: u64,
    items: BTreeMap<String, Item>,
}

impl Watchlist {
    /// The complete list: from the shadow when Trakt confirms it, else read live (and the
    /// shadow saved).
    pub(super) fn read(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        let limit = ctx.opts.page_limit.clamp(1, MAX_PAGE_LIMIT);
        let now = ctx.client.wall_unix_secs();
        let shadow = load_shadow(ctx.state);
        let ttl_secs = i64::from(ctx.opts.watchlist_shadow_ttl_hours) * 3600;
        let usable = shadow.as_ref().filter(|s| {
            ctx.opts.watchlist_use_etag
                && s.etag.is_some()
                && s.ts <= now
                && now.saturating_sub(s.ts) < ttl_secs
                && s.count <= u64::from(limit)
        });
        if let Some(s) = usable {
            let tag = s.etag.clone().unwrap_or_default();
            match paging::fetch_conditional(ctx.client, FEATURE, PATH, limit, Some(&tag))? {
                Fetched::NotModified { page_count, item_count } => {
                    let n = s.count;
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
                            &[("count", s.items.len().to_string()), ("source", "shadow".into())],
                        );
                        let items = shadow.map(|s| s.items).unwrap_or_default();
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
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (n, raw) in listing.rows.iter().enumerate() {
            let malformed = |why: String| AdapterError::Protocol(format!("{PATH}: row {n} is malformed: {why}"));
            let row = ListRow::read(raw.get()).map_err(malformed)?;
            let item = match row.item() {
                Ok(Some(item)) => Item { listed_at: row.text("listed_at").map(str::to_string), ..item },
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
            let key = item_key(&item);
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
        let doc = ShadowDoc {
            schema: SHADOW_SCHEMA,
            etag: listing.etag.clone(),
            ts: now,
            count: listing.rows.len() as u64,
            items: entries.iter().map(|(k, it)| (k.clone(), item_to_json(it))).collect(),
        };
        state::save_or_delete(ctx.state, FEATURE, WATCHLIST_SHADOW, &doc);
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
                let doc = ShadowDoc {
                    schema: SHADOW_SCHEMA,
                    etag: None,
                    ts: ctx.client.wall_unix_secs(),
                    count: ix.len() as u64,
                    items: ix.iter().map(|(k, it)| (k.clone(), item_to_json(it))).collect(),
                };
                state::save_or_delete(ctx.state, FEATURE, WATCHLIST_SHADOW, &doc);
            }
            None => {
                state::delete(ctx.state, FEATURE, WATCHLIST_SHADOW);
            }
        }
    }
}

fn load_shadow(store: &mut dyn state::Store) -> Option<Shadow> {
    let doc: ShadowDoc = state::load(store, FEATURE, WATCHLIST_SHADOW, SHADOW_SCHEMA)?;
    let items = stored_items(FEATURE, WATCHLIST_SHADOW, doc.items, |_| true)?;
    Some(Shadow { etag: doc.etag.filter(|e| !e.trim().is_empty()), ts: doc.ts, count: doc.count, items })
}
