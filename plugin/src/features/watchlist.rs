//! The Trakt watchlist: index (`GET /sync/watchlist`, paged, ETag shadow) and add/remove
//! (`POST /sync/watchlist[/remove]`) with a capacity pre-check; reference crosswatch.md 3.2
//! and trakt-api.md 3.2, 3.3, 3.10, 7.
//!
//! ## Shadow (`trakt_watchlist.shadow.json`)
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
//!
//! ## Capacity (add)
//!
//! The limit is `watchlist_limit`, else `GET /users/settings` `limits.watchlist.item_count`,
//! else 250 when the user is not VIP (`user.vip`, `vip_og`, `vip_ep` all false or missing),
//! else none. With a limit the current count is the complete index (this run's, or built now:
//! one conditional GET when the shadow is current). Items already on the list are `skipped`
//! without being sent and use no capacity; of the rest, those beyond the free room are
//! unresolved `trakt_limit` and not sent. If `/users/settings` fails with a non-session error
//! there is no pre-check and a 420 still stops the writes.
//!
//! ## Remove
//!
//! Everything accepted is sent (so items Trakt does not know come back `not_found`). A real
//! remove first makes sure this run has the index (one conditional GET when the shadow is
//! current): Trakt counts only what it deleted, and the index tells which of the others
//! were not listed (`skipped`).
//!
//! ## Hints
//!
//! Acceptance (`payload::target_for`): `missing ids`, `missing scope`, `unsupported type`;
//! `invalid extra` (`extra` is not the text of a JSON object); `not_found`; `trakt_limit`;
//! and the chunk-level ones of `features::send_chunks`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::presence::Presence;
use super::rows::{row_to_item, row_type};
use super::{finish, is_session_wide, mark_not_found, send_chunks, unresolved, Ctx, Op, Outcome, WriteReport};
use crate::client::paging::{self, Fetched, Listing};
use crate::client::Call;
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::json::{item_from_json, item_to_json};
use crate::model::{item_key, Hint, Item};
use crate::payload::{self, Body, Entry, Group};
use crate::state::{self, WATCHLIST_SHADOW, WATCHLIST_UNRESOLVED};
use crate::time;

const FEATURE: &str = "watchlist";
const PATH: &str = "/sync/watchlist";
const REMOVE_PATH: &str = "/sync/watchlist/remove";
const SETTINGS_PATH: &str = "/users/settings";
/// Trakt's 2026 watchlist limit of a free account, used when `/users/settings` names none.
pub const FREE_LIMIT: u64 = 250;
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

/// How many items the watchlist may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Items(u64),
    Unlimited,
    /// `/users/settings` could not be read: no pre-check.
    Unknown,
}

#[derive(Default)]
pub struct Watchlist {
    /// This run's complete index (key -> item), kept current after real writes; `None` when
    /// not read yet or when a write's outcome is unknown.
    index: Option<BTreeMap<String, Item>>,
    /// The limit from `/users/settings`, read at most once per run.
    settings: Option<Limit>,
}

impl Watchlist {
    /// Forget this run's index (another feature's write may have changed the list).
    pub fn forget_index(&mut self) {
        self.index = None;
    }

    pub fn build_index(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        let entries = self.read(ctx)?;
        self.index = Some(entries.iter().cloned().collect());
        Ok(entries)
    }

    /// The complete list: from the shadow when Trakt confirms it, else read live (and the
    /// shadow saved).
    fn read(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
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
                        log::event(Level::Info, FEATURE, "index_done", &[
                            ("count", s.items.len().to_string()),
                            ("source", "shadow".into()),
                        ]);
                        let items = shadow.map(|s| s.items).unwrap_or_default();
                        return Ok(items.into_iter().collect());
                    }
                    log::event(Level::Info, FEATURE, "index_shadow_incomplete", &[
                        ("shadow_count", n.to_string()),
                        ("page_count", page_count.map(|c| c.to_string()).unwrap_or_default()),
                        ("item_count", item_count.map(|c| c.to_string()).unwrap_or_default()),
                    ]);
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
        for (n, row) in listing.rows.iter().enumerate() {
            let item = match row_to_item(row) {
                Ok(Some(item)) => Item { listed_at: row.get("listed_at").and_then(Value::as_str).map(str::to_string), ..item },
                Ok(None) => {
                    log::event(Level::Warn, FEATURE, "index_row_skipped", &[
                        ("reason", "unsupported_type".into()),
                        ("type", row_type(row)),
                    ]);
                    continue;
                }
                Err(why) => {
                    return Err(AdapterError::Protocol(format!("{PATH}: row {n} is malformed: {why}")));
                }
            };
            let key = item_key(&item);
            if !seen.insert(key.clone()) {
                log::event(Level::Warn, FEATURE, "index_reconcile", &[
                    ("reason", "key_collision".into()),
                    ("key", key),
                ]);
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
        log::event(Level::Info, FEATURE, "index_done", &[
            ("count", entries.len().to_string()),
            ("source", "live".into()),
            ("pages", listing.pages.to_string()),
        ]);
        Ok(entries)
    }

    pub fn write(&mut self, op: Op, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        let keys: Vec<String> = items.iter().map(item_key).collect();
        let mut outcome: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut accepted: Vec<Entry> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if !item.extra_is_valid() {
                outcome[i] = Some(Outcome::Unresolved(Hint::InvalidExtra));
                continue;
            }
            match payload::target_for(item) {
                Ok(t) => accepted.push(Entry::bare(i, t)),
                Err(hint) => outcome[i] = Some(Outcome::Unresolved(hint)),
            }
        }
        if op == Op::Add && !accepted.is_empty() {
            accepted = self.plan_add(accepted, items, &keys, &mut outcome, ctx)?;
        }
        if op == Op::Remove && !dry_run && !accepted.is_empty() && self.index.is_none() {
            // Trakt counts only what it deleted: the index tells which of the rest were not
            // listed (skipped). Everything is still sent, so unknown items come back not_found.
            self.build_index(ctx)?;
        }

        let path = match op {
            Op::Add => PATH,
            Op::Remove => REMOVE_PATH,
        };
        let presence = self.index.as_ref().map(Presence::new);
        let mut list_count: Option<u64> = None;
        let mut planned = Vec::new();
        let sent = send_chunks(
            ctx.client,
            FEATURE,
            op,
            path,
            &accepted,
            ctx.opts.watchlist_batch_size,
            dry_run,
            &mut outcome,
            &mut planned,
            |resp, body, inputs, outcome| {
                if let Some(n) = resp.pointer("/list/item_count").and_then(Value::as_u64) {
                    list_count = Some(n);
                }
                account(op, resp, body, inputs, items, &keys, presence.as_ref(), outcome);
            },
        )?;
        if !dry_run {
            self.after_write(op, items, &keys, &outcome, sent.ambiguous, list_count, ctx);
            let now = time::format_utc(ctx.client.wall_unix_secs());
            unresolved::update(ctx.state, FEATURE, WATCHLIST_UNRESOLVED, op, &now, items, &keys, &outcome);
        }
        Ok(finish(FEATURE, op, items, &keys, outcome, planned, dry_run))
    }

    /// Capacity pre-check of an add: returns the entries to send.
    fn plan_add(
        &mut self,
        accepted: Vec<Entry>,
        items: &[Item],
        keys: &[String],
        outcome: &mut [Option<Outcome>],
        ctx: &mut Ctx,
    ) -> Result<Vec<Entry>, AdapterError> {
        let limit = self.limit(ctx)?;
        if matches!(limit, Limit::Items(_)) && self.index.is_none() {
            self.build_index(ctx)?;
        }
        let presence = self.index.as_ref().map(Presence::new);
        let count = self.index.as_ref().map_or(0, |ix| ix.len() as u64);
        let mut room = match limit {
            Limit::Items(n) => Some(n.saturating_sub(count)),
            Limit::Unlimited | Limit::Unknown => None,
        };
        let mut scheduled: BTreeSet<&str> = BTreeSet::new();
        let mut send = Vec::with_capacity(accepted.len());
        let (mut present, mut over) = (0usize, 0usize);
        for e in accepted {
            let i = e.input;
            if presence.as_ref().is_some_and(|p| p.find(&items[i], &keys[i]).is_some()) {
                outcome[i] = Some(Outcome::Skipped);
                present += 1;
                continue;
            }
            if let Some(r) = room.as_mut() {
                if !scheduled.contains(keys[i].as_str()) {
                    if *r == 0 {
                        outcome[i] = Some(Outcome::Unresolved(Hint::TraktLimit));
                        over += 1;
                        continue;
                    }
                    *r -= 1;
                    scheduled.insert(keys[i].as_str());
                }
            }
            send.push(e);
        }
        let limit_text = match limit {
            Limit::Items(n) => n.to_string(),
            Limit::Unlimited => "none".into(),
            Limit::Unknown => "unknown".into(),
        };
        log::event(if over > 0 { Level::Warn } else { Level::Debug }, FEATURE, "capacity", &[
            ("limit", limit_text),
            ("count", if self.index.is_some() { count.to_string() } else { "unknown".into() }),
            ("present", present.to_string()),
            ("to_send", send.len().to_string()),
            ("over_limit", over.to_string()),
        ]);
        Ok(send)
    }

    fn limit(&mut self, ctx: &mut Ctx) -> Result<Limit, AdapterError> {
        if let Some(n) = ctx.opts.watchlist_limit {
            return Ok(Limit::Items(u64::from(n)));
        }
        if let Some(l) = self.settings {
            return Ok(l);
        }
        match ctx.client.execute(&Call::get(SETTINGS_PATH)) {
            Ok(resp) => {
                let l = limit_from_settings(&resp.body);
                self.settings = Some(l);
                Ok(l)
            }
            Err(e) if is_session_wide(&e) => Err(e),
            Err(e) => {
                log::event(Level::Warn, FEATURE, "limits_unknown", &[("error", e.to_string())]);
                Ok(Limit::Unknown)
            }
        }
    }

    /// Keep this run's index and the shadow right after a real write.
    #[allow(clippy::too_many_arguments)]
    fn after_write(
        &mut self,
        op: Op,
        items: &[Item],
        keys: &[String],
        outcome: &[Option<Outcome>],
        ambiguous: bool,
        list_count: Option<u64>,
        ctx: &mut Ctx,
    ) {
        let changed = outcome.iter().any(|o| matches!(o, Some(Outcome::Confirmed)));
        if !changed && !ambiguous {
            return;
        }
        if ambiguous {
            self.index = None;
        }
        if let Some(ix) = self.index.as_mut() {
            let presence = Presence::new(&*ix);
            let mut inserts = Vec::new();
            let mut removals = Vec::new();
            for (i, o) in outcome.iter().enumerate() {
                if !matches!(o, Some(Outcome::Confirmed | Outcome::Skipped)) {
                    continue;
                }
                let found = presence.find(&items[i], &keys[i]).map(str::to_string);
                match (op, found) {
                    (Op::Add, None) => inserts.push((keys[i].clone(), items[i].minimal())),
                    (Op::Remove, Some(k)) => removals.push(k),
                    _ => {}
                }
            }
            for (k, it) in inserts {
                ix.entry(k).or_insert(it);
            }
            for k in removals {
                ix.remove(&k);
            }
            if let Some(n) = list_count {
                if n != ix.len() as u64 {
                    log::event(Level::Warn, FEATURE, "index_drift", &[
                        ("trakt_count", n.to_string()),
                        ("index_count", ix.len().to_string()),
                    ]);
                    self.index = None;
                }
            }
        }
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
    let mut items = BTreeMap::new();
    for (key, v) in doc.items {
        match item_from_json(&v) {
            Some(item) if item_key(&item) == key => {
                items.insert(key, item);
            }
            _ => {
                log::event(Level::Warn, FEATURE, "state_ignored", &[
                    ("file", WATCHLIST_SHADOW.into()),
                    ("reason", "bad_item".into()),
                    ("detail", key),
                ]);
                return None;
            }
        }
    }
    Some(Shadow { etag: doc.etag.filter(|e| !e.trim().is_empty()), ts: doc.ts, count: doc.count, items })
}

/// The watchlist limit a `/users/settings` answer implies.
fn limit_from_settings(body: &[u8]) -> Limit {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        log::event(Level::Warn, FEATURE, "limits_unknown", &[("error", "unreadable /users/settings".into())]);
        return Limit::Unknown;
    };
    if let Some(n) = v.pointer("/limits/watchlist/item_count").and_then(Value::as_u64) {
        return Limit::Items(n);
    }
    let vip = ["vip", "vip_og", "vip_ep"]
        .iter()
        .any(|k| v.get("user").and_then(|u| u.get(*k)).and_then(Value::as_bool) == Some(true));
    if vip { Limit::Unlimited } else { Limit::Items(FREE_LIMIT) }
}

/// Decide each item of a chunk from Trakt's answer.
///
/// `not_found` entries are matched back to their items. Then per group: add counts
/// `added` / `existing` (no existing: all confirmed; nothing added: all skipped; mixed:
/// items already in this run's index are skipped, the rest confirmed, or all confirmed
/// without an index); remove counts `deleted` (nothing deleted: all skipped as already
/// gone; all deleted: confirmed; mixed: items in the index confirmed, the rest skipped, or
/// all confirmed without an index: either way they are gone now).
#[allow(clippy::too_many_arguments)]
fn account(
    op: Op,
    resp: &Value,
    body: &Body,
    inputs: &[usize],
    items: &[Item],
    keys: &[String],
    presence: Option<&Presence>,
    outcome: &mut [Option<Outcome>],
) {
    mark_not_found(FEATURE, resp, body, inputs, outcome);
    let (done, other) = match op {
        Op::Add => (payload::counts(resp, "added"), payload::counts(resp, "existing")),
        Op::Remove => {
            let deleted = if resp.get("deleted").is_some() { "deleted" } else { "removed" };
            (payload::counts(resp, deleted), [0; 4])
        }
    };
    for (g, group) in Group::ALL.iter().enumerate() {
        let members: Vec<usize> = inputs
            .iter()
            .copied()
            .filter(|i| outcome[*i].is_none() && Group::of(&items[*i].kind()) == Some(*group))
            .collect();
        if members.is_empty() {
            continue;
        }
        for i in members.iter().copied() {
            let in_index = presence.map(|p| p.find(&items[i], &keys[i]).is_some());
            outcome[i] = Some(match op {
                Op::Add if other[g] == 0 => Outcome::Confirmed,
                Op::Add if done[g] == 0 => Outcome::Skipped,
                Op::Add => match in_index {
                    Some(true) => Outcome::Skipped,
                    _ => Outcome::Confirmed,
                },
                Op::Remove if done[g] == 0 => Outcome::Skipped,
                Op::Remove if done[g] as usize >= members.len() => Outcome::Confirmed,
                Op::Remove => match in_index {
                    Some(false) => Outcome::Skipped,
                    _ => Outcome::Confirmed,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::{Method, Request, Response, TransportError};
    use crate::config::Options;
    use crate::features::PlannedRequest;
    use crate::log::take_lines;
    use crate::testkit::{header_of, paged, resp, route_of, Env, Fakes};
    use serde_json::json;
    use std::cell::RefCell;
    use std::rc::Rc;

    type Post = Box<dyn FnMut(&Request) -> Result<Response, TransportError>>;

    struct RemoteState {
        rows: Vec<Value>,
        etag: Option<String>,
        settings: Value,
        /// Page number answered 500.
        fail_page: Option<u64>,
        post: Post,
    }

    /// A fake Trakt: the watchlist (paged, ETag/304), `/users/settings`, and POSTs answered
    /// by a closure.
    #[derive(Clone)]
    struct Remote(Rc<RefCell<RemoteState>>);

    impl Remote {
        fn new(rows: Value, post: impl FnMut(&Request) -> Result<Response, TransportError> + 'static) -> Remote {
            Remote(Rc::new(RefCell::new(RemoteState {
                rows: rows.as_array().cloned().unwrap_or_default(),
                etag: Some("\"v1\"".into()),
                settings: json!({"user": {"vip": true}}),
                fail_page: None,
                post: Box::new(post),
            })))
        }
        fn fakes(&self) -> Fakes {
            let r = self.clone();
            Fakes::new(move |req| {
                let mut s = r.0.borrow_mut();
                match (req.method, route_of(&req.url).as_str()) {
                    (Method::Get, "/sync/watchlist") => {
                        let page = crate::testkit::query_param(&req.url, "page").and_then(|p| p.parse().ok());
                        if page.is_some() && page == s.fail_page {
                            return Ok(resp(500, &[], "boom"));
                        }
                        Ok(paged(req, &s.rows, s.etag.as_deref()))
                    }
                    (Method::Get, "/users/settings") => Ok(resp(200, &[], &s.settings.to_string())),
                    (Method::Post, _) => (s.post)(req),
                    _ => panic!("unexpected {}", req.url),
                }
            })
        }
        fn env(&self, opts: Options) -> Env {
            Env::new(self.fakes(), opts)
        }
        fn set_rows(&self, rows: Value) {
            self.0.borrow_mut().rows = rows.as_array().cloned().unwrap();
        }
        fn set(&self, f: impl FnOnce(&mut RemoteState)) {
            f(&mut self.0.borrow_mut());
        }
    }

    fn no_posts(req: &Request) -> Result<Response, TransportError> {
        panic!("no writes expected, got {}", req.url)
    }

    fn item(kind: &str, ids: &[(&str, &str)]) -> Item {
        Item {
            kind: kind.into(),
            ids: ids.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Item::default()
        }
    }

    fn movie(tmdb: u32) -> Item {
        item("movie", &[("tmdb", &tmdb.to_string())])
    }

    fn movie_row(tmdb: u32) -> Value {
        json!({"type": "movie", "listed_at": "2026-04-01T00:00:00.000Z",
               "movie": {"title": format!("M{tmdb}"), "year": 2000, "ids": {"trakt": tmdb + 1000, "tmdb": tmdb}}})
    }

    fn movie_rows(from: u32, n: u32) -> Value {
        Value::Array((from..from + n).map(movie_row).collect())
    }

    fn sample_rows() -> Value {
        json!([
            {"rank": 1, "id": 101, "listed_at": "2026-04-01T09:10:00.000Z", "type": "movie",
             "movie": {"title": "Batman Begins", "year": 2005,
                       "ids": {"trakt": 1, "slug": "batman-begins-2005", "imdb": "tt0372784", "tmdb": 272}}},
            {"rank": 2, "id": 102, "listed_at": "2026-04-02T10:00:00.000Z", "type": "show",
             "show": {"title": "Breaking Bad", "year": 2008,
                      "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396,
                              "plex": {"guid": "x", "slug": "y"}}}},
            {"rank": 3, "id": 103, "listed_at": "2026-04-03T11:00:00.000Z", "type": "season",
             "season": {"number": 3, "ids": {"trakt": 3958, "tvdb": 171641, "tmdb": 3626}},
             "show": {"title": "The Walking Dead", "year": 2010,
                      "ids": {"trakt": 2, "slug": "the-walking-dead", "tvdb": 153021, "imdb": "tt1520211", "tmdb": 1402}}},
            {"rank": 4, "id": 104, "listed_at": "2026-04-04T12:00:00.000Z", "type": "episode",
             "episode": {"season": 4, "number": 1, "title": null,
                         "ids": {"trakt": 49, "tvdb": 2639411, "imdb": "tt1683084", "tmdb": 62118}},
             "show": {"title": "Breaking Bad", "year": 2008,
                      "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396}}},
            {"rank": 5, "id": 105, "listed_at": "2026-04-05T12:00:00.000Z", "type": "movie",
             "movie": {"title": "Batman Begins (dup)", "year": 2005, "ids": {"trakt": 7, "tmdb": 272}}}
        ])
    }

    fn keys_of(entries: &[(String, Item)]) -> Vec<&str> {
        entries.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn unresolved(r: &WriteReport) -> Vec<(&str, Hint)> {
        r.unresolved.iter().map(|u| (u.key.as_str(), u.hint)).collect()
    }

    fn created(added: u64, existing: u64) -> Result<Response, TransportError> {
        Ok(resp(201, &[], &json!({"added": {"movies": added}, "existing": {"movies": existing}, "not_found": {}}).to_string()))
    }

    /// Fake wall clock at the start of a test: 1_700_000_000 + 1_000_000 ms.
    const T0: i64 = 1_700_001_000;

    #[test]
    fn index_maps_rows_keeps_first_of_a_collision_and_saves_the_shadow() {
        let remote = Remote::new(sample_rows(), no_posts);
        let mut env = remote.env(Options::default());
        let mut w = Watchlist::default();
        take_lines();
        let entries = w.build_index(&mut env.ctx()).unwrap();
        assert_eq!(keys_of(&entries), vec!["tmdb:272", "tmdb:1396#show", "tmdb:1402#season:3", "tmdb:1396#s04e01"]);

        let movie = &entries[0].1;
        assert_eq!(movie.kind, "movie");
        assert_eq!(movie.title.as_deref(), Some("Batman Begins"));
        assert_eq!(movie.year, Some(2005));
        assert_eq!(movie.listed_at.as_deref(), Some("2026-04-01T09:10:00.000Z"));
        let raw = |p: &[(&str, &str)]| -> Vec<(String, String)> { p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        assert_eq!(movie.ids, raw(&[("tmdb", "272"), ("imdb", "tt0372784"), ("trakt", "1"), ("slug", "batman-begins-2005")]));
        assert!(entries[1].1.ids.iter().all(|(k, _)| k != "plex"), "non-scalar plex id dropped");
        let season = &entries[2].1;
        assert_eq!((season.kind.as_str(), season.season), ("season", Some(3)));
        assert_eq!(season.title.as_deref(), Some("The Walking Dead"));
        assert_eq!(season.series_title.as_deref(), Some("The Walking Dead"));
        assert_eq!(season.ids, raw(&[("tmdb", "3626"), ("tvdb", "171641"), ("trakt", "3958")]));
        assert_eq!(season.show_ids[0], ("tmdb".to_string(), "1402".to_string()));
        let ep = &entries[3].1;
        assert_eq!((ep.season, ep.episode), (Some(4), Some(1)));
        assert_eq!(ep.title.as_deref(), Some("Breaking Bad"), "null episode title falls back to the show's");

        let lines = take_lines();
        assert!(lines.iter().any(|l| l.contains("WARN index_reconcile reason=key_collision key=tmdb:272")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("INFO index_done count=4 source=live pages=1")), "{lines:?}");

        let shadow = env.mem.json(WATCHLIST_SHADOW).unwrap();
        assert_eq!(shadow["schema"], 1);
        assert_eq!(shadow["etag"], "\"v1\"");
        assert_eq!((shadow["ts"].as_i64(), shadow["count"].as_u64()), (Some(T0), Some(5)));
        assert_eq!(shadow["items"].as_object().unwrap().keys().collect::<Vec<_>>(),
                   vec!["tmdb:1396#s04e01", "tmdb:1396#show", "tmdb:1402#season:3", "tmdb:272"]);
        assert_eq!(shadow["items"]["tmdb:272"], json!({
            "type": "movie", "title": "Batman Begins", "year": 2005,
            "ids": {"tmdb": "272", "imdb": "tt0372784", "trakt": "1", "slug": "batman-begins-2005"},
            "listed_at": "2026-04-01T09:10:00.000Z"
        }));
    }

    #[test]
    fn no_etag_from_trakt_means_no_etag_key() {
        let remote = Remote::new(movie_rows(1, 2), no_posts);
        remote.set(|s| s.etag = None);
        let mut env = remote.env(Options::default());
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        let shadow = env.mem.json(WATCHLIST_SHADOW).unwrap();
        // Sorted: serde_json keeps insertion order when another workspace member enables
        // its `preserve_order` feature.
        let mut keys: Vec<_> = shadow.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["count", "items", "schema", "ts"]);
        // A blank ETag is no ETag either.
        remote.set(|s| s.etag = Some("  ".into()));
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert!(env.mem.json(WATCHLIST_SHADOW).unwrap().get("etag").is_none());
        // ... and the next index sends no If-None-Match.
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert!(env.fakes.requests().iter().all(|r| header_of(r, "if-none-match").is_none()));
    }

    #[test]
    fn a_304_with_a_complete_shadow_transfers_no_rows() {
        let remote = Remote::new(sample_rows(), no_posts);
        let mut env = remote.env(Options::default());
        let first = Watchlist::default().build_index(&mut env.ctx()).unwrap();
        let saved = env.mem.text(WATCHLIST_SHADOW).unwrap();
        env.fakes.advance(3_600_000);
        take_lines();

        let mut w = Watchlist::default();
        let mut again = w.build_index(&mut env.ctx()).unwrap();
        let mut first_sorted = first.clone();
        first_sorted.sort_by(|a, b| a.0.cmp(&b.0));
        again.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(again, first_sorted, "the shadow's items, listed_at included");
        let reqs = env.fakes.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(header_of(&reqs[1], "if-none-match"), Some("\"v1\""));
        assert_eq!(env.sent()[1], "GET /sync/watchlist?page=1&limit=250");
        let ledger = env.ctx().client.ledger_entries();
        let last = ledger.last().unwrap();
        assert_eq!((last.status, last.bytes_received), (304, 0), "zero item rows transferred");
        assert_eq!(env.mem.text(WATCHLIST_SHADOW).unwrap(), saved, "a 304 leaves the shadow as it was");
        let lines = take_lines();
        assert!(lines.iter().any(|l| l.contains("INFO index_cache_hit etag=\"v1\"")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("INFO index_done count=4 source=shadow")), "{lines:?}");
        assert_eq!(w.index.as_ref().unwrap().len(), 4, "the shadow becomes this run's index");
    }

    #[test]
    fn a_304_for_a_shadow_that_is_not_the_whole_list_reads_in_full() {
        // Page 1 unchanged (same ETag) but the list holds more than the shadow: item count.
        let remote = Remote::new(movie_rows(1, 2), no_posts);
        let mut env = remote.env(Options::default());
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        remote.set_rows(movie_rows(1, 3));
        let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(keys_of(&entries), vec!["tmdb:1", "tmdb:2", "tmdb:3"]);
        let reqs = env.fakes.requests();
        assert_eq!(reqs.iter().map(|r| header_of(r, "if-none-match")).collect::<Vec<_>>(), vec![None, Some("\"v1\""), None]);
        assert_eq!(env.mem.json(WATCHLIST_SHADOW).unwrap()["items"].as_object().unwrap().len(), 3, "shadow refreshed");

        // The list spans two pages: a 304 on page 1 says nothing about page 2.
        let opts = Options { page_limit: 2, ..Options::default() };
        let remote = Remote::new(movie_rows(1, 2), no_posts);
        let mut env = remote.env(opts);
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        remote.set_rows(movie_rows(1, 3));
        // The same page 1 and item count as the shadow knows would be a hit; page count 2 is not.
        remote.set(|s| s.etag = Some("\"v1\"".into()));
        let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(env.sent(), vec![
            "GET /sync/watchlist?page=1&limit=2",
            "GET /sync/watchlist?page=1&limit=2",
            "GET /sync/watchlist?page=1&limit=2",
            "GET /sync/watchlist?page=2&limit=2",
        ]);
        // A shadow longer than a page is never revalidated: no pointless conditional GET.
        let before = env.fakes.requests().len();
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        let reqs = env.fakes.requests();
        assert_eq!(reqs.len() - before, 2);
        assert!(reqs[before..].iter().all(|r| header_of(r, "if-none-match").is_none()));
    }

    #[test]
    fn a_failed_page_two_leaves_the_shadow_untouched() {
        let opts = Options { page_limit: 2, max_retries: 2, ..Options::default() };
        let remote = Remote::new(movie_rows(1, 2), no_posts);
        let mut env = remote.env(opts);
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        let saved = env.mem.text(WATCHLIST_SHADOW).unwrap();
        remote.set_rows(movie_rows(1, 3));
        remote.set(|s| {
            s.etag = Some("\"v2\"".into());
            s.fail_page = Some(2);
        });
        let mut w = Watchlist::default();
        let err = w.build_index(&mut env.ctx()).unwrap_err();
        assert!(matches!(err, AdapterError::Http { status: 500, .. }), "{err:?}");
        assert_eq!(env.mem.text(WATCHLIST_SHADOW).unwrap(), saved);
        assert!(w.index.is_none());
    }

    #[test]
    fn shadow_ttl_switch_and_corruption() {
        // Older than the TTL: no If-None-Match.
        let remote = Remote::new(movie_rows(1, 2), no_posts);
        let mut env = remote.env(Options { watchlist_shadow_ttl_hours: 1, ..Options::default() });
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        env.fakes.advance(3_600_000);
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(header_of(&env.fakes.requests()[1], "if-none-match"), None);
        // Within it: conditional.
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(header_of(&env.fakes.requests()[2], "if-none-match"), Some("\"v1\""));

        // A timestamp from the future or absurdly old: not fresh.
        for ts in [T0 + 7_200, i64::MIN] {
            let mut doc = env.mem.json(WATCHLIST_SHADOW).unwrap();
            doc["ts"] = json!(ts);
            env.mem.put(WATCHLIST_SHADOW, &doc.to_string());
            let n = env.fakes.requests().len();
            Watchlist::default().build_index(&mut env.ctx()).unwrap();
            assert_eq!(header_of(&env.fakes.requests()[n], "if-none-match"), None, "ts {ts}");
        }

        // watchlist_use_etag off: never conditional.
        let mut env = remote.env(Options { watchlist_use_etag: false, ..Options::default() });
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert!(env.fakes.requests().iter().all(|r| header_of(r, "if-none-match").is_none()));

        // A corrupt shadow, another schema, or an item whose key does not match: ignored.
        for bad in [
            "{\"schema\":1,".to_string(),
            json!({"schema": 9, "etag": "\"v1\"", "ts": T0, "items": {}}).to_string(),
            json!({"schema": 1, "etag": "\"v1\"", "ts": T0, "count": 1, "items": {"tmdb:9": {"type": "movie", "ids": {"tmdb": "1"}}}}).to_string(),
        ] {
            let mut env = remote.env(Options::default());
            env.mem.put(WATCHLIST_SHADOW, &bad);
            let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
            assert_eq!(entries.len(), 2, "{bad}");
            assert_eq!(header_of(&env.fakes.requests()[0], "if-none-match"), None, "{bad}");
            assert_eq!(env.mem.json(WATCHLIST_SHADOW).unwrap()["etag"], "\"v1\"", "rewritten: {bad}");
        }
    }

    #[test]
    fn malformed_row_fails_the_index() {
        let remote = Remote::new(json!([{"type": "movie"}]), no_posts);
        let mut env = remote.env(Options::default());
        let err = Watchlist::default().build_index(&mut env.ctx()).unwrap_err();
        assert!(matches!(err, AdapterError::Protocol(_)), "{err:?}");
        assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);
    }

    #[test]
    fn capacity_from_the_config_override() {
        let remote = Remote::new(movie_rows(1, 2), |req| {
            assert_eq!(serde_json::from_slice::<Value>(&req.body).unwrap(), json!({"movies": [{"ids": {"tmdb": 3}}]}));
            created(1, 0)
        });
        let mut env = remote.env(Options { watchlist_limit: Some(3), ..Options::default() });
        let mut w = Watchlist::default();
        // Movie 1 is already listed (found by its trakt id): skipped, not sent, no capacity used.
        let items = vec![item("movie", &[("trakt", "1001")]), movie(3), movie(4), movie(5)];
        let r = w.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(r.skipped, vec!["trakt:1001"]);
        assert_eq!(r.confirmed, vec!["tmdb:3"]);
        assert_eq!(unresolved(&r), vec![("tmdb:4", Hint::TraktLimit), ("tmdb:5", Hint::TraktLimit)]);
        assert_eq!(env.sent(), vec!["GET /sync/watchlist?page=1&limit=250", "POST /sync/watchlist"]);
        // The run's index now holds 3: the list is full, nothing more is sent.
        let r = w.write(Op::Add, &[movie(6)], false, &mut env.ctx()).unwrap();
        assert_eq!(unresolved(&r), vec![("tmdb:6", Hint::TraktLimit)]);
        assert_eq!(env.fakes.requests().len(), 2);
    }

    #[test]
    fn capacity_from_users_settings_read_once() {
        let remote = Remote::new(movie_rows(1, 2), |_| created(1, 0));
        remote.set(|s| s.settings = json!({"user": {"vip": false}, "limits": {"watchlist": {"item_count": 4}}}));
        let mut env = remote.env(Options::default());
        let mut w = Watchlist::default();
        let r = w.write(Op::Add, &[movie(3)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:3"]);
        let r = w.write(Op::Add, &[movie(4), movie(5)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:4"]);
        assert_eq!(unresolved(&r), vec![("tmdb:5", Hint::TraktLimit)]);
        assert_eq!(env.sent(), vec![
            "GET /users/settings",
            "GET /sync/watchlist?page=1&limit=250",
            "POST /sync/watchlist",
            "POST /sync/watchlist",
        ]);
    }

    #[test]
    fn capacity_defaults_to_250_for_free_accounts_and_none_for_vip() {
        let remote = Remote::new(movie_rows(1, 249), |req| {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            created(body["movies"].as_array().unwrap().len() as u64, 0)
        });
        remote.set(|s| s.settings = json!({"user": {"vip": false, "vip_og": false}, "limits": {"list": {"count": 5}}}));
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Add, &[movie(1000), movie(1001)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1000"]);
        assert_eq!(unresolved(&r), vec![("tmdb:1001", Hint::TraktLimit)]);

        // VIP without a number: no limit, so no index is read for the count.
        remote.set(|s| s.settings = json!({"user": {"vip": true}}));
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Add, &[movie(1000), movie(1001)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1000", "tmdb:1001"]);
        assert_eq!(env.sent(), vec!["GET /users/settings", "POST /sync/watchlist"]);

        // Settings unreadable (404): no pre-check, the write goes out.
        let f = Fakes::new(|req| Ok(match req.method {
            Method::Get => resp(404, &[], ""),
            _ => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
        }));
        let mut env = Env::new(f, Options::default());
        let r = Watchlist::default().write(Op::Add, &[movie(7)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:7"]);
        // ... but a session-wide failure fails the call before any write.
        let f = Fakes::new(|_| Ok(resp(403, &[], "{}")));
        let mut env = Env::new(f, Options::default());
        let err = Watchlist::default().write(Op::Add, &[movie(7)], false, &mut env.ctx()).unwrap_err();
        assert!(matches!(err, AdapterError::Forbidden(_)), "{err:?}");
        assert_eq!(env.sent(), vec!["GET /users/settings"]);
    }

    #[test]
    fn limit_from_settings_table() {
        let cases = [
            (json!({"limits": {"watchlist": {"item_count": 5000}}, "user": {"vip": true}}), Limit::Items(5000)),
            (json!({"limits": {"watchlist": {"item_count": 100}}}), Limit::Items(100)),
            (json!({"user": {"vip": false}}), Limit::Items(250)),
            (json!({}), Limit::Items(250)),
            (json!({"user": {"vip": false, "vip_ep": true}}), Limit::Unlimited),
            (json!({"user": {"vip_og": true}}), Limit::Unlimited),
        ];
        for (body, want) in cases {
            assert_eq!(limit_from_settings(body.to_string().as_bytes()), want, "{body}");
        }
        assert_eq!(limit_from_settings(b"<html>"), Limit::Unknown);
    }

    #[test]
    fn add_mixed_existing_uses_the_index_and_not_found() {
        let rows = json!([{"type": "movie", "listed_at": "x", "movie": {"title": "A", "year": 1, "ids": {"tmdb": 1}}}]);
        let remote = Remote::new(rows, |req| {
            assert_eq!(route_of(&req.url), "/sync/watchlist");
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            assert_eq!(body, json!({"movies": [{"ids": {"tmdb": 2}}, {"ids": {"tmdb": 3}}]}), "movie 1 is not sent");
            Ok(resp(201, &[], &json!({
                "added": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 0},
                "existing": {"movies": 0, "shows": 0, "seasons": 0, "episodes": 0},
                "not_found": {"movies": [{"ids": {"tmdb": 3}}], "shows": [], "seasons": [], "episodes": []},
                "list": {"updated_at": "2026-05-02T18:41:00.000Z", "item_count": 2}
            }).to_string()))
        });
        let mut env = remote.env(Options::default());
        let mut w = Watchlist::default();
        w.build_index(&mut env.ctx()).unwrap();
        let items = vec![movie(1), movie(2), movie(3), item("movie", &[("slug", "only-a-slug")]), item("person", &[("tmdb", "9")])];
        let r = w.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert_eq!(r.skipped, vec!["tmdb:1"]);
        assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::NotFound), ("slug:only-a-slug", Hint::MissingIds), ("tmdb:9", Hint::UnsupportedType)]);
        assert_eq!(r.unresolved[0].item, items[2], "the input item comes back unchanged");
        assert!(r.planned.is_empty());
        assert_eq!(w.index.as_ref().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1", "tmdb:2"], "index updated");
        let shadow = env.mem.json(WATCHLIST_SHADOW).unwrap();
        assert!(shadow.get("etag").is_none(), "the pre-write ETag is dropped");
        assert_eq!(shadow["items"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1", "tmdb:2"]);
    }

    #[test]
    fn add_counts_without_index() {
        // VIP (no limit, no index): existing == 0 -> all confirmed; added == 0 -> all skipped;
        // mixed without index -> confirmed.
        for ((added, existing), want_confirmed, want_skipped) in [((2, 0), 2, 0), ((0, 2), 0, 2), ((1, 1), 2, 0)] {
            let remote = Remote::new(json!([]), move |_| created(added, existing));
            let mut env = remote.env(Options::default());
            let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2)], false, &mut env.ctx()).unwrap();
            assert_eq!((r.confirmed.len(), r.skipped.len(), r.unresolved.len()), (want_confirmed, want_skipped, 0), "{added}/{existing}");
            assert_eq!(env.mem.text(WATCHLIST_SHADOW), None, "no index this run: no shadow to update");
        }
    }

    #[test]
    fn add_nested_not_found() {
        let bb = [("tmdb", "1396"), ("tvdb", "81189")];
        let mut e1 = item("episode", &[]);
        e1.show_ids = bb.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        e1.season = Some(1);
        e1.episode = Some(1);
        let mut e2 = e1.clone();
        e2.episode = Some(2);
        let remote = Remote::new(json!([]), |_| {
            Ok(resp(201, &[], &json!({
                "added": {"episodes": 1}, "existing": {"episodes": 0},
                "not_found": {"shows": [{"ids": {"tmdb": 1396, "tvdb": 81189},
                                         "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}]}
            }).to_string()))
        });
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Add, &[e1, e2], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1396#s01e01"]);
        assert_eq!(unresolved(&r), vec![("tmdb:1396#s01e02", Hint::NotFound)]);
    }

    #[test]
    fn account_limit_on_chunk_two_stops_and_marks_the_rest() {
        let mut n = 0;
        let remote = Remote::new(json!([]), move |_| {
            n += 1;
            Ok(match n {
                1 => resp(201, &[], &json!({"added": {"movies": 2}, "existing": {"movies": 0}}).to_string()),
                _ => resp(420, &[("x-account-limit", "250"), ("x-vip-user", "false"), ("x-upgrade-url", "https://trakt.tv/vip")], ""),
            })
        });
        let mut env = remote.env(Options { watchlist_batch_size: 2, ..Options::default() });
        let items: Vec<Item> = (1..=6).map(movie).collect();
        let r = Watchlist::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(env.sent(), vec!["GET /users/settings", "POST /sync/watchlist", "POST /sync/watchlist"], "nothing after the 420");
        assert_eq!(r.confirmed, vec!["tmdb:1", "tmdb:2"]);
        assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::TraktLimit), ("tmdb:4", Hint::TraktLimit), ("tmdb:5", Hint::TraktLimit), ("tmdb:6", Hint::TraktLimit)]);
        assert!(env.fakes.sleeps().contains(&1000), "the second write waited for the 1 s spacing: {:?}", env.fakes.sleeps());
    }

    #[test]
    fn http_failure_marks_only_its_chunk() {
        let mut n = 0;
        let remote = Remote::new(json!([]), move |_| {
            n += 1;
            Ok(match n {
                1 => resp(400, &[], "bad"),
                _ => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
            })
        });
        let mut env = remote.env(Options { watchlist_batch_size: 1, ..Options::default() });
        let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert_eq!(unresolved(&r), vec![("tmdb:1", Hint::Http(400))]);
    }

    #[test]
    fn session_failures() {
        // Before anything was written: the call fails with the typed error.
        let remote = Remote::new(json!([]), |_| Ok(resp(401, &[], "")));
        let mut env = remote.env(Options::default());
        let err = Watchlist::default().write(Op::Add, &[movie(1)], false, &mut env.ctx()).unwrap_err();
        assert!(matches!(err, AdapterError::Auth(_)), "{err:?}");
        assert_eq!(env.mem.names(), Vec::<String>::new(), "a failed call journals nothing");

        // After a successful chunk: the rest is reported, nothing more is sent.
        let mut n = 0;
        let remote = Remote::new(json!([]), move |_| {
            n += 1;
            match n {
                1 => created(1, 0),
                _ => Err(TransportError::Denied("origin".into())),
            }
        });
        let mut env = remote.env(Options { watchlist_batch_size: 1, ..Options::default() });
        let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2), movie(3)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1"]);
        assert_eq!(r.unresolved.iter().map(|u| u.hint).collect::<Vec<_>>(), vec![Hint::Transport, Hint::Transport]);
        assert_eq!(env.sent().iter().filter(|s| s.starts_with("POST")).count(), 2);
    }

    #[test]
    fn a_write_with_an_unknown_outcome_drops_the_index_and_the_shadow() {
        let mut n = 0;
        let remote = Remote::new(movie_rows(1, 1), move |_| {
            n += 1;
            Ok(match n {
                1 => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
                _ => resp(503, &[], ""),
            })
        });
        let mut env = remote.env(Options { watchlist_batch_size: 1, max_retries: 2, watchlist_limit: Some(100), ..Options::default() });
        let mut w = Watchlist::default();
        w.build_index(&mut env.ctx()).unwrap();
        assert!(env.mem.text(WATCHLIST_SHADOW).is_some());
        let r = w.write(Op::Add, &[movie(2), movie(3)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::Http(503))]);
        assert!(w.index.is_none(), "Trakt may or may not have added movie 3");
        assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);
    }

    #[test]
    fn a_failed_shadow_write_deletes_the_shadow_and_the_write_still_succeeds() {
        let remote = Remote::new(movie_rows(1, 1), |_| created(1, 0));
        let mut env = remote.env(Options { watchlist_limit: Some(10), ..Options::default() });
        let mut w = Watchlist::default();
        w.build_index(&mut env.ctx()).unwrap();
        env.mem.fail_writes(true);
        let r = w.write(Op::Add, &[movie(2)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert_eq!(env.mem.text(WATCHLIST_SHADOW), None, "no outdated shadow stays behind");
        assert_eq!(w.index.as_ref().unwrap().len(), 2, "this run's index is still right");
    }

    #[test]
    fn trakt_count_disagreeing_with_the_index_drops_both() {
        // Someone else added an item meanwhile: Trakt reports 3, the index knows 2.
        let remote = Remote::new(movie_rows(1, 1), |_| {
            Ok(resp(201, &[], &json!({"added": {"movies": 1}, "existing": {"movies": 0}, "list": {"item_count": 3}}).to_string()))
        });
        let mut env = remote.env(Options { watchlist_limit: Some(10), ..Options::default() });
        let mut w = Watchlist::default();
        w.build_index(&mut env.ctx()).unwrap();
        take_lines();
        let r = w.write(Op::Add, &[movie(2)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert!(w.index.is_none());
        assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);
        assert!(take_lines().iter().any(|l| l.contains("WARN index_drift trakt_count=3 index_count=2")));
    }

    #[test]
    fn unresolved_journal_lifecycle() {
        let answers = Rc::new(RefCell::new(vec![
            json!({"added": {"movies": 1}, "not_found": {"movies": [{"ids": {"tmdb": 3}}]}}),
            json!({"added": {"movies": 1}}),
        ]));
        let a = answers.clone();
        let mut n = 0;
        let remote = Remote::new(json!([]), move |_| {
            n += 1;
            if n == 2 {
                return Ok(resp(422, &[], "{}"));
            }
            Ok(resp(201, &[], &a.borrow_mut().remove(0).to_string()))
        });
        let mut env = remote.env(Options::default());
        let mut w = Watchlist::default();
        let mut m3 = movie(3);
        m3.title = Some("Unknown Film".into());

        // 1: movie 3 is not found.
        let r = w.write(Op::Add, &[movie(4), m3.clone()], false, &mut env.ctx()).unwrap();
        assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::NotFound)]);
        let t1 = crate::time::format_utc(T0);
        assert_eq!(env.mem.json(WATCHLIST_UNRESOLVED).unwrap(), json!({"schema": 1, "items": {"tmdb:3": {
            "item": {"type": "movie", "title": "Unknown Film", "year": null, "ids": {"tmdb": "3"}},
            "action": "add", "reasons": ["not_found"], "first_seen": t1, "last_attempt": t1, "attempts": 1
        }}}));

        // 2: a minute later it fails differently; a dry run in between changes nothing.
        env.fakes.advance(60_000);
        w.write(Op::Add, &[m3.clone()], true, &mut env.ctx()).unwrap();
        let r = w.write(Op::Add, &[m3.clone()], false, &mut env.ctx()).unwrap();
        assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::Http(422))]);
        let e = &env.mem.json(WATCHLIST_UNRESOLVED).unwrap()["items"]["tmdb:3"];
        assert_eq!(e["reasons"], json!(["http:422", "not_found"]));
        assert_eq!(e["attempts"], 2);
        assert_eq!(e["first_seen"], t1.as_str());
        assert_eq!(e["last_attempt"], crate::time::format_utc(T0 + 60).as_str());

        // 3: it is retried (the journal never blocks) and goes through: cleared.
        let r = w.write(Op::Add, &[m3], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:3"]);
        assert_eq!(env.mem.text(WATCHLIST_UNRESOLVED), None, "an empty journal is deleted");

        // A remove with a different action starts a new entry; items without a key are not journaled.
        let remote = Remote::new(json!([]), |_| Ok(resp(200, &[], &json!({"deleted": {"movies": 0}, "not_found": {"movies": [{"ids": {"tmdb": 8}}]}}).to_string())));
        let mut env = remote.env(Options::default());
        env.mem.put(WATCHLIST_UNRESOLVED, &json!({"schema": 1, "items": {"tmdb:8": {
            "item": {"type": "movie"}, "action": "add", "reasons": ["trakt_limit"], "first_seen": "2020-01-01T00:00:00Z",
            "last_attempt": "2020-01-01T00:00:00Z", "attempts": 7}}}).to_string());
        Watchlist::default().write(Op::Remove, &[movie(8), item("movie", &[])], false, &mut env.ctx()).unwrap();
        let doc = env.mem.json(WATCHLIST_UNRESOLVED).unwrap();
        assert_eq!(doc["items"].as_object().unwrap().len(), 1);
        let e = &doc["items"]["tmdb:8"];
        assert_eq!((e["action"].as_str(), e["attempts"].as_u64(), e["reasons"].clone()), (Some("remove"), Some(1), json!(["not_found"])));
    }

    #[test]
    fn remove_accounting() {
        let remote = Remote::new(movie_rows(1, 1), |req| {
            assert_eq!(route_of(&req.url), "/sync/watchlist/remove");
            Ok(resp(200, &[], &json!({"deleted": {"movies": 1}, "not_found": {"movies": []}}).to_string()))
        });
        let mut env = remote.env(Options::default());
        let mut w = Watchlist::default();
        w.build_index(&mut env.ctx()).unwrap();
        let r = w.write(Op::Remove, &[movie(1), movie(2)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1"]);
        assert_eq!(r.skipped, vec!["tmdb:2"]);
        assert!(w.index.as_ref().unwrap().is_empty(), "removed from the index");
        assert_eq!(env.mem.json(WATCHLIST_SHADOW).unwrap()["items"], json!({}));

        // Without an index yet, a remove reads it first (no /users/settings: no capacity).
        let remote = Remote::new(movie_rows(1, 1), |_| {
            Ok(resp(200, &[], &json!({"deleted": {"movies": 1}, "not_found": {"movies": [{"ids": {"tmdb": 99}}]}}).to_string()))
        });
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Remove, &[movie(1), movie(2), movie(99)], false, &mut env.ctx()).unwrap();
        assert_eq!((r.confirmed.clone(), r.skipped.clone()), (vec!["tmdb:1".to_string()], vec!["tmdb:2".to_string()]));
        assert_eq!(unresolved(&r), vec![("tmdb:99", Hint::NotFound)]);
        assert_eq!(env.sent(), vec!["GET /sync/watchlist?page=1&limit=250", "POST /sync/watchlist/remove"]);
        let body: Value = serde_json::from_slice(&env.fakes.requests()[1].body).unwrap();
        assert_eq!(body["movies"].as_array().unwrap().len(), 3, "everything is sent");

        let remote = Remote::new(json!([]), |_| Ok(resp(200, &[], &json!({"deleted": {"movies": 0}}).to_string())));
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Remove, &[movie(1)], false, &mut env.ctx()).unwrap();
        assert_eq!(r.skipped, vec!["tmdb:1"], "already gone");
    }

    #[test]
    fn dry_run_sends_no_write_and_plans_each_chunk() {
        let remote = Remote::new(movie_rows(1, 1), no_posts);
        let mut env = remote.env(Options { watchlist_batch_size: 2, ..Options::default() });
        let mut bad = movie(4);
        bad.extra = Some("not json".into());
        let items = vec![movie(1), movie(2), movie(3), bad, item("movie", &[])];
        let r = Watchlist::default().write(Op::Remove, &items, true, &mut env.ctx()).unwrap();
        assert!(env.fakes.requests().is_empty());
        assert_eq!(r.confirmed, vec!["tmdb:1", "tmdb:2", "tmdb:3"]);
        assert_eq!(r.planned, vec![
            PlannedRequest { method: "POST".into(), path: "/sync/watchlist/remove".into(),
                             body: r#"{"movies":[{"ids":{"tmdb":1}},{"ids":{"tmdb":2}}]}"#.into() },
            PlannedRequest { method: "POST".into(), path: "/sync/watchlist/remove".into(),
                             body: r#"{"movies":[{"ids":{"tmdb":3}}]}"#.into() },
        ]);
        assert_eq!(unresolved(&r), vec![("tmdb:4", Hint::InvalidExtra), ("", Hint::MissingIds)]);
        assert!(env.mem.names().is_empty(), "a dry run writes no state");

        // A dry add still reads what the capacity check needs, and plans only what fits.
        let mut env = remote.env(Options { watchlist_limit: Some(2), ..Options::default() });
        let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2), movie(3)], true, &mut env.ctx()).unwrap();
        assert_eq!(env.sent(), vec!["GET /sync/watchlist?page=1&limit=250"]);
        assert_eq!((r.skipped.clone(), r.confirmed.clone()), (vec!["tmdb:1".to_string()], vec!["tmdb:2".to_string()]));
        assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::TraktLimit)]);
        assert_eq!(r.planned[0].body, r#"{"movies":[{"ids":{"tmdb":2}}]}"#);
    }

    #[test]
    fn empty_input_sends_nothing() {
        let remote = Remote::new(json!([]), no_posts);
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Add, &[], false, &mut env.ctx()).unwrap();
        assert_eq!(r, WriteReport::default());
        assert!(env.fakes.requests().is_empty());
    }
}
