//! The typed stored-item reader says what `item_from_json` says, item for item, and the
//! streamed map is what `item_to_json` of each item makes.

use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{index_json, items_of_text, keyed_item, stored_item, StoredMap};
use crate::model::json::{item_from_json, item_to_json};
use crate::model::{item_key, Item};

fn odd_items() -> Vec<Value> {
    vec![
        json!({"type": "movie", "title": "A", "year": 1999, "ids": {"tmdb": "603", "imdb": "tt0133093"}, "listed_at": "2026-01-01T00:00:00.000Z"}),
        json!({"type": "episode", "title": "Pilot", "year": 2008, "ids": {"tvdb": "349232"}, "show_ids": {"tmdb": "1396"},
               "season": 1, "episode": 1, "series_title": "S", "rating": 9, "rated_at": "2026-04-12T08:00:00.000Z"}),
        json!({"type": "movie", "title": null, "year": null, "ids": {"tmdb": 603.0, "TMDB": "1", "plex": {"guid": "x"}, "imdb": null}}),
        json!({"type": 5, "title": 7, "year": "1999", "ids": [], "show_ids": "x", "season": 1.0, "episode": 3000000000u64}),
        json!({"type": "movie", "ids": {"tmdb": "603"}, "rating": 8.5, "watched_at": "w", "_trakt_history_id": "12"}),
        json!({"type": "movie", "ids": {"tmdb": "603"}, "rating": "8", "history_id": "13"}),
        json!({"type": "movie", "ids": {"tmdb": "603"}, "_trakt_history_id": 5, "history_id": "14"}),
        json!({"type": "show", "title": "S", "ids": {"tmdb": "1396"}, "_cw_marked": true, "notes": null}),
        json!({}),
        json!([1]),
        json!("text"),
        json!(null),
    ]
}

#[test]
fn the_typed_reader_says_what_item_from_json_says() {
    for v in odd_items() {
        let text = v.to_string();
        let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
        assert_eq!(stored_item(&raw), item_from_json(&v), "{text}");
        if let Some((item, key)) = keyed_item(&raw) {
            assert_eq!(key, item_key(&item), "{text}");
        }
    }
    // Ids that normalise to a numeric "0" are normalised again for the key, as `item_key` does.
    let raw: Box<RawValue> =
        serde_json::from_str(r#"{"type": "movie", "ids": {"tmdb": "x0", "imdb": "tt1"}}"#).unwrap();
    assert_eq!(keyed_item(&raw).unwrap().1, "imdb:tt1");
    // A repeated field: the `Value` keeps the last.
    let text = r#"{"type": "movie", "title": "A", "title": "B", "ids": {"tmdb": "1"}}"#;
    let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
    assert_eq!(stored_item(&raw).unwrap().title.as_deref(), Some("B"));
}

#[test]
fn a_stored_map_reads_in_key_order_keeping_the_last_of_a_repeated_key() {
    let text = r#"{"b": 1, "a": 2, "c\u0041": 3, "b": 4}"#;
    let m: StoredMap = serde_json::from_str(text).unwrap();
    let got: Vec<(String, String)> = m.0.iter().map(|(k, v)| (k.to_string(), v.get().to_string())).collect();
    let want = [("a", "2"), ("b", "4"), ("cA", "3")];
    assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
    assert!(serde_json::from_str::<StoredMap>("[1]").is_err());
}

#[test]
fn an_index_text_reads_back_as_its_items() {
    let mut items: Vec<(String, Item)> =
        odd_items().iter().filter_map(item_from_json).map(|it| (crate::model::item_key(&it), it)).collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.dedup_by(|a, b| a.0 == b.0);
    let text = index_json(items.iter().map(|(k, it)| (k.as_str(), it)), 0).unwrap();
    let want: serde_json::Map<String, Value> = items.iter().map(|(k, it)| (k.clone(), item_to_json(it))).collect();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), Value::Object(want.clone()));
    // Read back (the ratings cache and the watchlist shadow): the same items.
    let back = items_of_text(&text, "watchlist", "f.json", |_| true).expect("reads back");
    let back: serde_json::Map<String, Value> = back.iter().map(|(k, it)| (k.clone(), item_to_json(it))).collect();
    assert_eq!(back, want);
    // An item stored under another key is refused, and said so.
    crate::log::take_lines();
    let (k0, k1) = (&items[0].0, &items[1].0);
    let swapped = text.replacen(&format!("\"{k0}\":"), "\"zz-not-its-key\":", 1);
    assert!(swapped != text && items_of_text(&swapped, "watchlist", "f.json", |_| true).is_none(), "{k1}");
    assert!(crate::log::take_lines().iter().any(|l| l.contains("state_ignored") && l.contains("bad_item")));
}
