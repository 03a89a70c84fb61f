//! History unit tests over the in-memory Trakt of `fake`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::fake::{Fault, Trakt, FIRST_ID, NOW};
use super::History;
use crate::client::transport::Method;
use crate::config::Options;
use crate::features::{Op, WriteReport};
use crate::log::take_lines;
use crate::model::{Hint, Item};
use crate::state::{HISTORY_INDEX, HISTORY_JOURNAL, HISTORY_UNRESOLVED};
use crate::testkit::{resp, route_of, Env, Fakes};
use crate::time;

fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn at(item: Item, watched_at: &str) -> Item {
    Item { watched_at: Some(watched_at.into()), ..item }
}

fn movie(tmdb: &str) -> Item {
    Item { kind: "movie".into(), ids: raw(&[("tmdb", tmdb)]), ..Item::default() }
}

/// An episode of Breaking Bad by the show's tvdb id and numbers.
fn bb(season: i32, episode: i32) -> Item {
    Item { kind: "episode".into(), show_ids: raw(&[("tvdb", "81189")]), season: Some(season), episode: Some(episode), ..Item::default() }
}

fn episode_ids(ids: &[(&str, &str)]) -> Item {
    Item { kind: "episode".into(), ids: raw(ids), ..Item::default() }
}

/// Minute-floored Unix seconds of an ISO time.
fn m(iso: &str) -> i64 {
    time::floor_minute(time::parse_secs(iso).unwrap())
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    sorted(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn unresolved(r: &WriteReport) -> Vec<(String, Hint)> {
    r.unresolved.iter().map(|u| (u.key.clone(), u.hint)).collect()
}

/// Bodies of the requests to `path`, in order.
fn posts(env: &Env, path: &str) -> Vec<Value> {
    env.fakes
        .requests()
        .iter()
        .filter(|r| r.method == Method::Post && route_of(&r.url) == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn keys_of(entries: &[(String, Item)]) -> Vec<String> {
    sorted(&entries.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>())
}

fn iso(secs: i64) -> String {
    time::format_utc_millis(secs)
}

fn quiet() -> Options {
    Options { rate_limit: crate::config::RateLimit { enabled: false, ..Default::default() }, ..Options::default() }
}

// ---- index and keys ----

#[test]
fn one_key_per_play_with_same_minute_collisions_the_epoch_and_64_bit_ids() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010)
        .seed(true, 1, "2026-05-02T21:10:00Z", 5_000_000_011)
        .seed(true, 1, "2026-05-03T10:00:40Z", 5_000_000_013)
        .seed(true, 1, "2026-05-03T10:00:05Z", 5_000_000_012)
        .seed(false, 16, "2026-05-04T20:00:00Z", 5_000_000_014)
        .seed(false, 16, "2026-05-05T20:00:00Z", 5_000_000_015)
        .seed(true, 3, "1970-01-01T00:00:00Z", 5_000_000_016);
    let mut env = t.env(Options::default());
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(keys_of(&entries), strings(&[
        "tmdb:11@0",
        "tmdb:1396#s01e01@1777924800",
        "tmdb:1396#s01e01@1778011200",
        "tmdb:272@1777669800",
        "tmdb:272@1777756200",
        "tmdb:272@1777802400",
        "tmdb:272@1777802400~h5000000013",
    ]));
    let map: BTreeMap<String, Item> = entries.into_iter().collect();
    assert_eq!(map["tmdb:272@1777802400"].history_id.as_deref(), Some("5000000012"), "the smaller id keeps the plain key");
    assert_eq!(map["tmdb:272@1777802400~h5000000013"].history_id.as_deref(), Some("5000000013"));
    assert_eq!(map["tmdb:11@0"].watched_at.as_deref(), Some("1970-01-01T00:00:00.000Z"));
    let ep = &map["tmdb:1396#s01e01@1777924800"];
    assert_eq!(ep, &Item {
        kind: "episode".into(),
        title: Some("Pilot".into()),
        year: Some(2008),
        ids: raw(&[("tmdb", "62085"), ("tvdb", "349232"), ("trakt", "16")]),
        show_ids: raw(&[("tmdb", "1396"), ("imdb", "tt0903747"), ("tvdb", "81189"), ("trakt", "1"), ("slug", "breaking-bad")]),
        season: Some(1),
        episode: Some(1),
        series_title: Some("Breaking Bad".into()),
        watched_at: Some("2026-05-04T20:00:00.000Z".into()),
        history_id: Some("5000000014".into()),
        ..Item::default()
    });
    let mv = &map["tmdb:272@1777669800"];
    assert_eq!((mv.kind.as_str(), mv.title.as_deref(), mv.year), ("movie", Some("Batman Begins"), Some(2005)));
    assert_eq!(env.sent(), vec![
        "GET /sync/last_activities",
        "GET /sync/history/movies?page=1&limit=250",
        "GET /sync/history/episodes?page=1&limit=250",
    ]);
}

#[test]
fn the_cache_costs_three_requests_unchanged_four_after_new_plays_and_reads_in_full_on_a_count_mismatch() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010)
        .seed(true, 2, "2026-05-02T21:10:00Z", 5_000_000_011)
        .seed(false, 16, "2026-05-04T20:00:00Z", 5_000_000_014);
    let mut env = t.env(Options::default());
    assert_eq!(History::default().build_index(&mut env.ctx()).unwrap().len(), 3);
    let doc = env.mem.json(HISTORY_INDEX).unwrap();
    assert_eq!((doc["schema"].clone(), doc["counts"].clone()), (json!(1), json!({"movies": 2, "episodes": 1})));
    // The newest activity: the third seed, two minutes after NOW.
    assert_eq!(doc["wm"], iso(NOW + 120));
    assert_eq!(doc["items"]["tmdb:603@1777756200"]["_trakt_history_id"], "5000000011");
    assert_eq!(doc["items"]["tmdb:1396#s01e01@1777924800"]["show_ids"]["tvdb"], "81189");

    // Unchanged: last_activities and two one-row count reads.
    let n = env.sent().len();
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(env.sent()[n..], [
        "GET /sync/last_activities",
        "GET /sync/history/movies?page=1&limit=1",
        "GET /sync/history/episodes?page=1&limit=1",
    ]);

    // Ten new plays elsewhere: one delta read from the watermark minus 5 minutes.
    for i in 0..10u64 {
        let when = iso(NOW + 3600 + 60 * i as i64);
        t.seed(i % 2 == 0, if i % 2 == 0 { 3 } else { 17 }, &when, 5_000_000_100 + i);
    }
    let n = env.sent().len();
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 13);
    assert_eq!(env.sent()[n..], [
        "GET /sync/last_activities".to_string(),
        format!("GET /sync/history?start_at={}&page=1&limit=250", iso(NOW + 120 - 300).replace(':', "%3A")),
        "GET /sync/history/movies?page=1&limit=1".to_string(),
        "GET /sync/history/episodes?page=1&limit=1".to_string(),
    ]);
    let map: BTreeMap<String, Item> = entries.into_iter().collect();
    assert_eq!(map[&format!("tmdb:11@{}", NOW + 3600)].history_id.as_deref(), Some("5000000100"));
    let doc = env.mem.json(HISTORY_INDEX).unwrap();
    assert_eq!(doc["counts"], json!({"movies": 7, "episodes": 6}));
    assert_eq!(doc["wm"], iso(NOW + 120 + 600));

    // A back-dated play elsewhere: outside the delta window, caught by the counts.
    t.seed(true, 2, "2020-01-01T00:00:00Z", 5_000_000_200);
    let n = env.sent().len();
    take_lines();
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 14);
    assert!(keys_of(&entries).contains(&"tmdb:603@1577836800".to_string()));
    let sent = env.sent()[n..].to_vec();
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert!(sent[1].starts_with("GET /sync/history?start_at="));
    assert_eq!(sent[4..], ["GET /sync/history/movies?page=1&limit=250", "GET /sync/history/episodes?page=1&limit=250"]);
    assert!(take_lines().iter().any(|l| l.contains("index_cache_stale reason=count_mismatch_after_delta cached=7/6 remote=8/6")));

    // A play removed elsewhere while the activities did not move: the counts catch it too.
    t.0.borrow_mut().plays.retain(|p| p.id != 5_000_000_010);
    let n = env.sent().len();
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 13);
    assert_eq!(env.sent()[n..].len(), 5, "activities, two count reads, two full reads");
}

#[test]
fn a_failed_read_never_saves_the_cache() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010);
    let mut env = t.env(Options { max_retries: 1, ..Options::default() });
    t.0.borrow_mut().fail_reads = true;
    assert!(History::default().build_index(&mut env.ctx()).is_err());
    assert_eq!(env.mem.text(HISTORY_INDEX), None);

    t.0.borrow_mut().fail_reads = false;
    History::default().build_index(&mut env.ctx()).unwrap();
    let saved = env.mem.text(HISTORY_INDEX).unwrap();
    t.seed(true, 2, "2026-06-11T00:00:00Z", 5_000_000_011);
    t.0.borrow_mut().fail_reads = true;
    match History::default().build_index(&mut env.ctx()) {
        Err(crate::error::AdapterError::Http { status: 500, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mem.text(HISTORY_INDEX).unwrap(), saved);

    // A corrupt cache is ignored and rebuilt.
    t.0.borrow_mut().fail_reads = false;
    env.mem.put(HISTORY_INDEX, r#"{"schema":1,"generated_at":"x","wm":"2026-06-01T00:00:00Z","counts":{"movies":5,"episodes":0},"items":{}}"#);
    assert_eq!(History::default().build_index(&mut env.ctx()).unwrap().len(), 2);
    assert_eq!(env.mem.json(HISTORY_INDEX).unwrap()["counts"], json!({"movies": 2, "episodes": 0}));
}

// ---- add ----

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
    assert_eq!(sorted(&r.confirmed), strings(&[
        "tmdb:603@1780336800",
        "tmdb:603@1780000020",
        "tmdb:603@1780000080",
        "tvdb:81189#s01e02@1780434000",
        "tvdb:81189#s00e01@0",
        "tvdb:81189#s01e05@1780520400",
    ]));
    assert_eq!(r.skipped, vec!["tmdb:603@1780336800", "tmdb:272@1777669800"]);
    assert_eq!(unresolved(&r), vec![
        ("tmdb:603".to_string(), Hint::InvalidWatchedAt),
        ("tmdb:603".to_string(), Hint::MissingWatchedAt),
        ("tmdb:603".to_string(), Hint::InvalidWatchedAt),
        ("tmdb:1396#show@1780336800".to_string(), Hint::UnsupportedType),
    ]);
    let bodies = posts(&env, "/sync/history");
    assert_eq!(bodies, vec![json!({
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
    })]);
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
        at(Item { kind: "movie".into(), ids: raw(&[("imdb", "tt0133093"), ("tmdb", "603")]), ..Item::default() }, "2026-06-01T18:00:00Z"),
        at(Item { kind: "movie".into(), ids: raw(&[("imdb", "tt0133093")]), ..Item::default() }, "2026-06-01T18:00:30Z"),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!((r.confirmed, r.skipped), (vec!["tmdb:603@1780336800".to_string()], vec!["imdb:tt0133093@1780336800".to_string()]));
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
    assert_eq!(posts(&env, "/sync/history")[0], json!({"shows": [{"ids": {"tvdb": 81189}, "seasons": [
        {"number": 0, "episodes": [{"number": 1, "watched_at": "2026-06-02T20:00:00.000Z"}]},
        {"number": 1, "episodes": [{"number": 2, "watched_at": "2026-06-02T21:00:00.000Z"}]}
    ]}]}));
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
    assert_eq!(posts(&env, "/sync/history")[0], json!({"episodes": [
        {"ids": {"tmdb": 62089}, "watched_at": "2026-06-02T22:00:00.000Z"},
        {"ids": {"trakt": 16}, "watched_at": "2026-06-02T23:00:00.000Z"}
    ]}));
    assert!(t.times(false, 17).is_empty());
    // The unresolved file keeps it for the user.
    let doc = env.mem.json(HISTORY_UNRESOLVED).unwrap();
    assert_eq!(doc["items"]["tvdb:81189#s01e02@1780434000"]["reasons"], json!(["missing ids"]));
}

#[test]
fn not_found_is_matched_back_flat_and_nested() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let unknown_show = |s, e| Item { kind: "episode".into(), show_ids: raw(&[("tvdb", "555")]), season: Some(s), episode: Some(e), ..Item::default() };
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
    assert_eq!(unresolved(&r), vec![
        ("tmdb:999@1780336800".to_string(), Hint::NotFound),
        ("trakt:999999@1780336800".to_string(), Hint::TraktEpisodeNotFound),
        ("tvdb:555#s01e01@1780336800".to_string(), Hint::TraktParentNotFound),
        ("tvdb:555#s01e02@1780336800".to_string(), Hint::TraktParentNotFound),
        ("tvdb:81189#s01e09@1780336800".to_string(), Hint::TraktEpisodeNotFound),
        ("tvdb:81189#s07e01@1780336800".to_string(), Hint::TraktParentNotFound),
    ]);
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
    assert_eq!(env.sent().last().unwrap(), &format!(
        "GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250",
        iso(1_780_336_800).replace(':', "%3A"),
        iso(1_780_340_459).replace(':', "%3A")
    ));
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
    assert_eq!(serde_json::from_str::<Value>(&r.planned[1].body).unwrap(), json!({"movies": [{"collected_at": "2026-06-01T18:00:00.000Z", "ids": {"tmdb": 603}}]}));
    assert!(env.sent().iter().all(|s| s.starts_with("GET ")));
    assert!(t.plays().is_empty());
    assert!(!env.mem.ops().iter().any(|o| o.contains(HISTORY_JOURNAL) && !o.starts_with("read")), "{:?}", env.mem.ops());
}

#[test]
fn chunks_of_history_chunk_size_paced_one_second_apart() {
    let t = Trakt::new();
    let mut env = t.env(Options { history_chunk_size: 2, ..Options::default() });
    let items: Vec<Item> = (0..5).map(|i| at(movie("603"), &iso(NOW + 60 * i))).collect();
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 5);
    assert_eq!(posts(&env, "/sync/history").iter().map(|b| b["movies"].as_array().unwrap().len()).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert_eq!(env.fakes.sleeps(), vec![1000, 1000]);
}

// ---- the crash journal ----

#[test]
fn each_batch_is_journaled_before_its_post_and_cleared_after() {
    let t = Trakt::new();
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    let mem = env.mem.clone();
    t.0.borrow_mut().on_add = Some(Box::new(move || mem.text(HISTORY_JOURNAL)));
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z"), at(bb(1, 2), "2026-06-02T21:00:00Z")];
    History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    let seen = t.0.borrow().seen_at_add.clone();
    assert_eq!(seen.len(), 2);
    let first: Value = serde_json::from_str(seen[0].as_deref().expect("journaled before the first POST")).unwrap();
    assert_eq!(first["schema"], 1);
    assert_eq!(first["batches"].as_array().unwrap().len(), 1);
    let play = &first["batches"][0]["plays"][0];
    assert_eq!((play["key"].as_str(), play["kind"].as_str(), play["watched_at"].as_str()), (Some("tmdb:603@1780336800"), Some("movie"), Some("2026-06-01T18:00:00.000Z")));
    assert_eq!(play["item"]["ids"], json!({"tmdb": "603"}));
    let second: Value = serde_json::from_str(seen[1].as_deref().unwrap()).unwrap();
    assert_eq!(second["batches"].as_array().unwrap().len(), 1, "the first batch was cleared after its answer");
    assert_eq!(second["batches"][0]["plays"][0]["key"], "tvdb:81189#s01e02@1780434000");
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None, "cleared at the end");
}

#[test]
fn an_answer_lost_after_trakt_recorded_the_batch_is_reconciled_in_the_same_call() {
    let t = Trakt::new();
    t.fault(Fault::ApplyThenTimeout);
    let mut env = t.env(Options::default());
    take_lines();
    let items = vec![
        at(movie("272"), "2026-05-01T21:10:00Z"),
        at(movie("272"), "2026-05-03T20:00:00Z"),
        at(Item { ids: raw(&[("trakt", "16")]), ..bb(1, 1) }, "2026-05-02T01:30:00Z"),
    ];
    let mut h = History::default();
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 3, "{r:?}");
    assert_eq!(posts(&env, "/sync/history").len(), 1, "nothing resent");
    assert_eq!(t.plays().len(), 3, "no duplicate");
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    let sent = env.sent();
    let reads: Vec<&String> = sent.iter().filter(|s| s.contains("start_at")).collect();
    assert_eq!(reads, vec![
        &format!("GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250", iso(m("2026-05-01T21:10:00Z")).replace(':', "%3A"), iso(m("2026-05-01T21:10:00Z") + 59).replace(':', "%3A")),
        &format!("GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250", iso(m("2026-05-03T20:00:00Z")).replace(':', "%3A"), iso(m("2026-05-03T20:00:00Z") + 59).replace(':', "%3A")),
        &format!("GET /sync/history/episodes?start_at={}&end_at={}&page=1&limit=250", iso(m("2026-05-02T01:30:00Z")).replace(':', "%3A"), iso(m("2026-05-02T01:30:00Z") + 59).replace(':', "%3A")),
    ]);
    assert!(take_lines().iter().any(|l| l.contains("[TRAKT:history] INFO journal_reconcile batches=1 landed=3 resent=0")));
    // The plays read back carry their history ids: an add of the same plays sends nothing.
    let n = env.fakes.requests().len();
    let again = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(again.skipped.len(), 3);
    assert_eq!(env.fakes.requests().len(), n);
}

#[test]
fn a_batch_lost_before_trakt_saw_it_is_sent_once_more() {
    let t = Trakt::new();
    t.fault(Fault::TimeoutUnapplied);
    let mut env = t.env(Options::default());
    let items = vec![at(movie("272"), "2026-05-01T21:10:00Z"), at(bb(1, 2), "2026-06-02T21:00:00Z")];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 2);
    let bodies = posts(&env, "/sync/history");
    assert_eq!(bodies.len(), 2, "the lost POST and one resend");
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(t.plays().len(), 2);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);

    // Lost twice: unresolved, later chunks not sent, the journal clear (nothing landed).
    let t = Trakt::new();
    t.fault(Fault::TimeoutUnapplied);
    t.fault(Fault::TimeoutUnapplied);
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![
        ("tmdb:272@1777669800".to_string(), Hint::Transport),
        ("tvdb:81189#s01e02@1780434000".to_string(), Hint::Transport),
    ]);
    assert_eq!(posts(&env, "/sync/history").len(), 2);
    assert!(t.plays().is_empty());
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    assert_eq!(env.mem.json(HISTORY_INDEX).unwrap()["counts"], json!({"movies": 0, "episodes": 0}), "read back: known, so the cache stays");

    // A 503 after Trakt recorded the batch: read back, confirmed, not resent.
    let t = Trakt::new();
    t.fault(Fault::ApplyThen503);
    let mut env = t.env(Options::default());
    let r = History::default().write(Op::Add, &items[..1], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 1);
    assert_eq!((posts(&env, "/sync/history").len(), t.plays().len()), (1, 1));
}

#[test]
fn a_batch_left_by_a_crashed_run_is_reconciled_before_anything_is_sent() {
    let t = Trakt::new();
    // The earlier run sent three plays; Trakt recorded two of them (the third is lost).
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010).seed(false, 16, "2026-05-02T01:30:00Z", 5_000_000_011);
    let mut env = t.env(Options::default());
    let journal = json!({"schema": 1, "batches": [{"id": "1-1", "created_at": "2026-05-04T00:00:00Z", "plays": [
        {"key": "tmdb:272@1777669800", "kind": "movie", "watched_at": "2026-05-01T21:10:00.000Z",
         "item": {"type": "movie", "title": null, "year": null, "ids": {"tmdb": "272"}, "watched_at": "2026-05-01T21:10:00.000Z"}},
        {"key": "tmdb:272@1777838400", "kind": "movie", "watched_at": "2026-05-03T20:00:00.000Z",
         "item": {"type": "movie", "title": null, "year": null, "ids": {"tmdb": "272"}}},
        {"key": "tvdb:81189#s01e01@1777685400", "kind": "episode", "watched_at": "2026-05-02T01:30:00.000Z",
         "item": {"type": "episode", "title": null, "year": null, "ids": {"trakt": "16"}, "show_ids": {"tvdb": "81189"}, "season": 1, "episode": 1}}
    ]}]});
    env.mem.put(HISTORY_JOURNAL, &journal.to_string());
    take_lines();
    // The rerun with the same three plays and a new one.
    let items = vec![
        at(movie("272"), "2026-05-01T21:10:00Z"),
        at(movie("272"), "2026-05-03T20:00:00Z"),
        at(Item { ids: raw(&[("trakt", "16")]), ..bb(1, 1) }, "2026-05-02T01:30:00Z"),
        at(movie("603"), "2026-05-05T20:00:00Z"),
    ];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(sorted(&r.confirmed), strings(&["tmdb:272@1777669800", "tmdb:272@1777838400", "tvdb:81189#s01e01@1777685400", "tmdb:603@1778011200"]));
    let sent = env.sent();
    let first_post = sent.iter().position(|s| s.starts_with("POST")).unwrap();
    assert!(sent[..first_post].iter().filter(|s| s.contains("start_at")).count() >= 2, "read back first: {sent:?}");
    assert_eq!(posts(&env, "/sync/history"), vec![json!({"movies": [
        {"ids": {"tmdb": 272}, "watched_at": "2026-05-03T20:00:00.000Z"},
        {"ids": {"tmdb": 603}, "watched_at": "2026-05-05T20:00:00.000Z"}
    ]})], "only the lost play and the new one");
    assert_eq!(t.times(true, 1), vec!["2026-05-01T21:10:00Z", "2026-05-03T20:00:00Z"]);
    assert_eq!(t.times(false, 16).len(), 1);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
    assert!(take_lines().iter().any(|l| l.contains("INFO journal_reconcile batches=1 landed=2 resent=1")));
}

#[test]
fn a_lost_play_no_caller_asks_for_again_is_sent_by_the_next_index() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let journal = json!({"schema": 1, "batches": [{"id": "1-1", "created_at": "2026-05-04T00:00:00Z", "plays": [
        {"key": "tmdb:603@1777838400", "kind": "movie", "watched_at": "2026-05-03T20:00:00.000Z",
         "item": {"type": "movie", "title": "The Matrix", "year": 1999, "ids": {"tmdb": "603"}}}
    ]}]});
    env.mem.put(HISTORY_JOURNAL, &journal.to_string());
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(keys_of(&entries), vec!["tmdb:603@1777838400"]);
    assert_eq!(entries[0].1.history_id.as_deref(), Some(FIRST_ID.to_string().as_str()));
    assert_eq!(posts(&env, "/sync/history").len(), 1);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
}

#[test]
fn a_refused_batch_is_not_resent_and_a_420_stops_the_rest() {
    let t = Trakt::new();
    t.fault(Fault::Status(422));
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z"), at(movie("272"), "2026-06-01T18:00:00Z")];
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:272@1780336800"]);
    assert_eq!(unresolved(&r), vec![("tmdb:603@1780336800".to_string(), Hint::Http(422))]);
    assert_eq!(posts(&env, "/sync/history").len(), 2, "no read back, no resend");
    assert!(!env.sent().iter().any(|s| s.contains("start_at")));
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);

    let t = Trakt::new();
    t.fault(Fault::Status(420));
    let mut env = t.env(Options { history_chunk_size: 1, ..Options::default() });
    History::default().build_index(&mut env.ctx()).unwrap();
    let mut h = History::default();
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![
        ("tmdb:603@1780336800".to_string(), Hint::TraktLimit),
        ("tmdb:272@1780336800".to_string(), Hint::TraktLimit),
    ]);
    assert_eq!(posts(&env, "/sync/history").len(), 1);
    assert!(t.plays().is_empty());
}

#[test]
fn no_journal_no_send() {
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    History::default().build_index(&mut env.ctx()).unwrap();
    env.mem.fail_writes(true);
    let r = History::default().write(Op::Add, &[at(movie("603"), "2026-06-01T18:00:00Z"), at(movie("272"), "2026-06-01T18:00:00Z")], false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![
        ("tmdb:603@1780336800".to_string(), Hint::JournalUnavailable),
        ("tmdb:272@1780336800".to_string(), Hint::JournalUnavailable),
    ]);
    assert!(posts(&env, "/sync/history").is_empty());
}

#[test]
fn a_batch_that_cannot_be_read_back_stays_journaled_for_the_next_run() {
    let t = Trakt::new();
    t.fault(Fault::ApplyThenTimeout);
    let mut env = t.env(Options { max_retries: 1, ..Options::default() });
    let mut h = History::default();
    h.build_index(&mut env.ctx()).unwrap();
    t.0.borrow_mut().fail_reads = true;
    let items = vec![at(movie("603"), "2026-06-01T18:00:00Z")];
    let r = h.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![("tmdb:603@1780336800".to_string(), Hint::Unconfirmed)]);
    assert_eq!(env.mem.json(HISTORY_JOURNAL).unwrap()["batches"][0]["plays"][0]["key"], "tmdb:603@1780336800");
    assert_eq!(env.mem.text(HISTORY_INDEX), None);

    // The next run: reads back first, finds the play, sends nothing.
    t.0.borrow_mut().fail_reads = false;
    let r = History::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603@1780336800"]);
    assert_eq!(posts(&env, "/sync/history").len(), 1);
    assert_eq!(t.plays().len(), 1);
    assert_eq!(env.mem.text(HISTORY_JOURNAL), None);
}

// ---- collection side-write ----

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
    assert_eq!(t.0.borrow().collected, vec![json!({
        "episodes": [{"collected_at": "2026-06-02T20:00:00.000Z", "ids": {"trakt": 16}}],
        "movies": [{"collected_at": "2026-06-01T18:00:00.000Z", "ids": {"tmdb": 603}}],
        "shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 0, "episodes": [{"number": 1}]}]}]
    })]);

    // Movies only (the default types), and the write fails: the plays stay confirmed.
    let t = Trakt::new();
    t.0.borrow_mut().collection_status = Some(500);
    let mut env = t.env(Options { history_collection: true, max_retries: 1, ..Options::default() });
    take_lines();
    let r = History::default().write(Op::Add, &items[..3], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed.len(), 3);
    assert_eq!(t.0.borrow().collected, vec![json!({"movies": [{"collected_at": "2026-06-01T18:00:00.000Z", "ids": {"tmdb": 603}}]})]);
    assert!(take_lines().iter().any(|l| l.starts_with("[TRAKT:history] WARN collection_failed status=500")));
    assert_eq!(env.mem.text(HISTORY_UNRESOLVED), None);

    // Off: no collection request at all.
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    History::default().write(Op::Add, &items[..1], false, &mut env.ctx()).unwrap();
    assert!(t.0.borrow().collected.is_empty());
}

// ---- remove ----

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
    let f = Fakes::new(|_| Ok(resp(200, &[], &json!({"deleted": {"movies": 1, "episodes": 0}, "not_found": {"ids": []}}).to_string())));
    let mut env = Env::new(f, Options::default());
    let items = vec![
        Item { history_id: Some("1".into()), ..movie("272") },
        Item { history_id: Some("2".into()), ..movie("603") },
    ];
    let r = History::default().write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert!(r.confirmed.is_empty());
    assert_eq!(unresolved(&r), vec![("tmdb:272".to_string(), Hint::Unconfirmed), ("tmdb:603".to_string(), Hint::Unconfirmed)]);
}

#[test]
fn remove_by_watched_at_looks_the_play_up_in_the_index() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010)
        .seed(true, 1, "2026-05-01T21:10:30Z", 5_000_000_011)
        .seed(true, 1, "2026-05-02T21:10:00Z", 5_000_000_012);
    let mut env = t.env(Options::default());
    let mut h = History::default();
    h.build_index(&mut env.ctx()).unwrap();
    let items = vec![
        at(movie("272"), "2026-05-01T21:10:59Z"),
        at(Item { kind: "movie".into(), ids: raw(&[("imdb", "tt0372784")]), ..Item::default() }, "2026-05-02T21:10:00Z"),
        at(movie("272"), "2026-05-09T21:10:00Z"),
    ];
    let r = h.write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:272@1777669800", "imdb:tt0372784@1777756200"]);
    assert_eq!(r.skipped, vec!["tmdb:272@1778361000"], "no play at that minute");
    assert_eq!(posts(&env, "/sync/history/remove"), vec![json!({"ids": [5_000_000_010u64, 5_000_000_012u64]})], "the plain key's play only");
    assert_eq!(t.plays().iter().map(|p| p.id).collect::<Vec<_>>(), vec![5_000_000_011]);
    // This run's index and the cache lost the removed plays.
    let doc = env.mem.json(HISTORY_INDEX).unwrap();
    let keys: Vec<&String> = doc["items"].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["tmdb:272@1777669800"], "the other play of that minute is now the plain key");
    assert_eq!(doc["counts"], json!({"movies": 1, "episodes": 0}));

    // A play this run added (no history id yet) is found with a one-minute read.
    let add = vec![at(movie("603"), "2026-06-01T18:00:00Z")];
    h.write(Op::Add, &add, false, &mut env.ctx()).unwrap();
    let n = env.sent().len();
    let r = h.write(Op::Remove, &add, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603@1780336800"]);
    assert_eq!(env.sent()[n..], [
        format!("GET /sync/history/movies?start_at={}&end_at={}&page=1&limit=250", iso(1_780_336_800).replace(':', "%3A"), iso(1_780_336_859).replace(':', "%3A")),
        "POST /sync/history/remove".to_string(),
    ]);
    assert!(t.times(true, 2).is_empty());
}

#[test]
fn remove_by_coordinates_takes_every_play_one_item_per_request() {
    let t = Trakt::new();
    t.seed(true, 2, "2026-05-03T21:10:00Z", 5_000_000_012)
        .seed(true, 2, "2026-05-04T21:10:00Z", 5_000_000_013)
        .seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010);
    let mut env = t.env(quiet());
    let items = vec![movie("603"), movie("11"), movie("999"), bb(1, 2)];
    let r = History::default().write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603"]);
    assert_eq!(r.skipped, vec!["tmdb:11", "tvdb:81189#s01e02"], "no plays");
    assert_eq!(unresolved(&r), vec![("tmdb:999".to_string(), Hint::NotFound)]);
    assert_eq!(posts(&env, "/sync/history/remove"), vec![
        json!({"movies": [{"ids": {"tmdb": 603}}]}),
        json!({"movies": [{"ids": {"tmdb": 11}}]}),
        json!({"movies": [{"ids": {"tmdb": 999}}]}),
        json!({"shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}]}),
    ]);
    assert!(t.times(true, 2).is_empty());
    assert_eq!(t.times(true, 1).len(), 1, "other items untouched");

    // Dry run: planned, nothing sent.
    let t = Trakt::new();
    let mut env = t.env(Options::default());
    let r = History::default().write(Op::Remove, &[movie("603"), Item { history_id: Some("7".into()), ..movie("272") }], true, &mut env.ctx()).unwrap();
    let bodies: Vec<&str> = r.planned.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(bodies, vec![r#"{"ids":[7]}"#, r#"{"movies":[{"ids":{"tmdb":603}}]}"#]);
    assert!(env.sent().is_empty());
}

/// Many rows, few titles: rows of a title already seen are told by their trakt id alone, and
/// the cache written from the index reads back as the same index.
#[test]
fn rows_and_the_cache_round_trip_at_scale() {
    let rows: Vec<Value> = (0..3_000u64)
        .map(|k| {
            let at = iso(NOW - 60 * (k as i64 / 2));
            if k % 2 == 0 {
                json!({"id": FIRST_ID + k, "watched_at": at, "action": "watch", "type": "movie",
                       "movie": {"title": format!("Movie {}", k % 70), "year": 2000, "ids": {"trakt": k % 70, "slug": format!("m-{}", k % 70), "imdb": null, "tmdb": 100_000 + k % 70}}})
            } else {
                json!({"id": FIRST_ID + k, "watched_at": at, "action": "watch", "type": "episode",
                       "episode": {"season": 1, "number": k % 20, "title": "Ep", "ids": {"trakt": 1_000_000 + k % 20, "tvdb": 2_000_000 + k % 20, "imdb": null, "tmdb": null}},
                       "show": {"title": "Show", "year": 2010, "ids": {"trakt": 7, "slug": "show", "tvdb": 500_000, "imdb": "tt9000001", "tmdb": 700_000}}})
            }
        })
        .collect();
    let mut ix = super::index::Index::default();
    for page in rows.chunks(250) {
        let raw: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(&Value::Array(page.to_vec()).to_string()).unwrap();
        for r in &raw {
            ix.push_row(r).unwrap();
        }
    }
    assert_eq!(ix.counts(), [1_500, 1_500]);
    let entries = ix.entries();
    let keys = keys_of(&entries);
    assert_eq!(keys.len(), 3_000, "every play its own key");
    // A movie and an episode play share each minute; same-title same-minute plays do not occur.
    assert!(keys.iter().all(|k| !k.contains('~')));
    let map: BTreeMap<String, Item> = entries.iter().cloned().collect();
    let e = &map[&format!("tmdb:700000#s01e01@{}", NOW)];
    assert_eq!((e.history_id.as_deref(), e.series_title.as_deref()), (Some("6000000001"), Some("Show")));
    assert_eq!(e.show_ids, raw(&[("tmdb", "700000"), ("imdb", "tt9000001"), ("tvdb", "500000"), ("trakt", "7"), ("slug", "show")]));

    ix.wm = Some(iso(NOW));
    let mem = crate::testkit::MemStore::new();
    let mut store = mem.store();
    assert!(super::index::save_cache(&mut *store, &ix));
    let back = super::index::load_cache(&mut *store).expect("the cache reads back");
    assert_eq!(back.wm.as_deref(), Some(iso(NOW).as_str()));
    let mut a = entries;
    let mut b = back.entries();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(a, b);
}
