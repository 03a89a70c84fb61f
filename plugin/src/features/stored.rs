//! The `{key: item}` map of the watchlist shadow and the ratings cache, read and written
//! without JSON trees (a 10,000-item map as `Value`s costs several times its text).
//!
//! `StoredMap` keeps each stored item as its text, in key order, until it is wanted;
//! `stored_item` reads one the way `model::json::item_from_json` reads a `Value` (a typed
//! view, with the `Value` reader for what the view cannot say the same way); `index_json`
//! writes a map of items as the index text (`model::index_json`), which is also how both
//! files hold them (`state::text_cache`), and `items_of_text` reads that text back.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::index_json::{index_text, EntryJson};
use crate::model::json::item_from_json;
use crate::model::keys::key_from_ids;
use crate::model::lenient::{Float, Int, Obj, RawIds, Text};
use crate::model::{item_key, Ids, Item};
use crate::state;

/// A stored `items` object as a map would hold it: in key order, a repeated key keeping its
/// last value. A file written in key order (as `ItemsOut` writes) is only checked.
#[derive(Debug, Default)]
pub struct StoredMap<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for StoredMap<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredMap<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of items")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<StoredMap<'de>, A::Error> {
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
                    crate::sort::sort_by(&mut items, |x, y| x.0.cmp(&y.0));
                    let mut kept: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(items.len());
                    for it in items {
                        match kept.last_mut() {
                            Some(last) if last.0 == it.0 => *last = it,
                            _ => kept.push(it),
                        }
                    }
                    items = kept;
                }
                Ok(StoredMap(items))
            }
        }
        d.deserialize_map(V)
    }
}

impl StoredMap<'_> {
    /// `features::stored_items` of this map: the items by key, or `None` (logged
    /// `state_ignored`, reason `bad_item`) at the first that is not an item, is not stored
    /// under its own key, or is not `valid`.
    pub fn items(&self, feature: &str, file: &str, valid: impl Fn(&Item) -> bool) -> Option<BTreeMap<String, Item>> {
        let mut items = Vec::with_capacity(self.0.len());
        for (key, raw) in &self.0 {
            match keyed_item(raw) {
                Some((item, k)) if k == *key && valid(&item) => items.push((key.to_string(), item)),
                _ => {
                    state::ignored(feature, file, "bad_item", key.to_string());
                    return None;
                }
            }
        }
        // In key order already: the map is built without a search per item.
        Some(super::entry_map(items))
    }
}

/// A stored item as `item_from_json` reads it. Any other field (an `extra` field) or a
/// repeated one fails the parse: such an item is read as a `Value`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct StoredItem<'a> {
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
    rating: Float,
    #[serde(borrow)]
    rated_at: Text<'a>,
    #[serde(borrow)]
    watched_at: Text<'a>,
    #[serde(borrow)]
    listed_at: Text<'a>,
    #[serde(rename = "_trakt_history_id", borrow)]
    trakt_history_id: Text<'a>,
    #[serde(borrow)]
    history_id: Text<'a>,
}

impl StoredItem<'_> {
    /// The item and its `item_key`, the ids normalised once.
    fn item(&self) -> (Item, String) {
        let ids = |o: &Obj<RawIds>| o.0.as_ref().map(|r| Ids::from_raw(&r.0)).unwrap_or_default();
        let (ids, show_ids) = (ids(&self.ids), ids(&self.show_ids));
        let item = Item {
            kind: self.kind.owned().unwrap_or_default(),
            title: self.title.owned(),
            year: self.year.0,
            ids: Vec::new(),
            show_ids: Vec::new(),
            season: self.season.0,
            episode: self.episode.0,
            series_title: self.series_title.owned(),
            rating: self.rating.0,
            rated_at: self.rated_at.owned(),
            watched_at: self.watched_at.owned(),
            listed_at: self.listed_at.owned(),
            history_id: self.trakt_history_id.owned().or_else(|| self.history_id.owned()),
            extra: None,
        };
        let mut item = item;
        let stable = ids.renormalise_to_themselves() && show_ids.renormalise_to_themselves();
        let key = stable.then(|| key_from_ids(&item, &ids, &show_ids));
        item.ids = ids.into_raw();
        item.show_ids = show_ids.into_raw();
        let key = key.unwrap_or_else(|| item_key(&item));
        (item, key)
    }
}

/// `item_from_json` of a stored item's text; `None` when it is not an item.
#[cfg(test)]
pub fn stored_item(raw: &RawValue) -> Option<Item> {
    keyed_item(raw).map(|(item, _)| item)
}

/// `stored_item` and its `item_key`.
fn keyed_item(raw: &RawValue) -> Option<(Item, String)> {
    let text = raw.get();
    if text.starts_with('{') {
        if let Ok(t) = serde_json::from_str::<StoredItem>(text) {
            return Some(t.item());
        }
    }
    let item = item_from_json(&serde_json::from_str::<Value>(text).ok()?)?;
    let key = item_key(&item);
    Some((item, key))
}

/// `entries` of a listing read from Trakt (watchlist, ratings) put in key order, as the
/// shadow and the cache hold them, one entry per key: rows that share a key follow one
/// another in the order they came (the sort is stable), each logged as a `key_collision` of
/// `feature`; the one kept is the first, replaced by a later one when `replaces(later, kept)`.
pub fn in_key_order(entries: &mut Vec<(String, Item)>, feature: &str, replaces: impl Fn(&Item, &Item) -> bool) {
    crate::sort::sort_by(entries, |a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, kept| {
        if later.0 != kept.0 {
            return false;
        }
        log::event(
            Level::Warn,
            feature,
            "index_reconcile",
            &[("reason", "key_collision".into()), ("key", later.0.clone())],
        );
        if replaces(&later.1, &kept.1) {
            std::mem::swap(&mut kept.1, &mut later.1);
        }
        true
    });
}

/// The index text (`model::index_json`) of `entries`, in their order, with `spare` bytes
/// reserved after it (`state::text_cache::TRAILER_SPARE` for a cache file's trailer).
pub fn index_json<'a>(
    entries: impl ExactSizeIterator<Item = (&'a str, &'a Item)> + Clone,
    spare: usize,
) -> Result<String, AdapterError> {
    let len = entries.len();
    let json = entries.map(|(k, item)| (k, EntryJson { item, play: None }));
    index_text(json, len, spare).map_err(crate::features::stream::text_error)
}

/// The items of an index text (`index_json`) read back as a `{key: item}` map (`StoredMap`),
/// checked as `StoredMap::items` checks them; `None` (logged) when they are not.
pub fn items_of_text(
    text: &str,
    feature: &str,
    file: &str,
    valid: impl Fn(&Item) -> bool,
) -> Option<BTreeMap<String, Item>> {
    match serde_json::from_str::<StoredMap>(text) {
        Ok(m) => m.items(feature, file, valid),
        Err(e) => {
            state::ignored(feature, file, "corrupt", e.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests;
