//! An index as the text of one JSON object (`build-index-json`), written entry by entry
//! straight from the features' data: no JSON tree and no copy of the items.
//!
//! Each item is written the way hosts print an index entry's WIT item (trakt-host's
//! `items::item_to_json`, host-harness/host/src/items.rs): `type`, `title`, `year`, `ids`
//! always, the other fields when set, a rating as an integer when it is one (non-finite
//! ratings left out), then the fields of `extra` that do not clash, in their order. So a host
//! that prints this text prints what it printed from the records.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use super::item::Item;
use super::json::{IdsJson, NumText};

/// One index item; `play` replaces the item's `watched_at` and history id (a history play
/// of a title item, which has neither).
pub struct EntryJson<'a> {
    pub item: &'a Item,
    pub play: Option<(&'a str, Option<u64>)>,
}

/// The fields of an `extra` object text in their order (a repeated name keeps its first
/// place and its last value, as an ordered JSON map does); `None` when it is not an object.
fn extra_fields(text: &str) -> Option<Vec<(String, &RawValue)>> {
    struct Fields<'a>(Option<Vec<(String, &'a RawValue)>>);
    impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Fields<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Fields<'de>, A::Error> {
                    let mut out: Vec<(String, &'de RawValue)> = Vec::new();
                    while let Some(k) = a.next_key::<String>()? {
                        let v: &'de RawValue = a.next_value()?;
                        match out.iter_mut().find(|(n, _)| *n == k) {
                            Some(slot) => slot.1 = v,
                            None => out.push((k, v)),
                        }
                    }
                    Ok(Fields(Some(out)))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Fields>(text).ok().and_then(|f| f.0)
}

impl Serialize for EntryJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let it = self.item;
        let (watched_at, history_id) = match self.play {
            Some((at, id)) => (Some(at), id),
            None => (it.watched_at.as_deref(), None),
        };
        let mut written: Vec<&str> = vec!["type", "title", "year", "ids"];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &it.kind)?;
        m.serialize_entry("title", &it.title)?;
        m.serialize_entry("year", &it.year)?;
        m.serialize_entry("ids", &IdsJson(&it.ids))?;
        if !it.show_ids.is_empty() {
            m.serialize_entry("show_ids", &IdsJson(&it.show_ids))?;
            written.push("show_ids");
        }
        if let Some(v) = it.season {
            m.serialize_entry("season", &v)?;
            written.push("season");
        }
        if let Some(v) = it.episode {
            m.serialize_entry("episode", &v)?;
            written.push("episode");
        }
        if let Some(v) = &it.series_title {
            m.serialize_entry("series_title", v)?;
            written.push("series_title");
        }
        match it.rating {
            Some(r) if r.fract() == 0.0 && r.is_finite() => m.serialize_entry("rating", &(r as i64))?,
            Some(r) if r.is_finite() => m.serialize_entry("rating", &r)?,
            _ => {}
        }
        if it.rating.is_some_and(f64::is_finite) {
            written.push("rating");
        }
        for (k, v) in
            [("rated_at", it.rated_at.as_deref()), ("watched_at", watched_at), ("listed_at", it.listed_at.as_deref())]
        {
            if let Some(v) = v {
                m.serialize_entry(k, v)?;
                written.push(k);
            }
        }
        match (self.play, &it.history_id) {
            (Some(_), _) => {
                if let Some(id) = history_id {
                    m.serialize_entry("_trakt_history_id", &NumText(id))?;
                    written.push("_trakt_history_id");
                }
            }
            (None, Some(id)) => {
                m.serialize_entry("_trakt_history_id", id)?;
                written.push("_trakt_history_id");
            }
            (None, None) => {}
        }
        if let Some(fields) = it.extra.as_deref().and_then(extra_fields) {
            for (k, v) in fields {
                if !written.contains(&k.as_str()) {
                    m.serialize_entry(&k, v)?;
                }
            }
        }
        m.end()
    }
}

/// The text of the index object of `entries` (key, item), in their order, indented as hosts
/// print an index (serde_json's pretty form, two spaces: `to_string_pretty` of the same
/// object gives these bytes), so a host can print the text as it is instead of re-indenting
/// it. Written into a buffer sized from the first entries (a buffer that doubles as it grows
/// would take up to twice the text in the component's memory); `spare` more bytes are
/// reserved for what the caller appends (the history cache's trailer).
pub fn index_text<'a>(
    entries: impl Iterator<Item = (&'a str, EntryJson<'a>)> + Clone,
    len: usize,
    spare: usize,
) -> Result<String, String> {
    const SAMPLE: usize = 64;
    let mut sample: Vec<u8> = Vec::with_capacity(SAMPLE * 640);
    write_pretty(&mut sample, entries.clone().take(SAMPLE), len.min(SAMPLE))?;
    let per = sample.len() / len.clamp(1, SAMPLE);
    // The average of the first entries for all, an eighth more for longer titles.
    let mut out: Vec<u8> = Vec::with_capacity(len.saturating_mul(per + per / 8).saturating_add(spare + 16));
    write_pretty(&mut out, entries, len)?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn write_pretty<'a>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'a str, EntryJson<'a>)>,
    len: usize,
) -> Result<(), String> {
    let mut ser = serde_json::Serializer::with_formatter(out, serde_json::ser::PrettyFormatter::with_indent(b"  "));
    let mut m = ser.serialize_map(Some(len)).map_err(|e| e.to_string())?;
    for (k, v) in entries {
        m.serialize_entry(k, &v).map_err(|e| e.to_string())?;
    }
    SerializeMap::end(m).map_err(|e| e.to_string())
}
