//! The history index: event keys, the cache and its deltas, reads that fail.

use super::*;

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
    assert_eq!(
        keys_of(&entries),
        strings(&[
            "tmdb:11@0",
            "tmdb:1396#s01e01@1777924800",
            "tmdb:1396#s01e01@1778011200",
            "tmdb:272@1777669800",
            "tmdb:272@1777756200",
            "tmdb:272@1777802400",
            "tmdb:272@1777802400~h5000000013",
        ])
    );
    let map: BTreeMap<String, Item> = entries.into_iter().collect();
    assert_eq!(
        map["tmdb:272@1777802400"].history_id.as_deref(),
        Some("5000000012"),
        "the smaller id keeps the plain key"
    );
    assert_eq!(map["tmdb:272@1777802400~h5000000013"].history_id.as_deref(), Some("5000000013"));
    assert_eq!(map["tmdb:11@0"].watched_at.as_deref(), Some("1970-01-01T00:00:00.000Z"));
    let ep = &map["tmdb:1396#s01e01@1777924800"];
    assert_eq!(
        ep,
        &Item {
            kind: "episode".into(),
            title: Some("Pilot".into()),
            year: Some(2008),
            ids: raw(&[("tmdb", "62085"), ("tvdb", "349232"), ("trakt", "16")]),
            show_ids: raw(&[
                ("tmdb", "1396"),
                ("imdb", "tt0903747"),
                ("tvdb", "81189"),
                ("trakt", "1"),
                ("slug", "breaking-bad")
            ]),
            season: Some(1),
            episode: Some(1),
            series_title: Some("Breaking Bad".into()),
            watched_at: Some("2026-05-04T20:00:00.000Z".into()),
            history_id: Some("5000000014".into()),
            ..Item::default()
        }
    );
    let mv = &map["tmdb:272@1777669800"];
    assert_eq!((mv.kind.as_str(), mv.title.as_deref(), mv.year), ("movie", Some("Batman Begins"), Some(2005)));
    assert_eq!(
        env.sent(),
        vec![
            "GET /sync/last_activities",
            "GET /sync/history/movies?page=1&limit=250",
            "GET /sync/history/episodes?page=1&limit=250",
        ]
    );
}

#[test]
fn the_cache_costs_three_requests_unchanged_four_after_new_plays_and_reads_in_full_on_a_count_mismatch() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010).seed(true, 2, "2026-05-02T21:10:00Z", 5_000_000_011).seed(
        false,
        16,
        "2026-05-04T20:00:00Z",
        5_000_000_014,
    );
    let mut env = t.env(Options::default());
    assert_eq!(History::default().build_index(&mut env.ctx()).unwrap().len(), 3);
    let doc = cache_doc(&env.mem);
    assert_eq!((doc["schema"].clone(), doc["counts"].clone()), (json!(3), json!({"movies": 2, "episodes": 1})));
    // The newest activity: the third seed, two minutes after NOW.
    assert_eq!(doc["wm"], iso(NOW + 120));
    assert_eq!(doc["items"]["tmdb:603@1777756200"]["_trakt_history_id"], "5000000011");
    assert_eq!(doc["items"]["tmdb:1396#s01e01@1777924800"]["show_ids"]["tvdb"], "81189");

    // Unchanged: last_activities and two one-row count reads.
    let n = env.sent().len();
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        env.sent()[n..],
        [
            "GET /sync/last_activities",
            "GET /sync/history/movies?page=1&limit=1",
            "GET /sync/history/episodes?page=1&limit=1",
        ]
    );

    // Ten new plays elsewhere: one delta read from the watermark minus 5 minutes.
    for i in 0..10u64 {
        let when = iso(NOW + 3600 + 60 * i as i64);
        t.seed(i % 2 == 0, if i % 2 == 0 { 3 } else { 17 }, &when, 5_000_000_100 + i);
    }
    let n = env.sent().len();
    let entries = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 13);
    assert_eq!(
        env.sent()[n..],
        [
            "GET /sync/last_activities".to_string(),
            format!("GET /sync/history?start_at={}&page=1&limit=250", iso(NOW + 120 - 300).replace(':', "%3A")),
            "GET /sync/history/movies?page=1&limit=1".to_string(),
            "GET /sync/history/episodes?page=1&limit=1".to_string(),
        ]
    );
    let map: BTreeMap<String, Item> = entries.into_iter().collect();
    assert_eq!(map[&format!("tmdb:11@{}", NOW + 3600)].history_id.as_deref(), Some("5000000100"));
    let doc = cache_doc(&env.mem);
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
    assert!(take_lines()
        .iter()
        .any(|l| l.contains("index_cache_stale reason=count_mismatch_after_delta cached=7/6 remote=8/6")));

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
    env.mem.put(
        HISTORY_INDEX,
        r#"{"schema":1,"generated_at":"x","wm":"2026-06-01T00:00:00Z","counts":{"movies":5,"episodes":0},"items":{}}"#,
    );
    assert_eq!(History::default().build_index(&mut env.ctx()).unwrap().len(), 2);
    assert_eq!(cache_doc(&env.mem)["counts"], json!({"movies": 2, "episodes": 0}));
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
    let mut ix = crate::features::history::index::Index::default();
    for page in rows.chunks(250) {
        let raw: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(&Value::Array(page.to_vec()).to_string()).unwrap();
        for r in &raw {
            ix.push_row(r.get(), crate::features::rows::Row::parse(r.get())).unwrap();
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
    assert_eq!(
        e.show_ids,
        raw(&[("tmdb", "700000"), ("imdb", "tt9000001"), ("tvdb", "500000"), ("trakt", "7"), ("slug", "show")])
    );

    ix.wm = Some(iso(NOW));
    let mem = crate::testkit::MemStore::new();
    let mut store = mem.store();
    // In parts of 64 KiB: about 20 part files.
    crate::features::history::index::TEST_PART_BYTES.with(|p| p.set(64 << 10));
    assert!(crate::features::history::index::save_cache(&mut *store, &ix));
    let parts = mem.names().iter().filter(|n| n.ends_with(".part")).count();
    assert!(parts > 10, "{:?}", mem.names());
    assert_eq!(cache_doc(&mem)["parts"].as_array().unwrap().len(), parts, "the cache file names every part");
    let back = crate::features::history::index::load_cache(&mut *store).expect("the cache reads back");
    // Saved again in larger parts: the parts left over go.
    crate::features::history::index::TEST_PART_BYTES.with(|p| p.set(256 << 10));
    assert!(crate::features::history::index::save_cache(&mut *store, &back));
    let fewer = mem.names().iter().filter(|n| n.ends_with(".part")).count();
    assert!(fewer < parts && fewer == cache_doc(&mem)["parts"].as_array().unwrap().len(), "{:?}", mem.names());
    let back = crate::features::history::index::load_cache(&mut *store).expect("the cache reads back");
    assert_eq!(back.wm.as_deref(), Some(iso(NOW).as_str()));
    let mut a = entries;
    let mut b = back.entries();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(a, b);
}

/// An unchanged history asked for as text is the cache's text, byte for byte what the live
/// read returned; caches of the old forms (schemas 2 and 1) are used once and rewritten; a
/// damaged or missing part is caught by the cache file's lengths and hashes and rebuilt.
#[test]
fn the_cache_text_is_the_index_text_and_old_or_damaged_caches_are_replaced() {
    let t = Trakt::new();
    t.seed(true, 1, "2026-05-01T21:10:00Z", 5_000_000_010).seed(true, 2, "2026-05-02T21:10:00Z", 5_000_000_011).seed(
        false,
        16,
        "2026-05-04T20:00:00Z",
        5_000_000_014,
    );
    let mut env = t.env(Options::default());
    let live = History::default().build_index_json(&mut env.ctx()).unwrap();
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(&live).unwrap();
    let keys: Vec<&String> = parsed.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "entries in key order");
    // Indented as hosts print an index (the e2e tests compare it with cw-host's printing).
    assert!(live.starts_with("{\n  \"tmdb:1396#s01e01@1777924800\": {\n    \"type\": \"episode\",\n"), "{live}");
    let file = env.mem.text(HISTORY_INDEX).unwrap();
    let part = env.mem.text("trakt_history.index.0.part").unwrap();
    assert_eq!(part, live, "the cache's one part is the index text");
    assert!(!file.contains('\n') && file.contains(r#""schema":3"#), "{file}");
    // The manifest's fields in the order schema 3 has always written them.
    let at = |field: &str| file.find(&format!("\"{field}\":")).unwrap_or_else(|| panic!("{field} in {file}"));
    let order = ["schema", "generated_at", "wm", "counts", "items_bytes", "parts"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]) && order[0] == 1, "{file}");

    let n = env.sent().len();
    take_lines();
    assert_eq!(History::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.sent().len() - n, 3, "last_activities and the two counts");
    assert!(take_lines().iter().any(|l| l.contains("index_done count=3 source=cache")));
    let records = History::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(keys_of(&records).iter().collect::<Vec<_>>(), keys, "records in the text's order");

    // Schema 2: the text and a trailer line in the one file.
    let doc = cache_doc(&env.mem);
    let trailer = json!({
        "schema": 2, "generated_at": doc["generated_at"], "wm": doc["wm"], "counts": doc["counts"],
        "items_bytes": live.len(), "items_xxh3": format!("{:016x}", xxhash_rust::xxh3::xxh3_64(live.as_bytes())),
    });
    env.mem.delete_file("trakt_history.index.0.part");
    env.mem.put(HISTORY_INDEX, &format!("{live}\n{trailer}"));
    let n = env.sent().len();
    assert_eq!(History::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.sent().len() - n, 3, "the old cache is the index");
    assert!(take_lines().iter().any(|l| l.contains("state_migrated file=trakt_history.index.json schema=3")));
    assert_eq!(env.mem.text(HISTORY_INDEX).unwrap(), file, "rewritten in today's form");
    assert_eq!(env.mem.text("trakt_history.index.0.part").unwrap(), live);

    // Schema 1: one compact document with the plays under `items`.
    let mut old = cache_doc(&env.mem);
    old["schema"] = json!(1);
    for k in ["items_bytes", "parts"] {
        old.as_object_mut().unwrap().remove(k);
    }
    env.mem.put(HISTORY_INDEX, &old.to_string());
    let n = env.sent().len();
    assert_eq!(History::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.sent().len() - n, 3, "the old cache is the index");
    assert!(take_lines().iter().any(|l| l.contains("state_migrated file=trakt_history.index.json schema=3")));
    assert_eq!(env.mem.text(HISTORY_INDEX).unwrap(), file, "rewritten in today's form");

    // One byte of a part changed: its hash catches it; read live again.
    env.mem.put("trakt_history.index.0.part", &part.replacen("5000000011", "5000000012", 1));
    let n = env.sent().len();
    assert_eq!(History::default().build_index_json(&mut env.ctx()).unwrap(), live);
    // last_activities and the two counts, the damaged part, then last_activities again and
    // the two full reads.
    assert_eq!(env.sent().len() - n, 6);
    assert!(take_lines().iter().any(|l| l.contains("state_ignored file=trakt_history.index.0.part reason=corrupt")));
    assert_eq!(env.mem.text(HISTORY_INDEX).unwrap(), file);
    assert_eq!(env.mem.text("trakt_history.index.0.part").unwrap(), live);

    // A part gone: the same.
    env.mem.delete_file("trakt_history.index.0.part");
    let n = env.sent().len();
    assert_eq!(History::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.sent().len() - n, 6);
    assert_eq!(env.mem.text("trakt_history.index.0.part").unwrap(), live);
}

/// `index-stream`: the parts of a history text joined are `build-index-json`'s text, live
/// (saved part by part on the way) and from the cache; the cache is complete only after the
/// last part was written, and a part changed between open and read fails that read.
#[test]
fn the_history_text_in_parts_is_the_whole_text_live_and_cached() {
    let t = Trakt::new();
    for i in 0..300u64 {
        let at = time::format_utc(1_777_000_000 + 3_600 * i as i64);
        let (movie, trakt) = if i % 2 == 0 { (true, 1 + i % 3) } else { (false, 16) };
        t.seed(movie, trakt, &at, 5_000_000_010 + i);
    }
    let mut env = t.env(Options::default());
    let whole = History::default().build_index_json(&mut env.ctx()).unwrap();
    env.mem.delete_file(HISTORY_INDEX);
    crate::features::history::index::TEST_PART_BYTES.with(|p| p.set(16 << 10));

    let read_all = |env: &mut crate::testkit::Env, stop_after: Option<usize>| {
        let mut h = History::default();
        let mut text = h.open_index_json(&mut env.ctx()).unwrap();
        let mut parts = Vec::new();
        while let Some(p) = h.next_index_json(&mut text, &mut env.ctx()).unwrap() {
            assert!(!p.is_empty());
            parts.push(p);
            if Some(parts.len()) == stop_after {
                break;
            }
        }
        parts
    };
    // Stopped after two parts: no cache file names anything.
    let parts = read_all(&mut env, Some(2));
    assert_eq!(parts.len(), 2);
    assert_eq!(env.mem.text(HISTORY_INDEX), None, "no cache before the last part");

    let parts = read_all(&mut env, None);
    assert!(parts.len() > 4, "{} parts", parts.len());
    assert_eq!(parts.concat(), whole, "live parts joined");
    assert_eq!(cache_doc(&env.mem)["parts"].as_array().unwrap().len(), parts.len());
    let n = env.sent().len();
    let cached = read_all(&mut env, None);
    assert_eq!(env.sent().len() - n, 3, "from the cache");
    assert_eq!(cached, parts, "the same parts from the cache");

    // A part damaged (here after the open): that read fails, and the cache goes.
    let mut h = History::default();
    let mut text = h.open_index_json(&mut env.ctx()).unwrap();
    assert!(h.next_index_json(&mut text, &mut env.ctx()).unwrap().is_some());
    let p1 = env.mem.text("trakt_history.index.1.part").unwrap();
    env.mem.put("trakt_history.index.1.part", &p1.replacen('"', "'", 1));
    match h.next_index_json(&mut text, &mut env.ctx()) {
        Err(crate::error::AdapterError::State(m)) => assert!(m.contains("part 1 is damaged or gone"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mem.text(HISTORY_INDEX), None);
    assert!(!env.mem.names().iter().any(|n| n.ends_with(".part")), "{:?}", env.mem.names());
}
