//! The watchlist over HTTP: paging, rows and sorting, ETags, adds, the account limit, removes
//! and the `last_activities` timestamps they move.

mod common;

use common::{err, is_trakt_time, start, Api};
use serde_json::json;
use trakt_emulator::{Library, MediaType, Timestamp};

#[test]
fn watchlist_paging() {
    let emu = start(Library::sample(600, 0));
    let api = Api::new(&emu);
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = api.get(&format!("/sync/watchlist?page={page}&limit=250"));
        assert_eq!(r.status, 200);
        assert_eq!(r.h("x-pagination-page"), page.to_string());
        assert_eq!(r.h("x-pagination-limit"), "250");
        assert_eq!(r.h("x-pagination-page-count"), "3");
        assert_eq!(r.h("x-pagination-item-count"), "600");
        assert_eq!(r.h("x-sort-by"), "rank");
        assert_eq!(r.h("x-sort-how"), "asc");
        assert_eq!(r.h("x-applied-sort-by"), "rank");
        assert_eq!(r.h("x-applied-sort-how"), "asc");
        let rows = r.json();
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), if page < 3 { 250 } else { 100 });
        seen.extend(rows.iter().map(|row| row["rank"].as_u64().unwrap()));
    }
    assert_eq!(seen, (1..=600).collect::<Vec<u64>>());

    let r = api.get("/sync/watchlist?page=2&limit=1000");
    assert_eq!(r.h("x-pagination-limit"), "250");
    assert_eq!(r.h("x-pagination-page-count"), "3");
    assert_eq!(r.json()[0]["rank"], 251);
    assert_eq!(r.json().as_array().unwrap().len(), 250);

    let r = api.get("/sync/watchlist");
    assert_eq!(r.h("x-pagination-page"), "1");
    assert_eq!(r.h("x-pagination-limit"), "100");
    assert_eq!(r.h("x-pagination-page-count"), "6");
    assert_eq!(r.json().as_array().unwrap().len(), 100);

    let r = api.get("/sync/watchlist?limit=abc&page=x");
    assert_eq!((r.h("x-pagination-page"), r.h("x-pagination-limit")), ("1", "100"));

    let r = api.get("/sync/watchlist?page=4&limit=250");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([]));
    assert_eq!(r.h("x-pagination-page"), "4");
    assert_eq!(r.h("x-pagination-page-count"), "3");
    assert_eq!(r.h("x-pagination-item-count"), "600");

    // Typed path, sort suffix.
    let r = api.get("/sync/watchlist/movies/rank/asc?limit=2");
    assert_eq!(r.h("x-pagination-item-count"), "600");
    let r = api.get("/sync/watchlist/shows?limit=10");
    assert_eq!(r.h("x-pagination-item-count"), "0");
    assert_eq!(r.h("x-pagination-page-count"), "0");
    assert_eq!(r.json(), json!([]));
}

#[test]
fn watchlist_rows_and_sorting() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let r = api.get("/sync/watchlist");
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let types: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["movie", "movie", "movie", "show", "show", "season", "season", "episode", "episode"]);
    assert_eq!(
        rows[0],
        json!({ "rank": 1, "id": 10001, "listed_at": "2026-01-01T00:01:00.000Z", "notes": null, "type": "movie",
                "movie": { "title": "Sample Movie 1", "year": 1991,
                           "ids": { "trakt": 1, "slug": "sample-movie-1-1991", "imdb": "tt1000001", "tmdb": 100001 } } })
    );
    let show1 = json!({ "title": "Sample Show 1", "year": 2001,
                        "ids": { "trakt": 1, "slug": "sample-show-1", "tvdb": 300001, "imdb": "tt2000001", "tmdb": 200001 } });
    assert_eq!(rows[3]["show"], show1);
    assert!(rows[3].get("movie").is_none());
    assert_eq!(
        rows[5],
        json!({ "rank": 6, "id": 10006, "listed_at": "2026-01-01T00:06:00.000Z", "notes": null, "type": "season",
                "season": { "number": 1, "ids": { "trakt": 10011, "tvdb": 400011, "tmdb": 410011 } },
                "show": show1 })
    );
    assert_eq!(
        rows[7],
        json!({ "rank": 8, "id": 10008, "listed_at": "2026-01-01T00:08:00.000Z", "notes": null, "type": "episode",
                "episode": { "season": 1, "number": 1, "title": "Episode 1",
                             "ids": { "trakt": 100111, "tvdb": 500111, "imdb": "tt3000111", "tmdb": 600111 } },
                "show": show1 })
    );

    let r = api.get("/sync/watchlist/episodes");
    let eps: Vec<u64> =
        r.json().as_array().unwrap().iter().map(|r| r["episode"]["ids"]["trakt"].as_u64().unwrap()).collect();
    assert_eq!(eps, [100111, 100223]);

    let r = api.get("/sync/watchlist/movies/added/desc");
    assert_eq!((r.h("x-applied-sort-by"), r.h("x-applied-sort-how")), ("added", "desc"));
    assert_eq!(r.h("x-sort-by"), "rank");
    let ranks: Vec<u64> = r.json().as_array().unwrap().iter().map(|r| r["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, [3, 2, 1]);
    let r = api.get("/sync/watchlist/movies/popularity/asc");
    assert_eq!((r.h("x-applied-sort-by"), r.h("x-applied-sort-how")), ("rank", "asc"));
}

#[test]
fn etag_and_304() {
    let emu = start(Library::sample(300, 0));
    let api = Api::new(&emu);
    let r1 = api.get("/sync/watchlist?page=1&limit=250");
    let etag = r1.h("etag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34, "{etag}");
    assert_eq!(r1.h("cache-control"), "private, max-age=0, must-revalidate");
    let r2 = api.get("/sync/watchlist?page=1&limit=250");
    assert_eq!(r2.h("etag"), etag);
    let p2 = api.get("/sync/watchlist?page=2&limit=250");
    assert_ne!(p2.h("etag"), etag);

    let r = api.call("GET", "/sync/watchlist?page=1&limit=250", &[("if-none-match", &etag)], None);
    assert_eq!(r.status, 304);
    assert_eq!(r.text, "");
    assert_eq!(r.h("etag"), etag);
    assert_eq!(r.h("x-pagination-page-count"), "2");
    let r = api.call(
        "GET",
        "/sync/watchlist?page=1&limit=250",
        &[("if-none-match", "\"other\", W/".to_string().as_str())],
        None,
    );
    assert_eq!(r.status, 200);
    let weak = format!("W/{etag}");
    let r = api.call("GET", "/sync/watchlist?page=1&limit=250", &[("if-none-match", &weak)], None);
    assert_eq!(r.status, 304);

    // A change moves the ETag.
    let r = api.post("/sync/watchlist/remove", &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }));
    assert_eq!(r.status, 200);
    let r = api.call("GET", "/sync/watchlist?page=1&limit=250", &[("if-none-match", &etag)], None);
    assert_eq!(r.status, 200);
    assert_ne!(r.h("etag"), etag);
    assert_eq!(r.json()[0]["movie"]["ids"]["trakt"], 2);
    // Other GETs carry ETags too.
    let la = api.get("/sync/last_activities");
    let tag = la.h("etag").to_string();
    assert_eq!(api.call("GET", "/sync/last_activities", &[("if-none-match", &tag)], None).status, 304);
    // POST answers have none.
    assert!(!api.post("/sync/watchlist", &json!({})).has("etag"));
}

fn small_watchlist_seed() -> Library {
    let mut lib = Library::sample(3, 2);
    lib.watchlist.retain(|e| e.kind == MediaType::Movie && e.trakt == 1);
    lib
}

#[test]
fn watchlist_add() {
    let emu = start(small_watchlist_seed());
    let api = Api::new(&emu);
    let body = json!({
        "movies": [
            { "ids": { "trakt": 1 } },
            { "ids": { "imdb": "tt1000002" } },
            { "title": "Unknown", "ids": { "imdb": "tt0000111" } },
            { "ids": { "tvdb": 100003 } }
        ],
        "shows": [
            { "ids": { "tvdb": 300001 } },
            { "ids": { "slug": "sample-show-2" }, "seasons": [ { "number": 1 }, { "number": 9 } ] },
            { "ids": { "trakt": 1 }, "seasons": [ { "number": 2, "episodes": [ { "number": 1 }, { "number": 7 } ] } ] },
            { "ids": { "trakt": 999 } }
        ],
        "seasons": [ { "ids": { "tmdb": 410022 } }, { "ids": { "trakt": 1 } } ],
        "episodes": [ { "ids": { "tvdb": 500211 } }, { "ids": { "trakt": 5 } }, { "ids": { "imdb": "tt3000112" } } ]
    });
    let r = api.post("/sync/watchlist", &body);
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["added"], json!({ "movies": 1, "shows": 1, "seasons": 2, "episodes": 2 }));
    assert_eq!(v["existing"], json!({ "movies": 1, "shows": 0, "seasons": 0, "episodes": 0 }));
    assert_eq!(
        v["not_found"],
        json!({
            "movies": [ { "title": "Unknown", "ids": { "imdb": "tt0000111" } }, { "ids": { "tvdb": 100003 } } ],
            "shows": [
                { "ids": { "slug": "sample-show-2" }, "seasons": [ { "number": 9 } ] },
                { "ids": { "trakt": 1 }, "seasons": [ { "number": 2, "episodes": [ { "number": 7 } ] } ] },
                { "ids": { "trakt": 999 } }
            ],
            "seasons": [ { "ids": { "trakt": 1 } } ],
            "episodes": [ { "ids": { "trakt": 5 } }, { "ids": { "imdb": "tt3000112" } } ]
        })
    );
    assert_eq!(v["list"]["item_count"], 7);
    assert!(is_trakt_time(&v["list"]["updated_at"]));

    let lib = emu.library();
    let order: Vec<(MediaType, u64, u32)> = lib.watchlist.iter().map(|e| (e.kind, e.trakt, e.rank)).collect();
    assert_eq!(
        order,
        [
            (MediaType::Movie, 1, 1),
            (MediaType::Movie, 2, 2),
            (MediaType::Show, 1, 3),
            (MediaType::Season, 10021, 4),
            (MediaType::Episode, 100121, 5),
            (MediaType::Season, 10022, 6),
            (MediaType::Episode, 100211, 7),
        ]
    );
    // New list item ids continue after the largest seeded one (10001).
    assert_eq!(lib.watchlist[1].id, 10002);
    assert_eq!(lib.watchlist[6].id, 10007);
    assert_eq!(lib.watchlist[6].listed_at, lib.watchlist[1].listed_at);

    // Same request again: nothing new.
    let v = api.post("/sync/watchlist", &body).json();
    assert_eq!(v["added"], json!({ "movies": 0, "shows": 0, "seasons": 0, "episodes": 0 }));
    assert_eq!(v["existing"], json!({ "movies": 2, "shows": 1, "seasons": 2, "episodes": 2 }));
    assert_eq!(v["list"]["item_count"], 7);

    // A nested episode shows up as an episode row with its show.
    let r = api.get("/sync/watchlist/episodes");
    let rows = r.json();
    assert_eq!(rows[0]["episode"]["season"], 2);
    assert_eq!(rows[0]["episode"]["number"], 1);
    assert_eq!(rows[0]["show"]["ids"]["trakt"], 1);
    assert_eq!(rows[0]["rank"], 5);

    // Duplicates inside one request count once as added, then as existing.
    let v = api
        .post(
            "/sync/watchlist",
            &json!({ "movies": [ { "ids": { "slug": "sample-movie-3-1993" } }, { "ids": { "tmdb": 100003 } } ] }),
        )
        .json();
    assert_eq!(v["added"]["movies"], 1);
    assert_eq!(v["existing"]["movies"], 1);
    // Title fallback (no id matches).
    emu.with_library(|l| l.watchlist.retain(|e| e.kind != MediaType::Movie || e.trakt != 3));
    let v = api
        .post(
            "/sync/watchlist",
            &json!({ "movies": [ { "title": "sample movie 3", "year": 1993, "ids": { "tmdb": 1 } } ] }),
        )
        .json();
    assert_eq!(v["added"]["movies"], 1);
    // Bad body shapes.
    assert_eq!(api.post("/sync/watchlist", &json!([1])).status, 400);
    assert_eq!(api.post("/sync/watchlist", &json!({ "movies": 5 })).status, 400);
}

#[test]
fn watchlist_limit_420() {
    let mut seed = Library::sample(5, 0);
    seed.watchlist.truncate(3);
    seed.limits.watchlist.item_count = 4;
    let emu = start(seed);
    let api = Api::new(&emu);
    let before = emu.dump();
    let r = api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 4 } }, { "ids": { "trakt": 5 } } ] }));
    assert_eq!(r.status, 420);
    assert_eq!(r.h("x-upgrade-url"), "https://app.trakt.tv/vip");
    assert_eq!(r.h("x-vip-user"), "false");
    assert_eq!(r.h("x-account-limit"), "4");
    assert_eq!(err(&r), "account_limit_exceeded");
    assert_eq!(emu.dump(), before);

    // Existing + unknown items alone are not additions: no 420.
    let r =
        api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 99 } } ] }));
    assert_eq!(r.status, 201);
    assert_eq!(emu.dump(), before);

    let r = api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 4 } } ] }));
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["list"]["item_count"], 4);
    let r = api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 5 } } ] }));
    assert_eq!(r.status, 420);
    assert_eq!(emu.library().watchlist.len(), 4);

    // settings report the limit the emulator enforces.
    let s = api.get("/users/settings").json();
    assert_eq!(s["limits"]["watchlist"]["item_count"], 4);
    assert_eq!(s["user"]["vip"], false);
}

#[test]
fn watchlist_remove() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let before = api.get("/sync/last_activities").json();
    let r = api.post(
        "/sync/watchlist/remove",
        &json!({
            "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 77 } } ],
            "shows": [ { "ids": { "trakt": 2 } }, { "ids": { "trakt": 1 }, "seasons": [ { "number": 2 } ] } ],
            "episodes": [ { "ids": { "trakt": 100111 } } ]
        }),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["deleted"], json!({ "movies": 1, "shows": 1, "seasons": 0, "episodes": 1 }));
    assert_eq!(
        v["not_found"],
        json!({ "movies": [ { "ids": { "trakt": 77 } } ], "shows": [], "seasons": [], "episodes": [] })
    );
    assert_eq!(v["list"]["item_count"], 6);
    assert!(v.get("added").is_none());
    let ranks: Vec<(u32, MediaType, u64)> = emu.library().watchlist.iter().map(|e| (e.rank, e.kind, e.trakt)).collect();
    assert_eq!(
        ranks,
        [
            (1, MediaType::Movie, 2),
            (2, MediaType::Movie, 3),
            (3, MediaType::Show, 1),
            (4, MediaType::Season, 10011),
            (5, MediaType::Season, 10022),
            (6, MediaType::Episode, 100223),
        ]
    );
    let after = api.get("/sync/last_activities").json();
    assert_ne!(after["watchlist"]["updated_at"], before["watchlist"]["updated_at"]);
    assert_ne!(after["episodes"]["watchlisted_at"], before["episodes"]["watchlisted_at"]);
    assert_eq!(after["seasons"]["watchlisted_at"], before["seasons"]["watchlisted_at"]);
    assert_eq!(v["list"]["updated_at"], after["watchlist"]["updated_at"]);

    // In the catalogue but not listed: not counted, not in not_found, nothing moves.
    let r = api.post("/sync/watchlist/remove", &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }));
    let v = r.json();
    assert_eq!(v["deleted"], json!({ "movies": 0, "shows": 0, "seasons": 0, "episodes": 0 }));
    assert_eq!(v["not_found"]["movies"], json!([]));
    assert_eq!(v["list"]["item_count"], 6);
    assert_eq!(api.get("/sync/last_activities").json(), after);
}

#[test]
fn last_activities_move() {
    let emu = start(Library::sample(3, 1));
    let api = Api::new(&emu);
    let before = api.get("/sync/last_activities").json();
    let groups = [
        "movies",
        "episodes",
        "shows",
        "seasons",
        "comments",
        "lists",
        "watchlist",
        "favorites",
        "collaborations",
        "account",
        "saved_filters",
        "notes",
    ];
    for g in groups {
        assert!(before[g].is_object(), "{g}");
        for (k, v) in before[g].as_object().unwrap() {
            assert!(is_trakt_time(v), "{g}.{k} = {v}");
        }
    }
    assert_eq!(before["all"], "2026-01-01T00:08:00.000Z");
    assert_eq!(before["watchlist"]["updated_at"], "2026-01-01T00:08:00.000Z");
    assert_eq!(before["movies"]["rated_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(before["movies"].as_object().unwrap().len(), 8);
    assert_eq!(before["episodes"]["paused_at"], "2026-01-01T00:00:00.000Z");

    emu.with_library(|l| l.watchlist.retain(|e| e.kind != MediaType::Movie));
    let r = api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }));
    let list_updated = r.json()["list"]["updated_at"].clone();
    let after = api.get("/sync/last_activities").json();
    assert_eq!(after["watchlist"]["updated_at"], list_updated);
    assert_eq!(after["movies"]["watchlisted_at"], list_updated);
    assert_eq!(after["all"], list_updated);
    assert_eq!(after["shows"]["watchlisted_at"], before["shows"]["watchlisted_at"]);
    assert_eq!(after["movies"]["rated_at"], before["movies"]["rated_at"]);
    let t_before = Timestamp::parse(before["all"].as_str().unwrap()).unwrap();
    let t_after = Timestamp::parse(after["all"].as_str().unwrap()).unwrap();
    assert!(t_after > t_before);
    assert!((t_after.secs() - emu.now().secs()).abs() <= 2);

    // A second write within the same second still moves the timestamps.
    let r = api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }));
    let t2 = Timestamp::parse(r.json()["list"]["updated_at"].as_str().unwrap()).unwrap();
    assert!(t2 > t_after);
    let again = api.get("/sync/last_activities").json();
    assert_eq!(again["movies"]["watchlisted_at"], t2.to_trakt());
    // A write that changes nothing does not.
    api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }));
    assert_eq!(api.get("/sync/last_activities").json(), again);
}
