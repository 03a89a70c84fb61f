//! Unit tests of request bodies, acceptance hints and `not_found` matching.

use super::*;
use serde_json::json;

fn item(kind: &str, ids: &[(&str, &str)], show_ids: &[(&str, &str)], s: Option<i32>, e: Option<i32>) -> Item {
    let raw = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Item { kind: kind.into(), ids: raw(ids), show_ids: raw(show_ids), season: s, episode: e, ..Item::default() }
}

const BB: [(&str, &str); 4] = [("tmdb", "1396"), ("tvdb", "81189"), ("imdb", "tt0903747"), ("slug", "breaking-bad")];

fn body_of(items: &[Item]) -> Body {
    let entries: Vec<Entry> = items.iter().enumerate().map(|(i, it)| Entry::bare(i, target_for(it).unwrap())).collect();
    build_body(&entries)
}

#[test]
fn ids_for_trakt_keeps_four_namespaces_typed() {
    let it = item(
        "movie",
        &[("tmdb", "603"), ("imdb", "tt0133093"), ("slug", "the-matrix"), ("plex", "5")],
        &[],
        None,
        None,
    );
    let ids = ids_for_trakt(&it.kind(), &it.ids(), &it.show_ids(), false);
    assert_eq!(Value::Object(ids), json!({"imdb": "tt0133093", "tmdb": 603}));
}

#[test]
fn copied_show_ids_are_dropped() {
    let it = item("episode", &[("tmdb", "1396"), ("tvdb", "349232"), ("imdb", "tt0903747")], &BB, Some(1), Some(1));
    let ids = ids_for_trakt(&it.kind(), &it.ids(), &it.show_ids(), true);
    assert_eq!(Value::Object(ids), json!({"tvdb": 349232}));
}

#[test]
fn episode_numbers_without_show_ids_get_no_ids() {
    let it = item("episode", &[("tmdb", "1396")], &[], Some(1), Some(1));
    assert_eq!(target_for(&it), Err(Hint::MissingIds));
    let it = item("episode", &[("tmdb", "62085"), ("plex", "77")], &[], Some(1), Some(1));
    assert!(matches!(target_for(&it), Ok(Target::Flat { group: Group::Episodes, .. })));
}

#[test]
fn acceptance_hints() {
    let cases = [
        (item("movie", &[("slug", "x")], &[], None, None), Hint::MissingIds),
        (item("show", &[], &[], None, None), Hint::MissingIds),
        (item("season", &[], &[], Some(1), None), Hint::MissingIds),
        (item("season", &[], &BB, None, None), Hint::MissingScope),
        (item("episode", &[], &BB, Some(1), None), Hint::MissingScope),
        (item("episode", &[], &[], Some(1), Some(2)), Hint::MissingIds),
        (item("person", &[("tmdb", "1")], &[], None, None), Hint::UnsupportedType),
    ];
    for (it, hint) in cases {
        assert_eq!(target_for(&it), Err(hint), "{it:?}");
    }
}

#[test]
fn flat_body() {
    let items = [
        item("movie", &[("tmdb", "603"), ("imdb", "tt0133093")], &[], None, None),
        item("show", &BB, &[], None, None),
        item("season", &[("tvdb", "171641"), ("tmdb", "1402")], &[("tmdb", "1402")], Some(3), None),
        item("episode", &[("trakt", "49"), ("tmdb", "62118")], &BB, Some(4), Some(1)),
        item("movies", &[("tmdb", "603")], &[], None, None),
    ];
    let body = body_of(&items);
    assert_eq!(
        body.json,
        r#"{"episodes":[{"ids":{"tmdb":62118,"trakt":49}}],"movies":[{"ids":{"imdb":"tt0133093","tmdb":603}},{"ids":{"tmdb":603}}],"seasons":[{"ids":{"tvdb":171641}}],"shows":[{"ids":{"imdb":"tt0903747","tmdb":1396,"tvdb":81189}}]}"#
    );
}

#[test]
fn nested_body_groups_by_show_and_dedupes() {
    let items = [
        item("episode", &[("tmdb", "1396")], &BB, Some(1), Some(1)), // copied show id only -> nested
        item("episode", &[], &BB, Some(1), Some(2)),
        item("season", &[], &BB, Some(2), None),
        item("episode", &[], &[("tvdb", "153021")], Some(0), Some(3)),
        item("episode", &[], &BB, Some(1), Some(2)), // duplicate of #1
        item("episode", &[], &BB, Some(2), Some(1)), // same season as the whole-season item
    ];
    let body = body_of(&items);
    let v: Value = serde_json::from_str(&body.json).unwrap();
    assert_eq!(
        v,
        json!({"shows": [
            {"ids": {"imdb": "tt0903747", "slug": "breaking-bad", "tmdb": 1396, "tvdb": 81189},
             "seasons": [
                {"number": 1, "episodes": [{"number": 1}, {"number": 2}]},
                {"number": 2},
                {"number": 2, "episodes": [{"number": 1}]}
             ]},
            {"ids": {"tvdb": 153021}, "seasons": [{"number": 0, "episodes": [{"number": 3}]}]}
        ]})
    );
    assert!(body.json.starts_with(r#"{"shows":[{"ids":{"imdb":"tt0903747","slug":"breaking-bad","tmdb":1396,"tvdb":81189},"seasons":[{"episodes":[{"number":1},{"number":2}],"number":1}"#));
}

#[test]
fn not_found_flat() {
    let items = [
        item("movie", &[("tmdb", "603")], &[], None, None),
        item("movie", &[("imdb", "tt0000111")], &[], None, None),
        item("episode", &[("trakt", "1061")], &BB, Some(1), Some(1)),
        item("movie", &[("imdb", "TT0000111")], &[], None, None), // same entry as #1
    ];
    let body = body_of(&items);
    let nf = json!({"movies": [{"ids": {"imdb": "tt0000111"}}], "shows": [], "seasons": [],
                    "episodes": [{"ids": {"trakt": 1061}}]});
    let m = body.match_not_found(&nf);
    assert_eq!(m.inputs.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(m.unmatched, 0);
}

#[test]
fn not_found_nested() {
    let items = [
        item("episode", &[], &BB, Some(1), Some(1)),
        item("episode", &[], &BB, Some(1), Some(2)),
        item("season", &[], &BB, Some(3), None),
        item("episode", &[], &[("tvdb", "153021")], Some(2), Some(5)),
        item("show", &[("trakt", "4")], &[], None, None),
    ];
    let body = body_of(&items);
    let bb_ids = json!({"imdb": "tt0903747", "slug": "breaking-bad", "tmdb": 1396, "tvdb": 81189});
    // One episode of a show, a whole season, a whole nested show, the flat show, a stranger.
    let nf = json!({"shows": [
        {"ids": bb_ids, "seasons": [{"number": 1, "episodes": [{"number": 2}]}, {"number": 3}]},
        {"ids": {"tvdb": 153021}, "seasons": [{"number": 2, "episodes": [{"number": 5}]}]},
        {"ids": {"trakt": 4}},
        {"ids": {"trakt": 999}}
    ]});
    let m = body.match_not_found(&nf);
    assert_eq!(m.inputs.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(m.unmatched, 1);

    // A whole show echoed without seasons covers everything nested under it.
    let nf = json!({"shows": [{"ids": {"tvdb": "153021"}}]});
    assert_eq!(body.match_not_found(&nf).inputs.into_iter().collect::<Vec<_>>(), vec![3]);
    let nf = json!({"shows": [{"ids": bb_ids, "seasons": [{"number": 1}]}]});
    assert_eq!(body.match_not_found(&nf).inputs.into_iter().collect::<Vec<_>>(), vec![0, 1]);
}

#[test]
fn not_found_scopes() {
    let items = [
        item("movie", &[("tmdb", "1")], &[], None, None),
        item("episode", &[("trakt", "5")], &[], None, None),
        item("episode", &[], &BB, Some(1), Some(1)),
        item("episode", &[], &BB, Some(1), Some(2)),
        item("episode", &[], &BB, Some(2), Some(1)),
        item("episode", &[], &[("tvdb", "7")], Some(0), Some(3)),
    ];
    let body = body_of(&items);
    let bb_ids = json!({"imdb": "tt0903747", "slug": "breaking-bad", "tmdb": 1396, "tvdb": 81189});
    let nf = json!({
        "movies": [{"ids": {"tmdb": 1}}],
        "episodes": [{"ids": {"trakt": 5}}],
        "shows": [
            {"ids": bb_ids, "seasons": [{"number": 1, "episodes": [{"number": 2}]}, {"number": 2}]},
            {"ids": {"tvdb": 7}}
        ]
    });
    let m = body.match_not_found_scoped(&nf);
    assert_eq!(
        m.inputs,
        vec![
            (0, Scope::Flat(Group::Movies)),
            (1, Scope::Flat(Group::Episodes)),
            (3, Scope::Episode),
            (4, Scope::Parent),
            (5, Scope::Parent),
        ]
    );
    assert_eq!(m.unmatched, 0);
}

fn rating(r: i64, at: Option<&str>) -> Attrs {
    let mut a = Attrs::new();
    a.insert("rating".into(), Value::from(r));
    if let Some(at) = at {
        a.insert("rated_at".into(), Value::from(at));
    }
    a
}

#[test]
fn ratings_bodies_carry_fields_per_entry_flat_and_nested() {
    let items = [
        item(
            "movie",
            &[("tmdb", "603"), ("imdb", "tt0133093"), ("trakt", "481"), ("slug", "the-matrix")],
            &[],
            None,
            None,
        ),
        item("show", &[("tvdb", "81189"), ("slug", "breaking-bad")], &[], None, None),
        item("season", &[], &BB, Some(1), None),
        item("episode", &[], &BB, Some(1), Some(2)),
        item("episode", &[], &BB, Some(1), Some(3)),
        item("season", &[("tvdb", "30272")], &BB, Some(1), None),
        item("movie", &[("tmdb", "603"), ("imdb", "tt0133093"), ("trakt", "481")], &[], None, None), // same entry and values as #0
        item("movie", &[("tmdb", "603"), ("imdb", "tt0133093"), ("trakt", "481")], &[], None, None), // same ids, other values
    ];
    let attrs = [
        rating(9, Some("2026-04-30T19:02:00.000Z")),
        rating(10, None),
        rating(8, None),
        rating(7, Some("2026-04-12T08:00:00Z")),
        rating(6, None),
        rating(5, None),
        rating(9, Some("2026-04-30T19:02:00.000Z")),
        rating(2, None),
    ];
    let entries: Vec<Entry> = items
        .iter()
        .zip(attrs)
        .enumerate()
        .map(|(i, (it, a))| Entry { input: i, target: target_for(it).unwrap(), attrs: a })
        .collect();
    let body = build_body(&entries);
    assert_eq!(
        body.json,
        concat!(
            r#"{"movies":[{"ids":{"imdb":"tt0133093","tmdb":603,"trakt":481},"rated_at":"2026-04-30T19:02:00.000Z","rating":9},"#,
            r#"{"ids":{"imdb":"tt0133093","tmdb":603,"trakt":481},"rating":2}],"#,
            r#""seasons":[{"ids":{"tvdb":30272},"rating":5}],"#,
            r#""shows":[{"ids":{"tvdb":81189},"rating":10},"#,
            r#"{"ids":{"imdb":"tt0903747","slug":"breaking-bad","tmdb":1396,"tvdb":81189},"seasons":["#,
            r#"{"number":1,"rating":8},"#,
            r#"{"episodes":[{"number":2,"rated_at":"2026-04-12T08:00:00Z","rating":7},{"number":3,"rating":6}],"number":1}]}]}"#
        )
    );
    // Typed: trakt/tmdb/tvdb numbers, imdb and slug strings.
    let v: Value = serde_json::from_str(&body.json).unwrap();
    assert!(v["movies"][0]["ids"]["tmdb"].is_u64() && v["movies"][0]["ids"]["imdb"].is_string());
    assert!(v["shows"][1]["ids"]["slug"].is_string() && v["shows"][1]["ids"]["tvdb"].is_u64());

    // not_found echoes carry the rating; they still map back by ids and numbers.
    let nf = json!({
        "movies": [{"ids": {"imdb": "tt0133093", "tmdb": 603, "trakt": 481}, "rating": 9}],
        "shows": [{"ids": {"imdb": "tt0903747", "slug": "breaking-bad", "tmdb": 1396, "tvdb": 81189},
                   "seasons": [{"number": 1, "rating": 8}, {"number": 1, "episodes": [{"number": 3, "rating": 6}]}]}],
        "seasons": [{"ids": {"tvdb": 30272}, "rating": 5}]
    });
    let m = body.match_not_found(&nf);
    // The movie echo matches both movie entries (same ids): Trakt could not resolve that movie.
    assert_eq!(m.inputs.into_iter().collect::<Vec<_>>(), vec![0, 2, 4, 5, 6, 7]);
    assert_eq!(m.unmatched, 0);
}

#[test]
fn counters() {
    let r = json!({"added": {"movies": 1, "episodes": 3}, "existing": {"shows": 2}});
    assert_eq!(counts(&r, "added"), [1, 0, 0, 3]);
    assert_eq!(counts(&r, "existing"), [0, 2, 0, 0]);
    assert_eq!(counts(&r, "deleted"), [0, 0, 0, 0]);
}
