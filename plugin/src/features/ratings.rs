//! Trakt ratings: index (`GET /sync/ratings/{movies|shows|seasons|episodes}`, paged, cached
//! behind `/sync/last_activities`), upsert (`POST /sync/ratings`) and unrate
//! (`POST /sync/ratings/remove`); reference crosswatch.md 3.3 and trakt-api.md 3.1, 3.4, 3.5.
//!
//! ## Index cache (`trakt_ratings.index.json`)
//!
//! `{"schema": 1, "generated_at": ISO, "items": {key: item}, "wm": {"movies": rated_at,
//! "shows": ..., "seasons": ..., "episodes": ...}}`, where `wm` holds the four
//! `{type}.rated_at` texts of the `last_activities` read that preceded the live read. An
//! index first reads `last_activities` (one GET); when every one of the four `rated_at` is
//! the same instant as in the cache (timestamps are compared as instants:
//! `2026-04-30T19:02:00Z` and `2026-04-30T19:02:00.000Z` are unchanged), the cached items
//! are the index: a cache hit costs exactly that one GET. A missing or unparseable value on
//! either side counts as changed. Otherwise all four types are read (all pages; any failure
//! fails the call and leaves the cache alone), de-duplicated by key keeping the newer
//! `rated_at` (as instants; ties keep the later row) and saved with the new watermarks.
//! Rows whose rating is not an integer 1..10 are skipped with a warning.
//!
//! After a real write the cache (and this run's index) gets the written items upserted or
//! removed and keeps its `wm`: Trakt moves `rated_at` on writes, so the next index reads
//! live anyway and the cache can never hide a change. When a chunk's outcome is unknown
//! (5xx or no answer after retries) the cache is deleted.
//!
//! ## Writes
//!
//! Add upserts: `rating` must be an integer 1..10 (8.0 is 8; 8.5, NaN, 0, 11 or none are
//! unresolved `invalid rating` and never sent). `rated_at` is passed through as given when
//! it parses as an ISO 8601 timestamp; a value that does not is unresolved
//! `invalid rated_at` (sending it could make Trakt refuse the whole chunk, and dropping it
//! would silently date the rating "now"); an empty one counts as absent. Entries:
//! `{ids, rating, rated_at?}`, or nested `shows[{ids, seasons: [{number, rating, rated_at?}]}]`
//! / `seasons: [{number, episodes: [{number, rating, rated_at?}]}]`. Two inputs with the
//! same key but different values: the newer `rated_at` is sent (the later input on a tie)
//! and the other is unresolved `duplicate key`. When this run has an index, an item
//! already rated the same (same rating; same `rated_at` instant or none given) is
//! `skipped` without sending. Confirmation: `not_found` entries are unresolved `not_found`;
//! per type, `added` (+ `updated`, if Trakt ever sends it) covering every remaining key
//! confirms them, fewer leaves them unresolved `unconfirmed` (never counted as confirmed).
//! Remove: a real unrate first makes sure this run has the index (one GET on a cache hit),
//! then sends every accepted item (unknown ones come back `not_found`). Per type, nothing
//! `deleted` means none had a rating (`skipped`); all deleted, `confirmed`; a mix is split
//! by the index (rated: `confirmed`, not rated: `skipped`).

use std::collections::{BTreeMap, BTreeSet};
use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::presence::Presence;
use super::rows::{row_to_item, row_type};
use super::{finish, is_session_wide, mark_not_found, send_chunks, unresolved, Ctx, Op, Outcome, WriteReport};
use crate::client::{paging, Call};
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::json::{item_from_json, item_to_json};
use crate::model::{item_key, Hint, Item, Kind};
use crate::payload::{self, Attrs, Body, Entry, Group};
use crate::state::{self, RATINGS_INDEX, RATINGS_UNRESOLVED};
use crate::time;

const FEATURE: &str = "ratings";
const ACTIVITIES_PATH: &str = "/sync/last_activities";
const ADD_PATH: &str = "/sync/ratings";
const REMOVE_PATH: &str = "/sync/ratings/remove";
/// The four rating types, in index order.
const TYPES: [&str; 4] = ["movies", "shows", "seasons", "episodes"];
pub const INDEX_SCHEMA: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct IndexDoc {
    schema: u32,
    generated_at: String,
    items: BTreeMap<String, Value>,
    /// Type (plural) -> `rated_at` text; types Trakt did not report are omitted.
    wm: BTreeMap<String, String>,
}

struct Cache {
    generated_at: String,
    items: BTreeMap<String, Item>,
    wm: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Ratings {
    /// This run's complete index, kept current after real writes; `None` when not read yet
    /// or when a write's outcome is unknown.
    index: Option<BTreeMap<String, Item>>,
}

/// A rating as Trakt takes it: an integer 1..10.
pub fn valid_rating(r: Option<f64>) -> Option<i64> {
    let r = r?;
    (r.is_finite() && r.fract() == 0.0 && (1.0..=10.0).contains(&r)).then_some(r as i64)
}

/// `rating` of a Trakt row: an integer 1..10 (as Trakt sends it; integral numbers and digit
/// strings are accepted like CrossWatch's `int(str(v))`).
fn row_rating(v: Option<&Value>) -> Option<i64> {
    let n = match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    (1..=10).contains(&n).then_some(n)
}

/// `new` is at least as recent as `cur` (instants; a parseable time beats none; two
/// unparseable or missing values count as equal).
fn not_older(new: Option<&str>, cur: Option<&str>) -> bool {
    match (new.and_then(time::parse), cur.and_then(time::parse)) {
        (Some(a), Some(b)) => a >= b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => true,
    }
}

impl Ratings {
    pub fn build_index(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
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
                log::event(Level::Info, FEATURE, "index_cache_hit", &[("generated_at", cache.generated_at.clone())]);
                log::event(Level::Info, FEATURE, "index_done", &[
                    ("count", cache.items.len().to_string()),
                    ("source", "cache".into()),
                ]);
                let entries: Vec<(String, Item)> = cache.items.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                self.index = Some(cache.items);
                return Ok(entries);
            }
            log::event(Level::Info, FEATURE, "index_cache_stale", &[("changed", changed.join(","))]);
        }

        let limit = ctx.opts.page_limit.clamp(1, MAX_PAGE_LIMIT);
        let mut entries: Vec<(String, Item)> = Vec::new();
        let mut position: BTreeMap<String, usize> = BTreeMap::new();
        let mut pages = 0u32;
        for t in TYPES {
            let path = format!("/sync/ratings/{t}");
            let listing = paging::fetch_all(ctx.client, FEATURE, &path, limit)?;
            pages += listing.pages;
            for (n, row) in listing.rows.iter().enumerate() {
                let item = match row_to_item(row) {
                    Ok(Some(item)) => item,
                    Ok(None) => {
                        log::event(Level::Warn, FEATURE, "index_row_skipped", &[
                            ("reason", "unsupported_type".into()),
                            ("type", row_type(row)),
                        ]);
                        continue;
                    }
                    Err(why) => return Err(AdapterError::Protocol(format!("{path}: row {n} is malformed: {why}"))),
                };
                let Some(rating) = row_rating(row.get("rating")) else {
                    log::event(Level::Warn, FEATURE, "index_row_skipped", &[
                        ("reason", "invalid_rating".into()),
                        ("type", row_type(row)),
                        ("rating", row.get("rating").map(Value::to_string).unwrap_or_default()),
                    ]);
                    continue;
                };
                let rated_at = ["rated_at", "user_rated_at"]
                    .iter()
                    .find_map(|f| row.get(*f).and_then(Value::as_str).filter(|s| !s.is_empty()))
                    .map(str::to_string);
                let item = Item { rating: Some(rating as f64), rated_at, ..item };
                let key = item_key(&item);
                match position.get(&key) {
                    Some(&p) => {
                        log::event(Level::Warn, FEATURE, "index_reconcile", &[
                            ("reason", "key_collision".into()),
                            ("key", key.clone()),
                        ]);
                        if not_older(item.rated_at.as_deref(), entries[p].1.rated_at.as_deref()) {
                            entries[p].1 = item;
                        }
                    }
                    None => {
                        position.insert(key.clone(), entries.len());
                        entries.push((key, item));
                    }
                }
            }
        }
        let doc = IndexDoc {
            schema: INDEX_SCHEMA,
            generated_at: time::format_utc(ctx.client.wall_unix_secs()),
            items: entries.iter().map(|(k, it)| (k.clone(), item_to_json(it))).collect(),
            wm: TYPES
                .iter()
                .zip(remote.iter())
                .filter_map(|(t, r)| r.clone().map(|r| (t.to_string(), r)))
                .collect(),
        };
        state::save_or_delete(ctx.state, FEATURE, RATINGS_INDEX, &doc);
        log::event(Level::Info, FEATURE, "index_done", &[
            ("count", entries.len().to_string()),
            ("source", "live".into()),
            ("pages", pages.to_string()),
        ]);
        self.index = Some(entries.iter().cloned().collect());
        Ok(entries)
    }

    pub fn write(&mut self, op: Op, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        let keys: Vec<String> = items.iter().map(item_key).collect();
        let mut outcome: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut accepted: Vec<Entry> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match accept(op, item) {
                Ok(e) => accepted.push(Entry { input: i, ..e }),
                Err(hint) => outcome[i] = Some(Outcome::Unresolved(hint)),
            }
        }
        if op == Op::Add {
            accepted = self.plan_add(accepted, items, &keys, &mut outcome);
        }
        if op == Op::Remove && !dry_run && !accepted.is_empty() && self.index.is_none() {
            // Trakt counts only what it deleted: the index tells which of the rest had no
            // rating (skipped). Everything is still sent, so unknown items come back not_found.
            self.build_index(ctx)?;
        }

        let path = match op {
            Op::Add => ADD_PATH,
            Op::Remove => REMOVE_PATH,
        };
        let presence = self.index.as_ref().map(Presence::new);
        let mut planned = Vec::new();
        let sent = send_chunks(
            ctx.client,
            FEATURE,
            op,
            path,
            &accepted,
            ctx.opts.ratings_chunk_size,
            dry_run,
            &mut outcome,
            &mut planned,
            |resp, body, inputs, outcome| account(op, resp, body, inputs, items, &keys, presence.as_ref(), outcome),
        )?;
        if !dry_run {
            self.after_write(op, items, &keys, &outcome, sent.ambiguous, ctx);
            let now = time::format_utc(ctx.client.wall_unix_secs());
            unresolved::update(ctx.state, FEATURE, RATINGS_UNRESOLVED, op, &now, items, &keys, &outcome);
        }
        Ok(finish(FEATURE, op, items, &keys, outcome, planned, dry_run))
    }

    /// Conflicting duplicates and items already rated the same; returns the entries to send.
    fn plan_add(&self, accepted: Vec<Entry>, items: &[Item], keys: &[String], outcome: &mut [Option<Outcome>]) -> Vec<Entry> {
        // Per key, the entry whose values win.
        let mut winner: BTreeMap<&str, usize> = BTreeMap::new();
        for (n, e) in accepted.iter().enumerate() {
            let key = keys[e.input].as_str();
            match winner.get(key) {
                Some(&w) if !not_older(rated_at_of(&e.attrs), rated_at_of(&accepted[w].attrs)) => {}
                _ => {
                    winner.insert(key, n);
                }
            }
        }
        let presence = self.index.as_ref().map(Presence::new);
        let mut send = Vec::with_capacity(accepted.len());
        for e in &accepted {
            let i = e.input;
            let w = &accepted[winner[keys[i].as_str()]];
            if w.attrs != e.attrs {
                outcome[i] = Some(Outcome::Unresolved(Hint::DuplicateKey));
                continue;
            }
            let same = presence.as_ref().zip(self.index.as_ref()).and_then(|(p, ix)| ix.get(p.find(&items[i], &keys[i])?));
            if let Some(current) = same {
                let same_rating = valid_rating(current.rating) == e.attrs.get("rating").and_then(Value::as_i64);
                let same_time = match rated_at_of(&e.attrs) {
                    None => true,
                    Some(t) => current.rated_at.as_deref().is_some_and(|c| time::same_instant(c, t)),
                };
                if same_rating && same_time {
                    outcome[i] = Some(Outcome::Skipped);
                    continue;
                }
            }
            send.push(e.clone());
        }
        send
    }

    /// Keep this run's index and the cache file right after a real write.
    fn after_write(&mut self, op: Op, items: &[Item], keys: &[String], outcome: &[Option<Outcome>], ambiguous: bool, ctx: &mut Ctx) {
        let changed = outcome.iter().any(|o| matches!(o, Some(Outcome::Confirmed)));
        if ambiguous {
            self.index = None;
            if state::delete(ctx.state, FEATURE, RATINGS_INDEX) {
                log::event(Level::Info, FEATURE, "state_dropped", &[
                    ("file", RATINGS_INDEX.into()),
                    ("reason", "write_outcome_unknown".into()),
                ]);
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
                        let base = found.as_ref().and_then(|k| ix.get(k)).cloned().unwrap_or_else(|| items[i].minimal());
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
        if let Some(mut cache) = load_cache(ctx.state) {
            apply(&mut cache.items);
            let doc = IndexDoc {
                schema: INDEX_SCHEMA,
                generated_at: cache.generated_at,
                items: cache.items.iter().map(|(k, it)| (k.clone(), item_to_json(it))).collect(),
                wm: cache.wm,
            };
            state::save_or_delete(ctx.state, FEATURE, RATINGS_INDEX, &doc);
        }
    }
}

fn rated_at_of(attrs: &Attrs) -> Option<&str> {
    attrs.get("rated_at").and_then(Value::as_str)
}

/// How an input goes out, or its hint (the input index is set by the caller).
fn accept(op: Op, item: &Item) -> Result<Entry, Hint> {
    if !item.extra_is_valid() {
        return Err(Hint::InvalidExtra);
    }
    if let Kind::Other(_) = item.kind() {
        return Err(Hint::UnsupportedType);
    }
    let mut attrs = Map::new();
    if op == Op::Add {
        let rating = valid_rating(item.rating).ok_or(Hint::InvalidRating)?;
        attrs.insert("rating".into(), Value::from(rating));
        match item.rated_at.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(t) if time::parse(t).is_some() => {
                attrs.insert("rated_at".into(), Value::String(t.to_string()));
            }
            Some(_) => return Err(Hint::InvalidRatedAt),
        }
    }
    let target = payload::target_for(item)?;
    Ok(Entry { input: 0, target, attrs })
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
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    if !v.is_object() {
        log::event(Level::Warn, FEATURE, "activities_unavailable", &[("error", "body is not a JSON object".into())]);
    }
    Ok(TYPES.map(|t| v.get(t).and_then(|g| g.get("rated_at")).and_then(Value::as_str).map(str::to_string)))
}

fn load_cache(store: &mut dyn state::Store) -> Option<Cache> {
    let doc: IndexDoc = state::load(store, FEATURE, RATINGS_INDEX, INDEX_SCHEMA)?;
    let mut items = BTreeMap::new();
    for (key, v) in doc.items {
        match item_from_json(&v) {
            Some(item) if item_key(&item) == key && valid_rating(item.rating).is_some() => {
                items.insert(key, item);
            }
            _ => {
                log::event(Level::Warn, FEATURE, "state_ignored", &[
                    ("file", RATINGS_INDEX.into()),
                    ("reason", "bad_item".into()),
                    ("detail", key),
                ]);
                return None;
            }
        }
    }
    Some(Cache { generated_at: doc.generated_at, items, wm: doc.wm })
}

/// Decide each item of a chunk from Trakt's answer (see the module comment).
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
    let done: [u64; 4] = match op {
        Op::Add => {
            let (a, u) = (payload::counts(resp, "added"), payload::counts(resp, "updated"));
            [a[0] + u[0], a[1] + u[1], a[2] + u[2], a[3] + u[3]]
        }
        Op::Remove => payload::counts(resp, if resp.get("deleted").is_some() { "deleted" } else { "removed" }),
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
        let units = members.iter().map(|i| keys[*i].as_str()).collect::<BTreeSet<_>>().len() as u64;
        if op == Op::Add && done[g] < units {
            log::event(Level::Warn, FEATURE, "write_unconfirmed", &[
                ("type", group.name().into()),
                ("sent", units.to_string()),
                ("counted", done[g].to_string()),
            ]);
        }
        for i in members.iter().copied() {
            outcome[i] = Some(match (op, done[g].cmp(&units)) {
                (Op::Add, Ordering::Less) => Outcome::Unresolved(Hint::Unconfirmed),
                (Op::Add, _) => Outcome::Confirmed,
                (Op::Remove, _) if done[g] == 0 => Outcome::Skipped,
                (Op::Remove, Ordering::Less) => match presence.map(|p| p.find(&items[i], &keys[i]).is_some()) {
                    Some(false) => Outcome::Skipped,
                    _ => Outcome::Confirmed,
                },
                (Op::Remove, _) => Outcome::Confirmed,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::{Method, Request, Response, TransportError};
    use crate::config::Options;
    use crate::log::take_lines;
    use crate::testkit::{paged, resp, route_of, Env, Fakes};
    use serde_json::json;
    use std::cell::RefCell;
    use std::rc::Rc;

    type Post = Box<dyn FnMut(&Request) -> Result<Response, TransportError>>;

    struct RemoteState {
        /// Rows per type.
        rows: BTreeMap<String, Vec<Value>>,
        /// `last_activities` body.
        activities: Value,
        activities_status: u16,
        fail_type: Option<&'static str>,
        post: Post,
    }

    #[derive(Clone)]
    struct Remote(Rc<RefCell<RemoteState>>);

    const WM: [(&str, &str); 4] = [
        ("movies", "2026-04-30T19:02:00.000Z"),
        ("shows", "2026-04-11T19:50:00.000Z"),
        ("seasons", "2026-01-19T19:54:00.000Z"),
        ("episodes", "2026-04-12T08:00:00.000Z"),
    ];

    impl Remote {
        fn new(post: impl FnMut(&Request) -> Result<Response, TransportError> + 'static) -> Remote {
            let mut rows = BTreeMap::new();
            for t in TYPES {
                rows.insert(t.to_string(), Vec::new());
            }
            let mut activities = json!({"all": "2026-05-02T18:41:00.000Z"});
            for (t, at) in WM {
                activities[t] = json!({"rated_at": at, "watchlisted_at": "2026-01-01T00:00:00.000Z"});
            }
            Remote(Rc::new(RefCell::new(RemoteState { rows, activities, activities_status: 200, fail_type: None, post: Box::new(post) })))
        }
        fn with_sample(self) -> Remote {
            {
                let mut s = self.0.borrow_mut();
                let rows = sample();
                for t in TYPES {
                    s.rows.insert(t.to_string(), rows[t].as_array().unwrap().clone());
                }
            }
            self
        }
        fn fakes(&self) -> Fakes {
            let r = self.clone();
            Fakes::new(move |req| {
                let mut s = r.0.borrow_mut();
                let route = route_of(&req.url);
                match (req.method, route.as_str()) {
                    (Method::Get, ACTIVITIES_PATH) => Ok(resp(s.activities_status, &[], &s.activities.to_string())),
                    (Method::Get, p) if p.starts_with("/sync/ratings/") => {
                        let t = &p["/sync/ratings/".len()..];
                        if s.fail_type == Some(t) {
                            return Ok(resp(500, &[], ""));
                        }
                        Ok(paged(req, &s.rows[t], None))
                    }
                    (Method::Post, _) => (s.post)(req),
                    _ => panic!("unexpected {}", req.url),
                }
            })
        }
        fn env(&self, opts: Options) -> Env {
            Env::new(self.fakes(), Options { max_retries: 2, ..opts })
        }
        fn set_rated_at(&self, t: &str, v: Value) {
            self.0.borrow_mut().activities[t]["rated_at"] = v;
        }
        fn set(&self, f: impl FnOnce(&mut RemoteState)) {
            f(&mut self.0.borrow_mut());
        }
    }

    fn no_posts(req: &Request) -> Result<Response, TransportError> {
        panic!("no writes expected, got {}", req.url)
    }

    const BB: &str = r#"{"title": "Breaking Bad", "year": 2008, "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396}}"#;

    fn sample() -> Value {
        let bb: Value = serde_json::from_str(BB).unwrap();
        json!({
            "movies": [{"rated_at": "2026-04-30T19:02:00.000Z", "rating": 9, "type": "movie",
                        "movie": {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "slug": "batman-begins-2005", "imdb": "tt0372784", "tmdb": 272}}}],
            "shows": [{"rated_at": "2026-04-11T19:50:00.000Z", "rating": 10, "type": "show", "show": bb}],
            "seasons": [{"rated_at": "2026-01-19T19:54:00.000Z", "rating": 8, "type": "season",
                         "season": {"number": 1, "ids": {"trakt": 3950, "tvdb": 30272, "tmdb": 3572}}, "show": bb}],
            "episodes": [{"rated_at": "2026-04-12T08:00:00.000Z", "rating": 10, "type": "episode",
                          "episode": {"season": 4, "number": 8, "title": "Hermanos", "ids": {"trakt": 56, "tvdb": 4127161, "imdb": "tt1683095", "tmdb": 62127}},
                          "show": bb}]
        })
    }

    fn raw(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn rated(kind: &str, ids: &[(&str, &str)], rating: Option<f64>) -> Item {
        Item { kind: kind.into(), ids: raw(ids), rating, ..Item::default() }
    }

    fn unresolved(r: &WriteReport) -> Vec<(&str, Hint)> {
        r.unresolved.iter().map(|u| (u.key.as_str(), u.hint)).collect()
    }

    fn body_of(req: &Request) -> Value {
        serde_json::from_slice(&req.body).unwrap()
    }

    const KEYS: [&str; 4] = ["tmdb:272", "tmdb:1396#show", "tmdb:1396#season:1", "tmdb:1396#s04e08"];

    #[test]
    fn index_reads_four_types_then_a_cache_hit_costs_one_get() {
        let remote = Remote::new(no_posts).with_sample();
        let mut env = remote.env(Options::default());
        take_lines();
        let first = Ratings::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(first.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), KEYS);
        let ep = &first[3].1;
        assert_eq!((ep.rating, ep.rated_at.as_deref()), (Some(10.0), Some("2026-04-12T08:00:00.000Z")));
        assert_eq!((ep.season, ep.episode, ep.title.as_deref(), ep.series_title.as_deref()), (Some(4), Some(8), Some("Hermanos"), Some("Breaking Bad")));
        assert_eq!(ep.show_ids[0], ("tmdb".to_string(), "1396".to_string()));
        assert_eq!(env.sent(), vec![
            "GET /sync/last_activities",
            "GET /sync/ratings/movies?page=1&limit=250",
            "GET /sync/ratings/shows?page=1&limit=250",
            "GET /sync/ratings/seasons?page=1&limit=250",
            "GET /sync/ratings/episodes?page=1&limit=250",
        ]);
        let doc = env.mem.json(RATINGS_INDEX).unwrap();
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["generated_at"], "2023-11-14T22:30:00Z");
        assert_eq!(doc["wm"], json!({"movies": WM[0].1, "shows": WM[1].1, "seasons": WM[2].1, "episodes": WM[3].1}));
        assert_eq!(doc["items"]["tmdb:272"], json!({
            "type": "movie", "title": "Batman Begins", "year": 2005,
            "ids": {"tmdb": "272", "imdb": "tt0372784", "trakt": "1", "slug": "batman-begins-2005"},
            "rating": 9, "rated_at": "2026-04-30T19:02:00.000Z"
        }));
        assert!(take_lines().iter().any(|l| l.contains("INFO index_done count=4 source=live pages=4")));

        let mut r = Ratings::default();
        let ops = env.mem.ops().len();
        let again = r.build_index(&mut env.ctx()).unwrap();
        assert_eq!(env.fakes.requests().len(), 6, "exactly one GET: last_activities");
        assert_eq!(env.mem.ops()[ops..], ["read trakt_ratings.index.json".to_string()], "a hit writes nothing");
        assert_eq!(env.sent()[5], "GET /sync/last_activities");
        let mut sorted = first.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(again, sorted);
        assert!(take_lines().iter().any(|l| l.contains("INFO index_done count=4 source=cache")));
        assert_eq!(r.index.as_ref().unwrap().len(), 4);
    }

    #[test]
    fn the_same_instant_written_differently_is_unchanged() {
        let remote = Remote::new(no_posts).with_sample();
        let mut env = remote.env(Options::default());
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        remote.set_rated_at("movies", json!("2026-04-30T19:02:00Z"));
        remote.set_rated_at("shows", json!("2026-04-11T21:50:00+02:00"));
        remote.set_rated_at("seasons", json!("2026-01-19T19:54:00.000000Z"));
        let n = env.fakes.requests().len();
        let entries = Ratings::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(env.fakes.requests().len() - n, 1);
    }

    #[test]
    fn any_moved_missing_or_unreadable_rated_at_reads_all_four_again() {
        let moved: [(&str, Value); 5] = [
            ("episodes", json!("2026-04-12T08:00:01.000Z")),
            ("seasons", json!("2026-01-19T19:54:00.001Z")),
            ("shows", Value::Null),
            ("movies", json!("yesterday")),
            ("episodes", json!("2026-04-12T08:00:00.000Z")), // back: still differs from the saved 08:00:01
        ];
        let remote = Remote::new(no_posts).with_sample();
        let mut env = remote.env(Options::default());
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        for (t, v) in moved {
            remote.set_rated_at(t, v.clone());
            let n = env.fakes.requests().len();
            take_lines();
            Ratings::default().build_index(&mut env.ctx()).unwrap();
            assert_eq!(env.fakes.requests().len() - n, 5, "{t}={v}: last_activities + the four types");
            assert!(take_lines().iter().any(|l| l.contains("INFO index_cache_stale changed=") && l.contains(t)), "{t}");
            let wm = env.mem.json(RATINGS_INDEX).unwrap()["wm"].clone();
            match v.as_str() {
                Some(s) => assert_eq!(wm[t], s, "the new watermark is saved"),
                None => assert!(wm.get(t).is_none(), "a missing watermark is omitted"),
            }
        }

        // last_activities unavailable (not a session problem): read live.
        remote.set(|s| s.activities_status = 502);
        let n = env.fakes.requests().len();
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        let sent = env.sent();
        assert_eq!(sent[n..].iter().filter(|s| s.starts_with("GET /sync/ratings/")).count(), 4);
        // ... but a 401 that no refresh fixes fails the index.
        remote.set(|s| s.activities_status = 401);
        let err = Ratings::default().build_index(&mut env.ctx()).unwrap_err();
        assert!(matches!(err, AdapterError::Auth(_)), "{err:?}");
    }

    #[test]
    fn a_failed_type_fails_the_index_and_keeps_the_cache() {
        let remote = Remote::new(no_posts).with_sample();
        let mut env = remote.env(Options::default());
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        let saved = env.mem.text(RATINGS_INDEX).unwrap();
        remote.set_rated_at("seasons", json!("2026-05-01T00:00:00.000Z"));
        remote.set(|s| s.fail_type = Some("seasons"));
        let mut r = Ratings::default();
        let err = r.build_index(&mut env.ctx()).unwrap_err();
        assert!(matches!(err, AdapterError::Http { status: 500, .. }), "{err:?}");
        assert_eq!(env.mem.text(RATINGS_INDEX).unwrap(), saved, "never saved from a partial read");
        assert!(r.index.is_none());
    }

    #[test]
    fn duplicates_keep_the_newer_instant_and_bad_rows_are_skipped() {
        let bb: Value = serde_json::from_str(BB).unwrap();
        let ep = |rated_at: &str, rating: Value, trakt: u32| json!({"rated_at": rated_at, "rating": rating, "type": "episode",
            "episode": {"season": 1, "number": 1, "title": "Pilot", "ids": {"trakt": trakt}}, "show": bb});
        let remote = Remote::new(no_posts);
        remote.set(|s| {
            s.rows.insert("episodes".into(), vec![
                ep("2026-04-12T09:00:00Z", json!(7), 16),
                // Same key; written later in the day by the clock, but 10:00+02:00 is 08:00Z: older.
                ep("2026-04-12T10:00:00+02:00", json!(3), 17),
                ep("2026-04-12T09:00:00.000Z", json!(0), 18),
                ep("2026-04-12T09:00:00.000Z", json!("x"), 19),
                ep("2026-04-12T09:00:00.000Z", Value::Null, 20),
            ]);
            s.rows.insert("movies".into(), vec![
                json!({"rated_at": "2026-01-01T00:00:00Z", "rating": 5, "type": "movie", "movie": {"ids": {"tmdb": 1}}}),
                json!({"rated_at": "2026-01-02T00:00:00Z", "rating": 6, "type": "movie", "movie": {"ids": {"tmdb": 1}}}),
                json!({"rating": 2, "type": "movie", "movie": {"ids": {"tmdb": 2}}}),
                json!({"rated_at": "bad", "rating": 3, "type": "movie", "movie": {"ids": {"tmdb": 2}}}),
            ]);
        });
        let mut env = remote.env(Options::default());
        take_lines();
        let entries = Ratings::default().build_index(&mut env.ctx()).unwrap();
        let got: Vec<(&str, Option<f64>)> = entries.iter().map(|(k, it)| (k.as_str(), it.rating)).collect();
        // Movie 2: neither time parses, so the later row wins (as CrossWatch's >=).
        assert_eq!(got, vec![("tmdb:1", Some(6.0)), ("tmdb:2", Some(3.0)), ("tmdb:1396#s01e01", Some(7.0))]);
        let lines = take_lines();
        assert_eq!(lines.iter().filter(|l| l.contains("WARN index_row_skipped reason=invalid_rating")).count(), 3, "{lines:?}");
        assert_eq!(lines.iter().filter(|l| l.contains("WARN index_reconcile reason=key_collision")).count(), 3);
    }

    #[test]
    fn malformed_rows_fail_the_index() {
        let remote = Remote::new(no_posts);
        remote.set(|s| {
            s.rows.insert("shows".into(), vec![json!({"rating": 5, "type": "show"})]);
        });
        let mut env = remote.env(Options::default());
        let err = Ratings::default().build_index(&mut env.ctx()).unwrap_err();
        assert!(matches!(&err, AdapterError::Protocol(m) if m.contains("/sync/ratings/shows: row 0")), "{err:?}");
        assert_eq!(env.mem.text(RATINGS_INDEX), None);
    }

    #[test]
    fn upsert_bodies_carry_rating_and_rated_at_per_entry() {
        let remote = Remote::new(|req| {
            assert_eq!(route_of(&req.url), "/sync/ratings");
            Ok(resp(201, &[], &json!({"added": {"movies": 1, "shows": 1, "seasons": 1, "episodes": 2}, "not_found": {}}).to_string()))
        });
        let mut env = remote.env(Options::default());
        let bb = raw(&[("tmdb", "1396"), ("tvdb", "81189"), ("slug", "breaking-bad")]);
        let items = vec![
            Item { rated_at: Some(" 2026-04-30T19:02:00.000Z ".into()), ..rated("movie", &[("tmdb", "603"), ("imdb", "tt0133093"), ("slug", "the-matrix")], Some(8.0)) },
            rated("show", &[("tvdb", "81189"), ("trakt", "1")], Some(10.0)),
            Item { show_ids: bb.clone(), season: Some(2), ..rated("season", &[], Some(7.0)) },
            Item { show_ids: bb.clone(), season: Some(0), episode: Some(3), rated_at: Some("2026-04-12T08:00:00Z".into()), ..rated("episode", &[], Some(9.0)) },
            Item { show_ids: bb.clone(), season: Some(4), episode: Some(8), ..rated("episode", &[("tvdb", "4127161"), ("tmdb", "1396")], Some(1.0)) },
        ];
        let r = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:603", "tvdb:81189", "tmdb:1396#season:2", "tmdb:1396#s00e03", "tmdb:1396#s04e08"]);
        let req = &env.fakes.requests()[0];
        assert_eq!(
            String::from_utf8(req.body.clone()).unwrap(),
            concat!(
                r#"{"episodes":[{"ids":{"tvdb":4127161},"rating":1}],"#,
                r#""movies":[{"ids":{"imdb":"tt0133093","tmdb":603},"rated_at":"2026-04-30T19:02:00.000Z","rating":8}],"#,
                r#""shows":[{"ids":{"trakt":1,"tvdb":81189},"rating":10},"#,
                r#"{"ids":{"slug":"breaking-bad","tmdb":1396,"tvdb":81189},"seasons":[{"number":2,"rating":7},"#,
                r#"{"episodes":[{"number":3,"rated_at":"2026-04-12T08:00:00Z","rating":9}],"number":0}]}]}"#
            )
        );
        assert_eq!(env.sent(), vec!["POST /sync/ratings"], "an upsert needs no reads");
    }

    #[test]
    fn invalid_ratings_and_dates_are_never_sent_or_confirmed() {
        let remote = Remote::new(|req| {
            let body = body_of(req);
            assert_eq!(body, json!({"movies": [{"ids": {"tmdb": 8}, "rating": 8}]}));
            Ok(resp(201, &[], &json!({"added": {"movies": 1}}).to_string()))
        });
        let mut env = remote.env(Options::default());
        let items = vec![
            rated("movie", &[("tmdb", "1")], Some(8.5)),
            rated("movie", &[("tmdb", "2")], Some(f64::NAN)),
            rated("movie", &[("tmdb", "3")], Some(0.0)),
            rated("movie", &[("tmdb", "4")], Some(11.0)),
            rated("movie", &[("tmdb", "5")], None),
            rated("movie", &[("tmdb", "6")], Some(f64::INFINITY)),
            Item { rated_at: Some("30/04/2026".into()), ..rated("movie", &[("tmdb", "7")], Some(5.0)) },
            Item { rated_at: Some("   ".into()), ..rated("movie", &[("tmdb", "8")], Some(8.0)) },
            rated("person", &[("tmdb", "9")], Some(5.0)),
            rated("movie", &[("slug", "x")], Some(5.0)),
            Item { show_ids: raw(&[("tmdb", "1396")]), ..rated("episode", &[], Some(5.0)) },
            rated("movie", &[("tmdb", "10")], Some(-3.0)),
        ];
        let r = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:8"]);
        assert_eq!(unresolved(&r), vec![
            ("tmdb:1", Hint::InvalidRating), ("tmdb:2", Hint::InvalidRating), ("tmdb:3", Hint::InvalidRating),
            ("tmdb:4", Hint::InvalidRating), ("tmdb:5", Hint::InvalidRating), ("tmdb:6", Hint::InvalidRating),
            ("tmdb:7", Hint::InvalidRatedAt), ("tmdb:9", Hint::UnsupportedType), ("slug:x", Hint::MissingIds),
            ("", Hint::MissingScope), ("tmdb:10", Hint::InvalidRating),
        ]);
        assert_eq!(env.fakes.requests().len(), 1);

        // Nothing valid: nothing sent at all.
        let mut env = Remote::new(no_posts).env(Options::default());
        let r = Ratings::default().write(Op::Add, &items[..6], false, &mut env.ctx()).unwrap();
        assert_eq!((r.confirmed.len(), r.unresolved.len()), (0, 6));
        assert!(env.fakes.requests().is_empty());
        // The journal records them for the user to see.
        let doc = env.mem.json(RATINGS_UNRESOLVED).unwrap();
        assert_eq!(doc["items"]["tmdb:1"]["reasons"], json!(["invalid rating"]));
        assert_eq!(doc["items"]["tmdb:1"]["item"]["rating"], json!(8.5));
    }

    #[test]
    fn not_found_is_matched_back_flat_and_nested() {
        let remote = Remote::new(|_| {
            Ok(resp(201, &[], &json!({
                "added": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 1},
                "not_found": {
                    "movies": [{"ids": {"imdb": "tt0000111"}, "rating": 10}],
                    "shows": [{"ids": {"tvdb": 999}, "seasons": [{"number": 1, "episodes": [{"number": 2, "rating": 6}]}, {"number": 3, "rating": 5}]}],
                    "seasons": [], "episodes": [{"ids": {"trakt": 999999999}, "rating": 4}]
                }
            }).to_string()))
        });
        let mut env = remote.env(Options::default());
        let show = raw(&[("tvdb", "999")]);
        let items = vec![
            rated("movie", &[("imdb", "tt0000111")], Some(10.0)),
            rated("movie", &[("tmdb", "603")], Some(9.0)),
            Item { show_ids: show.clone(), season: Some(1), episode: Some(1), ..rated("episode", &[], Some(7.0)) },
            Item { show_ids: show.clone(), season: Some(1), episode: Some(2), ..rated("episode", &[], Some(6.0)) },
            Item { show_ids: show.clone(), season: Some(3), ..rated("season", &[], Some(5.0)) },
            rated("episode", &[("trakt", "999999999")], Some(4.0)),
        ];
        let r = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:603", "tvdb:999#s01e01"]);
        assert_eq!(unresolved(&r), vec![
            ("imdb:tt0000111", Hint::NotFound),
            ("tvdb:999#s01e02", Hint::NotFound),
            ("tvdb:999#season:3", Hint::NotFound),
            ("trakt:999999999", Hint::NotFound),
        ]);
    }

    #[test]
    fn fewer_added_than_sent_is_unconfirmed() {
        let remote = Remote::new(|_| Ok(resp(201, &[], &json!({"added": {"movies": 1}, "not_found": {"movies": []}}).to_string())));
        let mut env = remote.env(Options::default());
        take_lines();
        let r = Ratings::default()
            .write(Op::Add, &[rated("movie", &[("tmdb", "1")], Some(5.0)), rated("movie", &[("tmdb", "2")], Some(6.0))], false, &mut env.ctx())
            .unwrap();
        assert!(r.confirmed.is_empty());
        assert_eq!(unresolved(&r), vec![("tmdb:1", Hint::Unconfirmed), ("tmdb:2", Hint::Unconfirmed)]);
        assert!(take_lines().iter().any(|l| l.contains("WARN write_unconfirmed type=movies sent=2 counted=1")));
    }

    #[test]
    fn with_an_index_same_ratings_are_skipped_and_duplicates_resolved() {
        let remote = Remote::new(|req| {
            assert_eq!(body_of(req), json!({"movies": [
                {"ids": {"tmdb": 272}, "rated_at": "2026-05-01T00:00:00Z", "rating": 9},
                {"ids": {"tmdb": 5}, "rated_at": "2026-05-02T00:00:00Z", "rating": 4}
            ]}));
            Ok(resp(201, &[], &json!({"added": {"movies": 2}}).to_string()))
        })
        .with_sample();
        let mut env = remote.env(Options::default());
        let mut r = Ratings::default();
        r.build_index(&mut env.ctx()).unwrap();
        let items = vec![
            // Already 10 on Trakt (found by the show's tvdb id), no date given: nothing to do.
            rated("show", &[("tvdb", "81189")], Some(10.0)),
            // Same rating and the same instant, written differently: nothing to do.
            Item { rated_at: Some("2026-04-12T10:00:00+02:00".into()), show_ids: raw(&[("tmdb", "1396")]), season: Some(4), episode: Some(8), ..rated("episode", &[], Some(10.0)) },
            // Same rating, a new date: sent.
            Item { rated_at: Some("2026-05-01T00:00:00Z".into()), ..rated("movie", &[("tmdb", "272")], Some(9.0)) },
            // The same key twice with different values: the newer date wins.
            Item { rated_at: Some("2026-05-02T00:00:00Z".into()), ..rated("movie", &[("tmdb", "5")], Some(4.0)) },
            Item { rated_at: Some("2026-04-02T00:00:00Z".into()), ..rated("movie", &[("tmdb", "5")], Some(2.0)) },
        ];
        let rep = r.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(rep.skipped, vec!["tvdb:81189", "tmdb:1396#s04e08"]);
        assert_eq!(rep.confirmed, vec!["tmdb:272", "tmdb:5"]);
        assert_eq!(unresolved(&rep), vec![("tmdb:5", Hint::DuplicateKey)]);
        // This run's index and the cache file are upserted; the watermarks stay.
        let ix = r.index.as_ref().unwrap();
        assert_eq!((ix["tmdb:5"].rating, ix["tmdb:272"].rated_at.as_deref()), (Some(4.0), Some("2026-05-01T00:00:00Z")));
        let doc = env.mem.json(RATINGS_INDEX).unwrap();
        assert_eq!(doc["items"]["tmdb:5"]["rating"], 4);
        assert_eq!(doc["items"]["tmdb:272"]["rated_at"], "2026-05-01T00:00:00Z");
        assert_eq!(doc["wm"]["movies"], WM[0].1);
    }

    #[test]
    fn unrate() {
        let remote = Remote::new(|req| {
            assert_eq!(route_of(&req.url), REMOVE_PATH);
            let body = body_of(req);
            assert_eq!(body, json!({
                "episodes": [{"ids": {"trakt": 56}}],
                "movies": [{"ids": {"tmdb": 272}}, {"ids": {"tmdb": 603}}],
                "shows": [{"ids": {"slug": "breaking-bad", "tmdb": 1396}, "seasons": [{"number": 1}]}]
            }), "ids only, no rating");
            Ok(resp(200, &[], &json!({"deleted": {"movies": 1, "shows": 0, "seasons": 1, "episodes": 1},
                                      "not_found": {"movies": [], "shows": [], "seasons": [], "episodes": []}}).to_string()))
        })
        .with_sample();
        let mut env = remote.env(Options::default());
        let mut r = Ratings::default();
        r.build_index(&mut env.ctx()).unwrap();
        let bb = raw(&[("tmdb", "1396"), ("slug", "breaking-bad")]);
        let items = vec![
            rated("movie", &[("tmdb", "272")], Some(9.0)),
            rated("movie", &[("tmdb", "603")], None),
            Item { show_ids: bb.clone(), season: Some(1), ..rated("season", &[], None) },
            Item { show_ids: bb, season: Some(4), episode: Some(8), ..rated("episode", &[("trakt", "56")], None) },
        ];
        let rep = r.write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(rep.confirmed, vec!["tmdb:272", "tmdb:1396#season:1", "tmdb:1396#s04e08"]);
        assert_eq!(rep.skipped, vec!["tmdb:603"], "it had no rating");
        assert_eq!(r.index.as_ref().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1396#show"]);
        let doc = env.mem.json(RATINGS_INDEX).unwrap();
        assert_eq!(doc["items"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1396#show"]);
        assert_eq!(doc["wm"]["episodes"], WM[3].1);

        // A new run: the index comes first (here from the cache, one GET), then the split.
        let remote = Remote::new(|_| Ok(resp(200, &[], &json!({"deleted": {"movies": 1}}).to_string()))).with_sample();
        let mut env = remote.env(Options::default());
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        let n = env.fakes.requests().len();
        let rep = Ratings::default()
            .write(Op::Remove, &[rated("movie", &[("imdb", "tt0372784")], None), rated("movie", &[("tmdb", "949")], None)], false, &mut env.ctx())
            .unwrap();
        assert_eq!((rep.confirmed, rep.skipped), (vec!["imdb:tt0372784".to_string()], vec!["tmdb:949".to_string()]));
        assert_eq!(env.sent()[n..], ["GET /sync/last_activities".to_string(), "POST /sync/ratings/remove".to_string()]);
        assert!(env.mem.json(RATINGS_INDEX).unwrap()["items"].get("tmdb:272").is_none(), "found by imdb, removed by its index key");
    }

    #[test]
    fn an_unknown_write_outcome_deletes_the_cache() {
        let remote = Remote::new(|_| Ok(resp(502, &[], ""))).with_sample();
        let mut env = remote.env(Options::default());
        let mut r = Ratings::default();
        r.build_index(&mut env.ctx()).unwrap();
        assert!(env.mem.text(RATINGS_INDEX).is_some());
        let rep = r.write(Op::Add, &[rated("movie", &[("tmdb", "1")], Some(5.0))], false, &mut env.ctx()).unwrap();
        assert_eq!(unresolved(&rep), vec![("tmdb:1", Hint::Http(502))]);
        assert_eq!(env.mem.text(RATINGS_INDEX), None);
        assert!(r.index.is_none());

        // A 4xx was refused as a whole: the cache stays.
        let remote = Remote::new(|_| Ok(resp(422, &[], "{}"))).with_sample();
        let mut env = remote.env(Options::default());
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        let saved = env.mem.text(RATINGS_INDEX).unwrap();
        Ratings::default().write(Op::Add, &[rated("movie", &[("tmdb", "1")], Some(5.0))], false, &mut env.ctx()).unwrap();
        assert_eq!(env.mem.text(RATINGS_INDEX).unwrap(), saved);
    }

    #[test]
    fn chunks_and_dry_run() {
        let remote = Remote::new(|req| {
            let n = body_of(req)["movies"].as_array().unwrap().len() as u64;
            Ok(resp(201, &[], &json!({"added": {"movies": n}}).to_string()))
        });
        let mut env = remote.env(Options { ratings_chunk_size: 2, ..Options::default() });
        let items: Vec<Item> = (1..=5).map(|n| rated("movie", &[("tmdb", &n.to_string())], Some(n as f64))).collect();
        let rep = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
        assert_eq!(rep.confirmed.len(), 5);
        assert_eq!(env.sent(), vec!["POST /sync/ratings"; 3]);
        assert_eq!(env.fakes.sleeps(), vec![1000, 1000], "writes paced 1 s apart");

        let mut env = Remote::new(no_posts).env(Options { ratings_chunk_size: 4, ..Options::default() });
        let rep = Ratings::default().write(Op::Remove, &items, true, &mut env.ctx()).unwrap();
        assert_eq!(rep.planned.len(), 2);
        assert_eq!(rep.planned[1].body, r#"{"movies":[{"ids":{"tmdb":5}}]}"#);
        assert_eq!(rep.planned[0].path, "/sync/ratings/remove");
        assert!(env.fakes.requests().is_empty() && env.mem.names().is_empty());
    }

    #[test]
    fn valid_rating_table() {
        let cases: [(Option<f64>, Option<i64>); 9] = [
            (Some(8.0), Some(8)), (Some(1.0), Some(1)), (Some(10.0), Some(10)), (Some(8.5), None), (Some(0.0), None),
            (Some(11.0), None), (Some(f64::NAN), None), (Some(-0.0), None), (None, None),
        ];
        for (r, want) in cases {
            assert_eq!(valid_rating(r), want, "{r:?}");
        }
        for (v, want) in [(json!(7), Some(7)), (json!(7.0), Some(7)), (json!("7"), Some(7)), (json!(" 10 "), Some(10)),
                          (json!(7.5), None), (json!("7.5"), None), (json!(0), None), (json!(true), None)] {
            assert_eq!(row_rating(Some(&v)), want, "{v}");
        }
    }
}
