//! History removes by history id, by watched_at and by coordinates.

use super::*;

#[test]
fn remove_by_history_id_is_exact_and_strict() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010).seed(true, 1, "2026-05-02T21:10:00Z", 5_000_000_011);
    let mut env = t.env(Options::default());
    let items = vec![
        Item { history_id: Some("5000000010".into()), ..at(movie("272"), "2026-05-01T21:10:00.000Z") },
        Item { history_id: Some("4999999999".into()), ..movie("272") },
        Item { history_id: Some("12x".into()), ..movie("272") },
    ];
    let r = History::default().write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:272@1777669800"]);
    assert_eq!(r.skipped, vec!["tmdb:272"], "not on Trakt (not_found.ids): already gone");
    assert_eq!(unresolved(&r), vec![("tmdb:272".to_string(), Hint::InvalidHistoryId)]);
    assert_eq!(posts(&env, "/sync/history/remove"), vec![json!({"ids": [4_999_999_999u64, 5_000_000_010u64]})]);
    assert_eq!(t.times(true, 1), vec!["2026-05-02T21:10:00Z"]);
    assert_eq!(env.sent().len(), 1, "no index needed");

    // Trakt deleted fewer than it was sent and named none: nothing is confirmed.
    let f = Fakes::new(|_| {
        Ok(resp(200, &[], &json!({"deleted": {"movies": 1, "episodes": 0}, "not_found": {"ids": []}}).to_string()))
    });
    let mut env = Env::new(f, Options::default());
    let items = vec![
        Item { history_id: Some("1".into()), ..movie("272") },
        Item { history_id: Some("2".into()), ..movie("603") },
    ];
    let r = History::default().write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert!(r.confirmed.is_empty());
    assert_eq!(
        unresolved(&r),
        vec![("tmdb:272".to_string(), Hint::Unconfirmed), ("tmdb:603".to_string(), Hint::Unconfirmed)]
    );
}

#[test]
fn remove_by_watched_at_looks_the_play_up_in_the_index() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010).seed(true, 1, "2026-05-01T21:10:30Z", 5_000_000_011).seed(
        true,
        1,
        "2026-05-02T21:10:00Z",
        5_000_000_012,
    );
    let mut env = t.env(Options::default());
    let mut h = History::default();
    h.build_index(&mut env.ctx()).unwrap();
    let items = vec![
        at(movie("272"), "2026-05-01T21:10:59Z"),
        at(
            Item { kind: "movie".into(), ids: raw(&[("imdb", "tt0372784")]), ..Item::default() },
            "2026-05-02T21:10:00Z",
        ),
        at(movie("272"), "2026-05-09T21:10:00Z"),
    ];
    let r = h.write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:272@1777669800", "imdb:tt0372784@1777756200"]);
    assert_eq!(r.skipped, vec!["tmdb:272@1778361000"], "no play at that minute");
    assert_eq!(
        posts(&env, "/sync/history/remove"),
        vec![json!({"ids": [5_000_000_010u64, 5_000_000_012u64]})],
        "the plain key's play only"
    );
    assert_eq!(t.plays().iter().map(|p| p.id).collect::<Vec<_>>(), vec![5_000_000_011]);
    // This run's index and the cache lost the removed plays.
    let doc = cache_doc(&env.mem);
    let keys: Vec<&String> = doc["items"].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["tmdb:272@1777669800"], "the other play of that minute is now the plain key");
    assert_eq!(doc["counts"], json!({"movies": 1, "episodes": 0}));

    // A play this run added (no history id yet) is found with a one-minute read.
    let add = vec![at(movie("603"), "2026-06-01T18:00:00Z")];
    h.write(Op::Add, &add, false, &mut env.ctx()).unwrap();
    let n = env.sent().len();
    let r = h.write(Op::Remove, &add, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603@1780336800"]);
    assert_eq!(
        env.sent()[n..],
        [
            format!(
                "GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250",
                iso(1_780_336_800).replace(':', "%3A"),
                iso(1_780_336_859).replace(':', "%3A")
            ),
            "POST /sync/history/remove".to_string(),
        ]
    );
    assert!(t.times(true, 2).is_empty());
}

#[test]
fn remove_by_coordinates_takes_every_play_one_item_per_request() {
    let t = Trakt::new();
    t.seed(true, 2, "2026-05-03T21:10:00Z", 5_000_000_012).seed(true, 2, "2026-05-04T21:10:00Z", 5_000_000_013).seed(
        true,
        1,
        "2026-05-01T21:10:00Z",
        5_000_000_010,
    );
    let mut env = t.env(quiet());
    let items = vec![movie("603"), movie("11"), movie("999"), bb(1, 2)];
    let r = History::default().write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603"]);
    assert_eq!(r.skipped, vec!["tmdb:11", "tvdb:81189#s01e02"], "no plays");
    assert_eq!(unresolved(&r), vec![("tmdb:999".to_string(), Hint::NotFound)]);
    assert_eq!(
        posts(&env, "/sync/history/remove"),
        vec![
            json!({"movies": [{"ids": {"tmdb": 603}}]}),
            json!({"movies": [{"ids": {"tmdb": 11}}]}),
            json!({"movies": [{"ids": {"tmdb": 999}}]}),
            json!({"shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}]}),
        ]
    );
    assert!(t.times(true, 2).is_empty());
    assert_eq!(t.times(true, 1).len(), 1, "other items untouched");

    // Dry run: planned, nothing sent.
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let r = History::default()
        .write(Op::Remove, &[movie("603"), Item { history_id: Some("7".into()), ..movie("272") }], true, &mut env.ctx())
        .unwrap();
    let bodies: Vec<&str> = r.planned.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(bodies, vec![r#"{"ids":[7]}"#, r#"{"movies":[{"ids":{"tmdb":603}}]}"#]);
    assert!(env.sent().is_empty());
}
