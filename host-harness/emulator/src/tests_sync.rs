//! End-to-end tests of ratings, history and collection (a child of `tests`, sharing its helpers).

use std::time::Instant;

use serde_json::{json, Value};

use super::*;

fn rows(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json().as_array().expect("a JSON array").clone()
}

/// `(type, trakt id of the row's movie/show/season/episode)` per row.
fn media_of(r: &Resp) -> Vec<(String, u64)> {
    rows(r)
        .iter()
        .map(|row| {
            let t = row["type"].as_str().unwrap().to_string();
            let id = row[t.as_str()]["ids"]["trakt"].as_u64().unwrap();
            (t, id)
        })
        .collect()
}

fn ids_of(r: &Resp) -> Vec<u64> {
    rows(r)
        .iter()
        .map(|row| row["id"].as_u64().unwrap())
        .collect()
}

fn paging_headers(r: &Resp) -> [String; 4] {
    [
        r.h("x-pagination-page").to_string(),
        r.h("x-pagination-limit").to_string(),
        r.h("x-pagination-page-count").to_string(),
        r.h("x-pagination-item-count").to_string(),
    ]
}

fn hdrs(page: u64, limit: u64, pages: u64, items: u64) -> [String; 4] {
    [page, limit, pages, items].map(|n| n.to_string())
}

fn activities(api: &Api) -> Value {
    api.get("/sync/last_activities").json()
}

fn mv(trakt: u64) -> (String, u64) {
    ("movie".to_string(), trakt)
}

fn ep(trakt: u64) -> (String, u64) {
    ("episode".to_string(), trakt)
}

// ---------------------------------------------------------------------------------------------
// Ratings

#[test]
fn sample_has_ratings_and_plays() {
    let lib = Library::sample(3, 2);
    assert_eq!(lib.ratings.len(), 7);
    assert_eq!(lib.history.len(), 5);
    assert!(lib.collection.is_empty());
    let ids: Vec<u64> = lib.history.iter().map(|p| p.id).collect();
    assert_eq!(
        ids,
        [
            5_000_000_005,
            5_000_000_004,
            5_000_000_003,
            5_000_000_002,
            5_000_000_001
        ]
    );
    assert_eq!(
        lib.history[0].watched_at.to_trakt(),
        "2025-12-20T20:00:00.000Z"
    );
    let one = Library::sample(1, 0);
    assert_eq!((one.ratings.len(), one.history.len()), (1, 2));
    let none = Library::sample(0, 0);
    assert!(none.ratings.is_empty() && none.history.is_empty());
    // Existing content is unchanged: last_activities still 2026-01-01 except the watchlist.
    assert_eq!(
        lib.last_activities
            .get("movies", "rated_at")
            .unwrap()
            .to_trakt(),
        "2026-01-01T00:00:00.000Z"
    );
    assert_eq!(
        lib.last_activities
            .get("episodes", "watched_at")
            .unwrap()
            .to_trakt(),
        "2026-01-01T00:00:00.000Z"
    );
}

#[test]
fn ratings_rows_filters_and_paging() {
    let emu = start(Library::sample(300, 2));
    let api = Api::new(&emu);

    let r = api.get("/sync/ratings");
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 7));
    assert_eq!(
        media_of(&r),
        vec![
            ep(100_112),
            ep(100_111),
            ("season".into(), 10_011),
            ("show".into(), 1),
            mv(3),
            mv(2),
            mv(1)
        ]
    );
    let all = rows(&r);
    assert_eq!(
        all[0],
        json!({ "rated_at": "2025-12-04T22:00:00.000Z", "rating": 5, "type": "episode",
                "episode": { "season": 1, "number": 2, "title": "Episode 2",
                             "ids": { "trakt": 100112, "tvdb": 500112, "imdb": "tt3000112", "tmdb": 600112 } },
                "show": { "title": "Sample Show 1", "year": 2001,
                          "ids": { "trakt": 1, "slug": "sample-show-1", "tvdb": 300001, "imdb": "tt2000001", "tmdb": 200001 } } })
    );
    assert_eq!(
        all[2],
        json!({ "rated_at": "2025-12-03T12:00:00.000Z", "rating": 7, "type": "season",
                "season": { "number": 1, "ids": { "trakt": 10011, "tvdb": 400011, "tmdb": 410011 } },
                "show": { "title": "Sample Show 1", "year": 2001,
                          "ids": { "trakt": 1, "slug": "sample-show-1", "tvdb": 300001, "imdb": "tt2000001", "tmdb": 200001 } } })
    );
    assert_eq!(
        all[6],
        json!({ "rated_at": "2025-12-01T13:00:00.000Z", "rating": 10, "type": "movie",
                "movie": { "title": "Sample Movie 1", "year": 1991,
                           "ids": { "trakt": 1, "slug": "sample-movie-1-1991", "imdb": "tt1000001", "tmdb": 100001 } } })
    );

    // Per type, per rating, comma lists, "all".
    let r = api.get("/sync/ratings/movies");
    assert_eq!(media_of(&r), vec![mv(3), mv(2), mv(1)]);
    assert_eq!(r.h("x-pagination-item-count"), "3");
    assert_eq!(
        media_of(&api.get("/sync/ratings/shows")),
        vec![("show".into(), 1)]
    );
    assert_eq!(
        media_of(&api.get("/sync/ratings/seasons")),
        vec![("season".into(), 10_011)]
    );
    assert_eq!(
        media_of(&api.get("/sync/ratings/episodes/8,9")),
        vec![ep(100_111)]
    );
    let r = api.get("/sync/ratings/all/10");
    assert_eq!(media_of(&r), vec![mv(1)]);
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 1));
    assert_eq!(
        media_of(&api.get("/sync/ratings/all/8,9,10")),
        vec![ep(100_111), ("show".into(), 1), mv(2), mv(1)]
    );
    assert_eq!(rows(&api.get("/sync/ratings/movies/1")).len(), 0);
    assert_eq!(api.get("/sync/ratings/films").status, 404);
    assert_eq!(api.get("/sync/ratings/movies/11").status, 400);
    assert_eq!(api.get("/sync/ratings/movies/8,x").status, 400);

    // 297 more movie ratings, all at the same given time: ties ordered by trakt id.
    let movies: Vec<Value> = (4..=300)
        .map(|i| json!({ "ids": { "trakt": i }, "rating": 1 + i % 10, "rated_at": "2026-02-01T12:00:00.000Z" }))
        .collect();
    let r = api.post("/sync/ratings", &json!({ "movies": movies }));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json()["added"],
        json!({ "movies": 297, "shows": 0, "seasons": 0, "episodes": 0 })
    );
    let r = api.get("/sync/ratings/movies?page=1&limit=1000");
    assert_eq!(paging_headers(&r), hdrs(1, 250, 2, 300));
    let first = media_of(&r);
    assert_eq!(first[0], mv(4));
    assert_eq!(first[249], mv(253));
    let r = api.get("/sync/ratings/movies?page=2&limit=250");
    let second = media_of(&r);
    assert_eq!(second.len(), 50);
    assert_eq!(second[46..], [mv(300), mv(3), mv(2), mv(1)]);
    let r = api.get("/sync/ratings/movies");
    assert_eq!(paging_headers(&r), hdrs(1, 100, 3, 300));
    let r = api.get("/sync/ratings/movies?page=9&limit=100");
    assert_eq!(paging_headers(&r), hdrs(9, 100, 3, 300));
    assert!(rows(&r).is_empty());
    let r = api.get("/sync/ratings/movies/10?limit=0");
    assert_eq!(paging_headers(&r), hdrs(1, 1, 31, 31));
    assert_eq!(media_of(&r), vec![mv(9)]);

    // ETag / 304.
    let r = api.get("/sync/ratings/movies?page=2&limit=250");
    let etag = r.h("etag").to_string();
    let again = api.call(
        "GET",
        "/sync/ratings/movies?page=2&limit=250",
        &[("if-none-match", etag.as_str())],
        None,
    );
    assert_eq!(again.status, 304);
    assert_eq!(again.text, "");
}

#[test]
fn ratings_upsert_rerate_and_remove() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let r = api.post(
        "/sync/ratings",
        &json!({
            "movies": [ { "ids": { "trakt": 1 }, "rating": 4, "rated_at": "2026-02-01T10:00:00.000Z" },
                        { "ids": { "imdb": "tt0000111" }, "rating": 10 } ],
            "shows": [ { "ids": { "trakt": 2 }, "rating": 6,
                         "seasons": [ { "number": 2, "rating": 7 },
                                      { "number": 1, "episodes": [ { "number": 3, "rating": 9 } ] },
                                      { "number": 8, "rating": 1 } ] } ],
            "seasons": [ { "ids": { "tvdb": 400010 }, "rating": 3 } ],
            "episodes": [ { "ids": { "trakt": 100111 }, "rating": 8 } ]
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "added": { "movies": 1, "shows": 1, "seasons": 2, "episodes": 2 },
            "not_found": {
                "movies": [ { "ids": { "imdb": "tt0000111" }, "rating": 10 } ],
                "shows": [ { "ids": { "trakt": 2 }, "rating": 6, "seasons": [ { "number": 8, "rating": 1 } ] } ],
                "seasons": [], "episodes": []
            }
        })
    );
    let lib = emu.library();
    assert_eq!(lib.ratings.len(), 7 + 4);
    let find = |kind: MediaType, trakt: u64| {
        lib.ratings
            .iter()
            .find(|r| r.kind == kind && r.trakt == trakt)
            .map(|r| (r.rating, r.rated_at.to_trakt()))
    };
    assert_eq!(
        find(MediaType::Movie, 1),
        Some((4, "2026-02-01T10:00:00.000Z".to_string()))
    );
    assert_eq!(find(MediaType::Show, 2).unwrap().0, 6);
    assert_eq!(find(MediaType::Season, 10_022).unwrap().0, 7);
    assert_eq!(find(MediaType::Season, 10_010).unwrap().0, 3);
    assert_eq!(find(MediaType::Episode, 100_213).unwrap().0, 9);
    // Re-rated (same rating, new rated_at = now).
    assert_eq!(find(MediaType::Episode, 100_111).unwrap().0, 8);
    assert_ne!(
        find(MediaType::Episode, 100_111).unwrap().1,
        "2025-12-04T21:00:00.000Z"
    );
    // Rows move with their new rated_at: the re-rated movie 1 is the newest movie now.
    assert_eq!(
        media_of(&api.get("/sync/ratings/movies")),
        vec![mv(1), mv(3), mv(2)]
    );
    assert_eq!(rows(&api.get("/sync/ratings/movies/4"))[0]["rating"], 4);

    // Remove: rated items count, unrated catalogue items do not, unknown ones are echoed.
    let r = api.post(
        "/sync/ratings/remove",
        &json!({
            "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 999 } } ],
            "shows": [ { "ids": { "trakt": 2 }, "seasons": [ { "number": 1 }, { "number": 2 } ] } ],
            "episodes": [ { "ids": { "trakt": 100111 } }, { "ids": { "trakt": 100212 } } ]
        }),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({
            "deleted": { "movies": 1, "shows": 0, "seasons": 1, "episodes": 1 },
            "not_found": { "movies": [ { "ids": { "trakt": 999 } } ], "shows": [], "seasons": [], "episodes": [] }
        })
    );
    assert_eq!(emu.library().ratings.len(), 11 - 3);
    // The show rating stays (only the most specific objects are removed).
    assert_eq!(
        media_of(&api.get("/sync/ratings/shows")),
        vec![("show".into(), 2), ("show".into(), 1)]
    );
}

#[test]
fn ratings_invalid_values() {
    let emu = start(Library::sample(3, 1));
    let api = Api::new(&emu);
    let before = emu.library().ratings;
    let acts = activities(&api);
    let r = api.post(
        "/sync/ratings",
        &json!({
            "movies": [ { "ids": { "trakt": 1 }, "rating": 0 }, { "ids": { "trakt": 2 }, "rating": 11 },
                        { "ids": { "trakt": 3 }, "rating": 7.5 }, { "ids": { "trakt": 1 }, "rating": "8" },
                        { "ids": { "trakt": 2 } } ],
            "shows": [ { "ids": { "trakt": 1 }, "rating": -1,
                         "seasons": [ { "number": 1, "episodes": [ { "number": 1, "rating": 12 }, { "number": 2 } ] } ] } ]
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "added": { "movies": 0, "shows": 0, "seasons": 0, "episodes": 0 },
            "not_found": {
                "movies": [ { "ids": { "trakt": 1 }, "rating": 0 }, { "ids": { "trakt": 2 }, "rating": 11 },
                            { "ids": { "trakt": 3 }, "rating": 7.5 }, { "ids": { "trakt": 1 }, "rating": "8" },
                            { "ids": { "trakt": 2 } } ],
                "shows": [
                    { "ids": { "trakt": 1 }, "rating": -1 },
                    { "ids": { "trakt": 1 }, "rating": -1,
                      "seasons": [ { "number": 1, "episodes": [ { "number": 1, "rating": 12 } ] } ] },
                    { "ids": { "trakt": 1 }, "rating": -1,
                      "seasons": [ { "number": 1, "episodes": [ { "number": 2 } ] } ] }
                ],
                "seasons": [], "episodes": []
            }
        })
    );
    assert_eq!(emu.library().ratings, before);
    assert_eq!(activities(&api), acts, "nothing changed, nothing moved");

    // A bad rated_at rejects the whole request.
    let r = api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 1 }, "rating": 5 },
                             { "ids": { "trakt": 2 }, "rating": 5, "rated_at": "last tuesday" } ] }),
    );
    assert_eq!(r.status, 400);
    assert_eq!(err(&r), "bad_request");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("rated_at"));
    assert_eq!(emu.library().ratings, before);
    // Valid with an invalid one next to it: the valid one is stored.
    let r = api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 1 }, "rating": 2 }, { "ids": { "trakt": 2 }, "rating": 0 } ] }),
    );
    assert_eq!(r.json()["added"]["movies"], 1);
    assert_eq!(r.json()["not_found"]["movies"].as_array().unwrap().len(), 1);
    // Not an object.
    assert_eq!(api.post("/sync/ratings", &json!([1, 2])).status, 400);
    assert_eq!(
        api.post("/sync/ratings", &json!({ "movies": 5 })).status,
        400
    );
}

#[test]
fn ratings_last_activities_and_limit() {
    let emu = start(Library::sample(5, 1));
    let api = Api::new(&emu);
    let a0 = activities(&api);
    let r = api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 4 }, "rating": 7, "rated_at": "2026-03-03T03:03:03.000Z" } ] }),
    );
    assert_eq!(r.status, 201);
    let a1 = activities(&api);
    assert_ne!(a1["movies"]["rated_at"], a0["movies"]["rated_at"]);
    assert_eq!(a1["movies"]["rated_at"], a1["all"]);
    assert_eq!(a1["shows"]["rated_at"], a0["shows"]["rated_at"]);
    assert_eq!(a1["episodes"]["rated_at"], a0["episodes"]["rated_at"]);
    // rated_at kept to the second as sent.
    assert_eq!(
        rows(&api.get("/sync/ratings/movies"))[0]["rated_at"],
        "2026-03-03T03:03:03.000Z"
    );
    // Same value, same rated_at: counted, but not a change.
    let r = api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 4 }, "rating": 7, "rated_at": "2026-03-03T03:03:03.000Z" } ] }),
    );
    assert_eq!(r.json()["added"]["movies"], 1);
    assert_eq!(activities(&api), a1);
    // Re-rate: moves.
    api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 4 }, "rating": 8, "rated_at": "2026-03-03T03:03:03.000Z" } ] }),
    );
    let a2 = activities(&api);
    assert!(a2["movies"]["rated_at"].as_str() > a1["movies"]["rated_at"].as_str());
    // Episode and season ratings move their own keys.
    api.post(
        "/sync/ratings",
        &json!({ "shows": [ { "ids": { "trakt": 1 }, "seasons": [ { "number": 2, "rating": 6 } ] } ] }),
    );
    let a3 = activities(&api);
    assert!(a3["seasons"]["rated_at"].as_str() > a2["seasons"]["rated_at"].as_str());
    assert_eq!(a3["movies"]["rated_at"], a2["movies"]["rated_at"]);
    assert_eq!(a3["episodes"]["rated_at"], a2["episodes"]["rated_at"]);
    // Remove: moves; removing something unrated: does not.
    api.post(
        "/sync/ratings/remove",
        &json!({ "episodes": [ { "ids": { "trakt": 100111 } } ] }),
    );
    let a4 = activities(&api);
    assert!(a4["episodes"]["rated_at"].as_str() > a3["episodes"]["rated_at"].as_str());
    api.post(
        "/sync/ratings/remove",
        &json!({ "episodes": [ { "ids": { "trakt": 100111 } } ] }),
    );
    assert_eq!(activities(&api), a4);

    // Limit: 8 ratings now (7 + movie 4 + season 10012 - episode 100111); limit 9.
    assert_eq!(emu.library().ratings.len(), 8);
    emu.with_library(|l| l.limits.ratings.item_count = 9);
    let two = json!({ "movies": [ { "ids": { "trakt": 5 }, "rating": 5 } ],
                      "episodes": [ { "ids": { "trakt": 100121 }, "rating": 5 } ] });
    let r = api.post("/sync/ratings", &two);
    assert_eq!(r.status, 420, "{}", r.text);
    assert_eq!(r.h("x-account-limit"), "9");
    assert_eq!(r.h("x-vip-user"), "false");
    assert_eq!(r.h("x-upgrade-url"), UPGRADE_URL);
    assert_eq!(err(&r), "account_limit_exceeded");
    assert_eq!(emu.library().ratings.len(), 8);
    // Re-rating at the limit is fine; one more new one too.
    let r = api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 1 }, "rating": 1 }, { "ids": { "trakt": 5 }, "rating": 5 } ] }),
    );
    assert_eq!(r.status, 201);
    assert_eq!(emu.library().ratings.len(), 9);
    // VIP defaults: 20,000.
    assert_eq!(Limits::for_vip(true).ratings.item_count, 20_000);
    assert_eq!(Limits::for_vip(false).ratings.item_count, 10_000);
    // /users/settings keeps the documented limits object.
    let s = api.get("/users/settings").json();
    assert!(s["limits"].get("ratings").is_none());
}

// ---------------------------------------------------------------------------------------------
// History

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
    assert_eq!(
        media_of(&r),
        vec![
            ep(100_212),
            ep(100_223),
            ep(100_222),
            ep(100_221),
            ep(100_211)
        ]
    );
    assert_eq!(
        ids_of(&r),
        vec![
            5_000_000_008,
            5_000_000_011,
            5_000_000_010,
            5_000_000_009,
            5_000_000_007
        ]
    );
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
    assert_eq!(
        rows(&api.get("/sync/history/movies/1"))[2]["watched_at"],
        "1991-01-01T00:00:00.000Z"
    );
    assert_eq!(
        rows(&api.get("/sync/history/movies/2"))[1]["watched_at"],
        "2005-06-15T02:20:00.000Z"
    );
    // A bare show = all its episodes (specials included); omitted watched_at = now (minute).
    let before = emu.now().floor_minute();
    let r = api.post(
        "/sync/history",
        &json!({ "shows": [ { "ids": { "slug": "sample-show-1" } } ] }),
    );
    let after = emu.now().floor_minute();
    assert_eq!(r.json()["added"], json!({ "movies": 0, "episodes": 7 }));
    let r = api.get("/sync/history/shows/1?limit=7");
    let newest: Vec<Timestamp> = rows(&r)
        .iter()
        .map(|x| Timestamp::parse(x["watched_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        newest.iter().all(|t| *t >= before && *t <= after),
        "{newest:?}"
    );
    assert_eq!(
        rows(&r)
            .iter()
            .filter(|x| x["episode"]["season"] == 0)
            .count(),
        1
    );

    // Invalid watched_at: 400, nothing stored.
    let n = emu.library().history.len();
    for bad in [
        json!("yesterday"),
        json!(12345),
        json!("2026-13-01T00:00:00Z"),
    ] {
        let r = api.post(
            "/sync/history",
            &json!({ "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 2 }, "watched_at": bad } ] }),
        );
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("watched_at"));
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
    assert_eq!(
        ids_of(&r),
        vec![5_000_000_007, 5_000_000_006, 5_000_000_004]
    );
    assert!(ids_of(&r).iter().all(|id| *id > u64::from(u32::MAX)));
    let times: Vec<Value> = rows(&r).iter().map(|x| x["watched_at"].clone()).collect();
    assert_eq!(
        times,
        [
            "2026-02-02T02:02:00.000Z",
            "2026-02-02T02:02:00.000Z",
            "2025-12-15T21:30:00.000Z"
        ]
    );
    // All plays, newest first.
    let r = api.get("/sync/history");
    assert_eq!(
        media_of(&r),
        vec![mv(2), mv(2), mv(1), mv(2), ep(100_112), ep(100_111), mv(1)]
    );
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 7));
    // Paging.
    let r = api.get("/sync/history?page=3&limit=3");
    assert_eq!(paging_headers(&r), hdrs(3, 3, 3, 7));
    assert_eq!(ids_of(&r), vec![5_000_000_001]);
    let r = api.get("/sync/history?page=4&limit=3");
    assert!(rows(&r).is_empty());
    assert_eq!(
        paging_headers(&api.get("/sync/history?limit=900")),
        hdrs(1, 250, 1, 7)
    );
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
    assert_eq!(
        media_of(&api.get("/sync/history/shows/1")),
        vec![ep(100_112), ep(100_111)]
    );
    assert_eq!(
        media_of(&api.get("/sync/history/seasons/10011")),
        vec![ep(100_112), ep(100_111)]
    );
    assert_eq!(
        media_of(&api.get("/sync/history/episodes/100111")),
        vec![ep(100_111)]
    );
    assert!(rows(&api.get("/sync/history/seasons/10012")).is_empty());
    assert!(rows(&api.get("/sync/history/movies/3")).is_empty());
    assert_eq!(api.get("/sync/history/movies/999").status, 404);
    assert_eq!(api.get("/sync/history/movies/abc").status, 404);
    assert_eq!(api.get("/sync/history/films").status, 404);
    // Mixed types on the episodes-only view.
    assert_eq!(
        paging_headers(&api.get("/sync/history/episodes?limit=1")),
        hdrs(1, 1, 2, 2)
    );
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
    let r = api.post(
        "/sync/history/remove",
        &json!({ "seasons": [ { "ids": { "trakt": 10021 } } ] }),
    );
    assert_eq!(r.json()["deleted"], json!({ "movies": 0, "episodes": 4 }));
    assert_eq!(r.json()["not_found"]["ids"], json!([]));
    let a2 = activities(&api);
    let r = api.post(
        "/sync/history/remove",
        &json!({ "shows": [ { "ids": { "trakt": 2 } } ] }),
    );
    assert_eq!(r.json()["deleted"], json!({ "movies": 0, "episodes": 4 }));
    let a3 = activities(&api);
    assert!(a3["episodes"]["watched_at"].as_str() > a2["episodes"]["watched_at"].as_str());
    assert_eq!(a3["movies"]["watched_at"], a2["movies"]["watched_at"]);
    assert_eq!(
        media_of(&api.get("/sync/history")),
        vec![ep(100_111), mv(2)]
    );
    // Removing nothing moves nothing.
    let r = api.post(
        "/sync/history/remove",
        &json!({ "movies": [ { "ids": { "trakt": 3 } } ], "ids": [ 5_000_000_001u64 ] }),
    );
    assert_eq!(
        r.json(),
        json!({ "deleted": { "movies": 0, "episodes": 0 },
                "not_found": { "movies": [], "shows": [], "seasons": [], "episodes": [], "ids": [ 5_000_000_001u64 ] } })
    );
    assert_eq!(activities(&api), a3);
    assert_eq!(
        api.post("/sync/history/remove", &json!({ "ids": 5 }))
            .status,
        400
    );
    // Ids are never reused after removals.
    api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 3 } } ] }),
    );
    assert_eq!(
        ids_of(&api.get("/sync/history/movies/3")),
        vec![5_000_000_015]
    );
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
    let r = api.post(
        "/sync/history",
        &json!({ "episodes": [ { "ids": { "trakt": 100112 } } ] }),
    );
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
    assert_eq!(
        a1["episodes"]["watchlisted_at"],
        a0["episodes"]["watchlisted_at"]
    );
    assert_eq!(
        a1["movies"]["watchlisted_at"],
        a0["movies"]["watchlisted_at"]
    );
    assert_eq!(a1["movies"]["watched_at"], a0["movies"]["watched_at"]);
    // A movie, and a nested episode of show 2 (takes the show, season 2 and the episode off).
    api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ],
                 "shows": [ { "ids": { "trakt": 2 }, "seasons": [ { "number": 2, "episodes": [ { "number": 3 } ] } ] } ] }),
    );
    assert_eq!(
        wl(&api),
        vec![
            ("movie".into(), 1, 1),
            ("movie".into(), 3, 2),
            ("episode".into(), 100_111, 3)
        ]
    );
    let a2 = activities(&api);
    assert_eq!(
        a2["movies"]["watchlisted_at"],
        a2["watchlist"]["updated_at"]
    );
    assert_eq!(
        a2["episodes"]["watchlisted_at"],
        a2["watchlist"]["updated_at"]
    );
    // Nothing listed: the watchlist timestamps stay.
    api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }),
    );
    let a3 = activities(&api);
    assert_eq!(a3["watchlist"], a2["watchlist"]);
    assert!(a3["movies"]["watched_at"].as_str() > a2["movies"]["watched_at"].as_str());
}

#[test]
fn history_limit_faults_and_rate_limits() {
    let emu = start(Library::sample(3, 1));
    emu.with_library(|l| l.limits.history.item_count = 7);
    let api = Api::new(&emu);
    let r = api.post(
        "/sync/history",
        &json!({ "seasons": [ { "ids": { "trakt": 10011 } } ] }),
    );
    assert_eq!(r.status, 420, "{}", r.text);
    assert_eq!(r.h("x-account-limit"), "7");
    assert_eq!(r.h("x-vip-user"), "false");
    assert_eq!(emu.library().history.len(), 5);
    let r = api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 1 } } ] }),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["added"]["movies"], 2);
    assert_eq!(Limits::for_vip(true).history.item_count, 100_000);
    assert_eq!(Limits::for_vip(false).history.item_count, 100_000);

    // Crash safety: apply, then drop the connection.
    emu.with_library(|l| l.limits.history.item_count = 100_000);
    emu.inject(Fault::new(
        FaultWhen::request("POST", "/sync/history"),
        FaultAction::ApplyThenDrop,
    ));
    let body =
        json!({ "movies": [ { "ids": { "trakt": 3 }, "watched_at": "2026-04-04T04:04:00Z" } ] });
    assert!(api.try_call("POST", "/sync/history", Some(&body)).is_err());
    let l = last_logged(&emu);
    assert_eq!(
        (l.path.as_str(), l.status, l.fault.as_deref()),
        ("/sync/history", 0, Some("apply_then_drop"))
    );
    assert_eq!(
        rows(&api.get("/sync/history/movies/3"))[0]["watched_at"],
        "2026-04-04T04:04:00.000Z"
    );
    // Status faults on the reads.
    emu.inject(Fault::new(
        FaultWhen::request("GET", "/sync/ratings/movies"),
        FaultAction::Status {
            status: 503,
            headers: vec![],
            body: String::new(),
        },
    ));
    assert_eq!(api.get("/sync/ratings/movies").status, 503);
    assert_eq!(api.get("/sync/ratings/movies").status, 200);

    // Rate limits apply to the new writes.
    let limited = rate_limited(RateLimitConfig::default());
    let api = Api::new(&limited);
    let rate = json!({ "movies": [ { "ids": { "trakt": 1 }, "rating": 5 } ] });
    assert_eq!(api.post("/sync/ratings", &rate).status, 201);
    let r = api.post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }),
    );
    assert_eq!(r.status, 429);
    assert!(r.has("retry-after"));
}

// ---------------------------------------------------------------------------------------------
// Collection

#[test]
fn collection_add_update_existing_remove() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let a0 = activities(&api);
    let body = json!({
        "movies": [ { "ids": { "trakt": 1 }, "collected_at": "2026-01-05T10:00:00.000Z", "media_type": "bluray",
                      "resolution": "hd_1080p", "audio": "dts_ma", "audio_channels": "5.1" },
                    { "ids": { "imdb": "tt0000111" } } ],
        "shows": [ { "ids": { "trakt": 1 }, "media_type": "digital" } ],
        "episodes": [ { "ids": { "trakt": 100211 } } ]
    });
    let r = api.post("/sync/collection", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "added": { "movies": 1, "episodes": 8 },
            "updated": { "movies": 0, "episodes": 0 },
            "existing": { "movies": 0, "episodes": 0 },
            "not_found": { "movies": [ { "ids": { "imdb": "tt0000111" } } ], "shows": [], "seasons": [], "episodes": [] }
        })
    );
    let a1 = activities(&api);
    assert_ne!(a1["movies"]["collected_at"], a0["movies"]["collected_at"]);
    assert_eq!(a1["movies"]["collected_at"], a1["episodes"]["collected_at"]);
    // Same again: existing.
    let r = api.post("/sync/collection", &body);
    assert_eq!(r.json()["existing"], json!({ "movies": 1, "episodes": 8 }));
    assert_eq!(r.json()["added"], json!({ "movies": 0, "episodes": 0 }));
    assert_eq!(activities(&api), a1);
    // A changed value: updated; other values kept.
    let r = api.post(
        "/sync/collection",
        &json!({ "movies": [ { "ids": { "trakt": 1 }, "resolution": "uhd_4k", "3d": true } ] }),
    );
    assert_eq!(r.json()["updated"], json!({ "movies": 1, "episodes": 0 }));
    let a2 = activities(&api);
    assert!(a2["movies"]["collected_at"].as_str() > a1["movies"]["collected_at"].as_str());
    assert_eq!(
        a2["episodes"]["collected_at"],
        a1["episodes"]["collected_at"]
    );

    let r = api.get("/sync/collection/movies?extended=metadata");
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 1));
    let row = &rows(&r)[0];
    assert_eq!(row["collected_at"], "2026-01-05T10:00:00.000Z");
    assert!(is_trakt_time(&row["updated_at"]));
    assert_eq!(row["movie"]["ids"]["trakt"], 1);
    assert_eq!(
        row["metadata"],
        json!({ "media_type": "bluray", "resolution": "uhd_4k", "hdr": null, "audio": "dts_ma",
                "audio_channels": "5.1", "3d": true })
    );
    assert!(rows(&api.get("/sync/collection/movies"))[0]
        .get("metadata")
        .is_none());

    let r = api.get("/sync/collection/shows");
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 2));
    let shows = rows(&r);
    assert_eq!(
        shows[0]["show"]["ids"]["trakt"], 1,
        "ties: lower trakt id first"
    );
    let seasons: Vec<(u64, Vec<u64>)> = shows[0]["seasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["number"].as_u64().unwrap(),
                s["episodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["number"].as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        seasons,
        vec![(0, vec![1]), (1, vec![1, 2, 3]), (2, vec![1, 2, 3])]
    );
    assert!(is_trakt_time(&shows[0]["last_collected_at"]));
    assert!(is_trakt_time(&shows[0]["last_updated_at"]));
    assert!(is_trakt_time(
        &shows[0]["seasons"][1]["episodes"][0]["collected_at"]
    ));
    assert_eq!(
        shows[1]["seasons"],
        json!([ { "number": 1, "episodes": [ { "number": 1, "collected_at": shows[1]["last_collected_at"] } ] } ])
    );
    let r = api.get("/sync/collection/shows?extended=metadata&limit=1&page=1");
    assert_eq!(paging_headers(&r), hdrs(1, 1, 2, 2));
    assert_eq!(
        rows(&r)[0]["seasons"][0]["episodes"][0]["metadata"]["media_type"],
        "digital"
    );
    assert_eq!(api.get("/sync/collection/episodes").status, 404);

    // Remove: a season's episodes; uncollected items are not counted; unknown ones echoed.
    let r = api.post(
        "/sync/collection/remove",
        &json!({ "seasons": [ { "ids": { "trakt": 10011 } } ],
                 "movies": [ { "ids": { "trakt": 2 } } ],
                 "episodes": [ { "ids": { "trakt": 999 } } ] }),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({ "deleted": { "movies": 0, "episodes": 3 },
                "not_found": { "movies": [], "shows": [], "seasons": [], "episodes": [ { "ids": { "trakt": 999 } } ] } })
    );
    let a3 = activities(&api);
    assert!(a3["episodes"]["collected_at"].as_str() > a2["episodes"]["collected_at"].as_str());
    assert_eq!(a3["movies"]["collected_at"], a2["movies"]["collected_at"]);
    assert_eq!(emu.library().collection.len(), 6);

    // collected_at: "released", invalid values, limit.
    let r = api.post(
        "/sync/collection",
        &json!({ "movies": [ { "ids": { "trakt": 3 }, "collected_at": "released" } ] }),
    );
    assert_eq!(r.json()["added"]["movies"], 1);
    assert_eq!(
        rows(&api.get("/sync/collection/movies"))[1]["collected_at"],
        "1993-01-01T00:00:00.000Z"
    );
    let r = api.post(
        "/sync/collection",
        &json!({ "movies": [ { "ids": { "trakt": 2 }, "collected_at": "nope" } ] }),
    );
    assert_eq!(r.status, 400);
    emu.with_library(|l| l.limits.collection.item_count = 8);
    let r = api.post(
        "/sync/collection",
        &json!({ "seasons": [ { "ids": { "trakt": 10011 } } ] }),
    );
    assert_eq!(r.status, 420);
    assert_eq!(r.h("x-account-limit"), "8");
    assert_eq!(emu.library().collection.len(), 7);
    let r = api.post(
        "/sync/collection",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ], "episodes": [ { "ids": { "trakt": 100111 } } ] }),
    );
    assert_eq!(
        r.status, 201,
        "one new item fits; the existing one does not count"
    );
    assert_eq!(Limits::for_vip(false).collection.item_count, 1_000);
    assert_eq!(Limits::for_vip(true).collection.item_count, 100_000);
}

// ---------------------------------------------------------------------------------------------
// Seed / dump

#[test]
fn seed_and_dump_with_ratings_history_collection() {
    let lib = Library::from_json(
        r#"{
          "catalog": {
            "movies": [ { "title": "Batman Begins", "year": 2005, "ids": { "trakt": 1 }, "released": "2005-06-15", "runtime": 140 } ],
            "shows": [ { "title": "Breaking Bad", "ids": { "trakt": 1 },
                         "seasons": [ { "number": 1, "ids": { "trakt": 3950 },
                                        "episodes": [ { "number": 1, "ids": { "trakt": 16 },
                                                        "first_aired": "2008-01-20T02:00:00.000Z", "runtime": 58 } ] } ] } ] },
          "ratings": [ { "type": "movie", "trakt": 1, "rating": 9, "rated_at": "2026-04-30T19:02:00.000Z" },
                       { "type": "episode", "trakt": 16, "rating": 10 } ],
          "history": [ { "type": "movie", "trakt": 1, "watched_at": "2026-05-01T21:10:42.000Z" },
                       { "id": 6000000000, "type": "episode", "trakt": 16, "watched_at": "2026-05-02T01:30:00.000Z", "action": "scrobble" } ],
          "collection": [ { "type": "movie", "trakt": 1, "collected_at": "2026-01-05T10:00:00.000Z", "media_type": "bluray", "3d": false } ]
        }"#,
    )
    .unwrap();
    assert_eq!(
        lib.ratings[0].kind,
        MediaType::Episode,
        "rated at load time: newest"
    );
    assert_eq!(
        lib.ratings[1].rated_at.to_trakt(),
        "2026-04-30T19:02:00.000Z"
    );
    let plays: Vec<(u64, MediaType, String, PlayAction)> = lib
        .history
        .iter()
        .map(|p| (p.id, p.kind, p.watched_at.to_trakt(), p.action))
        .collect();
    assert_eq!(
        plays,
        vec![
            (
                6_000_000_000,
                MediaType::Episode,
                "2026-05-02T01:30:00.000Z".into(),
                PlayAction::Scrobble
            ),
            (
                6_000_000_001,
                MediaType::Movie,
                "2026-05-01T21:10:00.000Z".into(),
                PlayAction::Watch
            ),
        ]
    );
    assert_eq!(lib.collection[0].updated_at, lib.collection[0].collected_at);
    assert_eq!(lib.collection[0].metadata.three_d, Some(false));
    assert_eq!(lib.catalog.movies[0].runtime, Some(140));

    let emu = start(lib);
    let api = Api::new(&emu);
    // "released" uses the seeded dates; new ids continue above the largest.
    api.post(
        "/sync/history",
        &json!({ "episodes": [ { "ids": { "trakt": 16 }, "watched_at": "released" } ] }),
    );
    let r = api.get("/sync/history/episodes/16");
    assert_eq!(ids_of(&r), vec![6_000_000_000, 6_000_000_002]);
    assert_eq!(rows(&r)[1]["watched_at"], "2008-01-20T02:58:00.000Z");
    assert_eq!(rows(&r)[0]["action"], "scrobble");
    api.post(
        "/sync/ratings",
        &json!({ "movies": [ { "ids": { "trakt": 1 }, "rating": 3, "rated_at": "2026-06-01T00:00:00Z" } ] }),
    );
    api.post(
        "/sync/collection",
        &json!({ "episodes": [ { "ids": { "trakt": 16 }, "collected_at": "2026-02-02T00:00:00Z", "resolution": "hd_720p" } ] }),
    );

    let dump = emu.dump();
    let keys: Vec<&str> = dump
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, LIBRARY_KEYS);
    assert_eq!(
        dump["history"][0],
        json!({ "id": 6_000_000_000u64, "type": "episode", "trakt": 16, "watched_at": "2026-05-02T01:30:00.000Z", "action": "scrobble" })
    );
    // The episode was rated at load time (now): newest first.
    assert_eq!(dump["ratings"][0]["type"], "episode");
    assert_eq!(
        dump["ratings"][1],
        json!({ "type": "movie", "trakt": 1, "rating": 3, "rated_at": "2026-06-01T00:00:00.000Z" })
    );
    assert_eq!(
        dump["collection"][0],
        json!({ "type": "movie", "trakt": 1, "collected_at": "2026-01-05T10:00:00.000Z",
                "updated_at": "2026-01-05T10:00:00.000Z", "media_type": "bluray", "3d": false })
    );
    assert_eq!(dump["collection"][1]["resolution"], "hd_720p");
    assert_eq!(dump["catalog"]["movies"][0]["released"], "2005-06-15");
    assert_eq!(
        dump["catalog"]["shows"][0]["seasons"][0]["episodes"][0]["first_aired"],
        "2008-01-20T02:00:00.000Z"
    );
    let back = Library::from_json(&dump.to_string()).unwrap();
    assert_eq!(back, emu.library());
    let emu2 = start(back);
    assert_eq!(emu2.dump(), dump);
    // The restarted emulator continues the id sequence.
    Api::new(&emu2).post(
        "/sync/history",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }),
    );
    assert_eq!(emu2.library().history[0].id, 6_000_000_003);

    // Sample-based round trip after writes.
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    api.post(
        "/sync/history",
        &json!({ "shows": [ { "ids": { "trakt": 2 } } ] }),
    );
    api.post(
        "/sync/ratings",
        &json!({ "seasons": [ { "ids": { "trakt": 10021 }, "rating": 4 } ] }),
    );
    api.post(
        "/sync/collection",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }),
    );
    let dump = emu.dump();
    assert_eq!(dump["history"].as_array().unwrap().len(), 12);
    assert_eq!(
        Library::from_json(&dump.to_string()).unwrap(),
        emu.library()
    );
    assert_eq!(start(emu.library()).dump(), dump);

    // Errors name the entry.
    let cat = r#""catalog": { "movies": [ { "title": "M", "ids": { "trakt": 1 } } ] }"#;
    let e = |rest: &str| Library::from_json(&format!("{{ {cat}, {rest} }}")).unwrap_err();
    assert_eq!(
        e(r#""ratings": [ { "type": "movie", "trakt": 1, "rating": 11 } ]"#),
        "ratings: movie with trakt id 1: rating 11 is not in 1..=10"
    );
    assert_eq!(
        e(
            r#""ratings": [ { "type": "movie", "trakt": 1, "rating": 1 }, { "type": "movie", "trakt": 1, "rating": 2 } ]"#
        ),
        "ratings: movie with trakt id 1 is rated twice"
    );
    assert_eq!(
        e(r#""ratings": [ { "type": "movie", "trakt": 2, "rating": 1 } ]"#),
        "ratings: movie with trakt id 2 is not in the catalogue"
    );
    assert!(e(r#""ratings": [ { "type": "movie", "rating": 1 } ]"#)
        .starts_with("ratings[0]: missing field `trakt`"));
    assert_eq!(
        e(r#""history": [ { "type": "show", "trakt": 1 } ]"#),
        "history: a play must be of a movie or an episode, not a show"
    );
    assert_eq!(
        e(
            r#""history": [ { "id": 7, "type": "movie", "trakt": 1 }, { "id": 7, "type": "movie", "trakt": 1 } ]"#
        ),
        "history: history id 7 is used twice"
    );
    assert!(
        e(r#""history": [ { "type": "movie", "trakt": 1, "action": "binge" } ]"#)
            .starts_with("history[0]: unknown variant `binge`")
    );
    assert_eq!(
        e(r#""collection": [ { "type": "movie", "trakt": 1 }, { "type": "movie", "trakt": 1 } ]"#),
        "collection: movie with trakt id 1 is collected twice"
    );
    assert_eq!(
        e(r#""collection": [ { "type": "season", "trakt": 1 } ]"#),
        "collection: an entry must be a movie or an episode, not a season"
    );
    assert!(e(r#""history": {}"#).starts_with("history: expected an array"));
    assert!(Library::from_json(
        r#"{ "catalog": { "movies": [ { "title": "M", "ids": { "trakt": 1 }, "released": "2005-13-01" } ] } }"#
    )
    .unwrap_err()
    .starts_with("catalog: movie 1: released: invalid date"));
}

// ---------------------------------------------------------------------------------------------
// Volume

#[test]
fn history_sample_shape() {
    let lib = Library::history_sample(10);
    assert_eq!(lib.catalog.movies.len(), 2);
    assert_eq!(lib.catalog.shows.len(), 1);
    assert_eq!(lib.history.len(), 10);
    let first: Vec<(u64, MediaType, u64, String)> = lib.history[..3]
        .iter()
        .map(|p| (p.id, p.kind, p.trakt, p.watched_at.to_trakt()))
        .collect();
    assert_eq!(
        first,
        vec![
            (
                5_000_000_010,
                MediaType::Movie,
                1,
                "2025-12-31T23:59:00.000Z".into()
            ),
            (
                5_000_000_009,
                MediaType::Episode,
                100_101,
                "2025-12-31T23:58:00.000Z".into()
            ),
            (
                5_000_000_008,
                MediaType::Movie,
                2,
                "2025-12-31T23:57:00.000Z".into()
            ),
        ]
    );
    assert!(lib.watchlist.is_empty() && lib.ratings.is_empty() && lib.collection.is_empty());
    assert_eq!(Library::history_sample(10), lib);
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
    // Server-side cost alone (no HTTP, no client parsing), on pages not rendered before.
    let server = |page_range: std::ops::Range<u32>, limit: u32| {
        let c = emu.credentials();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("trakt-api-key", c.client_id.parse().unwrap());
        headers.insert("trakt-api-version", "2".parse().unwrap());
        let auth = format!("Bearer {}", c.access_token);
        headers.insert("authorization", auth.parse().unwrap());
        let n = page_range.len() as u32;
        let t = Instant::now();
        for page in page_range {
            let out = emu.shared.process(super::super::server::Incoming {
                method: "GET".into(),
                path: "/sync/history/episodes".into(),
                query: format!("page={page}&limit={limit}"),
                headers: headers.clone(),
                body: vec![],
            });
            assert_eq!(out.reply.status, 200);
            std::hint::black_box(out.reply.into_response());
        }
        t.elapsed() / n
    };
    let one_row = server(1000..1040, 1);
    let full_page = server(41..81, 250);
    eprintln!(
        "history_sample(100_000): built in {built:?}, emulator started in {started:?}, \
         400 pages of 250 over HTTP in {paged:?} ({:?} per request incl. client parsing), \
         4 typed/filtered pages in {typed:?}; server only: {full_page:?} per 250-row page, \
         {one_row:?} per 1-row page",
        paged / 400
    );
    // Generous bounds for unoptimized builds on a busy machine; they catch O(n) work per request
    // (a scan, clone or sort of 100,000 plays costs far more).
    assert!(one_row.as_secs_f64() < 0.005, "1-row page: {one_row:?}");
    assert!(
        full_page.as_secs_f64() < 0.025,
        "250-row page: {full_page:?}"
    );
    assert!(built.as_secs_f64() < 5.0, "built in {built:?}");
    assert!(paged.as_secs_f64() < 20.0, "paged in {paged:?}");
}
