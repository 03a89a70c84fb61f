//! The history index cache, `trakt_history.index.json`.
//!
//! Schema 2 is the index's own text (what `build-index-json` returns: `model::index_json`,
//! in key order) followed by one line, the trailer (`state::text_cache`, the form of the
//! watchlist shadow and the ratings cache too):
//! `<index text>\n{"schema":2,"generated_at":..,"wm":..,"counts":{"movies":M,"episodes":E},"items_bytes":N,"items_xxh3":"<16 hex digits>"}`.
//! An unchanged re-index (the common case) answers with that text as it is, checked by its
//! length and XXH3 hash (https://xxhash.com): no parse, no index built, no text written. A
//! write or a delta read parses it back (rows as text until their title is needed) and
//! checks every key against the key this code gives its play, and the counts.
//!
//! Schema 1 (one JSON object `{"schema":1,..,"items":{key: play}}`, compact) is still read:
//! a cache hit on it rewrites it as schema 2 once.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{counts_text, Index, Play, PlayKind, TraktKey, INDEX_SCHEMA};
use crate::features::history::FEATURE;
use crate::features::stored::StoredMap;
use crate::log::{self, Level};
use crate::model::json::item_from_json;
use crate::model::lenient::{Int, Obj, RawIds, Text};
use crate::model::{Ids, Item, Kind};
use crate::state::text_cache;
use crate::state::{self, Store, HISTORY_INDEX};
use crate::time;

/// The trailer of a schema-2 file (`state::text_cache` adds the text's length and hash).
#[derive(Serialize, Deserialize)]
struct Meta {
    schema: u32,
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Counts {
    movies: u64,
    episodes: u64,
}

/// A schema-1 file.
#[derive(Deserialize)]
struct CacheIn<'a> {
    schema: Option<u64>,
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
    /// In key order, a repeated key keeping its last value: a file saved in key order is
    /// only checked.
    #[serde(borrow)]
    items: StoredMap<'a>,
}

/// What the title of a cached play needs (`item_from_json`'s reading of those fields; the
/// other fields of a stored item are not a title's).
#[derive(Deserialize, Default)]
#[serde(default)]
struct StoredTitle<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    title: Text<'a>,
    year: Int,
    ids: Obj<RawIds>,
    show_ids: Obj<RawIds>,
    season: Int,
    episode: Int,
    #[serde(borrow)]
    series_title: Text<'a>,
}

impl StoredTitle<'_> {
    fn item(&self) -> Item {
        let ids = |o: &Obj<RawIds>| o.0.as_ref().map(|r| Ids::normalized(&r.0)).unwrap_or_default();
        Item {
            kind: self.kind.owned().unwrap_or_default(),
            title: self.title.owned(),
            year: self.year.0,
            ids: ids(&self.ids),
            show_ids: ids(&self.show_ids),
            season: self.season.0,
            episode: self.episode.0,
            series_title: self.series_title.owned(),
            ..Item::default()
        }
    }
}

/// The title item of a stored play: the typed reading when it reads the text the way a
/// `Value` does, else `item_from_json` (`None`: not an item).
fn stored_title(raw: &RawValue) -> Option<Item> {
    let text = raw.get();
    if text.starts_with('{') {
        if let Ok(t) = serde_json::from_str::<StoredTitle>(text) {
            return Some(t.item());
        }
    }
    serde_json::from_str::<Value>(text).ok().as_ref().and_then(item_from_json)
}

/// What a cached play says before its title is needed.
#[derive(Deserialize)]
struct CachedKey<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    watched_at: Cow<'a, str>,
    #[serde(rename = "_trakt_history_id", borrow)]
    history_id: Option<Cow<'a, str>>,
    ids: Option<TraktKey>,
}

/// Save `index` as the cache (needs its watermark); a failed write deletes the file.
pub fn save_cache(store: &mut dyn Store, index: &Index) -> bool {
    if index.wm.is_none() {
        return false;
    }
    match index.json(text_cache::TRAILER_SPARE) {
        Ok(mut text) => save_cache_text(store, index, &mut text),
        Err(e) => {
            log::event(Level::Error, FEATURE, "state_write_failed", &[("file", HISTORY_INDEX.into()), ("error", e)]);
            drop_cache(store, "write_failed");
            false
        }
    }
}

/// `save_cache` with the index's text already written (`Index::json`, best with
/// `TRAILER_SPARE` reserved): the trailer is appended for the write and taken off again,
/// so `text` is the index text again afterwards.
pub fn save_cache_text(store: &mut dyn Store, index: &Index, text: &mut String) -> bool {
    if index.wm.is_none() {
        return false;
    }
    let c = index.counts();
    let meta = Meta {
        schema: INDEX_SCHEMA,
        generated_at: index.generated_at.clone(),
        wm: index.wm.clone(),
        counts: Counts { movies: c[0], episodes: c[1] },
    };
    text_cache::write(store, FEATURE, HISTORY_INDEX, text, &meta)
}

/// Delete the cache (a write's outcome is unknown, or it cannot be kept right).
pub fn drop_cache(store: &mut dyn Store, reason: &str) {
    if state::delete(store, FEATURE, HISTORY_INDEX) {
        log::event(Level::Info, FEATURE, "state_dropped", &[("file", HISTORY_INDEX.into()), ("reason", reason.into())]);
    }
}

/// A cache file that is what it says it is (length and hash, or a schema-1 file that
/// parsed): its watermark and counts, and its plays as text or as an index.
pub struct Cached {
    pub wm: Option<String>,
    pub counts: [u64; 2],
    generated_at: String,
    body: Body,
}

enum Body {
    /// Schema 2: the index text (exactly what `build-index-json` returns).
    Text(String),
    /// Schema 1, parsed: rewritten as schema 2 when it is used.
    Legacy(Index),
}

impl Cached {
    /// Whether the file holds the index text as such (schema 2).
    pub fn has_text(&self) -> bool {
        matches!(self.body, Body::Text(_))
    }

    /// The index text (`has_text`), else `None`.
    pub fn into_text(self) -> Option<String> {
        match self.body {
            Body::Text(t) => Some(t),
            Body::Legacy(_) => None,
        }
    }

    /// The cache as an index (`None`, warn logged, when its keys or counts do not match
    /// its plays). A schema-1 file is rewritten as schema 2 here.
    pub fn index(self, store: &mut dyn Store) -> Option<Index> {
        match self.body {
            Body::Legacy(index) => {
                log::event(
                    Level::Info,
                    FEATURE,
                    "state_migrated",
                    &[("file", HISTORY_INDEX.into()), ("schema", INDEX_SCHEMA.to_string())],
                );
                save_cache(store, &index);
                Some(index)
            }
            Body::Text(text) => {
                let items = match serde_json::from_str::<StoredMap>(&text) {
                    Ok(items) => items,
                    Err(e) => {
                        state::ignored(FEATURE, HISTORY_INDEX, "corrupt", e.to_string());
                        return None;
                    }
                };
                plays_of(
                    Index { wm: self.wm, generated_at: self.generated_at, ..Index::default() },
                    &items,
                    self.counts,
                )
            }
        }
    }
}

/// The cache file, checked as far as its form goes; `None` (warn logged) when absent, of
/// another schema, corrupt, or not the length and hash its trailer gives.
pub fn read_cache(store: &mut dyn Store) -> Option<Cached> {
    // Not of the text form: a schema-1 file has no line break of its own, so one with another
    // last line is written in another form (or damaged).
    let (text, meta) = match text_cache::read::<Meta>(store, FEATURE, HISTORY_INDEX)? {
        text_cache::Read::Text { text, meta } => (text, meta),
        text_cache::Read::Other(bytes) => return read_legacy(&bytes),
    };
    if meta.schema != INDEX_SCHEMA {
        state::ignored(FEATURE, HISTORY_INDEX, "schema", format!("schema {}, expected {INDEX_SCHEMA}", meta.schema));
        return None;
    }
    Some(Cached {
        wm: meta.wm,
        counts: [meta.counts.movies, meta.counts.episodes],
        generated_at: meta.generated_at,
        body: Body::Text(text),
    })
}

/// The cache as an index; `None` (warn logged) when absent, of another schema, or not
/// consistent: every key must be the key this code gives its play and the counts must match.
pub fn load_cache(store: &mut dyn Store) -> Option<Index> {
    read_cache(store)?.index(store)
}

/// A schema-1 file, parsed and checked.
fn read_legacy(bytes: &[u8]) -> Option<Cached> {
    const LEGACY_SCHEMA: u32 = 1;
    let doc: CacheIn = match serde_json::from_slice::<CacheIn>(bytes) {
        Ok(d) if d.schema == Some(u64::from(LEGACY_SCHEMA)) => d,
        parsed => {
            // Say why as a look at the schema alone does (corrupt, another schema), else
            // corrupt with the parser's word.
            if state::probe_schema(FEATURE, HISTORY_INDEX, bytes, LEGACY_SCHEMA) {
                if let Err(e) = parsed {
                    state::ignored(FEATURE, HISTORY_INDEX, "corrupt", e.to_string());
                }
            }
            return None;
        }
    };
    let counts = [doc.counts.movies, doc.counts.episodes];
    let index = Index { wm: doc.wm.clone(), generated_at: doc.generated_at.clone(), ..Index::default() };
    let index = plays_of(index, &doc.items, counts)?;
    Some(Cached { wm: doc.wm, counts, generated_at: doc.generated_at, body: Body::Legacy(index) })
}

/// `index` with the plays of `items` (stored key -> play), checked: every key is the key
/// this code gives its play and `counts` are the plays' counts.
fn plays_of(mut index: Index, items: &StoredMap, counts: [u64; 2]) -> Option<Index> {
    let bad = |reason: &str, detail: String| {
        state::ignored(FEATURE, HISTORY_INDEX, reason, detail);
        None
    };
    index.plays.reserve(items.0.len());
    for (key, raw) in &items.0 {
        let raw: &RawValue = raw;
        let c: CachedKey = match serde_json::from_str(raw.get()) {
            Ok(c) => c,
            Err(e) => return bad("inconsistent", format!("{key}: {e}")),
        };
        let Some(kind) = PlayKind::of(&Kind::parse(&c.kind)) else {
            return bad("inconsistent", format!("{key}: not a movie or episode"));
        };
        let Some(secs) = time::parse_secs(&c.watched_at) else {
            return bad("inconsistent", format!("{key}: bad watched_at"));
        };
        let id = match c.history_id.map(|h| h.parse::<u64>()) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return bad("inconsistent", format!("{key}: bad history id")),
        };
        let trakt = c.ids.and_then(|i| i.trakt).and_then(|t| t.0);
        let title = match index.known(kind, trakt) {
            Some(t) => t,
            None => {
                let Some(item) = stored_title(raw) else { return bad("inconsistent", format!("{key}: not an item")) };
                index.title_of(std::borrow::Cow::Owned(item), kind)
            }
        };
        index.plays.push(Play { title, minute: time::floor_minute(secs), id, watched_at: c.watched_at.into_owned() });
    }
    let c = index.counts();
    if c != counts {
        let detail = format!("counts {} for {} stored plays", counts_text(&counts), counts_text(&c));
        return bad("inconsistent", detail);
    }
    index.changed();
    // The stored keys, borrowed from the file's text, against the keys this code gives.
    if index.keys().len() != items.0.len() || index.keys().iter().zip(&items.0).any(|(k, (s, _))| k != s) {
        return bad("inconsistent", "keys are not the plays' keys".into());
    }
    Some(index)
}
