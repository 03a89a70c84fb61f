//! Items as CrossWatch's JSON map (state files): `{type, title, year, ids: {ns: value}, ...}`.
//!
//! The map uses CrossWatch's field names (`_trakt_history_id` for the history id); the
//! fields of `extra` are merged in where they do not clash, as hosts do, so a stored item
//! reads like the item CrossWatch handed over.

use serde_json::{Map, Value};

use super::item::{Ids, Item};

fn ids_json(ids: &[(String, String)]) -> Value {
    let mut o = Map::new();
    for (k, v) in ids {
        o.entry(k.clone()).or_insert_with(|| Value::String(v.clone()));
    }
    Value::Object(o)
}

/// A rating as JSON: an integer when it is one (CrossWatch writes ints), else the number.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

pub fn item_to_json(item: &Item) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), Value::String(item.kind.clone()));
    o.insert("title".into(), item.title.clone().map(Value::String).unwrap_or(Value::Null));
    o.insert("year".into(), item.year.map(Value::from).unwrap_or(Value::Null));
    o.insert("ids".into(), ids_json(&item.ids));
    if !item.show_ids.is_empty() {
        o.insert("show_ids".into(), ids_json(&item.show_ids));
    }
    let opt = |o: &mut Map<String, Value>, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.into(), v);
        }
    };
    opt(&mut o, "season", item.season.map(Value::from));
    opt(&mut o, "episode", item.episode.map(Value::from));
    opt(&mut o, "series_title", item.series_title.clone().map(Value::String));
    opt(&mut o, "rating", item.rating.map(number));
    opt(&mut o, "rated_at", item.rated_at.clone().map(Value::String));
    opt(&mut o, "watched_at", item.watched_at.clone().map(Value::String));
    opt(&mut o, "listed_at", item.listed_at.clone().map(Value::String));
    opt(&mut o, "_trakt_history_id", item.history_id.clone().map(Value::String));
    if let Some(Ok(Value::Object(extra))) = item.extra.as_deref().map(serde_json::from_str::<Value>) {
        for (k, v) in extra {
            o.entry(k).or_insert(v);
        }
    }
    Value::Object(o)
}

fn scalar_ids(v: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(o)) = v else { return Vec::new() };
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
        "type", "title", "year", "ids", "show_ids", "season", "episode", "series_title", "rating", "rated_at",
        "watched_at", "listed_at", "_trakt_history_id", "history_id",
    ];
    let extra: Map<String, Value> =
        o.iter().filter(|(k, _)| !KNOWN.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
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
        assert_eq!(v, json!({
            "type": "episode", "title": "Pilot", "year": 2008,
            "ids": {"tmdb": "62085", "tvdb": "349232"}, "show_ids": {"tmdb": "1396"},
            "season": 1, "episode": 1, "series_title": "Breaking Bad", "rating": 9,
            "rated_at": "2026-04-12T08:00:00.000Z", "listed_at": "2026-04-04T12:00:00.000Z", "_cw_marked": true
        }));
        assert_eq!(item_from_json(&v), Some(it));
        assert_eq!(item_from_json(&json!([1])), None);
        let odd = item_from_json(&json!({"type": "movie", "ids": {"plex": {"guid": "x"}, "tmdb": 603}, "rating": 8.5})).unwrap();
        assert_eq!(odd.ids, vec![("tmdb".to_string(), "603".to_string())]);
        assert_eq!(odd.rating, Some(8.5));
        assert_eq!(item_to_json(&odd)["rating"], json!(8.5));
    }
}
