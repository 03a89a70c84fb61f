//! Seeds and dumps: parsing and its errors, round trips (ratings, history and collection
//! included), and the shape of the sample libraries.

mod common;

use common::{agent_with, ids_of, is_trakt_time, rows, send, start, Api};
use serde_json::json;
use trakt_emulator::{Emulator, EmulatorConfig, Library, MediaType, PlayAction, Timestamp, LIBRARY_KEYS};

#[test]
fn dump_round_trip() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    api.post("/sync/watchlist/remove", &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }));
    api.oauth(
        "/oauth/token",
        &json!({ "grant_type": "refresh_token", "client_id": "emulator-client-id", "client_secret": "emulator-client-secret", "refresh_token": "emulator-refresh-token" }),
    );
    let dump = emu.dump();
    assert_eq!(
        dump["watchlist"][1],
        json!({ "rank": 2, "id": 10003, "listed_at": "2026-01-01T00:03:00.000Z", "notes": null, "type": "movie", "trakt": 3 })
    );
    assert_eq!(dump["auth"]["access_token"], emu.credentials().access_token);
    assert_eq!(dump["limits"]["watchlist"]["item_count"], 250);
    assert!(is_trakt_time(&dump["last_activities"]["all"]));
    let lib = Library::from_json(&dump.to_string()).unwrap();
    assert_eq!(lib, emu.library());
    let emu2 = start(lib);
    assert_eq!(emu2.dump(), dump);
    assert_eq!(emu2.credentials(), emu.credentials());
    // The control endpoint serves the same document.
    let r = send(&agent_with(true, 0), "GET", &format!("{}/_emulator/state", emu2.url()), &[], None);
    assert_eq!(r.json(), dump);
    // Sample is deterministic.
    assert_eq!(Library::sample(4, 3), Library::sample(4, 3));
}

#[test]
fn seed_parsing() {
    let lib = Library::from_json(
        r#"{
          "user": { "username": "alice", "vip": true },
          "catalog": { "movies": [ { "title": "Batman Begins", "year": 2005, "ids": { "trakt": 1, "imdb": "tt0372784" } } ],
                       "shows": [ { "title": "Breaking Bad", "ids": { "trakt": 1, "tvdb": 81189 },
                                    "seasons": [ { "number": 1, "ids": { "trakt": 3950 },
                                                   "episodes": [ { "number": 1, "ids": { "trakt": 16 } } ] } ] } ] },
          "watchlist": [ { "type": "episode", "trakt": 16 }, { "type": "movie", "trakt": 1, "rank": 1, "notes": "x" } ],
          "last_activities": { "watchlist": { "updated_at": "2026-04-01T09:10:00.000Z" } }
        }"#,
    )
    .unwrap();
    assert_eq!(lib.catalog.movies[0].ids.slug, "batman-begins-2005");
    assert_eq!(lib.catalog.shows[0].ids.slug, "breaking-bad");
    assert_eq!(lib.limits.watchlist.item_count, 5000);
    assert_eq!(lib.auth.client_id, "emulator-client-id");
    let wl: Vec<(u32, u64, MediaType)> = lib.watchlist.iter().map(|e| (e.rank, e.id, e.kind)).collect();
    assert_eq!(wl, [(1, 2, MediaType::Movie), (2, 1, MediaType::Episode)]);
    assert_eq!(
        lib.last_activities.get("watchlist", "updated_at"),
        Some(Timestamp::parse("2026-04-01T09:10:00Z").unwrap())
    );
    assert!(lib.last_activities.get("movies", "rated_at").is_some());

    let e = Library::from_json(r#"{"catalog":{"shows":[{"title":"S","ids":{"trakt":1},"seasons":[{"number":1,"ids":{"trakt":2},"episodes":[{"number":1,"ids":{"tvdb":5}}]}]}]}}"#).unwrap_err();
    assert_eq!(e, "catalog.shows[0].seasons[0].episodes[0].ids: missing field `trakt`");
    let e = Library::from_json(r#"{"catalog":{"movies":[{"title":"M","ids":{"trakt":"one"}}]}}"#).unwrap_err();
    assert!(e.starts_with("catalog.movies[0].ids: invalid type: string \"one\""), "{e}");
    let e = Library::from_json(r#"{"watchlists":[]}"#).unwrap_err();
    assert!(e.starts_with("unknown top-level field `watchlists`"), "{e}");
    let e = Library::from_json(r#"{"watchlist":[{"type":"movie","trakt":9}]}"#).unwrap_err();
    assert_eq!(e, "watchlist: movie with trakt id 9 is not in the catalogue");
    let e = Library::from_json(r#"{"watchlist":[{"type":"film","trakt":9}]}"#).unwrap_err();
    assert!(e.starts_with("watchlist[0]: unknown variant `film`"), "{e}");
    let e = Library::from_json(
        r#"{"catalog":{"movies":[{"title":"A","ids":{"trakt":1}},{"title":"B","ids":{"trakt":1}}]}}"#,
    )
    .unwrap_err();
    assert_eq!(e, "catalog: movie trakt id 1 is used twice");
    let e = Library::from_json(r#"{"last_activities":{"movies":{"rated_at":"soon"}}}"#).unwrap_err();
    assert!(e.starts_with("last_activities: movies.rated_at: invalid timestamp"), "{e}");
    // An inconsistent seed refuses to start.
    let mut bad = Library::sample(1, 0);
    bad.watchlist[0].trakt = 42;
    let e = Emulator::start(EmulatorConfig { seed: bad, ..Default::default() }).err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn sample_has_ratings_and_plays() {
    let lib = Library::sample(3, 2);
    assert_eq!(lib.ratings.len(), 7);
    assert_eq!(lib.history.len(), 5);
    assert!(lib.collection.is_empty());
    let ids: Vec<u64> = lib.history.iter().map(|p| p.id).collect();
    assert_eq!(ids, [5_000_000_005, 5_000_000_004, 5_000_000_003, 5_000_000_002, 5_000_000_001]);
    assert_eq!(lib.history[0].watched_at.to_trakt(), "2025-12-20T20:00:00.000Z");
    let one = Library::sample(1, 0);
    assert_eq!((one.ratings.len(), one.history.len()), (1, 2));
    let none = Library::sample(0, 0);
    assert!(none.ratings.is_empty() && none.history.is_empty());
    // Existing content is unchanged: last_activities still 2026-01-01 except the watchlist.
    assert_eq!(lib.last_activities.get("movies", "rated_at").unwrap().to_trakt(), "2026-01-01T00:00:00.000Z");
    assert_eq!(lib.last_activities.get("episodes", "watched_at").unwrap().to_trakt(), "2026-01-01T00:00:00.000Z");
}

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
    assert_eq!(lib.ratings[0].kind, MediaType::Episode, "rated at load time: newest");
    assert_eq!(lib.ratings[1].rated_at.to_trakt(), "2026-04-30T19:02:00.000Z");
    let plays: Vec<(u64, MediaType, String, PlayAction)> =
        lib.history.iter().map(|p| (p.id, p.kind, p.watched_at.to_trakt(), p.action)).collect();
    assert_eq!(
        plays,
        vec![
            (6_000_000_000, MediaType::Episode, "2026-05-02T01:30:00.000Z".into(), PlayAction::Scrobble),
            (6_000_000_001, MediaType::Movie, "2026-05-01T21:10:00.000Z".into(), PlayAction::Watch),
        ]
    );
    assert_eq!(lib.collection[0].updated_at, lib.collection[0].collected_at);
    assert_eq!(lib.collection[0].metadata.three_d, Some(false));
    assert_eq!(lib.catalog.movies[0].runtime, Some(140));

    let emu = start(lib);
    let api = Api::new(&emu);
    // "released" uses the seeded dates; new ids continue above the largest.
    api.post("/sync/history", &json!({ "episodes": [ { "ids": { "trakt": 16 }, "watched_at": "released" } ] }));
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
    let keys: Vec<&str> = dump.as_object().unwrap().keys().map(String::as_str).collect();
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
    assert_eq!(dump["catalog"]["shows"][0]["seasons"][0]["episodes"][0]["first_aired"], "2008-01-20T02:00:00.000Z");
    let back = Library::from_json(&dump.to_string()).unwrap();
    assert_eq!(back, emu.library());
    let emu2 = start(back);
    assert_eq!(emu2.dump(), dump);
    // The restarted emulator continues the id sequence.
    Api::new(&emu2).post("/sync/history", &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }));
    assert_eq!(emu2.library().history[0].id, 6_000_000_003);

    // Sample-based round trip after writes.
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    api.post("/sync/history", &json!({ "shows": [ { "ids": { "trakt": 2 } } ] }));
    api.post("/sync/ratings", &json!({ "seasons": [ { "ids": { "trakt": 10021 }, "rating": 4 } ] }));
    api.post("/sync/collection", &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }));
    let dump = emu.dump();
    assert_eq!(dump["history"].as_array().unwrap().len(), 12);
    assert_eq!(Library::from_json(&dump.to_string()).unwrap(), emu.library());
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
    assert!(e(r#""ratings": [ { "type": "movie", "rating": 1 } ]"#).starts_with("ratings[0]: missing field `trakt`"));
    assert_eq!(
        e(r#""history": [ { "type": "show", "trakt": 1 } ]"#),
        "history: a play must be of a movie or an episode, not a show"
    );
    assert_eq!(
        e(r#""history": [ { "id": 7, "type": "movie", "trakt": 1 }, { "id": 7, "type": "movie", "trakt": 1 } ]"#),
        "history: history id 7 is used twice"
    );
    assert!(e(r#""history": [ { "type": "movie", "trakt": 1, "action": "binge" } ]"#)
        .starts_with("history[0]: unknown variant `binge`"));
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

#[test]
fn history_sample_shape() {
    let lib = Library::history_sample(10);
    assert_eq!(lib.catalog.movies.len(), 2);
    assert_eq!(lib.catalog.shows.len(), 1);
    assert_eq!(lib.history.len(), 10);
    let first: Vec<(u64, MediaType, u64, String)> =
        lib.history[..3].iter().map(|p| (p.id, p.kind, p.trakt, p.watched_at.to_trakt())).collect();
    assert_eq!(
        first,
        vec![
            (5_000_000_010, MediaType::Movie, 1, "2025-12-31T23:59:00.000Z".into()),
            (5_000_000_009, MediaType::Episode, 100_101, "2025-12-31T23:58:00.000Z".into()),
            (5_000_000_008, MediaType::Movie, 2, "2025-12-31T23:57:00.000Z".into()),
        ]
    );
    assert!(lib.watchlist.is_empty() && lib.ratings.is_empty() && lib.collection.is_empty());
    assert_eq!(Library::history_sample(10), lib);
}
