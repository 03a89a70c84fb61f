//! Watched history over HTTP: adds in every scope and `watched_at` form, duplicates, order,
//! filters and paging, removes, the watchlist side effect, limits, faults and rate limits; and
//! paging a 100,000-play history fast.

mod common;

use std::time::Instant;

use common::{activities, ep, hdrs, ids_of, last_logged, media_of, mv, paging_headers, rate_limited, rows, start, Api};
use serde_json::{json, Value};
use trakt_emulator::{Fault, FaultAction, FaultWhen, Library, Limits, RateLimitConfig, Timestamp};

#[test]
fn history_add_scopes_and_watched_at() {
    let emu = start(Library::sample(3, 2));
    emu.with_library(|l| {
        let ep = l.catalog.shows[0].seasons[2].episodes.get_mut(2).unwrap(); // show 1 S02E03
        assert_eq!(ep.ids.trakt, 100_123);
        ep.first_aired = Some(Timestamp::parse("2010-01-20T02:00:00Z").unwrap());
        ep.runtime = Some(47);
        let m = &mut l.catalog.movies[1];
        m.released = Some("2005-06-15".into());
        m.runtime = Some(140);
    });
    let api = Api::new(&emu);
    let body = json!({
        "movies": [ { "ids": { "trakt": 3 }, "watched_at": "2026-03-04T05:06:59.999Z" },
                    { "ids": { "imdb": "tt0000111" } } ],
        "shows": [ { "ids": { "trakt": 2 }, "watched_at": "2026-03-01T20:00:00.000Z",
                     "seasons": [ { "number": 1, "episodes": [ { "number": 1 },
                                                               { "number": 2, "watched_at": "2026-03-02T21:15:30Z" } ] },
                                  { "number": 2 },
                                  { "number": 7 } ] } ],
        "seasons": [ { "ids": { "trakt": 10010 }, "watched_at": "unknown" } ],
        "episodes": [ { "ids": { "tvdb": 500123 }, "watched_at": "released" } ]
    });
    let r = api.post("/sync/history", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "added": { "movies": 1, "episodes": 7 },
            "updated": { "movies": 0, "episodes": 0 },
            "not_found": {
                "movies": [ { "ids": { "imdb": "tt0000111" } } ],
                "shows": [ { "ids": { "trakt": 2 }, "watched_at": "2026-03-01T20:00:00.000Z", "seasons": [ { "number": 7 } ] } ],
                "seasons": [], "episodes": []
            }
        })
    );
    // Ids continue after the sample's 5000000005, in body order.
    let r = api.get("/sync/history/movies/3");
    assert_eq!(
        rows(&r),
        vec![
            json!({ "id": 5_000_000_006u64, "watched_at": "2026-03-04T05:06:00.000Z", "action": "watch", "type": "movie",
                     "movie": { "title": "Sample Movie 3", "year": 1993,
                                "ids": { "trakt": 3, "slug": "sample-movie-3-1993", "imdb": "tt1000003", "tmdb": 100003 } } })
        ]
    );
    // Show-level watched_at inherited, episode override, ties: higher id first.
    let r = api.get("/sync/history/shows/2");
    assert_eq!(media_of(&r), vec![ep(100_212), ep(100_223), ep(100_222), ep(100_221), ep(100_211)]);
    assert_eq!(ids_of(&r), vec![5_000_000_008, 5_000_000_011, 5_000_000_010, 5_000_000_009, 5_000_000_007]);
    let times: Vec<Value> = rows(&r).iter().map(|x| x["watched_at"].clone()).collect();
    assert_eq!(
        times,
        vec![
            json!("2026-03-02T21:15:00.000Z"),
            json!("2026-03-01T20:00:00.000Z"),
            json!("2026-03-01T20:00:00.000Z"),
            json!("2026-03-01T20:00:00.000Z"),
            json!("2026-03-01T20:00:00.000Z")
        ]
    );
    let row = &rows(&r)[0];
    assert_eq!(
        row["episode"],
        json!({ "season": 1, "number": 2, "title": "Episode 2",
                "ids": { "trakt": 100212, "tvdb": 500212, "imdb": "tt3000212", "tmdb": 600212 } })
    );
    assert_eq!(row["show"]["ids"]["trakt"], 2);
    assert_eq!(row["type"], "episode");
    // "unknown" -> the epoch; "released" -> first_aired + runtime.
    let r = api.get("/sync/history/seasons/10010");
    assert_eq!(rows(&r)[0]["watched_at"], "1970-01-01T00:00:00.000Z");
    assert_eq!(rows(&r)[0]["id"], 5_000_000_012u64);
    let r = api.get("/sync/history/episodes/100123");
    assert_eq!(rows(&r)[0]["watched_at"], "2010-01-20T02:47:00.000Z");

    // Movies: "released" = released date + runtime, or 1 January of the year without one.
    let r = api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 1 }, "watched_at": "released" },
                             { "ids": { "trakt": 2 }, "watched_at": "released" } ] }),
    );
    assert_eq!(r.json()["added"], json!({ "movies": 2, "episodes": 0 }));
    assert_eq!(rows(&api.get("/sync/history/movies/1"))[2]["watched_at"], "1991-01-01T00:00:00.000Z");
    assert_eq!(rows(&api.get("/sync/history/movies/2"))[1]["watched_at"], "2005-06-15T02:20:00.000Z");
    // A bare show = all its episodes (specials included); omitted watched_at = now (minute).
    let before = emu.now().floor_minute();
    let r = api.post("/sync/history", &json!({ "shows": [ { "ids": { "slug": "sample-show-1" } } ] }));
    let after = emu.now().floor_minute();
    assert_eq!(r.json()["added"], json!({ "movies": 0, "episodes": 7 }));
    let r = api.get("/sync/history/shows/1?limit=7");
    let newest: Vec<Timestamp> =
        rows(&r).iter().map(|x| Timestamp::parse(x["watched_at"].as_str().unwrap()).unwrap()).collect();
    assert!(newest.iter().all(|t| *t >= before && *t <= after), "{newest:?}");
    assert_eq!(rows(&r).iter().filter(|x| x["episode"]["season"] == 0).count(), 1);

    // Invalid watched_at: 400, nothing stored.
    let n = emu.library().history.len();
    for bad in [json!("yesterday"), json!(12345), json!("2026-13-01T00:00:00Z")] {
        let r = api.post(
            "/sync/history",
            &json!({ "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 2 }, "watched_at": bad } ] }),
        );
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error_description"].as_str().unwrap().contains("watched_at"));
    }
    assert_eq!(emu.library().history.len(), n);
}

#[test]
fn history_duplicates_order_filters_and_paging() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let body = json!({ "movies": [ { "ids": { "trakt": 2 }, "watched_at": "2026-02-02T02:02:00.000Z" } ] });
    assert_eq!(api.post("/sync/history", &body).status, 201);
    assert_eq!(api.post("/sync/history", &body).status, 201);
    let r = api.get("/sync/history/movies/2");
    assert_eq!(ids_of(&r), vec![5_000_000_007, 5_000_000_006, 5_000_000_004]);
    assert!(ids_of(&r).iter().all(|id| *id > u64::from(u32::MAX)));
    let times: Vec<Value> = rows(&r).iter().map(|x| x["watched_at"].clone()).collect();
    assert_eq!(times, ["2026-02-02T02:02:00.000Z", "2026-02-02T02:02:00.000Z", "2025-12-15T21:30:00.000Z"]);
    // All plays, newest first.
    let r = api.get("/sync/history");
    assert_eq!(media_of(&r), vec![mv(2), mv(2), mv(1), mv(2), ep(100_112), ep(100_111), mv(1)]);
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 7));
    // Paging.
    let r = api.get("/sync/history?page=3&limit=3");
    assert_eq!(paging_headers(&r), hdrs(3, 3, 3, 7));
    assert_eq!(ids_of(&r), vec![5_000_000_001]);
    let r = api.get("/sync/history?page=4&limit=3");
    assert!(rows(&r).is_empty());
    assert_eq!(paging_headers(&api.get("/sync/history?limit=900")), hdrs(1, 250, 1, 7));
    // start_at / end_at: inclusive; dates cover the whole day.
    let r = api.get("/sync/history?start_at=2025-12-11T21:00:00.000Z&end_at=2025-12-15");
    assert_eq!(media_of(&r), vec![mv(2), ep(100_112), ep(100_111)]);
    assert_eq!(r.h("x-pagination-item-count"), "3");
    let r = api.get("/sync/history/episodes?start_at=2025-12-12");
    assert_eq!(media_of(&r), vec![ep(100_112)]);
    let r = api.get("/sync/history/movies?end_at=2025-12-10T20:00:00Z");
    assert_eq!(ids_of(&r), vec![5_000_000_001]);
    let r = api.get("/sync/history/movies/2?start_at=2026-01-01&end_at=2026-12-31T00:00:00Z");
    assert_eq!(ids_of(&r), vec![5_000_000_007, 5_000_000_006]);
    let r = api.get("/sync/history?start_at=2026-06-01&end_at=2026-01-01");
    assert!(rows(&r).is_empty());
    assert_eq!(r.h("x-pagination-item-count"), "0");
    assert_eq!(api.get("/sync/history?start_at=soon").status, 400);
    assert_eq!(api.get("/sync/history?end_at=2026-02-30").status, 400);
    // Item filters.
    assert_eq!(media_of(&api.get("/sync/history/shows/1")), vec![ep(100_112), ep(100_111)]);
    assert_eq!(media_of(&api.get("/sync/history/seasons/10011")), vec![ep(100_112), ep(100_111)]);
    assert_eq!(media_of(&api.get("/sync/history/episodes/100111")), vec![ep(100_111)]);
    assert!(rows(&api.get("/sync/history/seasons/10012")).is_empty());
    assert!(rows(&api.get("/sync/history/movies/3")).is_empty());
    assert_eq!(api.get("/sync/history/movies/999").status, 404);
    assert_eq!(api.get("/sync/history/movies/abc").status, 404);
    assert_eq!(api.get("/sync/history/films").status, 404);
    // Mixed types on the episodes-only view.
    assert_eq!(paging_headers(&api.get("/sync/history/episodes?limit=1")), hdrs(1, 1, 2, 2));
}

#[test]
fn history_remove_by_ids_and_media() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let a0 = activities(&api);
    let r = api.post(
        "/sync/history/remove",
        &json!({
            "movies": [ { "ids": { "trakt": 1 } } ],
            "shows": [ { "ids": { "trakt": 99 } } ],
            "ids": [ 5_000_000_003u64, "5000000002", 42, "abc", 5_000_000_005u64 ]
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "deleted": { "movies": 2, "episodes": 2 },
            "not_found": { "movies": [], "shows": [ { "ids": { "trakt": 99 } } ], "seasons": [], "episodes": [],
                           "ids": [ 42, "abc" ] }
        })
    );
    assert_eq!(ids_of(&api.get("/sync/history")), vec![5_000_000_004]);
    let a1 = activities(&api);
    assert_ne!(a1["movies"]["watched_at"], a0["movies"]["watched_at"]);
    assert_ne!(a1["episodes"]["watched_at"], a0["episodes"]["watched_at"]);
    assert_eq!(a1["movies"]["watched_at"], a1["episodes"]["watched_at"]);

    // Show and season scopes remove all plays of their episodes.
    let r = api.post(
        "/sync/history",
        &json!({ "shows": [ { "ids": { "trakt": 2 } } ],
                 "episodes": [ { "ids": { "trakt": 100211 } }, { "ids": { "trakt": 100111 } } ] }),
    );
    assert_eq!(r.json()["added"]["episodes"], 9);
    let r = api.post("/sync/history/remove", &json!({ "seasons": [ { "ids": { "trakt": 10021 } } ] }));
    assert_eq!(r.json()["deleted"], json!({ "movies": 0, "episodes": 4 }));
    assert_eq!(r.json()["not_found"]["ids"], json!([]));
    let a2 = activities(&api);
    let r = api.post("/sync/history/remove", &json!({ "shows": [ { "ids": { "trakt": 2 } } ] }));
    assert_eq!(r.json()["deleted"], json!({ "movies": 0, "episodes": 4 }));
    let a3 = activities(&api);
    assert!(a3["episodes"]["watched_at"].as_str() > a2["episodes"]["watched_at"].as_str());
    assert_eq!(a3["movies"]["watched_at"], a2["movies"]["watched_at"]);
    assert_eq!(media_of(&api.get("/sync/history")), vec![ep(100_111), mv(2)]);
    // Removing nothing moves nothing.
    let r = api
        .post("/sync/history/remove", &json!({ "movies": [ { "ids": { "trakt": 3 } } ], "ids": [ 5_000_000_001u64 ] }));
    assert_eq!(
        r.json(),
        json!({ "deleted": { "movies": 0, "episodes": 0 },
                "not_found": { "movies": [], "shows": [], "seasons": [], "episodes": [], "ids": [ 5_000_000_001u64 ] } })
    );
    assert_eq!(activities(&api), a3);
    assert_eq!(api.post("/sync/history/remove", &json!({ "ids": 5 })).status, 400);
    // Ids are never reused after removals.
    api.post("/sync/history", &json!({ "movies": [ { "ids": { "trakt": 3 } } ] }));
    assert_eq!(ids_of(&api.get("/sync/history/movies/3")), vec![5_000_000_015]);
}

#[test]
fn history_add_unlists_from_watchlist() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let wl = |api: &Api| -> Vec<(String, u64, u64)> {
        let r = api.get("/sync/watchlist");
        rows(&r)
            .iter()
            .map(|row| {
                let t = row["type"].as_str().unwrap().to_string();
                let id = row[t.as_str()]["ids"]["trakt"].as_u64().unwrap();
                (t, id, row["rank"].as_u64().unwrap())
            })
            .collect()
    };
    let a0 = activities(&api);
    // Episode S01E02 of show 1: takes show 1 and its season 1 off, not the listed S01E01.
    let r = api.post("/sync/history", &json!({ "episodes": [ { "ids": { "trakt": 100112 } } ] }));
    assert_eq!(r.json()["added"]["episodes"], 1);
    assert_eq!(
        wl(&api),
        vec![
            ("movie".into(), 1, 1),
            ("movie".into(), 2, 2),
            ("movie".into(), 3, 3),
            ("show".into(), 2, 4),
            ("season".into(), 10_022, 5),
            ("episode".into(), 100_111, 6),
            ("episode".into(), 100_223, 7)
        ]
    );
    let a1 = activities(&api);
    let t1 = a1["watchlist"]["updated_at"].clone();
    assert_ne!(t1, a0["watchlist"]["updated_at"]);
    assert_eq!(a1["shows"]["watchlisted_at"], t1);
    assert_eq!(a1["seasons"]["watchlisted_at"], t1);
    assert_eq!(a1["episodes"]["watched_at"], t1);
    assert_eq!(a1["episodes"]["watchlisted_at"], a0["episodes"]["watchlisted_at"]);
    assert_eq!(a1["movies"]["watchlisted_at"], a0["movies"]["watchlisted_at"]);
    assert_eq!(a1["movies"]["watched_at"], a0["movies"]["watched_at"]);
    // A movie, and a nested episode of show 2 (takes the show, season 2 and the episode off).
    api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ],
                 "shows": [ { "ids": { "trakt": 2 }, "seasons": [ { "number": 2, "episodes": [ { "number": 3 } ] } ] } ] }),
    );
    assert_eq!(wl(&api), vec![("movie".into(), 1, 1), ("movie".into(), 3, 2), ("episode".into(), 100_111, 3)]);
    let a2 = activities(&api);
    assert_eq!(a2["movies"]["watchlisted_at"], a2["watchlist"]["updated_at"]);
    assert_eq!(a2["episodes"]["watchlisted_at"], a2["watchlist"]["updated_at"]);
    // Nothing listed: the watchlist timestamps stay.
    api.post("/sync/history", &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }));
    let a3 = activities(&api);
    assert_eq!(a3["watchlist"], a2["watchlist"]);
    assert!(a3["movies"]["watched_at"].as_str() > a2["movies"]["watched_at"].as_str());
}

#[test]
fn history_limit_faults_and_rate_limits() {
    let emu = start(Library::sample(3, 1));
    emu.with_library(|l| l.limits.history.item_count = 7);
    let api = Api::new(&emu);
    let r = api.post("/sync/history", &json!({ "seasons": [ { "ids": { "trakt": 10011 } } ] }));
    assert_eq!(r.status, 420, "{}", r.text);
    assert_eq!(r.h("x-account-limit"), "7");
    assert_eq!(r.h("x-vip-user"), "false");
    assert_eq!(emu.library().history.len(), 5);
    let r = api.post("/sync/history", &json!({ "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 1 } } ] }));
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["added"]["movies"], 2);
    assert_eq!(Limits::for_vip(true).history.item_count, 100_000);
    assert_eq!(Limits::for_vip(false).history.item_count, 100_000);

    // Crash safety: apply, then drop the connection.
    emu.with_library(|l| l.limits.history.item_count = 100_000);
    emu.inject(Fault::new(FaultWhen::request("POST", "/sync/history"), FaultAction::ApplyThenDrop));
    let body = json!({ "movies": [ { "ids": { "trakt": 3 }, "watched_at": "2026-04-04T04:04:00Z" } ] });
    assert!(api.try_call("POST", "/sync/history", Some(&body)).is_err());
    let l = last_logged(&emu);
    assert_eq!((l.path.as_str(), l.status, l.fault.as_deref()), ("/sync/history", 0, Some("apply_then_drop")));
    assert_eq!(rows(&api.get("/sync/history/movies/3"))[0]["watched_at"], "2026-04-04T04:04:00.000Z");
    // Status faults on the reads.
    emu.inject(Fault::new(
        FaultWhen::request("GET", "/sync/ratings/movies"),
        FaultAction::Status { status: 503, headers: vec![], body: String::new() },
    ));
    assert_eq!(api.get("/sync/ratings/movies").status, 503);
    assert_eq!(api.get("/sync/ratings/movies").status, 200);

    // Rate limits apply to the new writes.
    let limited = rate_limited(RateLimitConfig::default());
    let api = Api::new(&limited);
    let rate = json!({ "movies": [ { "ids": { "trakt": 1 }, "rating": 5 } ] });
    assert_eq!(api.post("/sync/ratings", &rate).status, 201);
    let r = api.post("/sync/history", &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }));
    assert_eq!(r.status, 429);
    assert!(r.has("retry-after"));
}

#[test]
fn history_sample_100k_pages_fast() {
    let t = Instant::now();
    let lib = Library::history_sample(100_000);
    let built = t.elapsed();
    assert_eq!(lib.history.len(), 100_000);
    assert_eq!(lib.catalog.movies.len(), 16_667);
    let t = Instant::now();
    let emu = start(lib);
    let started = t.elapsed();
    let api = Api::new(&emu);

    let t = Instant::now();
    let mut last_id = u64::MAX;
    let mut seen = 0usize;
    for page in 1..=400 {
        let r = api.get(&format!("/sync/history?page={page}&limit=250"));
        assert_eq!(r.status, 200);
        if page == 1 {
            assert_eq!(paging_headers(&r), hdrs(1, 250, 400, 100_000));
        }
        // Only the ids, typed (serde_json is unoptimized in test builds; no Value trees).
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: u64,
        }
        let page_rows: Vec<IdOnly> = serde_json::from_str(&r.text).unwrap();
        let ids: Vec<u64> = page_rows.iter().map(|x| x.id).collect();
        assert_eq!(ids.len(), 250);
        assert!(ids[0] < last_id);
        assert!(ids.windows(2).all(|w| w[0] > w[1]));
        last_id = *ids.last().unwrap();
        seen += ids.len();
    }
    let paged = t.elapsed();
    assert_eq!(seen, 100_000);
    assert_eq!(last_id, 5_000_000_001);
    // Per-type and filtered views are fast too.
    let t = Instant::now();
    for page in [1, 100, 200] {
        let r = api.get(&format!("/sync/history/episodes?page={page}&limit=250"));
        assert_eq!(r.h("x-pagination-item-count"), "50000");
        assert_eq!(rows(&r).len(), 250);
    }
    let r = api.get("/sync/history/movies?start_at=2025-12-31T00:00:00Z&limit=250");
    assert_eq!(r.h("x-pagination-item-count"), "720");
    let typed = t.elapsed();
    // The server's cost of a page, on pages not rendered before: the mean time of a request for
    // it less that of a request the emulator answers without work (a `404` for a path no route
    // matches), both over the same kept-alive connection and with the body read unparsed.
    let mean = |paths: Vec<String>, status: u16| {
        let n = paths.len() as u32;
        let t = Instant::now();
        for path in &paths {
            let r = api.get(path);
            assert_eq!(r.status, status, "{path}");
            std::hint::black_box(r.text.len());
        }
        t.elapsed() / n
    };
    let baseline = mean((0..40).map(|i| format!("/sync/no-such-list/{i}")).collect(), 404);
    let server = |pages: std::ops::Range<u32>, limit: u32| {
        let paths = pages.map(|page| format!("/sync/history/episodes?page={page}&limit={limit}"));
        mean(paths.collect(), 200).saturating_sub(baseline)
    };
    let one_row = server(1000..1040, 1);
    let full_page = server(41..81, 250);
    eprintln!(
        "history_sample(100_000): built in {built:?}, emulator started in {started:?}, \
         400 pages of 250 over HTTP in {paged:?} ({:?} per request incl. client parsing), \
         4 typed/filtered pages in {typed:?}; server only: {full_page:?} per 250-row page, \
         {one_row:?} per 1-row page (beyond the {baseline:?} of a 404)",
        paged / 400
    );
    // Generous bounds for unoptimized builds on a busy machine; they catch O(n) work per request
    // (a scan, clone or sort of 100,000 plays costs far more).
    assert!(one_row.as_secs_f64() < 0.005, "1-row page: {one_row:?}");
    assert!(full_page.as_secs_f64() < 0.025, "250-row page: {full_page:?}");
    assert!(built.as_secs_f64() < 5.0, "built in {built:?}");
    assert!(paged.as_secs_f64() < 20.0, "paged in {paged:?}");
}
