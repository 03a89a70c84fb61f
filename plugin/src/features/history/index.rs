//! The history index: one entry per play, event keys, the incremental cache and the reads
//! behind it (see the feature's module comment for the rules). The cache file itself is
//! `cache`.

mod cache;
mod keys;
mod lookup;
pub mod text;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::windows::windows;
use super::FEATURE;
use crate::client::paging::{self, Walked};
use crate::client::Call;
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::features::rows::{row_to_item, IdsMemo, Row};
use crate::features::{is_session_wide, Ctx};
use crate::log::{self, Level};
use crate::model::keys::canonical_key;
use crate::model::lenient::Num;
use crate::model::{Item, Kind};
use crate::time;

use cache::read_cache;
#[cfg(test)]
pub use cache::TEST_PART_BYTES;
pub use cache::{drop_cache, load_cache, save_cache, CachedParts, CachedText};
pub use keys::event_key;

pub const MOVIES_PATH: &str = "/sync/history/movies";
pub const EPISODES_PATH: &str = "/sync/history/episodes";
/// Both types together (delta reads).
const ALL_PATH: &str = "/sync/history";
const ACTIVITIES_PATH: &str = "/sync/last_activities";
/// A delta read starts this long before the cached watermark.
pub const DELTA_MARGIN_SECS: i64 = 300;
/// The cache file's form (`cache`); schemas 1 and 2 are still read.
pub const INDEX_SCHEMA: u32 = 3;

/// The two kinds of play Trakt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlayKind {
    Movie,
    Episode,
}

impl PlayKind {
    pub fn of(kind: &Kind) -> Option<PlayKind> {
        match kind {
            Kind::Movie => Some(PlayKind::Movie),
            Kind::Episode => Some(PlayKind::Episode),
            _ => None,
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            PlayKind::Movie => "movies",
            PlayKind::Episode => "episodes",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            PlayKind::Movie => MOVIES_PATH,
            PlayKind::Episode => EPISODES_PATH,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// A movie or episode with plays: the item (no time, no history id) and its base key.
#[derive(Debug, Clone)]
pub struct Title {
    pub base: String,
    pub kind: PlayKind,
    pub item: Item,
}

/// One play of a title.
#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    /// Position in `Index::titles`.
    pub title: u32,
    /// Unix seconds floored to the minute (0 = Trakt's "unknown").
    pub minute: i64,
    /// Trakt's history id; `None` for a play this adapter added and has not read back yet.
    pub id: Option<u64>,
    /// Trakt's text (or, for a play not read back yet, the text sent).
    pub watched_at: String,
}

/// Every play, with the watermark of the read it came from.
#[derive(Debug, Clone, Default)]
pub struct Index {
    titles: Vec<Title>,
    /// Titles by their trakt id (rows always carry one) -> position.
    by_trakt: std::collections::HashMap<(PlayKind, u64), u32, rustc_hash::FxBuildHasher>,
    /// Titles without a trakt id (plays added from a caller's item), by key and ids.
    by_other: BTreeMap<String, u32>,
    pub plays: Vec<Play>,
    /// The newest of `movies.watched_at` / `episodes.watched_at` in the `last_activities` read
    /// before the live read; `None` when it could not be read (then the index is not cached).
    pub wm: Option<String>,
    pub generated_at: String,
    /// The show ids rows normalised last (`push_row`).
    shows: IdsMemo,
    /// `keys()` and `key_order()`, computed once; every change to `plays` or `titles`
    /// empties it.
    keys: std::cell::OnceCell<keys::Keyed>,
}

impl Index {
    pub fn title(&self, play: &Play) -> &Title {
        &self.titles[play.title as usize]
    }

    fn title_for(&mut self, item: &Item, kind: PlayKind) -> u32 {
        self.title_of(Cow::Borrowed(item), kind)
    }

    /// The title of `item` (its position), added when new; an owned item becomes the title's
    /// without a copy.
    fn title_of(&mut self, item: Cow<Item>, kind: PlayKind) -> u32 {
        let ids = item.ids();
        let trakt = ids.get("trakt").and_then(|t| t.parse::<u64>().ok());
        let key = |item: &Item| {
            canonical_key(
                &item.kind(),
                &ids,
                &item.show_ids(),
                item.season,
                item.episode,
                item.title.as_deref(),
                item.year,
            )
        };
        let base = match trakt {
            Some(n) => {
                if let Some(&t) = self.by_trakt.get(&(kind, n)) {
                    return t;
                }
                key(&item)
            }
            None => {
                let base = key(&item);
                let mut s = base.clone();
                for (ns, v) in ids.to_raw() {
                    s.push_str(&format!("|{ns}:{v}"));
                }
                if let Some(&t) = self.by_other.get(&s) {
                    return t;
                }
                let t = self.titles.len() as u32;
                self.by_other.insert(s, t);
                base
            }
        };
        let t = self.titles.len() as u32;
        if let Some(n) = trakt {
            self.by_trakt.insert((kind, n), t);
        }
        self.titles.push(Title { base, kind, item: bare(item.into_owned()) });
        t
    }

    /// The title with this trakt id, when known.
    fn known(&self, kind: PlayKind, trakt: Option<u64>) -> Option<u32> {
        self.by_trakt.get(&(kind, trakt?)).copied()
    }

    /// Add a play of `item` (its time and history id are taken from the arguments).
    pub fn push(&mut self, item: &Item, kind: PlayKind, minute: i64, id: Option<u64>, watched_at: String) {
        let title = self.title_for(item, kind);
        self.changed();
        self.plays.push(Play { title, minute, id, watched_at });
    }

    /// Add one Trakt history row: its JSON text and, when the typed view read it the way a
    /// `Value` would, that reading (`paging::read_rows`, in the same pass as the page); `Err`
    /// says why the row is not one. A row without a typed reading goes the `Value` way
    /// (`push_row_value`).
    pub fn push_row(&mut self, row: &str, typed: Option<Row>) -> Result<(), String> {
        let Some(r) = typed else { return self.push_row_value(row) };
        let kind = match r.kind.get() {
            Some("movie") => PlayKind::Movie,
            Some("episode") => PlayKind::Episode,
            _ => return Err("not a movie or episode".into()),
        };
        let watched_at = r.watched_at.get().ok_or("no watched_at")?;
        let secs = time::parse_secs(watched_at).ok_or("watched_at is not a time")?;
        let id = r.id.and_then(|n| n.0).ok_or("no history id")?;
        let media = match kind {
            PlayKind::Movie => &r.movie,
            PlayKind::Episode => &r.episode,
        };
        let trakt = media.0.as_ref().and_then(|m| m.ids.trakt());
        let title = match (self.known(kind, trakt), trakt) {
            (Some(t), _) => t,
            // A new title with a trakt id (0 is no id): its key from the ids normalised once.
            (None, Some(n)) if n != 0 => {
                let (item, base) = r.keyed_item_with(&mut self.shows)?.ok_or("not a movie or episode")?;
                let t = self.titles.len() as u32;
                self.by_trakt.insert((kind, n), t);
                self.titles.push(Title { base, kind, item: bare(item) });
                t
            }
            (None, _) => self.title_of(Cow::Owned(r.item()?.ok_or("not a movie or episode")?), kind),
        };
        self.changed();
        self.plays.push(Play {
            title,
            minute: time::floor_minute(secs),
            id: Some(id),
            watched_at: watched_at.to_string(),
        });
        Ok(())
    }

    /// `push_row` for a row the typed view cannot read: its key fields typed, its title
    /// from a `Value`. Only the first row of a title is parsed whole: the others are told by
    /// their trakt id.
    fn push_row_value(&mut self, row: &str) -> Result<(), String> {
        let k: RowKey = serde_json::from_str(row).map_err(|e| e.to_string())?;
        let kind = match k.kind.as_deref() {
            Some("movie") => PlayKind::Movie,
            Some("episode") => PlayKind::Episode,
            _ => return Err("not a movie or episode".into()),
        };
        let watched_at = k.watched_at.ok_or("no watched_at")?;
        let secs = time::parse_secs(&watched_at).ok_or("watched_at is not a time")?;
        let id = k.id.and_then(|n| n.0).ok_or("no history id")?;
        let media = match kind {
            PlayKind::Movie => k.movie,
            PlayKind::Episode => k.episode,
        };
        let trakt = media.and_then(|m| m.ids).and_then(|i| i.trakt).and_then(|t| t.0);
        let title = match self.known(kind, trakt) {
            Some(t) => t,
            None => {
                let v: Value = serde_json::from_str(row).map_err(|e| e.to_string())?;
                self.title_of(Cow::Owned(row_to_item(&v)?.ok_or("not a movie or episode")?), kind)
            }
        };
        self.changed();
        self.plays.push(Play {
            title,
            minute: time::floor_minute(secs),
            id: Some(id),
            watched_at: watched_at.into_owned(),
        });
        Ok(())
    }

    /// Plays of movies and of episodes.
    pub fn counts(&self) -> [u64; 2] {
        let mut c = [0u64; 2];
        for p in &self.plays {
            c[self.title(p).kind.slot()] += 1;
        }
        c
    }

    /// The event key of every play, aligned with `plays`: `<base>@<minute>` for the play
    /// with the smallest history id of its base and minute, `<base>@<minute>~h<id>` for the
    /// others; plays not read back yet (no id) come after those, `~dup`, `~dup2`, ....
    pub fn keys(&self) -> &[String] {
        &self.keyed().keys
    }

    /// Positions of the plays in key order: the order of the index's entries, its text and
    /// its cache (cold and cached reads give the same bytes).
    pub fn key_order(&self) -> &[u32] {
        &self.keyed().order
    }

    fn keyed(&self) -> &keys::Keyed {
        self.keys.get_or_init(|| keys::Keyed::of(self))
    }

    /// Plays or titles change: the keys are computed again when asked for.
    fn changed(&mut self) {
        self.keys.take();
    }

    /// The item of a play as an index entry shows it.
    pub fn item_of(&self, play: &Play) -> Item {
        Item {
            watched_at: Some(play.watched_at.clone()),
            history_id: play.id.map(|id| id.to_string()),
            ..self.title(play).item.clone()
        }
    }

    /// The entries, in key order.
    pub fn entries(&self) -> Vec<(String, Item)> {
        let keys = self.keys();
        let at = |i: &u32| *i as usize;
        self.key_order().iter().map(|i| (keys[at(i)].clone(), self.item_of(&self.plays[at(i)]))).collect()
    }

    /// Keep the plays `keep` says yes to (titles stay: they are only looked up).
    pub fn retain(&mut self, mut keep: impl FnMut(&Play, &Title) -> bool) {
        self.changed();
        let titles = &self.titles;
        self.plays.retain(|p| keep(p, &titles[p.title as usize]));
    }

    /// Add the plays of `other` whose history id this index does not hold yet.
    pub fn absorb(&mut self, other: &Index) -> usize {
        let known = id_set(&self.plays);
        let mut n = 0;
        for p in &other.plays {
            if p.id.is_some_and(|id| known.contains(&id)) {
                continue;
            }
            let t = other.title(p);
            self.push(&t.item, t.kind, p.minute, p.id, p.watched_at.clone());
            n += 1;
        }
        n
    }

    /// Replace every play at or after `start` (Unix seconds) with `tail`, a read of Trakt's
    /// history from `start` on.
    pub fn replace_tail(&mut self, start: i64, tail: &Index) {
        self.retain(|p, _| p.minute < start);
        for p in &tail.plays {
            let t = tail.title(p);
            self.push(&t.item, t.kind, p.minute, p.id, p.watched_at.clone());
        }
    }
}

/// The history ids of `plays`. Built by inserting (`collect` would sort them first, a copy
/// of the standard sort: see `crate::sort`).
fn id_set(plays: &[Play]) -> std::collections::BTreeSet<u64> {
    let mut ids = std::collections::BTreeSet::new();
    ids.extend(plays.iter().filter_map(|p| p.id));
    ids
}

/// What a history row says before its title is needed.
#[derive(Deserialize)]
struct RowKey<'a> {
    id: Option<Num>,
    #[serde(borrow)]
    watched_at: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    movie: Option<MediaKey>,
    episode: Option<MediaKey>,
}

#[derive(Deserialize)]
struct MediaKey {
    ids: Option<TraktKey>,
}

#[derive(Deserialize)]
struct TraktKey {
    trakt: Option<Num>,
}

/// An item without its per-play fields.
fn bare(item: Item) -> Item {
    Item { rating: None, rated_at: None, watched_at: None, listed_at: None, history_id: None, extra: None, ..item }
}

// ---- reads ----

/// Read `path` (all pages, with `query`) into `into`.
pub fn read_into(ctx: &mut Ctx, path: &str, query: &[(&str, String)], into: &mut Index) -> Result<u32, AdapterError> {
    let limit = ctx.opts.page_limit.clamp(1, MAX_PAGE_LIMIT);
    let mut n = 0usize;
    let walked = paging::for_each_page(ctx.client, FEATURE, path, query, limit, &mut |text| {
        paging::read_rows::<Row>(text, &mut |_, row, typed| {
            into.push_row(row, typed).map_err(|why| {
                AdapterError::Protocol(format!("{path}: row {n} is malformed: {why}; index abandoned"))
            })?;
            n += 1;
            Ok(())
        })
    })?;
    Ok(match walked {
        Walked::Done { pages, .. } => pages,
        Walked::NotModified { .. } => 0,
    })
}

/// The newest history activity (`movies.watched_at`, `episodes.watched_at` of
/// `/sync/last_activities`): its text and instant. A session-wide failure fails the call;
/// any other, or no usable value, is `None` (unknown).
fn activities(ctx: &mut Ctx) -> Result<Option<(String, i64)>, AdapterError> {
    let resp = match ctx.client.execute(&Call::get(ACTIVITIES_PATH)) {
        Ok(r) => r,
        Err(e) if is_session_wide(&e) => return Err(e),
        Err(e) => {
            log::event(Level::Warn, FEATURE, "activities_unavailable", &[("error", e.to_string())]);
            return Ok(None);
        }
    };
    let v: Value = crate::model::json::from_bytes(&resp.body).unwrap_or(Value::Null);
    let mut best: Option<(String, i64)> = None;
    for t in ["movies", "episodes"] {
        let Some(text) = v.get(t).and_then(|g| g.get("watched_at")).and_then(Value::as_str) else { continue };
        let Some(secs) = time::parse_secs(text) else { continue };
        if best.as_ref().is_none_or(|(_, b)| secs > *b) {
            best = Some((text.to_string(), secs));
        }
    }
    if best.is_none() {
        log::event(Level::Warn, FEATURE, "activities_unavailable", &[("error", "no history watched_at".into())]);
    }
    Ok(best)
}

/// Plays of movies and episodes on Trakt now: `X-Pagination-Item-Count` of one-row reads.
/// `None` when Trakt does not say.
fn remote_counts(ctx: &mut Ctx) -> Result<Option<[u64; 2]>, AdapterError> {
    let mut out = [0u64; 2];
    for kind in [PlayKind::Movie, PlayKind::Episode] {
        let resp = ctx.client.execute(&Call::get(kind.path()).query("page", 1).query("limit", 1))?;
        match resp.header_u64("x-pagination-item-count") {
            Some(n) => out[kind.slot()] = n,
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

fn counts_text(c: &[u64; 2]) -> String {
    format!("{}/{}", c[0], c[1])
}

/// The complete history as an index (`refresh_as`), saved as the cache when it was read.
pub fn refresh(ctx: &mut Ctx) -> Result<Index, AdapterError> {
    match refresh_as(ctx, false)? {
        Refreshed::Index { index, fresh } => {
            if fresh {
                save_cache(ctx.state, &index);
            }
            Ok(*index)
        }
        Refreshed::Cached(_) => Err(AdapterError::Internal("history index: none read".into())),
    }
}

/// What `refresh_as` found.
pub enum Refreshed {
    /// The cache, unchanged on Trakt: its text, unread (only when asked for as text).
    Cached(CachedText),
    /// The index, read (`fresh`: live or from a delta, not saved yet) or from the cache.
    Index { index: Box<Index>, fresh: bool },
}

/// The complete history, from the cache when Trakt confirms it (see the module comment of
/// `features::history` for the paths and their request counts). The caller saves a fresh
/// index (`save_cache`, or a `text::Render` that saves); a failed read saves nothing. With
/// `as_text`, an unchanged cache is answered with its text alone.
pub fn refresh_as(ctx: &mut Ctx, as_text: bool) -> Result<Refreshed, AdapterError> {
    let remote = activities(ctx)?;
    let now = time::format_utc(ctx.client.wall_unix_secs());
    if let Some(cached) = read_cache(ctx.state) {
        let at = cached.wm.as_deref().and_then(time::parse_secs).unwrap_or(i64::MIN);
        match &remote {
            Some((_, r)) if *r <= at => {
                let local = cached.counts;
                match remote_counts(ctx)? {
                    Some(c) if c == local => {
                        let plays = local[0] + local[1];
                        let done = || {
                            log::event(
                                Level::Info,
                                FEATURE,
                                "index_done",
                                &[("count", plays.to_string()), ("source", "cache".into())],
                            )
                        };
                        if as_text && cached.has_text() {
                            // A damaged part: read in full.
                            if let Some(text) = cached.into_text(ctx.state) {
                                done();
                                return Ok(Refreshed::Cached(text));
                            }
                        } else if let Some(index) = cached.index(ctx.state) {
                            done();
                            return Ok(Refreshed::Index { index: Box::new(index), fresh: false });
                        }
                    }
                    c => log::event(
                        Level::Info,
                        FEATURE,
                        "index_cache_stale",
                        &[
                            ("reason", "count_mismatch".into()),
                            ("cached", counts_text(&local)),
                            ("remote", c.map(|c| counts_text(&c)).unwrap_or_else(|| "unknown".into())),
                        ],
                    ),
                }
            }
            _ => {
                if let Some(cache) = cached.index(ctx.state) {
                    if let Some(done) = delta(ctx, cache, at, remote.as_ref(), &now)? {
                        return Ok(done);
                    }
                }
            }
        }
    }
    let mut index = Index { generated_at: now, ..Index::default() };
    let mut pages = 0;
    for kind in [PlayKind::Movie, PlayKind::Episode] {
        pages += read_into(ctx, kind.path(), &[], &mut index)?;
    }
    index.wm = remote.map(|(text, _)| text);
    log::event(
        Level::Info,
        FEATURE,
        "index_done",
        &[("count", index.plays.len().to_string()), ("source", "live".into()), ("pages", pages.to_string())],
    );
    Ok(Refreshed::Index { index: Box::new(index), fresh: true })
}

/// The cache brought up to date by a read from shortly before its watermark `at`; `None`
/// when the counts then differ from Trakt's (the caller reads in full).
fn delta(
    ctx: &mut Ctx,
    mut cache: Index,
    at: i64,
    remote: Option<&(String, i64)>,
    now: &str,
) -> Result<Option<Refreshed>, AdapterError> {
    let start = at.saturating_sub(DELTA_MARGIN_SECS).max(0);
    let mut tail = Index::default();
    read_into(ctx, ALL_PATH, &[("start_at", time::format_utc_millis(start))], &mut tail)?;
    let before = cache.plays.len();
    cache.replace_tail(start, &tail);
    let local = cache.counts();
    match remote_counts(ctx)? {
        Some(c) if c == local => {
            if let Some((text, _)) = remote {
                cache.wm = Some(text.clone());
            }
            resolve_pending(ctx, &mut cache);
            cache.generated_at = now.to_string();
            log::event(
                Level::Info,
                FEATURE,
                "index_done",
                &[
                    ("count", cache.plays.len().to_string()),
                    ("source", "cache_delta".into()),
                    ("tail", tail.plays.len().to_string()),
                    ("was", before.to_string()),
                ],
            );
            Ok(Some(Refreshed::Index { index: Box::new(cache), fresh: true }))
        }
        c => {
            log::event(
                Level::Info,
                FEATURE,
                "index_cache_stale",
                &[
                    ("reason", "count_mismatch_after_delta".into()),
                    ("cached", counts_text(&local)),
                    ("remote", c.map(|c| counts_text(&c)).unwrap_or_else(|| "unknown".into())),
                ],
            );
            Ok(None)
        }
    }
}

/// Give the plays this adapter added (no history id yet) their ids: read their minutes back
/// (one window per cluster of minutes, per kind) and take, for each, the row of the same title
/// and minute whose id the index does not hold yet. A failed read leaves them as they are
/// (they are complete plays, only without an id); the next delta read tries again.
fn resolve_pending(ctx: &mut Ctx, index: &mut Index) {
    let pending: Vec<usize> = (0..index.plays.len()).filter(|i| index.plays[*i].id.is_none()).collect();
    if pending.is_empty() {
        return;
    }
    let mut per_kind: BTreeMap<PlayKind, Vec<i64>> = BTreeMap::new();
    for &i in &pending {
        let p = &index.plays[i];
        per_kind.entry(index.title(p).kind).or_default().push(p.minute);
    }
    let mut rows = Index::default();
    for (kind, minutes) in per_kind {
        for (from, to) in windows(minutes) {
            let query = [("start_at", time::format_utc_millis(from)), ("end_at", time::format_utc_millis(to))];
            if let Err(e) = read_into(ctx, kind.path(), &query, &mut rows) {
                log::event(
                    Level::Warn,
                    FEATURE,
                    "pending_unresolved",
                    &[("plays", pending.len().to_string()), ("error", e.to_string())],
                );
                return;
            }
        }
    }
    let mut known = id_set(&index.plays);
    let lookup = rows.lookup();
    let mut found = 0usize;
    for i in pending {
        let p = &index.plays[i];
        let t = index.title(p);
        let hit = lookup
            .find_at(&t.item, &t.base, p.minute)
            .into_iter()
            .find(|r| r.id.is_some_and(|id| !known.contains(&id)))
            .map(|r| (r.id, r.watched_at.clone()));
        if let Some((id, text)) = hit {
            known.extend(id);
            index.changed();
            let p = &mut index.plays[i];
            p.id = id;
            p.watched_at = text;
            found += 1;
        }
    }
    log::event(Level::Debug, FEATURE, "pending_resolved", &[("plays", found.to_string())]);
}
