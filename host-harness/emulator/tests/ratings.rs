//! Ratings over HTTP: rows, filters and paging, upserts and removes, invalid values, the
//! `last_activities` timestamps and the account limit.

mod common;

use common::{activities, ep, err, hdrs, media_of, mv, paging_headers, rows, start, Api};
use serde_json::{json, Value};
use trakt_emulator::{Library, Limits, MediaType, UPGRADE_URL};

#[test]
fn ratings_rows_filters_and_paging() {
    let emu = start(Library::sample(300, 2));
    let api = Api::new(&emu);

    let r = api.get("/sync/ratings");
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 7));
    assert_eq!(
        media_of(&r),
        vec![ep(100_112), ep(100_111), ("season".into(), 10_011), ("show".into(), 1), mv(3), mv(2), mv(1)]
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
    assert_eq!(media_of(&api.get("/sync/ratings/shows")), vec![("show".into(), 1)]);
    assert_eq!(media_of(&api.get("/sync/ratings/seasons")), vec![("season".into(), 10_011)]);
    assert_eq!(media_of(&api.get("/sync/ratings/episodes/8,9")), vec![ep(100_111)]);
    let r = api.get("/sync/ratings/all/10");
    assert_eq!(media_of(&r), vec![mv(1)]);
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 1));
    assert_eq!(media_of(&api.get("/sync/ratings/all/8,9,10")), vec![ep(100_111), ("show".into(), 1), mv(2), mv(1)]);
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
    assert_eq!(r.json()["added"], json!({ "movies": 297, "shows": 0, "seasons": 0, "episodes": 0 }));
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
    let again = api.call("GET", "/sync/ratings/movies?page=2&limit=250", &[("if-none-match", etag.as_str())], None);
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
        lib.ratings.iter().find(|r| r.kind == kind && r.trakt == trakt).map(|r| (r.rating, r.rated_at.to_trakt()))
    };
    assert_eq!(find(MediaType::Movie, 1), Some((4, "2026-02-01T10:00:00.000Z".to_string())));
    assert_eq!(find(MediaType::Show, 2).unwrap().0, 6);
    assert_eq!(find(MediaType::Season, 10_022).unwrap().0, 7);
    assert_eq!(find(MediaType::Season, 10_010).unwrap().0, 3);
    assert_eq!(find(MediaType::Episode, 100_213).unwrap().0, 9);
    // Re-rated (same rating, new rated_at = now).
    assert_eq!(find(MediaType::Episode, 100_111).unwrap().0, 8);
    assert_ne!(find(MediaType::Episode, 100_111).unwrap().1, "2025-12-04T21:00:00.000Z");
    // Rows move with their new rated_at: the re-rated movie 1 is the newest movie now.
    assert_eq!(media_of(&api.get("/sync/ratings/movies")), vec![mv(1), mv(3), mv(2)]);
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
    assert_eq!(media_of(&api.get("/sync/ratings/shows")), vec![("show".into(), 2), ("show".into(), 1)]);
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
    assert!(r.json()["error_description"].as_str().unwrap().contains("rated_at"));
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
    assert_eq!(api.post("/sync/ratings", &json!({ "movies": 5 })).status, 400);
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
    assert_eq!(rows(&api.get("/sync/ratings/movies"))[0]["rated_at"], "2026-03-03T03:03:03.000Z");
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
    api.post("/sync/ratings/remove", &json!({ "episodes": [ { "ids": { "trakt": 100111 } } ] }));
    let a4 = activities(&api);
    assert!(a4["episodes"]["rated_at"].as_str() > a3["episodes"]["rated_at"].as_str());
    api.post("/sync/ratings/remove", &json!({ "episodes": [ { "ids": { "trakt": 100111 } } ] }));
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
