//! The watchlist index read and its ETag shadow (`trakt_watchlist.shadow.json`).
//!
//! Schema 2 (`state::text_cache`): the index text of the list, in key order, exactly what
//! `build-index-json` returns, then the trailer line `{"schema": 2, "etag": "\"...\"",
//! "ts": <unix secs of the read>, "count": <rows Trakt listed>, "wm": {...}, "entries":
//! <entries of the text>, "items_bytes", "items_xxh3"}`, written after every complete live read
//! (`etag` = page 1's `ETag`, omitted when Trakt sends none or a blank one; `count` can exceed
//! `entries` when rows collided on a key; `wm`, see below; trailers written before `entries`
//! was kept have none, and then the entries are counted for the log). The next index sends `If-None-Match` on page 1 when
//! `watchlist_use_etag` is on, the shadow has an etag and was read less than
//! `watchlist_shadow_ttl_hours` ago. A 304 reuses the shadow only when page 1 is the whole
//! list: the 304's `X-Pagination-Page-Count` is at most 1 and its `X-Pagination-Item-Count`
//! equals the shadow's `count` (without those headers: the shadow is shorter than a page).
//!
//! A list longer than a page: page 1's ETag does not cover the later pages (trakt-api.md 7),
//! so the shadow also keeps `wm`, the watchlist's timestamps of `/sync/last_activities`
//! (`watchlist.updated_at`, the four `watchlisted_at`, and the two `watched_at`: a play
//! takes its title off the watchlist), read after page 1 and before page 2 of the live read,
//! so every later page is at least as new as they are. The next index reads them first; when
//! each is the same instant, page 1 is asked with `If-None-Match`, and a 304 whose item count
//! is the shadow's reuses it: two requests for any length. A moved or missing timestamp reads
//! the list in full. A cached index asked for as text is the shadow's text, unread.
//!
//! A failed or partial read never touches the shadow. A 304 does not refresh `ts`: the TTL
//! bounds the age of the last full read. Schema 1 (one JSON object `{"schema": 1, "etag",
//! "ts", "count", "items": {key: item}}`) is still read, and rewritten as schema 2 when used.
//!
//! After a real write that changed the list, the shadow holds this run's updated index
//! without an etag (the old page-1 ETag describes the list before the write, so matching it
//! would mean the list is back to that state and the updated items wrong), or is deleted
//! when this run has no index it can trust. Either way the next index reads in full, as it
//! would anyway: the write changed page 1's ETag.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Watchlist, FEATURE, PATH};
use crate::client::paging::{self, PageError, PageRead, Walked};
use crate::client::{Call, Client};
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::features::rows::{ListRow, Row};
use crate::features::stored::{in_key_order, index_json, items_of_text, StoredMap};
use crate::features::{is_session_wide, stored_items, Ctx};
use crate::log::{self, Level};
use crate::model::lenient::Uint;
use crate::model::Item;
use crate::state::text_cache::{self, TRAILER_SPARE};
use crate::state::{self, WATCHLIST_SHADOW};
use crate::time;

pub const SHADOW_SCHEMA: u32 = 2;
/// The one-object form read (and rewritten) once after an upgrade.
const LEGACY_SCHEMA: u32 = 1;
const ACTIVITIES_PATH: &str = "/sync/last_activities";
/// The `last_activities` timestamps that move when the watchlist may have changed.
const WATERMARKS: [(&str, &str); 7] = [
    ("watchlist", "updated_at"),
    ("movies", "watchlisted_at"),
    ("shows", "watchlisted_at"),
    ("seasons", "watchlisted_at"),
    ("episodes", "watchlisted_at"),
    ("movies", "watched_at"),
    ("episodes", "watched_at"),
];

/// `group.key` -> timestamp text, of `WATERMARKS`.
type Wm = BTreeMap<String, String>;

/// A schema-1 shadow as older versions read it (and as this one does when the fast reading
/// of `ShadowIn` does not apply: it then says why the file is not used, as before).
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

/// A schema-1 shadow read in one pass, its items left as text until the shadow is used.
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

/// The trailer of a schema-2 shadow.
#[derive(Serialize, Deserialize)]
struct Meta {
    schema: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    ts: i64,
    count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wm: Option<Wm>,
    /// Entries of the text (fewer than `count` when rows collided), so a cached index logs
    /// its size without counting them in a text of megabytes; older trailers have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entries: Option<u64>,
}

impl text_cache::Schema for Meta {
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// The shadow's items: the index text (schema 2), text of a schema-1 file (checked when the
/// shadow is used), or read by the old reader (already checked).
enum ShadowItems<'a> {
    /// The text and its trailer's `entries`.
    Text(String, Option<u64>),
    Stored(StoredMap<'a>),
    Read(BTreeMap<String, Item>),
}

/// A shadow file that reads as one; its items are checked before use (`checked_items`).
struct Shadow<'a> {
    etag: Option<String>,
    ts: i64,
    count: u64,
    wm: Option<Wm>,
    items: ShadowItems<'a>,
}

impl Shadow<'_> {
    /// The items when every stored key is the key of its stored item (else `None`, logged).
    fn checked_items(self) -> Option<BTreeMap<String, Item>> {
        match self.items {
            ShadowItems::Text(text, _) => items_of_text(&text, FEATURE, WATCHLIST_SHADOW, |_| true),
            ShadowItems::Stored(m) => m.items(FEATURE, WATCHLIST_SHADOW, |_| true),
            ShadowItems::Read(items) => Some(items),
        }
    }
}

/// What `Watchlist::read` found: a live read (its entries in key order and their index
/// text), the shadow's index text (confirmed, asked for as text), or the shadow's items.
pub(super) enum Found {
    Live(Vec<(String, Item)>, String),
    Text(String),
    Items(BTreeMap<String, Item>),
}

impl Watchlist {
    /// The complete list: from the shadow when Trakt confirms it, else read live (and the
    /// shadow saved).
    pub(super) fn read(&mut self, ctx: &mut Ctx, as_text: bool) -> Result<Found, AdapterError> {
        let limit = ctx.opts.page_limit.clamp(1, MAX_PAGE_LIMIT);
        let now = ctx.client.wall_unix_secs();
        let (mut text, mut legacy) = (None, None);
        match text_cache::read_schema::<Meta>(ctx.state, FEATURE, WATCHLIST_SHADOW, SHADOW_SCHEMA) {
            Some(text_cache::Read::Text { text: t, meta }) => text = Some((t, meta)),
            Some(text_cache::Read::Other(bytes)) => legacy = Some(bytes),
            None => {}
        }
        let shadow = match text.take() {
            Some((t, meta)) => shadow_of_text(t, meta),
            None => legacy.as_deref().and_then(parse_legacy),
        };
        let ttl_secs = i64::from(ctx.opts.watchlist_shadow_ttl_hours) * 3600;
        // `Some(wm)` once `last_activities` was read this run.
        let mut read_wm: Option<Option<Wm>> = None;
        let shadow = shadow.filter(|s| {
            ctx.opts.watchlist_use_etag && s.etag.is_some() && s.ts <= now && now.saturating_sub(s.ts) < ttl_secs
        });
        // A schema-1 shadow that can be used has its items checked before it is relied on (a
        // schema-2 text is checked by its hash, and read only when items are asked for).
        let shadow = shadow.and_then(|s| match s.items {
            ShadowItems::Stored(_) if s.count <= u64::from(limit) => {
                let (etag, ts, count) = (s.etag.clone(), s.ts, s.count);
                let items = ShadowItems::Read(s.checked_items()?);
                Some(Shadow { etag, ts, count, wm: None, items })
            }
            _ => Some(s),
        });
        let shadow = match shadow {
            // Longer than a page: only with timestamps, and only when none of them moved.
            Some(s) if s.count > u64::from(limit) => match &s.wm {
                Some(kept) => {
                    let remote = watermarks(ctx.client)?;
                    let same = remote.as_ref().is_some_and(|r| same_watermarks(kept, r));
                    read_wm = Some(remote);
                    if same {
                        Some(s)
                    } else {
                        log::event(Level::Info, FEATURE, "index_cache_stale", &[("reason", "activities".into())]);
                        None
                    }
                }
                None => None,
            },
            other => other,
        };
        if let Some(s) = shadow {
            let (tag, n) = (s.etag.clone().unwrap_or_default(), s.count);
            let mut hook = |c: &mut Client| wm_once(&mut read_wm, c);
            let mut rows = ListedRows::default();
            let mut read = |text: &str| rows.read_page(text);
            match paging::for_each_page_if_changed(ctx.client, FEATURE, PATH, limit, Some(&tag), &mut read, &mut hook)?
            {
                Walked::NotModified { page_count, item_count } => {
                    let whole = match (page_count, item_count) {
                        (_, Some(count)) if s.wm.is_some() && read_wm.is_some() => count == n,
                        (Some(pages), Some(count)) => pages <= 1 && count == n,
                        (Some(pages), None) => pages <= 1,
                        (None, Some(count)) => count == n,
                        (None, None) => n < u64::from(limit),
                    };
                    if whole {
                        if let Some(found) = self.confirmed(ctx, s, &tag, as_text) {
                            return Ok(found);
                        }
                    } else {
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
                }
                Walked::Done { pages, etag } => {
                    return Self::read_listing(rows, pages, etag, ctx, now, read_wm.flatten());
                }
            }
        }
        // With `watchlist_use_etag` off no shadow is ever reused: its timestamps are not read.
        let use_etag = ctx.opts.watchlist_use_etag;
        let mut hook = |c: &mut Client| if use_etag { wm_once(&mut read_wm, c) } else { Ok(()) };
        let mut rows = ListedRows::default();
        let mut read = |text: &str| rows.read_page(text);
        match paging::for_each_page_if_changed(ctx.client, FEATURE, PATH, limit, None, &mut read, &mut hook)? {
            Walked::Done { pages, etag } => Self::read_listing(rows, pages, etag, ctx, now, read_wm.flatten()),
            Walked::NotModified { .. } => Err(AdapterError::Internal(format!("{PATH}: 304 without If-None-Match"))),
        }
    }

    /// A shadow Trakt confirmed: its text when asked for as text (schema 2), else its items
    /// (`None` when they do not read back: the caller reads live). A schema-1 shadow is
    /// rewritten as schema 2 here.
    fn confirmed(&mut self, ctx: &mut Ctx, s: Shadow, tag: &str, as_text: bool) -> Option<Found> {
        log::event(Level::Info, FEATURE, "index_cache_hit", &[("etag", tag.to_string())]);
        let done = |count: usize| {
            log::event(Level::Info, FEATURE, "index_done", &[("count", count.to_string()), ("source", "shadow".into())])
        };
        let legacy = !matches!(s.items, ShadowItems::Text(..));
        let mut meta = Meta {
            schema: SHADOW_SCHEMA,
            etag: s.etag.clone(),
            ts: s.ts,
            count: s.count,
            wm: s.wm.clone(),
            entries: None,
        };
        if as_text {
            if let ShadowItems::Text(text, entries) = s.items {
                done(entries.and_then(|n| usize::try_from(n).ok()).unwrap_or_else(|| text_count(&text)));
                return Some(Found::Text(text));
            }
        }
        let items = s.checked_items()?;
        done(items.len());
        meta.entries = Some(items.len() as u64);
        if legacy {
            log::event(
                Level::Info,
                FEATURE,
                "state_migrated",
                &[("file", WATCHLIST_SHADOW.into()), ("schema", SHADOW_SCHEMA.to_string())],
            );
            let _ = save_shadow(ctx, items.iter().map(|(k, it)| (k.as_str(), it)), &meta);
        }
        Some(Found::Items(items))
    }

    /// The index of a listing read whole (`rows`, `pages`, page 1's `etag`), saved as the
    /// shadow.
    fn read_listing(
        rows: ListedRows,
        pages: u32,
        etag: Option<String>,
        ctx: &mut Ctx,
        now: i64,
        wm: Option<Wm>,
    ) -> Result<Found, AdapterError> {
        let ListedRows { mut entries, count } = rows;
        // In key order, as the shadow holds it: a live read and a 304 give the same entries
        // and text. Of rows that share a key the first is kept.
        in_key_order(&mut entries, FEATURE, |_, _| false);
        let meta =
            Meta { schema: SHADOW_SCHEMA, count: count as u64, etag, ts: now, wm, entries: Some(entries.len() as u64) };
        let text = save_shadow(ctx, entries.iter().map(|(k, it)| (k.as_str(), it)), &meta)?;
        log::event(
            Level::Info,
            FEATURE,
            "index_done",
            &[("count", entries.len().to_string()), ("source", "live".into()), ("pages", pages.to_string())],
        );
        Ok(Found::Live(entries, text))
    }

    /// After a real write: the shadow holds this run's updated index without an etag, or is
    /// deleted when this run has no index it can trust.
    pub(super) fn store_shadow_after_write(&self, ctx: &mut Ctx) {
        match &self.index {
            Some(ix) => {
                let meta = Meta {
                    schema: SHADOW_SCHEMA,
                    etag: None,
                    ts: ctx.client.wall_unix_secs(),
                    count: ix.len() as u64,
                    wm: None,
                    entries: Some(ix.len() as u64),
                };
                if save_shadow(ctx, ix.iter().map(|(k, it)| (k.as_str(), it)), &meta).is_err() {
                    state::delete(ctx.state, FEATURE, WATCHLIST_SHADOW);
                }
            }
            None => {
                state::delete(ctx.state, FEATURE, WATCHLIST_SHADOW);
            }
        }
    }
}

/// Save the shadow (the index text of `items`, given in key order, and its trailer) and
/// return the text; a failed write deletes the file.
fn save_shadow<'a>(
    ctx: &mut Ctx,
    items: impl ExactSizeIterator<Item = (&'a str, &'a Item)> + Clone,
    meta: &Meta,
) -> Result<String, AdapterError> {
    let mut text = index_json(items, TRAILER_SPARE)?;
    text_cache::write(ctx.state, FEATURE, WATCHLIST_SHADOW, &mut text, meta);
    Ok(text)
}

/// Entries of an index text (its first-level keys), for the log of a shadow saved before
/// its trailer said.
fn text_count(text: &str) -> usize {
    // Each entry starts a line at the first level of indentation: `\n  "`.
    text.matches("\n  \"").count()
}

/// Read the watchlist's `last_activities` timestamps into `slot` unless this run did.
fn wm_once(slot: &mut Option<Option<Wm>>, client: &mut Client) -> Result<(), AdapterError> {
    if slot.is_none() {
        *slot = Some(watermarks(client)?);
    }
    Ok(())
}

/// The `WATERMARKS` of `/sync/last_activities`; `None` when unreadable or when any is
/// missing (the shadow of a long list is then never reused). A session-wide failure fails
/// the index.
fn watermarks(client: &mut Client) -> Result<Option<Wm>, AdapterError> {
    let resp = match client.execute(&Call::get(ACTIVITIES_PATH)) {
        Ok(r) => r,
        Err(e) if is_session_wide(&e) => return Err(e),
        Err(e) => {
            log::event(Level::Warn, FEATURE, "activities_unavailable", &[("error", e.to_string())]);
            return Ok(None);
        }
    };
    let v: Value = crate::model::json::from_bytes(&resp.body).unwrap_or(Value::Null);
    let mut wm = Wm::new();
    for (group, key) in WATERMARKS {
        match v.get(group).and_then(|g| g.get(key)).and_then(Value::as_str) {
            Some(t) if time::parse_secs(t).is_some() => {
                wm.insert(format!("{group}.{key}"), t.to_string());
            }
            _ => {
                log::event(
                    Level::Warn,
                    FEATURE,
                    "activities_unavailable",
                    &[("error", format!("no {group}.{key} timestamp"))],
                );
                return Ok(None);
            }
        }
    }
    Ok(Some(wm))
}

/// Whether two sets of timestamps name the same instants.
fn same_watermarks(kept: &Wm, remote: &Wm) -> bool {
    kept.len() == remote.len()
        && kept.iter().zip(remote).all(|((k1, v1), (k2, v2))| k1 == k2 && time::same_instant(v1, v2))
}

/// A schema-2 shadow (its text checked by length and hash by `text_cache::read`).
fn shadow_of_text(text: String, meta: Meta) -> Option<Shadow<'static>> {
    let etag = meta.etag.filter(|e| !e.trim().is_empty());
    let items = ShadowItems::Text(text, meta.entries);
    Some(Shadow { etag, ts: meta.ts, count: meta.count, wm: meta.wm, items })
}

/// A schema-1 shadow of these bytes, read in one pass; a file the fast reading does not take
/// (not JSON, another schema, a field of the wrong type) goes through the old reader, which
/// says why it is not used.
fn parse_legacy(bytes: &[u8]) -> Option<Shadow<'_>> {
    if let Ok(doc) = crate::model::json::from_bytes::<ShadowIn>(bytes) {
        if doc.schema.0 == Some(u64::from(LEGACY_SCHEMA)) {
            let etag = doc.etag.filter(|e| !e.trim().is_empty());
            let items = ShadowItems::Stored(doc.items);
            return Some(Shadow { etag, ts: doc.ts, count: doc.count, wm: None, items });
        }
    }
    let doc: ShadowDoc = state::load_from(FEATURE, WATCHLIST_SHADOW, bytes, LEGACY_SCHEMA)?;
    let items = stored_items(FEATURE, WATCHLIST_SHADOW, doc.items, |_| true)?;
    let etag = doc.etag.filter(|e| !e.trim().is_empty());
    Some(Shadow { etag, ts: doc.ts, count: doc.count, wm: None, items: ShadowItems::Read(items) })
}

/// A watchlist listing as its walk reads it: the index entries of its rows, in Trakt's
/// order, and how many rows there were (skipped ones too).
#[derive(Default)]
struct ListedRows {
    entries: Vec<(String, Item)>,
    count: usize,
}

impl ListedRows {
    /// Read a page's rows (`paging::read_rows`: one pass over the text).
    fn read_page(&mut self, text: &str) -> Result<PageRead, PageError> {
        paging::read_rows::<Row>(text, &mut |_, raw, typed| {
            let n = self.count;
            self.count += 1;
            let malformed = |why: String| AdapterError::Protocol(format!("{PATH}: row {n} is malformed: {why}"));
            let row = ListRow::of(raw, typed).map_err(malformed)?;
            match row.keyed_item() {
                Ok(Some((item, key))) => {
                    self.entries.push((key, Item { listed_at: row.text("listed_at").map(str::to_string), ..item }))
                }
                Ok(None) => row.log_unsupported(FEATURE),
                Err(why) => return Err(malformed(why)),
            }
            Ok(())
        })
    }
}
