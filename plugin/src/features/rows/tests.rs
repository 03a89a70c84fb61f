//! The typed row reader says what the `Value` reader says, row for row, including the odd
//! rows (wrong JSON types, repeated and mixed-case ids, numbers as ids, no media object).

use serde_json::{json, Value};

use super::{row_rating, row_to_item, ListRow, Row};
use crate::model::item_key;

const GOLDEN: &str = include_str!("../../../tests/fixtures/golden_keys.json");

fn odd_rows() -> Vec<Value> {
    vec![
        json!({"type": "movie", "movie": {"title": "A", "year": 1999, "ids": {"trakt": 1, "tmdb": 603, "imdb": "tt0133093", "slug": "a"}}}),
        json!({"type": "movie", "movie": {"title": "B\u{e9}\"q", "year": 1999.0, "ids": {"tmdb": 603.0, "TMDB": "1", "plex": {"guid": "x"}, "imdb": null, "tvdb": true}}}),
        json!({"type": "movie", "movie": {"title": 5, "year": "1999", "ids": []}}),
        json!({"type": "movie", "movie": "not an object"}),
        json!({"type": "movie"}),
        json!({"type": 7, "movie": {}}),
        json!({"movie": {"title": "no type"}}),
        json!({"type": "person", "person": {"name": "x"}}),
        json!({"type": "show", "show": {"title": "S", "year": 2008, "ids": {"tmdb": 1396, "tvdb": 81189}}}),
        json!({"type": "season", "season": {"number": 2, "ids": {"tmdb": 3626}}, "show": {"title": "S", "year": 2008, "ids": {"tvdb": 81189}}}),
        json!({"type": "season", "season": {"number": 2}}),
        json!({"type": "season", "show": {"title": "S"}}),
        json!({"type": "episode", "episode": {"season": 1, "number": 5, "title": null, "ids": {"tmdb": 62085}}, "show": {"title": "S", "ids": {"tmdb": 1396}}}),
        json!({"type": "episode", "episode": {"season": 3000000000u64, "number": -1, "title": "E"}, "show": {"title": null, "year": -5}}),
        json!({"type": "episode", "episode": {"season": 1, "number": 1}, "show": []}),
        json!({"type": "movie", "movie": {"ids": {"tmdb": -3, "trakt": 18446744073709551615u64, "imdb": "0133093"}}}),
    ]
}

fn golden_rows() -> Vec<Value> {
    let g: Value = serde_json::from_str(GOLDEN).unwrap();
    let mut rows: Vec<Value> = g["watchlist"].as_array().unwrap().iter().map(|c| c["row"].clone()).collect();
    for t in ["movies", "shows", "seasons", "episodes"] {
        rows.extend(g["ratings"][t].as_array().unwrap().iter().map(|c| c["row"].clone()));
    }
    rows
}

#[test]
fn the_typed_reader_reads_every_row_as_a_value_does() {
    let rows: Vec<Value> = odd_rows().into_iter().chain(golden_rows()).collect();
    assert!(rows.len() > 40);
    for row in rows {
        let text = row.to_string();
        let typed = Row::parse(&text).expect("an object row reads typed");
        assert_eq!(typed.item(), row_to_item(&row), "{text}");
        let list = ListRow::read(&text).unwrap();
        assert!(matches!(list, ListRow::Typed(..)));
        assert_eq!(list.item(), row_to_item(&row), "{text}");
        let keyed = row_to_item(&row).map(|o| o.map(|i| (i.clone(), item_key(&i))));
        assert_eq!(list.keyed_item(), keyed, "{text}");
    }
}

#[test]
fn rows_the_typed_reader_cannot_read_the_same_way_go_the_value_way() {
    // A repeated field (a Value keeps the last one) and a row that is not an object.
    for text in [r#"{"type": "show", "type": "movie", "movie": {"title": "A"}}"#, r#"["movie", {"title": "A"}]"#] {
        assert!(Row::parse(text).is_none(), "{text}");
        let v: Value = serde_json::from_str(text).unwrap();
        let list = ListRow::read(text).unwrap();
        assert!(matches!(list, ListRow::Tree(_)));
        assert_eq!(list.item(), row_to_item(&v), "{text}");
    }
    assert!(ListRow::read("{").is_err());
}

#[test]
fn ratings_and_dates_read_the_same_way() {
    let ratings = [
        json!(8),
        json!(10.0),
        json!(8.5),
        json!(" 7 "),
        json!("x"),
        json!(0),
        json!(11),
        json!(-3),
        json!(null),
        json!(true),
        json!([8]),
        json!({"r": 8}),
        json!(18446744073709551615u64),
    ];
    for r in ratings {
        let row = json!({"type": "movie", "movie": {"ids": {"tmdb": 1}}, "rating": r, "rated_at": "2026-01-01T00:00:00.000Z", "listed_at": 5});
        let text = row.to_string();
        let list = ListRow::read(&text).unwrap();
        assert_eq!(list.rating(), row_rating(row.get("rating")), "{text}");
        assert_eq!(list.rating_text(), row["rating"].to_string(), "{text}");
        assert_eq!(list.text("rated_at"), Some("2026-01-01T00:00:00.000Z"));
        assert_eq!(list.text("listed_at"), None);
        assert_eq!(list.text("user_rated_at"), None);
        assert_eq!(list.kind(), "movie");
    }
    let list = ListRow::read(r#"{"movie": {}}"#).unwrap();
    assert_eq!((list.rating_text(), list.kind()), (String::new(), String::new()));
}

#[test]
fn a_trakt_id_read_alone_is_the_one_the_whole_ids_give() {
    let whole = |m: &super::Media| {
        m.ids.read().and_then(|r| r.0.into_iter().find(|(k, _)| k == "trakt")).and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let ids = [
        json!({"trakt": 5, "tmdb": 603}),
        json!({"tmdb": 603, "trakt": "77"}),
        json!({"trakt": " 7"}),
        json!({"trakt": 5.0}),
        json!({"trakt": -5}),
        json!({"trakt": 18446744073709551615u64}),
        json!({"trakt": {"id": 5}}),
        json!({"trakt": null}),
        json!({"TRAKT": 5}),
        json!({"slug": "x"}),
        json!({}),
        json!([5]),
        json!(5),
        json!("trakt"),
    ];
    let mut cases: Vec<String> = ids.iter().map(|i| format!(r#"{{"title": "A", "ids": {i}}}"#)).collect();
    // As Trakt and others write them: spaces, strings, literals, a name as a value.
    for ids in [
        r#"{ "trakt" : 100101 , "tvdb":500101}"#,
        "{\"tmdb\":1,\n  \"trakt\":\t\"42\"\r}",
        r#"{"trakt": null, "tmdb": 5}"#,
        r#"{"trakt": true}"#,
        r#"{"slug": "trakt", "tmdb": 5}"#,
        r#"{"slug": "trakt"}"#,
        r#"{"trakt": 5e3}"#,
        r#"{"trakt": -0}"#,
        r#"{"trakt": 0}"#,
        r#"{"trakt": "+7"}"#,
        r#"{"trakt": ""}"#,
        r#"{"trakt": 99999999999999999999999}"#,
        r#"{"trakt": 18446744073709551616}"#,
        r#"{"trakt": 7, "slug": "a\"trakt\": 9"}"#,
        r#"{"trakt": 7, "plex": {"trakt": 9}}"#,
        r#"{"trakt": 7, "trakt": [1]}"#,
        r#"{"trakt": 7, "trakt": "8"}"#,
    ] {
        cases.push(format!(r#"{{"ids": {ids}}}"#));
    }
    // A repeated name: the last value counts, a non-scalar one included.
    cases.push(r#"{"ids": {"trakt": 5, "trakt": 6}}"#.into());
    cases.push(r#"{"ids": {"trakt": 5, "trakt": {}}}"#.into());
    cases.push(r#"{"ids": {"trakt": [], "trakt": "8"}}"#.into());
    cases.push(r#"{"title": "no ids"}"#.into());
    for media in cases {
        let row = format!(r#"{{"type": "movie", "movie": {media}}}"#);
        let r = Row::parse(&row).expect("reads typed");
        let m = r.movie.0.as_ref().expect("a movie object");
        assert_eq!(m.ids.trakt(), whole(m), "{row}");
    }
}

#[test]
fn ids_normalised_in_one_pass_are_the_ids_of_the_raw_list() {
    let cases = [
        r#"{"trakt": 5, "tmdb": 603, "imdb": "tt0133093", "slug": "The-Matrix", "tvdb": null}"#,
        r#"{"tmdb": 603.0, "imdb": "0133093", "plex": {"guid": "x"}, "tvrage": 7, "tvdb": true}"#,
        r#"{"TMDB": "1", "tmdb": "603"}"#,
        r#"{"tmdb": "1", " tmdb ": "603"}"#,
        r#"{"tmdb": "x", "tmdb": "603"}"#,
        r#"{"tmdb": 603, "tmdb": {}}"#,
        r#"{"guid": "com.plexapp.agents.themoviedb://603?lang=en", "tmdb": 1}"#,
        r#"{"tmdb": 1, "guid": "imdb://tt0133093", "imdb": "tt1"}"#,
        r#"{"trakt": 0, "tmdb": "none", "imdb": "", "slug": "UNKNOWN", "mdblist": "ABC"}"#,
        r#"{"trakt": -5, "tmdb": 18446744073709551615, "tvdb": 1e3, "imdb": "tt\u0031"}"#,
        r#"{"foo": 1, "foo": 2, "Slug": "X"}"#,
        r#"{}"#,
        r#"[1]"#,
        r#""tmdb""#,
        r#"null"#,
    ];
    for ids in cases {
        let row = format!(r#"{{"type": "movie", "movie": {{"ids": {ids}}}}}"#);
        let r = Row::parse(&row).expect("reads typed");
        let m = r.movie.0.as_ref().expect("a movie object");
        let whole = m.ids.read().map(|raw| crate::model::Ids::from_raw(&raw.0)).unwrap_or_default();
        assert_eq!(m.ids.normalised(), whole, "{ids}");
    }
}

#[test]
fn rows_read_with_the_show_memo_are_read_as_without_it() {
    let rows: Vec<Value> = odd_rows().into_iter().chain(golden_rows()).collect();
    let mut memo = super::IdsMemo::default();
    // Each row twice in a row (the memo's case), and all of them after one another.
    for row in rows.iter().flat_map(|r| [r, r]).chain(rows.iter()) {
        let text = row.to_string();
        let typed = Row::parse(&text).expect("an object row reads typed");
        assert_eq!(typed.keyed_item_with(&mut memo), typed.keyed_item(), "{text}");
    }
}
