//! The collection over HTTP: adds, updates, existing items and removes.

mod common;

use common::{activities, hdrs, is_trakt_time, paging_headers, rows, start, Api};
use serde_json::json;
use trakt_emulator::{Library, Limits};

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
    assert_eq!(a2["episodes"]["collected_at"], a1["episodes"]["collected_at"]);

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
    assert!(rows(&api.get("/sync/collection/movies"))[0].get("metadata").is_none());

    let r = api.get("/sync/collection/shows");
    assert_eq!(paging_headers(&r), hdrs(1, 100, 1, 2));
    let shows = rows(&r);
    assert_eq!(shows[0]["show"]["ids"]["trakt"], 1, "ties: lower trakt id first");
    let seasons: Vec<(u64, Vec<u64>)> = shows[0]["seasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["number"].as_u64().unwrap(),
                s["episodes"].as_array().unwrap().iter().map(|e| e["number"].as_u64().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(seasons, vec![(0, vec![1]), (1, vec![1, 2, 3]), (2, vec![1, 2, 3])]);
    assert!(is_trakt_time(&shows[0]["last_collected_at"]));
    assert!(is_trakt_time(&shows[0]["last_updated_at"]));
    assert!(is_trakt_time(&shows[0]["seasons"][1]["episodes"][0]["collected_at"]));
    assert_eq!(
        shows[1]["seasons"],
        json!([ { "number": 1, "episodes": [ { "number": 1, "collected_at": shows[1]["last_collected_at"] } ] } ])
    );
    let r = api.get("/sync/collection/shows?extended=metadata&limit=1&page=1");
    assert_eq!(paging_headers(&r), hdrs(1, 1, 2, 2));
    assert_eq!(rows(&r)[0]["seasons"][0]["episodes"][0]["metadata"]["media_type"], "digital");
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
    let r =
        api.post("/sync/collection", &json!({ "movies": [ { "ids": { "trakt": 3 }, "collected_at": "released" } ] }));
    assert_eq!(r.json()["added"]["movies"], 1);
    assert_eq!(rows(&api.get("/sync/collection/movies"))[1]["collected_at"], "1993-01-01T00:00:00.000Z");
    let r = api.post("/sync/collection", &json!({ "movies": [ { "ids": { "trakt": 2 }, "collected_at": "nope" } ] }));
    assert_eq!(r.status, 400);
    emu.with_library(|l| l.limits.collection.item_count = 8);
    let r = api.post("/sync/collection", &json!({ "seasons": [ { "ids": { "trakt": 10011 } } ] }));
    assert_eq!(r.status, 420);
    assert_eq!(r.h("x-account-limit"), "8");
    assert_eq!(emu.library().collection.len(), 7);
    let r = api.post(
        "/sync/collection",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ], "episodes": [ { "ids": { "trakt": 100111 } } ] }),
    );
    assert_eq!(r.status, 201, "one new item fits; the existing one does not count");
    assert_eq!(Limits::for_vip(false).collection.item_count, 1_000);
    assert_eq!(Limits::for_vip(true).collection.item_count, 100_000);
}
