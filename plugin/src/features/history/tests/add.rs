//! History adds: acceptance, not_found, read-back, dry runs, chunking, the collection side-write.

use super::*;

#[test]
fn each_input_is_one_play_in_any_time_form_and_existing_or_repeated_plays_are_skipped() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010);
    let mut env = t.env(Options::default());
    let items = vec![
        at(movie("603"), "2026-06-01T20:00:30+02:00"),
        at(movie("603"), "1780000020"),
        at(movie("603"), "1780000080000"),
        at(movie("603"), "2026-06-01T18:00:59Z"),
        at(movie("272"), "2026-05-01T21:10:45Z"),
        at(movie("603"), "last tuesday"),
        movie("603"),
        at(movie("603"), "released"),
        at(Item { kind: "show".into(), ids: raw(&[("tmdb", "1396")]), ..Item::default() }, "2026-06-01T18:00:00Z"),
        at(bb(1, 2), "2026-06-02T21:00:00Z"),
        at(bb(0, 1), "unknown"),
        at(Item { ids: raw(&[("trakt", "20")]), ..bb(1, 5) }, "2026-06-03T21:00:00Z"),
    ];
    let mut h = History::default();
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        sorted(&r.confirmed),
        strings(&[
            "tmdb:603@1780336800",
            "tmdb:603@1780000020",
            "tmdb:603@1780000080",
            "tvdb:81189#s01e02@1780434000",
            "tvdb:81189#s00e01@0",
            "tvdb:81189#s01e05@1780520400",
        ])
    );
    assert_eq!(r.skipped, vec!["tmdb:603@1780336800", "tmdb:272@1777669800"]);
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:603".to_string(), Hint::InvalidWatchedAt),
            ("tmdb:603".to_string(), Hint::MissingWatchedAt),
            ("tmdb:603".to_string(), Hint::InvalidWatchedAt),
            ("tmdb:1396#show@1780336800".to_string(), Hint::UnsupportedType),
        ]
    );
    let bodies = posts(&env, "/sync/history");
    assert_eq!(
        bodies,
        vec![json!({
            "episodes": [{"ids": {"trakt": 20}, "watched_at": "2026-06-03T21:00:00.000Z"}],
            "movies": [
                {"ids": {"tmdb": 603}, "watched_at": "2026-06-01T18:00:00.000Z"},
                {"ids": {"tmdb": 603}, "watched_at": "2026-05-28T20:27:00.000Z"},
                {"ids": {"tmdb": 603}, "watched_at": "2026-05-28T20:28:00.000Z"}
            ],
            "shows": [{"ids": {"tvdb": 81189}, "seasons": [
                {"number": 1, "episodes": [{"number": 2, "watched_at": "2026-06-02T21:00:00.000Z"}]},
                {"number": 0, "episodes": [{"number": 1, "watched_at": "unknown"}]}
            ]}]
        })]
    );
    assert_eq!(t.times(true, 2), vec!["2026-05-28T20:27:00Z", "2026-05-28T20:28:00Z", "2026-06-01T18:00:00Z"]);
    assert_eq!(t.times(true, 1), vec!["2026-05-01T21:10:00Z"], "the existing play was not sent");
    assert_eq!(t.times(false, 90), vec!["1970-01-01T00:00:00Z"], "the special, at Trakt's unknown date");

    // Again with this run's index: nothing is sent.
    let n = env.sent().len();
    let again = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert!(again.confirmed.is_empty());
    assert_eq!(again.skipped.len(), 8);
    assert!(env.sent()[n..].is_empty(), "{:?}", &env.sent()[n..]);

    // And in a new run (the cache, patched after the write, then a delta read).
    let n = env.sent().len();
    let again = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!((again.confirmed.len(), again.skipped.len()), (0, 8));
    assert!(env.sent()[n..].iter().all(|s| s.starts_with("GET ")));
    assert_eq!(t.plays().len(), 7);
}

#[test]
fn the_same_play_under_two_ids_in_one_call_is_sent_once() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let items = vec![
        at(
            Item { kind: "movie".into(), ids: raw(&[("imdb", "tt0133093"), ("tmdb", "603")]), ..Item::default() },
            "2026-06-01T18:00:00Z",
        ),
        at(
            Item { kind: "movie".into(), ids: raw(&[("imdb", "tt0133093")]), ..Item::default() },
            "2026-06-01T18:00:30Z",
        ),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        (r.confirmed, r.skipped),
        (vec!["tmdb:603@1780336800".to_string()], vec!["imdb:tt0133093@1780336800".to_string()])
    );
    assert_eq!(t.plays().len(), 1);
}

#[test]
fn number_fallback_on_and_off() {
    // On (the default): episodes without ids go by numbers, specials included.
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let items = vec![at(bb(0, 1), "2026-06-02T20:00:00Z"), at(bb(1, 2), "2026-06-02T21:00:00Z")];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tvdb:81189#s00e01@1780430400", "tvdb:81189#s01e02@1780434000"]);
    assert_eq!(
        posts(&env, "/sync/history")[0],
        json!({"shows": [{"ids": {"tvdb": 81189}, "seasons": [
            {"number": 0, "episodes": [{"number": 1, "watched_at": "2026-06-02T20:00:00.000Z"}]},
            {"number": 1, "episodes": [{"number": 2, "watched_at": "2026-06-02T21:00:00.000Z"}]}
        ]}]})
    );
    assert_eq!(t.times(false, 90), vec!["2026-06-02T20:00:00Z"]);

    // Off: only episodes with ids of their own go, flat.
    let t = Trakt::new();
    let mut env = t.env(Options::parse(r#"{"number_fallback": false}"#).unwrap());
    let items = vec![
        at(bb(1, 2), "2026-06-02T21:00:00Z"),
        at(Item { ids: raw(&[("tmdb", "62089")]), ..bb(1, 5) }, "2026-06-02T22:00:00Z"),
        at(Item { ids: raw(&[("trakt", "16")]), ..bb(1, 1) }, "2026-06-02T23:00:00Z"),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tvdb:81189#s01e05@1780437600", "tvdb:81189#s01e01@1780441200"]);
    assert_eq!(unresolved(&r), vec![("tvdb:81189#s01e02@1780434000".to_string(), Hint::MissingIds)]);
    assert_eq!(
        posts(&env, "/sync/history")[0],
        json!({"episodes": [
            {"ids": {"tmdb": 62089}, "watched_at": "2026-06-02T22:00:00.000Z"},
            {"ids": {"trakt": 16}, "watched_at": "2026-06-02T23:00:00.000Z"}
        ]})
    );
    assert!(t.times(false, 17).is_empty());
    // The unresolved file keeps it for the user.
    let doc = env.mem.json(HISTORY_UNRESOLVED).unwrap();
    assert_eq!(doc["items"]["tvdb:81189#s01e02@1780434000"]["reasons"], json!(["missing ids"]));
}

#[test]
fn not_found_is_matched_back_flat_and_nested() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let unknown_show = |s, e| Item {
        kind: "episode".into(),
        show_ids: raw(&[("tvdb", "555")]),
        season: Some(s),
        episode: Some(e),
        ..Item::default()
    };
    let items = vec![
        at(movie("999"), "2026-06-01T18:00:00Z"),
        at(episode_ids(&[("trakt", "999999")]), "2026-06-01T18:00:00Z"),
        at(unknown_show(1, 1), "2026-06-01T18:00:00Z"),
        at(unknown_show(1, 2), "2026-06-01T18:00:00Z"),
        at(bb(1, 2), "2026-06-01T18:00:00Z"),
        at(bb(1, 9), "2026-06-01T18:00:00Z"),
        at(bb(7, 1), "2026-06-01T18:00:00Z"),
        at(movie("603"), "2026-06-01T18:00:00Z"),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tvdb:81189#s01e02@1780336800", "tmdb:603@1780336800"]);
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:999@1780336800".to_string(), Hint::NotFound),
            ("trakt:999999@1780336800".to_string(), Hint::TraktEpisodeNotFound),
            ("tvdb:555#s01e01@1780336800".to_string(), Hint::TraktParentNotFound),
            ("tvdb:555#s01e02@1780336800".to_string(), Hint::TraktParentNotFound),
            ("tvdb:81189#s01e09@1780336800".to_string(), Hint::TraktEpisodeNotFound),
            ("tvdb:81189#s07e01@1780336800".to_string(), Hint::TraktParentNotFound),
        ]
    );
    let doc = env.mem.json(HISTORY_UNRESOLVED).unwrap();
    assert_eq!(doc["items"]["tmdb:999@1780336800"]["reasons"], json!(["not_found"]));
    assert_eq!(doc["items"]["tmdb:999@1780336800"]["action"], "add");
}

#[test]
fn fewer_plays_counted_than_sent_are_read_back() {
    let t = Trakt::new();
    t.fault(Fault::DropLastMovie);
    let mut env = t.env(Options::default());
    take_lines();
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z"), at(movie("272"), "2026-06-01T19:00:00Z")];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603@1780336800"]);
    assert_eq!(unresolved(&r), vec![("tmdb:272@1780340400".to_string(), Hint::Unconfirmed)]);
    let lines = take_lines();
    assert!(lines.iter().any(|l| l.contains("WARN write_unconfirmed type=movies sent=2 counted=1")), "{lines:#?}");
    assert_eq!(
        env.sent().last().unwrap(),
        &format!(
            "GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250",
            iso(1_780_336_800).replace(':', "%3A"),
            iso(1_780_340_459).replace(':', "%3A")
        )
    );
}

#[test]
fn dry_run_plans_without_journal_or_writes() {
    let t = Trakt::new();
    let mut env = t.env(Options { history_collection: true, ..Options::default() });
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z"), at(bb(1, 2), "2026-06-02T21:00:00Z")];
    let r = History::default().write(Op::Add, &items, true, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 2);
    let planned: Vec<(&str, &str)> = r.planned.iter().map(|p| (p.method.as_str(), p.path.as_str())).collect();
    assert_eq!(planned, vec![("POST", "/sync/history"), ("POST", "/sync/collection")]);
    assert_eq!(
        serde_json::from_str::<Value>(&r.planned[1].body).unwrap(),
        json!({"movies": [{"collected_at": "2026-06-01T18:00:00.000Z", "ids": {"tmdb": 603}}]})
    );
    assert!(env.sent().iter().all(|s| s.starts_with("GET ")));
    assert!(t.plays().is_empty());
    assert!(
        !env.mem.ops().iter().any(|o| o.contains(HISTORY_JOURNAL) && !o.starts_with("read")),
        "{:?}",
        env.mem.ops()
    );
}

#[test]
fn chunks_of_history_chunk_size_paced_one_second_apart() {
    let t = Trakt::new();
    let mut env = t.env(Options { history_chunk_size: 2, ..Options::default() });
    let items: Vec<Item> = (0..5).map(|i| at(movie("603"), &iso(NOW + 60 * i))).collect();
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 5);
    assert_eq!(
        posts(&env, "/sync/history").iter().map(|b| b["movies"].as_array().unwrap().len()).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    assert_eq!(env.fakes.sleeps(), vec![1000, 1000]);
}

#[test]
fn confirmed_plays_are_collected_once_per_title_and_a_collection_failure_changes_nothing() {
    let t = Trakt::new();
    let opts = Options::parse(r#"{"add_collections": true, "collection_types": ["movies", "shows"]}"#).unwrap();
    let mut env = t.env(opts);
    let items = vec![
        at(movie("603"), "2026-06-01T18:00:00Z"),
        at(movie("603"), "2026-06-02T18:00:00Z"),
        at(Item { ids: raw(&[("trakt", "16")]), ..bb(1, 1) }, "2026-06-02T20:00:00Z"),
        at(bb(0, 1), "unknown"),
        at(movie("999"), "2026-06-01T18:00:00Z"),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 4);
    assert_eq!(unresolved(&r), vec![("tmdb:999@1780336800".to_string(), Hint::NotFound)]);
    assert_eq!(
        t.0.borrow().collected,
        vec![json!({
            "episodes": [{"collected_at": "2026-06-02T20:00:00.000Z", "ids": {"trakt": 16}}],
            "movies": [{"collected_at": "2026-06-01T18:00:00.000Z", "ids": {"tmdb": 603}}],
            "shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 0, "episodes": [{"number": 1}]}]}]
        })]
    );

    // Movies only (the default types), and the write fails: the plays stay confirmed.
    let t = Trakt::new();
    t.0.borrow_mut().collection_status = Some(500);
    let mut env = t.env(Options { history_collection: true, max_retries: 1, ..Options::default() });
    take_lines();
    let r = History::default().write(Op::Add, &items[..3], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 3);
    assert_eq!(
        t.0.borrow().collected,
        vec![json!({"movies": [{"collected_at": "2026-06-01T18:00:00.000Z", "ids": {"tmdb": 603}}]})]
    );
    assert!(take_lines().iter().any(|l| l.starts_with("[TRAKT:history] WARN collection_failed status=500")));
    assert_eq!(env.mem.text(HISTORY_UNRESOLVED), None);

    // Off: no collection request at all.
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    History::default().write(Op::Add, &items[..1], false, &mut env.ctx()).unwrap();
    assert!(t.0.borrow().collected.is_empty());
}
