//! History through the compiled component: one key per play, same-minute
//! collisions, the epoch play, adds that never duplicate, number fallback, specials, the
//! collection side-write, removes by history id and by coordinates, and the incremental cache.

use e2e_tests::Harness;
use serde_json::{json, Value};
use trakt_emulator::{Fault, FaultAction, FaultWhen, Library};

fn epoch(iso: &str) -> i64 {
    // Minute-floored Unix seconds of a `YYYY-MM-DDTHH:MM:SSZ` time, via the host's parser.
    let t = chrono_parse(iso);
    t - t.rem_euclid(60)
}

fn chrono_parse(iso: &str) -> i64 {
    let (date, time) = iso.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = time.split(':').map(|x| x.split('.').next().unwrap().parse().unwrap()).collect();
    // days from civil (Howard Hinnant's algorithm)
    let (y, m, day) = (d[0] - if d[1] <= 2 { 1 } else { 0 }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}

/// Movies 272, 603 and 11; Breaking Bad (tmdb 1396, tvdb 81189) with a special and season 1.
fn library(history: Value) -> Library {
    Library::from_json(
        &json!({
            "catalog": {
                "movies": [
                    {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "imdb": "tt0372784", "tmdb": 272}},
                    {"title": "The Matrix", "year": 1999, "ids": {"trakt": 2, "imdb": "tt0133093", "tmdb": 603}},
                    {"title": "Star Wars", "year": 1977, "ids": {"trakt": 3, "imdb": "tt0076759", "tmdb": 11}}
                ],
                "shows": [{"title": "Breaking Bad", "year": 2008, "ids": {"trakt": 1, "tvdb": 81189, "tmdb": 1396},
                    "seasons": [
                        {"number": 0, "ids": {"trakt": 3949}, "episodes": [{"number": 1, "title": "Good Cop Bad Cop", "ids": {"trakt": 90, "tvdb": 1000001}}]},
                        {"number": 1, "ids": {"trakt": 3950}, "episodes": [
                            {"number": 1, "title": "Pilot", "ids": {"trakt": 16, "tvdb": 349232, "tmdb": 62085}},
                            {"number": 2, "title": "Cat's in the Bag...", "ids": {"trakt": 17, "tvdb": 349233, "tmdb": 62086}}]}]}]
            },
            "history": history
        })
        .to_string(),
    )
    .expect("valid seed")
}

fn plays_of(h: &Harness, kind: &str, trakt: u64) -> Vec<String> {
    let mut v: Vec<String> = h.emulator.dump()["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == kind && p["trakt"] == trakt)
        .map(|p| p["watched_at"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn sorted(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    k.sort();
    k
}

#[test]
fn every_play_has_its_own_key_including_same_minute_plays_and_the_epoch() {
    let h = Harness::new(library(json!([
        {"id": 5_000_000_010u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-01T21:10:00.000Z"},
        {"id": 5_000_000_011u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-02T21:10:00.000Z"},
        {"id": 5_000_000_012u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-03T10:00:05.000Z"},
        {"id": 5_000_000_013u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-03T10:00:40.000Z"},
        {"id": 5_000_000_014u64, "type": "episode", "trakt": 16, "watched_at": "2026-05-04T20:00:00.000Z"},
        {"id": 5_000_000_015u64, "type": "episode", "trakt": 16, "watched_at": "2026-05-05T20:00:00.000Z"},
        {"id": 5_000_000_016u64, "type": "movie", "trakt": 3, "watched_at": "1970-01-01T00:00:00.000Z"}
    ])));
    let run = h.cw_host(&["index", "history"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let index = run.json();
    let mut keys: Vec<String> = index.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let e = |s: &str| epoch(s);
    let mut expected = vec![
        format!("tmdb:272@{}", e("2026-05-01T21:10:00Z")),
        format!("tmdb:272@{}", e("2026-05-02T21:10:00Z")),
        format!("tmdb:272@{}", e("2026-05-03T10:00:00Z")),
        format!("tmdb:272@{}~h5000000013", e("2026-05-03T10:00:00Z")),
        format!("tmdb:1396#s01e01@{}", e("2026-05-04T20:00:00Z")),
        format!("tmdb:1396#s01e01@{}", e("2026-05-05T20:00:00Z")),
        "tmdb:11@0".to_string(),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let first = &index[&format!("tmdb:272@{}", e("2026-05-03T10:00:00Z"))];
    assert_eq!(first["_trakt_history_id"], "5000000012", "the smaller id keeps the plain key");
    let ep = &index[&format!("tmdb:1396#s01e01@{}", e("2026-05-04T20:00:00Z"))];
    assert_eq!(ep["type"], "episode");
    assert_eq!(ep["show_ids"]["tvdb"], "81189");
    assert_eq!(ep["watched_at"], "2026-05-04T20:00:00.000Z");
    assert_eq!(index["tmdb:11@0"]["watched_at"], "1970-01-01T00:00:00.000Z");
}

#[test]
fn adds_create_each_play_once_in_any_timestamp_form_and_never_twice() {
    let h = Harness::new(library(json!([
        {"id": 5_000_000_010u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-01T21:10:00.000Z"}
    ])));
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "2026-06-01T20:00:30+02:00"},
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": 1780000020},
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "1780000080000"},
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "2026-06-01T18:00:59Z"},
        {"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2026-05-01T21:10:45Z"},
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "last tuesday"},
        {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 1, "episode": 2, "watched_at": "2026-06-02T21:00:00Z"},
        {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 0, "episode": 1, "watched_at": "2026-06-03T21:00:00Z"}
    ]);
    let run = h.cw_host(&["add", "history"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(sorted(&r["confirmed_keys"]), {
        let mut v = vec![
            format!("tmdb:603@{}", epoch("2026-06-01T18:00:00Z")),
            "tmdb:603@1780000020".to_string(),
            "tmdb:603@1780000080".to_string(),
            format!("tvdb:81189#s01e02@{}", epoch("2026-06-02T21:00:00Z")),
            format!("tvdb:81189#s00e01@{}", epoch("2026-06-03T21:00:00Z")),
        ];
        v.sort();
        v
    });
    // The same minute as the first play (in another form), and a play already on Trakt.
    let mut skipped = vec![
        format!("tmdb:603@{}", epoch("2026-06-01T18:00:00Z")),
        format!("tmdb:272@{}", epoch("2026-05-01T21:10:00Z")),
    ];
    skipped.sort();
    assert_eq!(sorted(&r["skipped_keys"]), skipped);
    let unresolved = r["unresolved"].as_array().unwrap();
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0]["hint"], "invalid watched_at");

    assert_eq!(plays_of(&h, "movie", 2).len(), 3);
    assert_eq!(plays_of(&h, "movie", 1).len(), 1, "the existing play was not sent again");
    assert_eq!(plays_of(&h, "episode", 17), ["2026-06-02T21:00:00.000Z"]);
    assert_eq!(plays_of(&h, "episode", 90), ["2026-06-03T21:00:00.000Z"], "the special, by numbers");
    let posts = h.requests_to("POST", "/sync/history");
    assert_eq!(posts.len(), 1);
    let body = posts[0].body.clone().unwrap();
    assert!(body["shows"].is_array(), "episodes without ids went nested: {body}");

    // Re-adding the same plays sends nothing.
    let again = h.cw_host(&["add", "history"], &items.to_string());
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.json()["confirmed_keys"], json!([]));
    assert_eq!(h.requests_to("POST", "/sync/history").len(), 1);
    assert_eq!(plays_of(&h, "movie", 2).len(), 3);
}

#[test]
fn number_fallback_off_leaves_episodes_without_ids_unresolved() {
    let h = Harness::new(library(json!([])));
    h.write_config(json!({"history_number_fallback": false}));
    let items = json!([
        {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 1, "episode": 2, "watched_at": "2026-06-02T21:00:00Z"},
        {"type": "episode", "ids": {"trakt": 16}, "show_ids": {"tvdb": 81189}, "season": 1, "episode": 1, "watched_at": "2026-06-02T20:00:00Z"}
    ]);
    let run = h.cw_host(&["add", "history"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(r["confirmed_keys"].as_array().unwrap().len(), 1);
    assert_eq!(r["unresolved"][0]["hint"], "missing ids");
    assert!(plays_of(&h, "episode", 17).is_empty());
    assert_eq!(plays_of(&h, "episode", 16).len(), 1);
}

#[test]
fn confirmed_plays_are_also_collected_when_asked_and_a_collection_failure_changes_nothing() {
    let h = Harness::new(library(json!([])));
    h.write_config(
        json!({"history_collection": true, "history_collection_types": ["movies", "shows"], "max_retries": 1}),
    );
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "2026-06-01T20:00:00Z"},
        {"type": "episode", "ids": {"trakt": 16}, "show_ids": {"tvdb": 81189}, "season": 1, "episode": 1, "watched_at": "2026-06-02T20:00:00Z"},
        {"type": "movie", "ids": {"tmdb": 999999991}, "watched_at": "2026-06-01T20:00:00Z"}
    ]);
    let run = h.cw_host(&["add", "history"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["confirmed_keys"].as_array().unwrap().len(), 2);
    assert_eq!(run.json()["unresolved"][0]["hint"], "not_found");
    let collected: Vec<(String, u64)> = h.emulator.dump()["collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap().to_string(), c["trakt"].as_u64().unwrap()))
        .collect();
    assert!(collected.contains(&("movie".into(), 2)) && collected.contains(&("episode".into(), 16)), "{collected:?}");
    assert_eq!(collected.len(), 2, "only confirmed plays are collected");

    // The collection write fails: the plays are still confirmed.
    h.emulator.inject(Fault {
        when: FaultWhen {
            method: Some("POST".into()),
            path: Some("/sync/collection".into()),
            times: 0,
            ..FaultWhen::default()
        },
        action: FaultAction::Status { status: 500, headers: vec![], body: String::new() },
    });
    let run = h.cw_host(
        &["add", "history"],
        &json!([{"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2026-06-05T20:00:00Z"}]).to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["confirmed_keys"].as_array().unwrap().len(), 1);
    assert!(run.stderr.contains("collection"), "the failure is logged: {}", run.stderr);
}

#[test]
fn removes_take_single_plays_by_history_id_or_every_play_by_coordinates() {
    let h = Harness::new(library(json!([
        {"id": 5_000_000_010u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-01T21:10:00.000Z"},
        {"id": 5_000_000_011u64, "type": "movie", "trakt": 1, "watched_at": "2026-05-02T21:10:00.000Z"},
        {"id": 5_000_000_012u64, "type": "movie", "trakt": 2, "watched_at": "2026-05-03T21:10:00.000Z"},
        {"id": 5_000_000_013u64, "type": "movie", "trakt": 2, "watched_at": "2026-05-04T21:10:00.000Z"}
    ])));
    let run = h.cw_host(
        &["remove", "history"],
        &json!([
            {"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2026-05-01T21:10:00.000Z", "_trakt_history_id": "5000000010"},
            {"type": "movie", "ids": {"tmdb": 272}, "_trakt_history_id": 4999999999u64}
        ])
        .to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(r["confirmed_keys"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(plays_of(&h, "movie", 1), ["2026-05-02T21:10:00.000Z"], "exactly that play");
    let body = h.requests_to("POST", "/sync/history/remove")[0].body.clone().unwrap();
    assert!(body["ids"].as_array().unwrap().contains(&json!(5_000_000_010u64)), "{body}");

    // No history id and no time: the caller asks for the item's removal, every play goes.
    let run = h.cw_host(&["remove", "history"], &json!([{"type": "movie", "ids": {"tmdb": 603}}]).to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["confirmed_keys"].as_array().unwrap().len(), 1, "{}", run.stdout);
    assert!(plays_of(&h, "movie", 2).is_empty());
    assert_eq!(plays_of(&h, "movie", 1).len(), 1, "other items untouched");
}

#[test]
fn the_incremental_cache_keeps_reindexing_cheap() {
    let h = Harness::new(Library::history_sample(600));
    let run = h.cw_host(&["index", "history"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), 600);

    h.emulator.clear_requests();
    let run = h.cw_host(&["index", "history"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), 600);
    let unchanged = h.requests().len();
    assert!(
        unchanged <= 3,
        "unchanged re-index cost {unchanged} requests: {:?}",
        h.requests().iter().map(|r| format!("{} {}?{}", r.method, r.path, r.query)).collect::<Vec<_>>()
    );

    // Ten new plays arrive from elsewhere.
    let movies: Vec<Value> = h
        .emulator
        .library()
        .catalog
        .movies
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, m)| json!({"ids": {"trakt": m.ids.trakt}, "watched_at": format!("2030-01-01T10:{:02}:00.000Z", i)}))
        .collect();
    assert_eq!(h.post_as_user("/sync/history", &json!({"movies": movies})), 201);
    h.emulator.clear_requests();
    let run = h.cw_host(&["index", "history"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), 610);
    let delta = h.requests().len();
    assert!(delta <= 5, "index after 10 new plays cost {delta} requests");
    println!("history requests: unchanged re-index {unchanged}, after 10 new plays {delta}");
}

/// A history longer than one part (about 2 MiB of text) through the component: cw-host prints
/// the parts joined, the cache holds them as part files named by `trakt_history.index.json`,
/// an unchanged re-index prints the same bytes from them in 3 requests, and a damaged part
/// fails that run with the failure alone on stdout (no part of the text), after which the
/// next run reads Trakt in full and prints the same index again.
#[test]
fn a_history_of_many_parts_is_printed_whole_and_cached_in_parts() {
    let h = Harness::new(Library::history_sample(12_000));
    let state = h.state_dir().display().to_string();
    let index = |h: &Harness| h.cw_host(&["--state-dir", &state, "index", "history"], "");
    let cold = index(&h);
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    assert_eq!(cold.json().as_object().unwrap().len(), 12_000);

    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(h.state_dir().join("trakt_history.index.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["schema"], 3, "{manifest}");
    let parts = manifest["parts"].as_array().unwrap().len();
    assert!(parts >= 3, "{manifest}");
    let joined: String = (0..parts)
        .map(|n| std::fs::read_to_string(h.state_dir().join(format!("trakt_history.index.{n}.part"))).unwrap())
        .collect();
    assert_eq!(format!("{joined}\n"), cold.stdout, "the parts joined are the printed index");
    assert_eq!(manifest["items_bytes"], joined.len());

    h.emulator.clear_requests();
    let cached = index(&h);
    assert_eq!(cached.code, 0, "{}", cached.stderr);
    assert_eq!(cached.stdout, cold.stdout, "the same bytes from the cache");
    assert_eq!(h.requests().len(), 3, "last_activities and the two counts");

    // Part 1 damaged on disk: that run fails, printing only the failure.
    let part1 = h.state_dir().join("trakt_history.index.1.part");
    let text = std::fs::read_to_string(&part1).unwrap();
    std::fs::write(&part1, text.replacen("\"type\"", "\"tipe\"", 1)).unwrap();
    let failed = index(&h);
    assert_ne!(failed.code, 0, "{failed:?}");
    let doc = failed.json();
    assert_eq!((doc["ok"].clone(), doc["error"]["kind"].clone()), (json!(false), json!("state")), "{doc}");
    assert!(doc["error"]["message"].as_str().unwrap().contains("part 1 is damaged"), "{doc}");
    assert!(!h.state_dir().join("trakt_history.index.json").exists(), "the damaged cache is gone");
    assert!(failed.stderr.contains("reason=corrupt"), "{}", failed.stderr);

    h.emulator.clear_requests();
    let again = index(&h);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, cold.stdout);
    assert!(h.requests().len() > 3, "read in full");
}
