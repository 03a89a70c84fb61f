//! Items as CrossWatch's JSON map (state files): `{type, title, year, ids: {ns: value}, ...}`.
//!
//! The map uses CrossWatch's field names (`_trakt_history_id` for the history id); the
//! fields of `extra` are merged in where they do not clash, as hosts do, so a stored item
//! reads like the item CrossWatch handed over.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::item::{Ids, Item};

/// An item as CrossWatch's JSON map, without `extra`, written field by field (no JSON tree:
/// the history cache streams 100,000 of them). Ids are strings, the first value of a
/// namespace wins; `title` and `year` are always present (null when unknown), the other
/// optional fields only when set; a rating is an integer when it is one (CrossWatch writes
/// ints).
pub struct ItemJson<'a>(pub &'a Item);

/// Ids as a JSON object of strings, the first value of a namespace kept.
pub(crate) struct IdsJson<'a>(pub(crate) &'a [(String, String)]);

impl Serialize for IdsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if !self.0[..i].iter().any(|(p, _)| p == k) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

struct Rating(f64);

impl Serialize for Rating {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// A number written as a JSON string (history ids are text in CrossWatch's JSON).
pub(crate) struct NumText(pub(crate) u64);

impl Serialize for NumText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for ItemJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        item_fields(s, self.0)
    }
}

/// `serde_json::from_slice`, read as text. Every JSON document of the component is parsed
/// from a `str`, so serde_json's deserializer, and the `Deserialize` of each type read through
/// it, is compiled once: reading bytes and text (`SliceRead` and `StrRead`) made two copies.
pub fn from_bytes<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| <serde_json::Error as serde::de::Error>::custom(format_args!("not UTF-8 text: {e}")))?;
    serde_json::from_str(text)
}

fn item_fields<S: Serializer>(s: S, it: &Item) -> Result<S::Ok, S::Error> {
    {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &it.kind)?;
        m.serialize_entry("title", &it.title)?;
        m.serialize_entry("year", &it.year)?;
        m.serialize_entry("ids", &IdsJson(&it.ids))?;
        if !it.show_ids.is_empty() {
            m.serialize_entry("show_ids", &IdsJson(&it.show_ids))?;
        }
        if let Some(v) = it.season {
            m.serialize_entry("season", &v)?;
        }
        if let Some(v) = it.episode {
            m.serialize_entry("episode", &v)?;
        }
        if let Some(v) = &it.series_title {
            m.serialize_entry("series_title", v)?;
        }
        if let Some(r) = it.rating {
            m.serialize_entry("rating", &Rating(r))?;
        }
        for (k, v) in [
            ("rated_at", it.rated_at.as_deref()),
            ("watched_at", it.watched_at.as_deref()),
            ("listed_at", it.listed_at.as_deref()),
        ] {
            if let Some(v) = v {
                m.serialize_entry(k, v)?;
            }
        }
        if let Some(id) = &it.history_id {
            m.serialize_entry("_trakt_history_id", id)?;
        }
        m.end()
    }
}

/// The item as CrossWatch's JSON map, the fields of `extra` merged in where they do not clash.
///
/// Written as text and read back rather than by `serde_json::to_value`: the tree serializer
/// would be one more copy of the item's fields and of serde_json's writer in the component,
/// for maps that only unresolved and journal entries hold.
pub fn item_to_json(item: &Item) -> Value {
    let text = serde_json::to_string(&ItemJson(item)).unwrap_or_default();
    let mut v = serde_json::from_str(&text).unwrap_or(Value::Null);
    if let (Some(o), Some(Ok(Value::Object(extra)))) =
        (v.as_object_mut(), item.extra.as_deref().map(serde_json::from_str::<Value>))
    {
        for (k, x) in extra {
            o.entry(k).or_insert(x);
        }
    }
    v
}

fn scalar_ids(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(o)) => ids_from_map(o),
        _ => Vec::new(),
    }
}

/// Normalised ids of a JSON `ids` object; non-scalar values (e.g. `plex: {guid, slug}`) and
/// nulls are dropped.
pub fn ids_from_map(o: &Map<String, Value>) -> Vec<(String, String)> {
    let raw: Vec<(String, String)> = o
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            _ => None,
        })
        .collect();
    Ids::from_raw(&raw).to_raw()
}

/// The item of a stored map (ids normalised); `None` when `v` is not an object.
pub fn item_from_json(v: &Value) -> Option<Item> {
    let o = v.as_object()?;
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let i = |k: &str| o.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
    const KNOWN: [&str; 14] = [
        "type",
        "title",
        "year",
        "ids",
        "show_ids",
        "season",
        "episode",
        "series_title",
        "rating",
        "rated_at",
        "watched_at",
        "listed_at",
        "_trakt_history_id",
        "history_id",
    ];
    let mut extra = Map::new();
    extra.extend(o.iter().filter(|(k, _)| !KNOWN.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())));
    Some(Item {
        kind: s("type").unwrap_or_default(),
        title: s("title"),
        year: i("year"),
        ids: scalar_ids(o.get("ids")),
        show_ids: scalar_ids(o.get("show_ids")),
        season: i("season"),
        episode: i("episode"),
        series_title: s("series_title"),
        rating: o.get("rating").and_then(Value::as_f64),
        rated_at: s("rated_at"),
        watched_at: s("watched_at"),
        listed_at: s("listed_at"),
        history_id: s("_trakt_history_id").or_else(|| s("history_id")),
        extra: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let it = Item {
            kind: "episode".into(),
            title: Some("Pilot".into()),
            year: Some(2008),
            ids: vec![("tmdb".into(), "62085".into()), ("tvdb".into(), "349232".into())],
            show_ids: vec![("tmdb".into(), "1396".into())],
            season: Some(1),
            episode: Some(1),
            series_title: Some("Breaking Bad".into()),
            rating: Some(9.0),
            rated_at: Some("2026-04-12T08:00:00.000Z".into()),
            listed_at: Some("2026-04-04T12:00:00.000Z".into()),
            extra: Some(r#"{"_cw_marked":true}"#.into()),
            ..Item::default()
        };
        let v = item_to_json(&it);
        assert_eq!(
            v,
            json!({
                "type": "episode", "title": "Pilot", "year": 2008,
                "ids": {"tmdb": "62085", "tvdb": "349232"}, "show_ids": {"tmdb": "1396"},
                "season": 1, "episode": 1, "series_title": "Breaking Bad", "rating": 9,
                "rated_at": "2026-04-12T08:00:00.000Z", "listed_at": "2026-04-04T12:00:00.000Z", "_cw_marked": true
            })
        );
        assert_eq!(item_from_json(&v), Some(it));
        assert_eq!(item_from_json(&json!([1])), None);
        let odd = item_from_json(&json!({"type": "movie", "ids": {"plex": {"guid": "x"}, "tmdb": 603}, "rating": 8.5}))
            .unwrap();
        assert_eq!(odd.ids, vec![("tmdb".to_string(), "603".to_string())]);
        assert_eq!(odd.rating, Some(8.5));
        assert_eq!(item_to_json(&odd)["rating"], json!(8.5));
    }

    #[test]
    fn streamed_items_keep_the_first_id_of_a_namespace_and_write_what_is_set() {
        let it = Item {
            kind: "movie".into(),
            ids: vec![("tmdb".into(), "603".into()), ("tmdb".into(), "1".into())],
            rating: Some(f64::NAN),
            history_id: Some("6000000000".into()),
            extra: Some(r#"{"type": "other", "_x": 1}"#.into()),
            ..Item::default()
        };
        let text = serde_json::to_string(&ItemJson(&it)).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"type": "movie", "title": null, "year": null, "ids": {"tmdb": "603"}, "rating": null, "_trakt_history_id": "6000000000"})
        );
        assert_eq!(text.matches("tmdb").count(), 1);
        // `item_to_json` adds `extra` where it does not clash.
        assert_eq!(item_to_json(&it)["_x"], 1);
        assert_eq!(item_to_json(&it)["type"], "movie");
    }
}
