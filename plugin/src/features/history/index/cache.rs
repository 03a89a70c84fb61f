//! The history index cache, `trakt_history.index.json`: streamed out, read back lazily
//! (rows as text until their title is needed) and checked for consistency.

use std::borrow::Cow;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{counts_text, Index, Play, PlayKind, TraktKey, INDEX_SCHEMA};
use crate::features::history::FEATURE;
use crate::log::{self, Level};
use crate::model::json::{item_from_json, PlayJson};
use crate::model::lenient::{Int, Obj, RawIds, Text};
use crate::model::{Ids, Item, Kind};
use crate::state::{self, Store, HISTORY_INDEX};
use crate::time;

/// Streams the cache document (never a whole JSON tree in memory).
struct CacheOut<'a> {
    index: &'a Index,
    keys: &'a [String],
}

impl Serialize for CacheOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.index.counts();
        let mut st = s.serialize_struct("Cache", 5)?;
        st.serialize_field("schema", &INDEX_SCHEMA)?;
        st.serialize_field("generated_at", &self.index.generated_at)?;
        st.serialize_field("wm", &self.index.wm)?;
        st.serialize_field("counts", &Counts { movies: c[0], episodes: c[1] })?;
        st.serialize_field("items", &ItemsOut(self))?;
        st.end()
    }
}

impl CacheOut<'_> {
    /// About the document's size: its plays as the first of them take, an eighth more.
    fn size_estimate(&self) -> usize {
        const SAMPLE: usize = 64;
        let ix = self.index;
        let mut buf: Vec<u8> = Vec::with_capacity(SAMPLE * 512);
        for (k, p) in self.keys.iter().zip(&ix.plays).take(SAMPLE) {
            let item = &ix.title(p).item;
            let _ = serde_json::to_writer(&mut buf, k);
            let _ = serde_json::to_writer(&mut buf, &PlayJson { item, watched_at: &p.watched_at, history_id: p.id });
            buf.extend_from_slice(b":,");
        }
        let per = buf.len() / SAMPLE.min(ix.plays.len()).max(1);
        ix.plays.len().saturating_mul(per + per / 8) + 512
    }
}

struct ItemsOut<'a>(&'a CacheOut<'a>);

impl Serialize for ItemsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ix = self.0.index;
        // In key order, the order a load keeps them in: a load then only checks the order.
        let mut order: Vec<usize> = (0..ix.plays.len()).collect();
        order.sort_unstable_by(|a, b| self.0.keys[*a].cmp(&self.0.keys[*b]));
        let mut m = s.serialize_map(Some(ix.plays.len()))?;
        for (k, p) in order.into_iter().map(|i| (&self.0.keys[i], &ix.plays[i])) {
            let item = &ix.title(p).item;
            m.serialize_entry(k, &PlayJson { item, watched_at: &p.watched_at, history_id: p.id })?;
        }
        m.end()
    }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Counts {
    movies: u64,
    episodes: u64,
}

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
        let ids = |o: &Obj<RawIds>| o.0.as_ref().map(|r| Ids::from_raw(&r.0).to_raw()).unwrap_or_default();
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
    let out = CacheOut { index, keys: index.keys() };
    state::save_or_delete_sized(store, FEATURE, HISTORY_INDEX, &out, out.size_estimate())
}

/// Delete the cache (a write's outcome is unknown, or it cannot be kept right).
pub fn drop_cache(store: &mut dyn Store, reason: &str) {
    if state::delete(store, FEATURE, HISTORY_INDEX) {
        log::event(Level::Info, FEATURE, "state_dropped", &[("file", HISTORY_INDEX.into()), ("reason", reason.into())]);
    }
}

/// The cache as an index; `None` (warn logged) when absent, of another schema, or not
/// consistent: every key must be the key this code gives its play and `counts` must match.
pub fn load_cache(store: &mut dyn Store) -> Option<Index> {
    let bytes = state::read_bytes(store, FEATURE, HISTORY_INDEX)?;
    let bad = |reason: &str, detail: String| {
        state::ignored(FEATURE, HISTORY_INDEX, reason, detail);
        None
    };
    let doc: CacheIn = match serde_json::from_slice::<CacheIn>(&bytes) {
        Ok(d) if d.schema == Some(u64::from(INDEX_SCHEMA)) => d,
        parsed => {
            // Say why as a look at the schema alone does (corrupt, another schema), else
            // corrupt with the parser's word.
            if state::probe_schema(FEATURE, HISTORY_INDEX, &bytes, INDEX_SCHEMA) {
                if let Err(e) = parsed {
                    return bad("corrupt", e.to_string());
                }
            }
            return None;
        }
    };
    let mut index = Index { wm: doc.wm, generated_at: doc.generated_at, ..Index::default() };
    index.plays.reserve(doc.items.0.len());
    for (key, raw) in &doc.items.0 {
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
                index.title_for(&item, kind)
            }
        };
        index.plays.push(Play { title, minute: time::floor_minute(secs), id, watched_at: c.watched_at.into_owned() });
    }
    let c = index.counts();
    if c != [doc.counts.movies, doc.counts.episodes] {
        let detail =
            format!("counts {}/{} for {} stored plays", doc.counts.movies, doc.counts.episodes, counts_text(&c));
        return bad("inconsistent", detail);
    }
    index.changed();
    // The stored keys, borrowed from the file's text, against the keys this code gives.
    if index.keys().len() != doc.items.0.len() || index.keys().iter().zip(&doc.items.0).any(|(k, (s, _))| k != s) {
        return bad("inconsistent", "keys are not the plays' keys".into());
    }
    Some(index)
}
