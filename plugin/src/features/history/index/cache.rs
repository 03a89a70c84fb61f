//! The history index cache: `trakt_history.index.json` and its parts.
//!
//! Schema 3: the index's own text (what `build-index-json` returns: `model::index_json`, in
//! key order) in part files `trakt_history.index.<n>.part` of about [`PART_BYTES`] each,
//! which joined in order are the text, and `trakt_history.index.json`, one line that says
//! what they hold: `{"schema":3,"generated_at":..,"wm":..,"counts":{"movies":M,"episodes":E},
//! "items_bytes":N,"parts":[{"bytes":n,"xxh3":"<16 hex digits>"},..]}`. In parts so that
//! neither the component nor the host holds the whole text to write it or to hand it out
//! (`index-stream`, wit/adapter.wit): a 100,000-play history is about 43 MB of text.
//!
//! A save deletes that file first (so it never names a part being rewritten), writes the
//! parts, then the file, then deletes parts a longer cache left. An unchanged re-index
//! answers with the parts as they are, each checked by its length and XXH3 hash
//! (https://xxhash.com) as it is read: no parse, no index built (`build-index-json` reads
//! them all before it answers, and reads Trakt in full if one is damaged; `index-stream`
//! fails the part). A write or
//! a delta read parses the text back (rows as text until their title is needed) and checks
//! every key against the key this code gives its play, and the counts.
//!
//! Older files are still read, used once and rewritten as schema 3: schema 2 (the text and a
//! trailer line in the one file, `state::text_cache`) and schema 1 (one JSON object
//! `{"schema":1,..,"items":{key: play}}`, compact).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::text::Render;
use super::{counts_text, Index, Play, PlayKind, TraktKey, INDEX_SCHEMA};
use crate::features::history::FEATURE;
use crate::features::stored::StoredMap;
use crate::log::{self, Level};
use crate::model::json::item_from_json;
use crate::model::lenient::{Int, Obj, RawIds, Text};
use crate::model::{Ids, Item, Kind};
use crate::state::text_cache;
use crate::state::{self, history_index_part, Store, HISTORY_INDEX, HISTORY_INDEX_PART};
use crate::time;

/// The trailer of a schema-2 file (`state::text_cache` adds the text's length and hash).
#[derive(Deserialize)]
struct Meta {
    schema: u32,
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
}

impl text_cache::Schema for Meta {
    fn schema(&self) -> u32 {
        self.schema
    }
}

/// A schema-3 `trakt_history.index.json`: `schema`, then the `Head`'s fields, then the
/// parts. (The head's fields are spelled out rather than `#[serde(flatten)]`: serde reads a
/// flattened struct through a buffer of every field, about 5 KB of code more.)
#[derive(Serialize, Deserialize)]
struct Manifest {
    schema: u32,
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
    items_bytes: u64,
    parts: Vec<PartMeta>,
}

/// What a cache says of its plays besides their text.
pub struct Head {
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
}

impl Head {
    pub fn of(index: &Index) -> Head {
        let c = index.counts();
        Head {
            generated_at: index.generated_at.clone(),
            wm: index.wm.clone(),
            counts: Counts { movies: c[0], episodes: c[1] },
        }
    }
}

/// One part file: its length and hash (`text_cache::digest`).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PartMeta {
    bytes: u64,
    xxh3: String,
}

/// About this many bytes of index text per part file (and per `index-stream` part).
pub const PART_BYTES: usize = 2 << 20;

/// `PART_BYTES`, or in unit tests what the test set (so a small index spans parts).
pub fn part_bytes() -> usize {
    #[cfg(test)]
    return TEST_PART_BYTES.with(std::cell::Cell::get);
    #[cfg(not(test))]
    PART_BYTES
}

#[cfg(test)]
thread_local! {
    pub static TEST_PART_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(PART_BYTES) };
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

/// Save `index` as the cache (needs its watermark); a failed write deletes the cache.
pub fn save_cache(store: &mut dyn Store, index: &Index) -> bool {
    if index.wm.is_none() {
        return false;
    }
    let mut render = Render::new(index, store, true);
    loop {
        match render.next(index, store) {
            Ok(Some(_)) => {}
            Ok(None) => return render.saved(),
            Err(e) => {
                log::event(
                    Level::Error,
                    FEATURE,
                    "state_write_failed",
                    &[("file", HISTORY_INDEX.into()), ("error", e)],
                );
                return false;
            }
        }
    }
}

/// A cache being saved part by part, as its text is written (`text::Render`).
pub struct Saver {
    parts: Vec<PartMeta>,
    ok: bool,
}

impl Saver {
    /// Start a save: the cache file goes first, so no file names the parts being rewritten
    /// (a save cut short leaves no cache, never a mix). `None` when it cannot be deleted.
    pub fn begin(store: &mut dyn Store) -> Option<Saver> {
        state::delete(store, FEATURE, HISTORY_INDEX).then(|| Saver { parts: Vec::new(), ok: true })
    }

    /// Write the next part (after a failed one, nothing more is written).
    pub fn part(&mut self, store: &mut dyn Store, text: &str) {
        if !self.ok {
            return;
        }
        let n = self.parts.len();
        if state::save_text(store, FEATURE, &history_index_part(n), text) {
            self.parts.push(PartMeta { bytes: text.len() as u64, xxh3: text_cache::digest(text) });
        } else {
            self.ok = false;
            delete_parts(store, 0);
        }
    }

    /// Write the file that names the parts (the save's last step), then delete parts left
    /// from a longer cache. `false` (nothing kept) when a write failed.
    pub fn finish(self, store: &mut dyn Store, head: Head) -> bool {
        if !self.ok {
            return false;
        }
        let count = self.parts.len();
        let Head { generated_at, wm, counts } = head;
        let manifest = Manifest {
            schema: INDEX_SCHEMA,
            generated_at,
            wm,
            counts,
            items_bytes: self.parts.iter().map(|p| p.bytes).sum(),
            parts: self.parts,
        };
        if !state::save_or_delete(store, FEATURE, HISTORY_INDEX, &manifest) {
            delete_parts(store, 0);
            return false;
        }
        delete_parts(store, count);
        true
    }

    /// Give up a save (its text could not be written): the parts written go.
    pub fn abandon(self, store: &mut dyn Store) {
        delete_parts(store, 0);
    }
}

/// Delete the part files numbered `from` and up.
fn delete_parts(store: &mut dyn Store, from: usize) {
    let (prefix, suffix) = HISTORY_INDEX_PART;
    let names = match store.names() {
        Ok(n) => n,
        Err(e) => {
            log::event(
                Level::Error,
                FEATURE,
                "state_delete_failed",
                &[("file", history_index_part(from)), ("error", e)],
            );
            return;
        }
    };
    for name in names {
        let n = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)).and_then(|n| n.parse::<usize>().ok());
        if n.is_some_and(|n| n >= from) {
            state::delete(store, FEATURE, &name);
        }
    }
}

/// Delete the cache (a write's outcome is unknown, or it cannot be kept right).
pub fn drop_cache(store: &mut dyn Store, reason: &str) {
    if state::delete(store, FEATURE, HISTORY_INDEX) {
        delete_parts(store, 0);
        log::event(Level::Info, FEATURE, "state_dropped", &[("file", HISTORY_INDEX.into()), ("reason", reason.into())]);
    }
}

/// A cache file that is what it says it is (a schema-3 file that names its parts, a
/// schema-2 text of the length and hash its trailer gives, or a schema-1 file that parsed):
/// its watermark and counts, and its plays as text or as an index.
pub struct Cached {
    pub wm: Option<String>,
    pub counts: [u64; 2],
    generated_at: String,
    body: Body,
}

enum Body {
    /// Schema 3: the parts the file names (not read yet).
    Parts(Vec<PartMeta>),
    /// Schema 2: the index text (exactly what `build-index-json` returns); rewritten as
    /// schema 3 when it is used.
    Text(String),
    /// Schema 1, parsed: rewritten as schema 3 when it is used.
    Legacy(Box<Index>),
}

/// The text of an unchanged cache, as it is handed out.
pub enum CachedText {
    /// The parts, each checked as it is read.
    Parts(CachedParts),
    /// The whole text at hand (a schema-2 file, rewritten as parts on the way).
    Whole(String),
}

/// The parts of a schema-3 cache, read one by one.
pub struct CachedParts {
    parts: Vec<PartMeta>,
    next: usize,
}

impl CachedParts {
    /// The next part, checked; `Err` when it is missing or not the length and hash the
    /// cache file gives (damaged, or changed since: the cache is dropped, the next index
    /// reads in full).
    pub fn next(&mut self, store: &mut dyn Store) -> Result<Option<String>, String> {
        let Some(meta) = self.parts.get(self.next) else { return Ok(None) };
        let n = self.next;
        self.next += 1;
        match read_part(store, n, meta) {
            Some(text) => Ok(Some(text)),
            None => {
                drop_cache(store, "part_changed");
                Err(format!("the history cache's part {n} is damaged or gone (the cache was deleted); index again"))
            }
        }
    }

    /// Every part, joined (the whole text).
    pub fn join(mut self, store: &mut dyn Store) -> Result<String, String> {
        let mut text = String::with_capacity(self.parts.iter().map(|p| p.bytes as usize).sum());
        while let Some(part) = self.next(store)? {
            text.push_str(&part);
        }
        Ok(text)
    }
}

/// Part `n`, when it is the length and hash `meta` gives (else warn logged, `None`).
fn read_part(store: &mut dyn Store, n: usize, meta: &PartMeta) -> Option<String> {
    let name = history_index_part(n);
    let text = state::read_text(store, FEATURE, &name)?;
    if text.len() as u64 != meta.bytes || text_cache::digest(&text) != meta.xxh3 {
        let detail = format!("{} bytes do not match the length and hash the cache file gives", text.len());
        state::ignored(FEATURE, &name, "corrupt", detail);
        return None;
    }
    Some(text)
}

impl Cached {
    /// Whether the file holds the index text as such (schema 3 or 2).
    pub fn has_text(&self) -> bool {
        matches!(self.body, Body::Parts(_) | Body::Text(_))
    }

    /// The index text (`has_text`), its parts to be read (and checked) one by one; `None`
    /// when the file holds no text.
    pub fn into_text(self, store: &mut dyn Store) -> Option<CachedText> {
        match self.body {
            // Not read here: each part is checked as it is read (reading them all twice would
            // cost a 100,000-play history 43 MB more of reading and hashing every run).
            Body::Parts(parts) => Some(CachedText::Parts(CachedParts { parts, next: 0 })),
            Body::Text(text) => {
                migrated();
                let counts = Counts { movies: self.counts[0], episodes: self.counts[1] };
                save_whole(store, &text, Head { generated_at: self.generated_at, wm: self.wm, counts });
                Some(CachedText::Whole(text))
            }
            Body::Legacy(_) => None,
        }
    }

    /// The cache as an index (`None`, warn logged, when its keys or counts do not match
    /// its plays). A file of an older schema is rewritten as schema 3 here.
    pub fn index(self, store: &mut dyn Store) -> Option<Index> {
        let fresh = Index { wm: self.wm, generated_at: self.generated_at, ..Index::default() };
        let text = match self.body {
            Body::Legacy(index) => {
                migrated();
                save_cache(store, &index);
                return Some(*index);
            }
            Body::Text(text) => {
                let index = index_of_text(&text, fresh, self.counts)?;
                migrated();
                save_cache(store, &index);
                return Some(index);
            }
            Body::Parts(parts) => CachedParts { parts, next: 0 }.join(store).ok()?,
        };
        index_of_text(&text, fresh, self.counts)
    }
}

/// The plays of an index text, checked (`plays_of`).
fn index_of_text(text: &str, index: Index, counts: [u64; 2]) -> Option<Index> {
    match serde_json::from_str::<StoredMap>(text) {
        Ok(items) => plays_of(index, &items, counts),
        Err(e) => {
            state::ignored(FEATURE, HISTORY_INDEX, "corrupt", e.to_string());
            None
        }
    }
}

fn migrated() {
    log::event(
        Level::Info,
        FEATURE,
        "state_migrated",
        &[("file", HISTORY_INDEX.into()), ("schema", INDEX_SCHEMA.to_string())],
    );
}

/// Save a whole index text (a schema-2 file's) as parts cut at character boundaries near
/// `part_bytes()`, named by a file of `head`.
fn save_whole(store: &mut dyn Store, text: &str, head: Head) -> bool {
    let Some(mut saver) = Saver::begin(store) else { return false };
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = part_bytes().min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        saver.part(store, &rest[..cut]);
        rest = &rest[cut..];
    }
    saver.finish(store, head)
}

/// The cache file, checked as far as its form goes (its parts are checked when read);
/// `None` (warn logged) when absent, of another schema, corrupt, or (schema 2) not the
/// length and hash its trailer gives.
pub fn read_cache(store: &mut dyn Store) -> Option<Cached> {
    let text = state::read_text(store, FEATURE, HISTORY_INDEX)?;
    // Schema 3 and 1 are one line; schema 2 is the text and its trailer line.
    if !text.contains('\n') {
        if let Ok(m) = serde_json::from_str::<Manifest>(&text) {
            if m.schema == INDEX_SCHEMA {
                if m.parts.iter().map(|p| p.bytes).sum::<u64>() != m.items_bytes {
                    state::ignored(FEATURE, HISTORY_INDEX, "corrupt", "its parts' lengths do not add up".into());
                    return None;
                }
                return Some(Cached {
                    wm: m.wm,
                    counts: [m.counts.movies, m.counts.episodes],
                    generated_at: m.generated_at,
                    body: Body::Parts(m.parts),
                });
            }
        }
    }
    const TEXT_SCHEMA: u32 = 2;
    let (text, meta) = match text_cache::parse_schema::<Meta>(text, FEATURE, HISTORY_INDEX, TEXT_SCHEMA)? {
        text_cache::Read::Text { text, meta } => (text, meta),
        text_cache::Read::Other(bytes) => return read_legacy(&bytes),
    };
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
    let doc: CacheIn = match crate::model::json::from_bytes::<CacheIn>(bytes) {
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
    Some(Cached { wm: doc.wm, counts, generated_at: doc.generated_at, body: Body::Legacy(Box::new(index)) })
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
