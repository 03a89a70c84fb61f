//! The history index cache, `trakt_history.index.json`.
//!
//! Schema 2 is the index's own text (what `build-index-json` returns: `model::index_json`,
//! in key order) followed by one line, the trailer:
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
use crate::log::{self, Level};
use crate::model::json::item_from_json;
use crate::model::lenient::{Int, Obj, RawIds, Text};
use crate::model::{Ids, Item, Kind};
use crate::state::{self, Store, HISTORY_INDEX};
use crate::time;

/// The last line of a schema-2 file: what the text before it is.
#[derive(Serialize, Deserialize)]
struct Trailer {
    schema: u32,
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
    items_bytes: u64,
    items_xxh3: String,
}

/// Room for the trailer, reserved after the index text so appending it does not move the
/// text (a 100,000-play history is ~40 MB of it).
pub const TRAILER_SPARE: usize = 512;

fn digest(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
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
    #[serde(borrow)]
    items: Items<'a>,
}

/// The `items` object as a map would hold it (in key order, a repeated key keeping its last
/// value), read without building one: a file saved in key order is only checked.
struct Items<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Items<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of plays")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Items<'de>, A::Error> {
                let mut items: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(a.size_hint().unwrap_or(0));
                let mut sorted = true;
                while let Some(k) = a.next_key::<Text<'de>>()? {
                    let k = k.0.unwrap_or_default();
                    let v: &'de RawValue = a.next_value()?;
                    sorted &= items.last().is_none_or(|(prev, _)| *prev < k);
                    items.push((k, v));
                }
                if !sorted {
                    // Stable: of a repeated key the last value comes last, and is kept.
                    items.sort_by(|x, y| x.0.cmp(&y.0));
                    let mut kept: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(items.len());
                    for it in items {
                        match kept.last_mut() {
                            Some(last) if last.0 == it.0 => *last = it,
                            _ => kept.push(it),
                        }
                    }
                    items = kept;
                }
                Ok(Items(items))
            }
        }
        d.deserialize_map(V)
    }
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
    match index.json(TRAILER_SPARE) {
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
    let trailer = Trailer {
        schema: INDEX_SCHEMA,
        generated_at: index.generated_at.clone(),
        wm: index.wm.clone(),
        counts: Counts { movies: c[0], episodes: c[1] },
        items_bytes: text.len() as u64,
        items_xxh3: digest(text),
    };
    let len = text.len();
    text.push('\n');
    text.push_str(&serde_json::to_string(&trailer).unwrap_or_default());
    let saved = state::save_bytes_or_delete(store, FEATURE, HISTORY_INDEX, text.as_bytes());
    text.truncate(len);
    saved
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
                let items = match serde_json::from_str::<Items>(&text) {
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
    let mut text = state::read_text(store, FEATURE, HISTORY_INDEX)?;
    let bad = |reason: &str, detail: String| {
        state::ignored(FEATURE, HISTORY_INDEX, reason, detail);
        None
    };
    let Some(cut) = text.rfind('\n') else { return read_legacy(text.as_bytes()) };
    let trailer = match serde_json::from_str::<Trailer>(&text[cut + 1..]) {
        Ok(t) if t.schema == INDEX_SCHEMA => t,
        Ok(t) => return bad("schema", format!("schema {}, expected {INDEX_SCHEMA}", t.schema)),
        // Not a trailer: a schema-1 file has no line break of its own, so this is one
        // written in another form (or damaged).
        Err(_) => return read_legacy(text.as_bytes()),
    };
    text.truncate(cut);
    if text.len() as u64 != trailer.items_bytes || digest(&text) != trailer.items_xxh3 {
        return bad(
            "corrupt",
            format!("{} bytes of index text do not match the trailer's length and hash", text.len()),
        );
    }
    Some(Cached {
        wm: trailer.wm,
        counts: [trailer.counts.movies, trailer.counts.episodes],
        generated_at: trailer.generated_at,
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
fn plays_of(mut index: Index, items: &Items, counts: [u64; 2]) -> Option<Index> {
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
