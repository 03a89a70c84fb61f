//! Issue 4 through the compiled component: a mixed watchlist keyed as CrossWatch keys it, the
//! ETag shadow, capacity and 420, the unresolved file, ratings of all four types with the
//! last_activities cache, upsert/unrate, and every unresolved hint.

use e2e_tests::Harness;
use serde_json::{json, Value};
use trakt_emulator::{EmulatorConfig, Fault, FaultAction, FaultWhen, Library};

/// Movies 272 (Batman Begins) and 603 (The Matrix); show Breaking Bad (tmdb 1396) with seasons
/// 1 and 4; a show whose TMDB id is also 603 (TMDB movie and TV ids collide).
fn library(limit: Option<u64>) -> Library {
    let mut seed = json!({
        "catalog": {
            "movies": [
                {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "imdb": "tt0372784", "tmdb": 272}},
                {"title": "The Matrix", "year": 1999, "ids": {"trakt": 2, "imdb": "tt0133093", "tmdb": 603}},
                {"title": "Heat", "year": 1995, "ids": {"trakt": 3, "imdb": "tt0113277", "tmdb": 949}},
                {"title": "Ronin", "year": 1998, "ids": {"trakt": 4, "imdb": "tt0122690", "tmdb": 8195}}
            ],
            "shows": [
                {"title": "Breaking Bad", "year": 2008,
                 "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396},
                 "seasons": [
                    {"number": 1, "ids": {"trakt": 3950, "tvdb": 30272, "tmdb": 3572},
                     "episodes": [
                        {"number": 1, "title": "Pilot", "ids": {"trakt": 16, "tvdb": 349232, "tmdb": 62085}},
                        {"number": 2, "title": "Cat's in the Bag...", "ids": {"trakt": 17, "tvdb": 349233, "tmdb": 62086}}]},
                    {"number": 4, "ids": {"trakt": 3953, "tvdb": 30275, "tmdb": 3575},
                     "episodes": [
                        {"number": 1, "title": "Box Cutter", "ids": {"trakt": 49, "tvdb": 2639411, "tmdb": 62118}},
                        {"number": 8, "title": "Hermanos", "ids": {"trakt": 56, "tvdb": 4127161, "tmdb": 62127}}]}]},
                {"title": "Colliding Show", "year": 2001, "ids": {"trakt": 2, "tvdb": 70001, "tmdb": 603}, "seasons": []}
            ]
        },
        "watchlist": [
            {"type": "movie", "trakt": 1}, {"type": "show", "trakt": 1}, {"type": "season", "trakt": 3950},
            {"type": "episode", "trakt": 49}, {"type": "show", "trakt": 2}, {"type": "movie", "trakt": 2}
        ],
        "ratings": [
            {"type": "movie", "trakt": 1, "rating": 9, "rated_at": "2026-04-30T19:02:00.000Z"},
            {"type": "show", "trakt": 1, "rating": 10, "rated_at": "2026-04-11T19:50:00.000Z"},
            {"type": "season", "trakt": 3950, "rating": 8, "rated_at": "2026-01-19T19:54:00.000Z"},
            {"type": "episode", "trakt": 56, "rating": 10, "rated_at": "2026-04-12T08:00:00.000Z"}
        ]
    });
    if let Some(n) = limit {
        seed["limits"] = json!({"watchlist": {"item_count": n}});
    }
    Library::from_json(&seed.to_string()).expect("valid seed")
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn strs(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    k.sort();
    k
}

fn hints(report: &Value) -> Vec<(String, String)> {
    report["unresolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["key"].as_str().unwrap().to_string(), u["hint"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_mixed_watchlist_is_keyed_as_crosswatch_keys_it() {
    let h = Harness::new(library(None));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let index = run.json();
    assert_eq!(
        keys(&index),
        ["tmdb:1396#s04e01", "tmdb:1396#season:1", "tmdb:1396#show", "tmdb:272", "tmdb:603", "tmdb:603#show"]
    );
    let ep = &index["tmdb:1396#s04e01"];
    assert_eq!(ep["type"], "episode");
    assert_eq!((ep["season"].as_i64(), ep["episode"].as_i64()), (Some(4), Some(1)));
    assert_eq!(ep["series_title"], "Breaking Bad");
    assert_eq!(ep["show_ids"]["tvdb"], "81189");
    assert_eq!(ep["ids"]["trakt"], "49");
    assert!(ep["listed_at"].as_str().unwrap().ends_with('Z'), "{ep}");
    assert_eq!(index["tmdb:603#show"]["title"], "Colliding Show");
    assert_eq!(index["tmdb:603"]["title"], "The Matrix");
}

#[test]
fn an_unchanged_watchlist_is_revalidated_with_a_304_and_no_items_transferred() {
    let h = Harness::new(library(None));
    let first = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(first.code, 0, "{first:#?}");
    assert!(h.state_dir().join("trakt_watchlist.shadow.json").exists());
    h.emulator.clear_requests();
    let second = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(second.code, 0, "{second:#?}");
    assert_eq!(second.json(), first.json(), "the shadow gives the same index");
    let gets = h.requests_to("GET", "/sync/watchlist");
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].status, 304);
    assert!(gets[0].header("if-none-match").is_some());
}

#[test]
fn capacity_is_checked_before_writing_and_a_420_stops_the_rest() {
    // Room for one more item.
    let h = Harness::new(library(Some(7)));
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 949}},
        {"type": "movie", "ids": {"tmdb": 8195}},
        {"type": "movie", "ids": {"tmdb": 272}}
    ]);
    let run = h.cw_host(&["add", "watchlist"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(strs(&r["confirmed_keys"]), ["tmdb:949"]);
    assert_eq!(strs(&r["skipped_keys"]), ["tmdb:272"], "already listed: needs no room");
    assert_eq!(hints(&r), [("tmdb:8195".to_string(), "trakt_limit".to_string())]);
    let posts = h.requests_to("POST", "/sync/watchlist");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body.as_ref().unwrap()["movies"].as_array().unwrap().len(), 1, "only what fits is sent");

    // A 420 on the second chunk: it and every later chunk are trakt_limit, nothing more is sent.
    let h = Harness::new(library(Some(100)));
    h.write_config(json!({"watchlist_batch_size": 1, "backoff_base_ms": 10}));
    h.emulator.inject(Fault {
        when: FaultWhen {
            method: Some("POST".into()),
            path: Some("/sync/watchlist".into()),
            nth: 2,
            times: 0,
            ..FaultWhen::default()
        },
        action: FaultAction::Status {
            status: 420,
            headers: vec![("X-Account-Limit".into(), "7".into()), ("X-VIP-User".into(), "false".into())],
            body: String::new(),
        },
    });
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 949}},
        {"type": "movie", "ids": {"tmdb": 8195}},
        {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 1, "episode": 2}
    ]);
    let run = h.cw_host(&["add", "watchlist"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(strs(&r["confirmed_keys"]), ["tmdb:949"]);
    let mut got = hints(&r);
    got.sort();
    assert_eq!(
        got,
        [
            ("tmdb:8195".to_string(), "trakt_limit".to_string()),
            ("tvdb:81189#s01e02".to_string(), "trakt_limit".to_string())
        ]
    );
    assert_eq!(h.requests_to("POST", "/sync/watchlist").len(), 2);
}

#[test]
fn unresolved_items_are_recorded_and_cleared_once_written() {
    let h = Harness::new(library(Some(6)));
    let item = json!([{"type": "movie", "title": "Heat", "ids": {"tmdb": 949}}]);
    for attempt in 1..=2 {
        let run = h.cw_host(&["add", "watchlist"], &item.to_string());
        assert_eq!(run.code, 0, "{run:#?}");
        assert_eq!(hints(&run.json()), [("tmdb:949".to_string(), "trakt_limit".to_string())]);
        let file: Value = serde_json::from_str(
            &std::fs::read_to_string(h.state_dir().join("trakt_watchlist.unresolved.json")).unwrap(),
        )
        .unwrap();
        let entry = file.get("tmdb:949").or_else(|| file["items"].get("tmdb:949")).expect("entry for tmdb:949");
        assert_eq!(entry["attempts"], attempt);
        assert_eq!(entry["action"], "add");
        assert_eq!(entry["reasons"], json!(["trakt_limit"]));
        assert_eq!(entry["item"]["title"], "Heat");
    }
    // Room appears (the user upgraded): the retry goes through and the entry is cleared.
    h.emulator.with_library(|lib| lib.limits.watchlist.item_count = 100);
    std::fs::remove_file(h.state_dir().join("trakt_watchlist.shadow.json")).ok();
    h.write_config(json!({"watchlist_limit": 100}));
    let run = h.cw_host(&["add", "watchlist"], &item.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(strs(&run.json()["confirmed_keys"]), ["tmdb:949"]);
    let text = std::fs::read_to_string(h.state_dir().join("trakt_watchlist.unresolved.json")).unwrap_or_default();
    assert!(!text.contains("tmdb:949"), "cleared: {text}");
}

#[test]
fn ratings_of_all_four_types_are_indexed_then_served_from_cache_with_one_get() {
    let h = Harness::new(library(None));
    let run = h.cw_host(&["index", "ratings"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let index = run.json();
    assert_eq!(keys(&index), ["tmdb:1396#s04e08", "tmdb:1396#season:1", "tmdb:1396#show", "tmdb:272"]);
    assert_eq!(index["tmdb:272"]["rating"], 9);
    assert_eq!(index["tmdb:272"]["rated_at"], "2026-04-30T19:02:00.000Z");
    assert_eq!(index["tmdb:1396#season:1"]["rating"], 8);
    assert_eq!(index["tmdb:1396#s04e08"]["type"], "episode");

    h.emulator.clear_requests();
    let again = h.cw_host(&["index", "ratings"], "");
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.json(), index);
    let paths: Vec<String> = h.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(paths, ["GET /sync/last_activities"], "a cache hit costs exactly one GET");

    // A rating made elsewhere moves movies.rated_at: the cache is not used.
    assert_eq!(h.post_as_user("/sync/ratings", &json!({"movies": [{"ids": {"tmdb": 949}, "rating": 7}]})), 201);
    let third = h.cw_host(&["index", "ratings"], "");
    assert_eq!(third.code, 0, "{third:#?}");
    assert_eq!(third.json()["tmdb:949"]["rating"], 7);
}

#[test]
fn ratings_upsert_and_unrate_account_for_every_item() {
    let h = Harness::new(library(None));
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 603}, "rating": 8, "rated_at": "2026-05-01T10:00:00.000Z"},
        {"type": "movie", "ids": {"tmdb": 272}, "rating": 6},
        {"type": "season", "show_ids": {"tvdb": 81189}, "season": 4, "rating": 9},
        {"type": "episode", "show_ids": {"tmdb": 1396}, "season": 1, "episode": 1, "rating": 10},
        {"type": "movie", "ids": {"tmdb": 949}, "rating": 8.5},
        {"type": "movie", "ids": {"tmdb": 8195}, "rating": 0},
        {"type": "movie", "ids": {"imdb": "tt0122690"}, "rating": "great"},
        {"type": "movie", "ids": {"tmdb": 999999991}, "rating": 5}
    ]);
    let run = h.cw_host(&["add", "ratings"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(strs(&r["confirmed_keys"]), ["tmdb:1396#s01e01", "tmdb:272", "tmdb:603", "tvdb:81189#season:4"]);
    let mut got = hints(&r);
    got.sort();
    assert_eq!(
        got,
        [
            ("imdb:tt0122690".to_string(), "invalid rating".to_string()),
            ("tmdb:8195".to_string(), "invalid rating".to_string()),
            ("tmdb:949".to_string(), "invalid rating".to_string()),
            ("tmdb:999999991".to_string(), "not_found".to_string()),
        ]
    );
    let state = h.emulator.dump();
    let rating_of = |kind: &str, trakt: u64| {
        state["ratings"].as_array().unwrap().iter().find(|x| x["type"] == kind && x["trakt"] == trakt).cloned()
    };
    assert_eq!(rating_of("movie", 2).unwrap()["rating"], 8);
    assert_eq!(rating_of("movie", 2).unwrap()["rated_at"], "2026-05-01T10:00:00.000Z", "rated_at passed through");
    assert_eq!(rating_of("movie", 1).unwrap()["rating"], 6, "re-rated");
    assert_eq!(rating_of("season", 3953).unwrap()["rating"], 9);
    assert_eq!(rating_of("episode", 16).unwrap()["rating"], 10);
    assert!(rating_of("movie", 3).is_none(), "an invalid rating is never sent");

    let run = h.cw_host(
        &["remove", "ratings"],
        &json!([{"type": "movie", "ids": {"tmdb": 603}}, {"type": "movie", "ids": {"tmdb": 949}}]).to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(strs(&r["confirmed_keys"]), ["tmdb:603"]);
    assert_eq!(strs(&r["skipped_keys"]), ["tmdb:949"], "not rated: already gone");
    assert!(rating_of("movie", 2).is_some(), "sanity: the dump above was taken before the remove");
    let after = h.emulator.dump();
    assert!(after["ratings"].as_array().unwrap().iter().all(|x| !(x["type"] == "movie" && x["trakt"] == 2)));
}

#[test]
fn every_unresolved_hint_reaches_the_report() {
    let h = Harness::with_config(EmulatorConfig { seed: library(Some(6)), ..EmulatorConfig::default() });
    h.write_config(json!({"backoff_base_ms": 10, "max_retries": 1}));
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 999999991}},
        {"type": "movie", "title": "No ids"},
        {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 1},
        {"type": "movie", "ids": {"tmdb": 949}}
    ]);
    let run = h.cw_host(&["add", "watchlist"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let got: Vec<String> = hints(&run.json()).into_iter().map(|(_, h)| h).collect();
    for hint in ["missing ids", "missing scope", "trakt_limit"] {
        assert!(got.contains(&hint.to_string()), "{hint} in {got:?}");
    }

    // not_found and http:<code> with room on the list.
    h.emulator.with_library(|lib| lib.limits.watchlist.item_count = 100);
    h.write_config(json!({"backoff_base_ms": 10, "max_retries": 1, "watchlist_limit": 100, "watchlist_batch_size": 1}));
    h.emulator.inject(Fault {
        when: FaultWhen {
            method: Some("POST".into()),
            path: Some("/sync/watchlist".into()),
            nth: 2,
            times: 1,
            ..FaultWhen::default()
        },
        action: FaultAction::Status { status: 500, headers: vec![], body: String::new() },
    });
    let items = json!([{"type": "movie", "ids": {"tmdb": 999999991}}, {"type": "movie", "ids": {"tmdb": 949}}]);
    let run = h.cw_host(&["add", "watchlist"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let mut got = hints(&run.json());
    got.sort();
    assert_eq!(
        got,
        [("tmdb:949".to_string(), "http:500".to_string()), ("tmdb:999999991".to_string(), "not_found".to_string())]
    );
}

/// 1,000 movies (the first 250 on the watchlist) and 250 shows of one 3-episode season; 2,000
/// ratings: every movie, show and season, and two episodes of each show.
fn counting_library() -> Library {
    let movies: Vec<Value> = (1..=1000u64)
        .map(|i| json!({"title": format!("Film {i}"), "year": 2000, "ids": {"trakt": i, "tmdb": 100_000 + i}}))
        .collect();
    let shows: Vec<Value> = (1..=250u64)
        .map(|i| {
            json!({"title": format!("Show {i}"), "year": 2010, "ids": {"trakt": i, "tmdb": 200_000 + i, "tvdb": 300_000 + i},
                   "seasons": [{"number": 1, "ids": {"trakt": 10_000 + i},
                                "episodes": (1..=3u64).map(|e| json!({"number": e, "ids": {"trakt": 100_000 + i * 10 + e}})).collect::<Vec<_>>()}]})
        })
        .collect();
    let mut ratings: Vec<Value> =
        (1..=1000u64).map(|i| json!({"type": "movie", "trakt": i, "rating": 1 + i % 10})).collect();
    for i in 1..=250u64 {
        ratings.push(json!({"type": "show", "trakt": i, "rating": 7}));
        ratings.push(json!({"type": "season", "trakt": 10_000 + i, "rating": 8}));
        for e in 1..=2u64 {
            ratings.push(json!({"type": "episode", "trakt": 100_000 + i * 10 + e, "rating": 9}));
        }
    }
    let watchlist: Vec<Value> = (1..=250u64).map(|i| json!({"type": "movie", "trakt": i})).collect();
    Library::from_json(
        &json!({"catalog": {"movies": movies, "shows": shows}, "watchlist": watchlist, "ratings": ratings}).to_string(),
    )
    .expect("valid seed")
}

/// The request counts the closing note reports, pinned so they cannot drift.
#[test]
fn request_counts_of_full_and_unchanged_indexes_and_a_100_rating_add() {
    let h = Harness::new(counting_library());
    let count = |h: &Harness| h.requests().len();

    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.json().as_object().unwrap().len(), 250);
    let watchlist_full = count(&h);
    h.emulator.clear_requests();
    let run = h.cw_host(&["index", "ratings"], "");
    assert_eq!(run.json().as_object().unwrap().len(), 2000);
    let ratings_full = count(&h);
    h.emulator.clear_requests();
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.json().as_object().unwrap().len(), 250);
    let watchlist_again = count(&h);
    h.emulator.clear_requests();
    let run = h.cw_host(&["index", "ratings"], "");
    assert_eq!(run.json().as_object().unwrap().len(), 2000);
    let ratings_again = count(&h);
    h.emulator.clear_requests();
    // 100 new ratings: shows' third episodes.
    let items: Vec<Value> = (1..=100u64)
        .map(|i| json!({"type": "episode", "show_ids": {"tmdb": 200_000 + i}, "season": 1, "episode": 3, "ids": {"trakt": 100_000 + i * 10 + 3}, "rating": 6}))
        .collect();
    let run = h.cw_host(&["add", "ratings"], &Value::Array(items).to_string());
    assert_eq!(run.json()["count"], 100, "{}", run.stdout);
    let add_100 = count(&h);
    let posts = h.requests_to("POST", "/sync/ratings").len();
    println!(
        "request counts: watchlist 250 full={watchlist_full} unchanged={watchlist_again}; ratings 2000 full={ratings_full} \
         unchanged={ratings_again}; add 100 ratings={add_100} (POSTs {posts})"
    );
    assert_eq!((watchlist_full, watchlist_again), (1, 1));
    // last_activities + movies 4 pages + shows 1 + seasons 1 + episodes 2.
    assert_eq!((ratings_full, ratings_again), (9, 1));
    assert_eq!((add_100, posts), (1, 1));
}

#[test]
fn a_watchlist_longer_than_a_page_is_reused_behind_last_activities() {
    // 600 movies and 3 shows (with a season and an episode each) listed: three pages of 250.
    let h = Harness::new(Library::sample(600, 3));
    let wire = |h: &Harness| -> Vec<String> {
        h.requests()
            .iter()
            .filter(|r| r.method == "GET")
            .map(|r| format!("{} {} {}", r.path, r.query, r.status))
            .collect()
    };
    let first = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(first.code, 0, "{first:#?}");
    let listed = first.json().as_object().unwrap().len();
    assert!(listed > 500, "{listed}");
    // last_activities is read after page 1 and before page 2: what the later pages hold is at
    // least as new as the timestamps the shadow keeps.
    assert_eq!(
        wire(&h),
        [
            "/sync/watchlist page=1&limit=250 200",
            "/sync/last_activities  200",
            "/sync/watchlist page=2&limit=250 200",
            "/sync/watchlist page=3&limit=250 200",
        ]
    );

    // Unchanged: two requests for any length, page 1 answered 304, the same index.
    h.emulator.clear_requests();
    let second = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(second.code, 0, "{second:#?}");
    assert_eq!(second.stdout, first.stdout, "the shadow's text, as the live read printed it");
    assert_eq!(wire(&h), ["/sync/last_activities  200", "/sync/watchlist page=1&limit=250 304"]);

    // Changed elsewhere (a title taken off the list on Trakt's site, past page 1): the
    // timestamps moved, so the list is read in full and the title is gone.
    let gone =
        first.json().as_object().unwrap().keys().rev().find(|k| k.starts_with("tmdb:1") && !k.contains('#')).cloned();
    let gone = gone.expect("a movie key");
    let tmdb: u64 = gone.trim_start_matches("tmdb:").parse().unwrap();
    let status = h.post_as_user("/sync/watchlist/remove", &json!({"movies": [{"ids": {"tmdb": tmdb}}]}));
    assert_eq!(status, 200);
    h.emulator.clear_requests();
    let third = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(third.code, 0, "{third:#?}");
    let index = third.json();
    assert_eq!(index.as_object().unwrap().len(), listed - 1);
    assert!(index.get(&gone).is_none(), "{gone} was removed on Trakt");
    let gets = wire(&h);
    assert_eq!(gets.len(), 4, "last_activities and the three pages: {gets:?}");
    assert_eq!(gets[0], "/sync/last_activities  200");
    assert!(gets[1..].iter().all(|g| g.ends_with(" 200")), "read without If-None-Match: {gets:?}");
}
