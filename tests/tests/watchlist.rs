//! The watchlist through the compiled component, driven by the `cw-host` command line,
//! against the emulator: paging, add/remove accounting, dry runs, the CLI contract.

use e2e_tests::{items_file, Harness};
use serde_json::{json, Value};
use trakt_emulator::Library;

/// Three movies (only the first on the watchlist) and a show with one season of two episodes.
fn small_library() -> Library {
    Library::from_json(
        &json!({
            "catalog": {
                "movies": [
                    {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "imdb": "tt0372784", "tmdb": 272}},
                    {"title": "The Matrix", "year": 1999, "ids": {"trakt": 2, "imdb": "tt0133093", "tmdb": 603}},
                    {"title": "Heat", "year": 1995, "ids": {"trakt": 3, "imdb": "tt0113277", "tmdb": 949}}
                ],
                "shows": [
                    {"title": "Breaking Bad", "year": 2008,
                     "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396},
                     "seasons": [{"number": 1, "ids": {"trakt": 3950, "tvdb": 30272, "tmdb": 3572},
                                  "episodes": [
                                      {"number": 1, "title": "Pilot", "ids": {"trakt": 16, "tvdb": 349232, "tmdb": 62085}},
                                      {"number": 2, "title": "Cat's in the Bag...", "ids": {"trakt": 17, "tvdb": 349233, "tmdb": 62086}}
                                  ]}]}
                ]
            },
            "watchlist": [{"type": "movie", "trakt": 1}]
        })
        .to_string(),
    )
    .expect("valid seed")
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = q
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    v.sort();
    v
}

fn watchlist_refs(h: &Harness) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = h.emulator.dump()["watchlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_string(), e["trakt"].as_u64().unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn index_walks_every_page_of_a_watchlist_over_250_items() {
    let h = Harness::new(Library::sample(300, 20));
    let library = h.emulator.library();
    let expected = library.watchlist.len();
    assert!(expected > 500 / 2 + 20, "the sample must need more than one page of 250, has {expected}");

    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let index = run.json();
    let index = index.as_object().expect("an index is a JSON object");
    assert_eq!(index.len(), expected, "every watchlist entry, keyed uniquely");

    for movie in &library.catalog.movies {
        let key = format!("tmdb:{}", movie.ids.tmdb.expect("sample movies have tmdb ids"));
        let item = index.get(&key).unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(item["type"], "movie");
        assert_eq!(item["title"], movie.title.as_str());
        assert_eq!(item["ids"]["trakt"], movie.ids.trakt.to_string());
    }
    for show in &library.catalog.shows {
        let key = format!("tmdb:{}#show", show.ids.tmdb.expect("sample shows have tmdb ids"));
        assert_eq!(index[&key]["type"], "show", "{key}");
    }

    let pages: Vec<_> = h.requests_to("GET", "/sync/watchlist").iter().map(|r| query_pairs(&r.query)).collect();
    let expected_pages = expected.div_ceil(250);
    assert_eq!(pages.len(), expected_pages, "one GET per page, no more");
    for (i, q) in pages.iter().enumerate() {
        assert_eq!(q, &vec![("limit".into(), "250".into()), ("page".into(), (i + 1).to_string())]);
    }
    assert!(run.stderr.contains(&format!("[TRAKT:watchlist] INFO index_done count={expected}")), "{}", run.stderr);
}

#[test]
fn add_and_remove_account_for_every_item_including_one_unknown_to_trakt() {
    let h = Harness::new(small_library());
    let items = json!([
        {"type": "movie", "title": "The Matrix", "year": 1999, "ids": {"tmdb": 603}},
        {"type": "episode", "series_title": "Breaking Bad", "season": 1, "episode": 2, "show_ids": {"tvdb": 81189}},
        {"type": "movie", "title": "No Such Film", "year": 1901, "ids": {"tmdb": 999999991}}
    ]);
    let file = items_file(h.dir.path(), "add.json", &items);
    let run = h.cw_host(&["add", "watchlist", file.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["count"], 2);
    let mut confirmed: Vec<&str> =
        report["confirmed_keys"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    confirmed.sort();
    assert_eq!(confirmed, ["tmdb:603", "tvdb:81189#s01e02"]);
    assert_eq!(report["skipped_keys"], json!([]));
    let unresolved = report["unresolved"].as_array().unwrap();
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0]["key"], "tmdb:999999991");
    assert_eq!(unresolved[0]["hint"], "not_found");
    assert_eq!(unresolved[0]["item"]["title"], "No Such Film");
    assert_eq!(watchlist_refs(&h), [("episode".into(), 17), ("movie".into(), 1), ("movie".into(), 2)]);

    // The episode had no ids of its own, so it went nested under its show.
    let posts = h.requests_to("POST", "/sync/watchlist");
    assert_eq!(posts.len(), 1);
    let body = posts[0].body.clone().unwrap();
    assert_eq!(
        body["shows"],
        json!([{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}])
    );

    // Adding what is already there is skipped, not confirmed.
    let run =
        h.cw_host(&["add", "watchlist", "-"], &json!([{"type": "movie", "ids": {"imdb": "tt0372784"}}]).to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(report["skipped_keys"], json!(["imdb:tt0372784"]));
    assert_eq!(report["confirmed_keys"], json!([]));
    assert_eq!(report["count"], 0);

    // Remove: one present, one known but not listed (already gone), one unknown.
    let run = h.cw_host(
        &["remove", "watchlist"],
        &json!([
            {"type": "movie", "ids": {"tmdb": 603}},
            {"type": "movie", "ids": {"tmdb": 949}},
            {"type": "movie", "ids": {"tmdb": 999999991}}
        ])
        .to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    let keys = |k: &str| -> Vec<String> {
        report[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let accounted =
        keys("confirmed_keys").len() + keys("skipped_keys").len() + report["unresolved"].as_array().unwrap().len();
    assert_eq!(accounted, 3, "every item ends in exactly one bucket: {report:#}");
    assert!(
        keys("confirmed_keys").contains(&"tmdb:603".to_string())
            || keys("skipped_keys").contains(&"tmdb:603".to_string())
    );
    assert_eq!(report["unresolved"][0]["key"], "tmdb:999999991");
    assert_eq!(report["unresolved"][0]["hint"], "not_found");
    assert_eq!(watchlist_refs(&h), [("episode".into(), 17), ("movie".into(), 1)]);
}

#[test]
fn dry_run_plans_the_exact_request_and_sends_no_write() {
    let h = Harness::new(small_library());
    let items = json!([{"type": "movie", "title": "Heat", "year": 1995, "ids": {"tmdb": "949", "imdb": "tt0113277", "slug": "heat-1995"}}]);
    let run = h.cw_host(&["add", "watchlist", "--dry-run"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(report["dry_run"], true);
    let requests = report["requests"].as_array().expect("a dry run lists its requests");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["path"], "/sync/watchlist");
    assert_eq!(requests[0]["body"]["movies"], json!([{"ids": {"imdb": "tt0113277", "tmdb": 949}}]));
    assert!(h.requests().iter().all(|r| r.method != "POST"), "a dry run sends no write: {:?}", h.requests());
    assert_eq!(watchlist_refs(&h), [("movie".into(), 1)]);

    let run =
        h.cw_host(&["remove", "watchlist", "--dry-run"], &json!([{"type": "movie", "ids": {"tmdb": 272}}]).to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["requests"][0]["path"], "/sync/watchlist/remove");
    assert!(h.requests().iter().all(|r| r.method != "POST"));
    assert_eq!(watchlist_refs(&h), [("movie".into(), 1)]);
}

#[test]
fn items_without_usable_ids_are_unresolved_with_a_reason() {
    let h = Harness::new(small_library());
    let run = h.cw_host(
        &["add", "watchlist"],
        &json!([
            {"type": "movie", "title": "Nameless", "ids": {"tmdb": "0", "imdb": "none"}},
            {"type": "episode", "season": 1, "episode": 1},
            {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 1}
        ])
        .to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    let hints: Vec<&str> =
        report["unresolved"].as_array().unwrap().iter().map(|u| u["hint"].as_str().unwrap()).collect();
    assert_eq!(hints, ["missing ids", "missing ids", "missing scope"]);
    assert!(h.requests_to("POST", "/sync/watchlist").is_empty(), "nothing sendable, nothing sent");
}

#[test]
fn cli_contract_exit_codes_and_error_shapes() {
    let h = Harness::new(small_library());

    let run = h.cw_host(&["manifest"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let m = run.json();
    assert_eq!(m["name"], "TRAKT");
    assert_eq!(m["label"], "Trakt");
    assert_eq!(m["api_version"], "0.1.0");
    assert_eq!(m["index_semantics"], "present");
    assert_eq!(m["features"]["watchlist"]["supported"], true);
    assert_eq!(m["features"]["playlists"]["supported"], false);

    let run = h.cw_host(&["index", "collection"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown feature") && run.stderr.contains("watchlist"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "usage errors print nothing on stdout");

    let run = h.cw_host(&["index", "playlists"], "");
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "unsupported");
    assert!(v["error"]["message"].as_str().unwrap().len() > 10);

    let run = h.cw_host(&["add", "watchlist"], r#"[{"title": "A"}, {"title": "B", "year": "soon"}]"#);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("item 1") && run.stderr.contains("year"), "{}", run.stderr);

    let run = h.cw_host(&["add", "watchlist"], "not json");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);

    let run = e2e_tests::run_cli(
        vec!["cw-host".into(), "--config".into(), "/nonexistent/config.json".into(), "health".into()],
        "",
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent/config.json") && run.stderr.contains("not found"), "{}", run.stderr);

    let run = e2e_tests::run_cli(vec!["cw-host".into(), "frobnicate".into()], "");
    assert_eq!(run.code, 2);
}

#[test]
fn health_reports_ok_and_auth_failures() {
    let h = Harness::new(small_library());
    let run = h.cw_host(&["health"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let v = run.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["features"]["watchlist"], true);
    assert_eq!(v["api"]["last_activities"]["status"], 200);
    assert_eq!(h.requests_to("GET", "/sync/last_activities").len(), 1);

    // A token Trakt does not know, and no way to refresh it.
    h.write_config(json!({"access_token": "wrong-token", "refresh_token": "wrong-refresh"}));
    let run = h.cw_host(&["health"], "");
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["status"], "auth_failed");
    assert_eq!(v["error"]["kind"], "auth");
}

#[test]
fn an_expired_token_is_refreshed_once_and_the_rotated_pair_saved() {
    let mut library = small_library();
    library.auth.expires_at = Some(1_000); // long expired on Trakt's side
    let h = Harness::new(library);
    // The config believes the token is good for days, so only Trakt's 401 reveals it.
    let in_a_week = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 7 * 86_400;
    h.write_config(json!({"expires_at": in_a_week}));
    let before = std::fs::read_to_string(h.config_path()).unwrap();
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), 1);
    assert_eq!(h.requests_to("POST", "/oauth/token").len(), 1, "exactly one refresh");
    let gets: Vec<u16> = h.requests_to("GET", "/sync/watchlist").iter().map(|r| r.status).collect();
    assert_eq!(gets, [401, 200], "one 401, one replay");

    let saved: Value = serde_json::from_str(&std::fs::read_to_string(h.config_path()).unwrap()).unwrap();
    let old: Value = serde_json::from_str(&before).unwrap();
    let now = h.emulator.credentials();
    assert_eq!(saved["trakt"]["access_token"], now.access_token.as_str());
    assert_eq!(saved["trakt"]["refresh_token"], now.refresh_token.as_str());
    assert_ne!(saved["trakt"]["refresh_token"], old["trakt"]["refresh_token"]);
    assert_eq!(saved["version"], 1, "other keys kept");
    assert_eq!(saved["trakt"]["client_secret"], old["trakt"]["client_secret"]);
    assert!(run.stderr.contains("[TRAKT:auth] INFO token_refreshed reason=rejected"), "{}", run.stderr);
}
