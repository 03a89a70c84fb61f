//! The history index cache, `trakt_history.index.json`: streamed out, read back lazily
//! (rows as text until their title is needed) and checked for consistency.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{counts_text, Index, Play, PlayKind, TraktKey, INDEX_SCHEMA};
use crate::features::history::FEATURE;
use crate::log::{self, Level};
use crate::model::json::{item_from_json, ItemJson};
use crate::model::Kind;
use crate::state::{self, Store, HISTORY_INDEX};
use crate::time;

/// Streams the cache document (never a whole JSON tree in memory).
struct CacheOut<'a> {
    index: &'a Index,
    keys: Vec<String>,
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

struct ItemsOut<'a>(&'a CacheOut<'a>);

impl Serialize for ItemsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ix = self.0.index;
        let mut m = s.serialize_map(Some(ix.plays.len()))?;
        for (k, p) in self.0.keys.iter().zip(&ix.plays) {
            m.serialize_entry(k, &ItemJson(&ix.item_of(p)))?;
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
    generated_at: String,
    wm: Option<String>,
    counts: Counts,
    #[serde(borrow)]
    items: BTreeMap<Cow<'a, str>, &'a RawValue>,
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
    state::save_or_delete(store, FEATURE, HISTORY_INDEX, &CacheOut { index, keys: index.keys() })
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
    let bytes = state::read_large(store, FEATURE, HISTORY_INDEX, INDEX_SCHEMA)?;
    let bad = |reason: &str, detail: String| {
        state::ignored(FEATURE, HISTORY_INDEX, reason, detail);
        None
    };
    let doc: CacheIn = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => return bad("corrupt", e.to_string()),
    };
    let mut index = Index { wm: doc.wm, generated_at: doc.generated_at, ..Index::default() };
    let mut stored: Vec<String> = Vec::with_capacity(doc.items.len());
    for (key, raw) in doc.items {
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
                let item = serde_json::from_str::<Value>(raw.get()).ok().as_ref().and_then(item_from_json);
                let Some(item) = item else { return bad("inconsistent", format!("{key}: not an item")) };
                index.title_for(&item, kind)
            }
        };
        index.plays.push(Play { title, minute: time::floor_minute(secs), id, watched_at: c.watched_at.into_owned() });
        stored.push(key.into_owned());
    }
    let c = index.counts();
    if c != [doc.counts.movies, doc.counts.episodes] {
        let detail =
            format!("counts {}/{} for {} stored plays", doc.counts.movies, doc.counts.episodes, counts_text(&c));
        return bad("inconsistent", detail);
    }
    if index.keys() != stored {
        return bad("inconsistent", "keys are not the plays' keys".into());
    }
    Some(index)
}
