//! The write report's `outcomes`: one entry per input item, in input order, with
//! the component's key and the item's status, for watchlist, ratings and history adds and
//! removes, dry runs included; and the same keys as the grouped lists.

use e2e_tests::Harness;
use serde_json::{json, Value};
use trakt_emulator::Library;

/// Two movies (the first listed, rated and watched) and a show keyed by TMDB (listed).
fn library() -> Library {
    Library::from_json(
        &json!({
            "catalog": {
                "movies": [
                    {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "imdb": "tt0372784", "tmdb": 272}},
                    {"title": "The Matrix", "year": 1999, "ids": {"trakt": 2, "imdb": "tt0133093", "tmdb": 603}}
                ],
                "shows": [{"title": "Breaking Bad", "year": 2008, "ids": {"trakt": 1, "tvdb": 81189, "tmdb": 1396},
                    "seasons": [{"number": 1, "ids": {"trakt": 3950}, "episodes": [
                        {"number": 1, "title": "Pilot", "ids": {"trakt": 16, "tvdb": 349232, "tmdb": 62085}}]}]}]
            },
            "watchlist": [{"type": "movie", "trakt": 1}, {"type": "show", "trakt": 1}],
            "ratings": [{"type": "movie", "trakt": 1, "rating": 8, "rated_at": "2026-03-01T10:00:00.000Z"}],
            "history": [{"id": 7001, "type": "movie", "trakt": 1, "watched_at": "2025-07-01T00:00:00.000Z"}]
        })
        .to_string(),
    )
    .expect("valid seed")
}

/// `(key, status, hint)` of each outcome, in order.
fn outcomes(report: &Value) -> Vec<(String, String, String)> {
    report["outcomes"]
        .as_array()
        .unwrap_or_else(|| panic!("no outcomes: {report}"))
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_string(),
                o["status"].as_str().unwrap().to_string(),
                o["hint"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
}

/// The outcomes grouped by status are exactly the report's lists, in input order.
fn assert_lists_agree(report: &Value) {
    let o = outcomes(report);
    let of = |s: &str| o.iter().filter(|(_, st, _)| st == s).map(|(k, _, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(of("confirmed"), strs(&report["confirmed_keys"]), "{report}");
    assert_eq!(of("skipped"), strs(&report["skipped_keys"]), "{report}");
    let unresolved: Vec<(String, String)> = report["unresolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["key"].as_str().unwrap().to_string(), u["hint"].as_str().unwrap().to_string()))
        .collect();
    let from_outcomes: Vec<(String, String)> =
        o.iter().filter(|(_, st, _)| st == "unresolved").map(|(k, _, h)| (k.clone(), h.clone())).collect();
    assert_eq!(from_outcomes, unresolved, "{report}");
}

fn row(key: &str, status: &str, hint: &str) -> (String, String, String) {
    (key.to_string(), status.to_string(), hint.to_string())
}

#[test]
fn watchlist_outcomes_follow_the_input_order() {
    let h = Harness::new(library());
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 999999991}, "title": "Nowhere"},
        {"type": "show", "ids": {"tmdb": 1396}},
        {"type": "movie", "ids": {"tmdb": 603}},
        {"type": "movie", "title": ""},
        {"type": "movie", "ids": {"imdb": "tt0372784"}}
    ]);
    for dry in [true, false] {
        let mut args = vec!["add", "watchlist"];
        if dry {
            args.push("--dry-run");
        }
        let run = h.cw_host(&args, &items.to_string());
        assert_eq!(run.code, 0, "{run:#?}");
        let r = run.json();
        assert_eq!(
            outcomes(&r),
            [
                row("tmdb:999999991", if dry { "confirmed" } else { "unresolved" }, if dry { "" } else { "not_found" }),
                row("tmdb:1396#show", "skipped", ""),
                row("tmdb:603", "confirmed", ""),
                row("", "unresolved", "missing ids"),
                row("imdb:tt0372784", "skipped", ""),
            ],
            "dry run {dry}: {r}"
        );
        assert_lists_agree(&r);
    }

    let run = h.cw_host(
        &["remove", "watchlist"],
        &json!([{"type": "movie", "ids": {"tmdb": 272}}, {"type": "show", "ids": {"tmdb": 1396}}]).to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(outcomes(&r), [row("tmdb:272", "confirmed", ""), row("tmdb:1396#show", "confirmed", "")], "{r}");
    assert_lists_agree(&r);
}

#[test]
fn ratings_outcomes_follow_the_input_order() {
    let h = Harness::new(library());
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 603}, "rating": 11},
        {"type": "show", "ids": {"tmdb": 1396}, "rating": 9},
        {"type": "movie", "ids": {"tmdb": 272}, "rating": 8}
    ]);
    let run = h.cw_host(&["add", "ratings"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    // A rating is an upsert: the same value again is sent and confirmed.
    assert_eq!(
        outcomes(&r),
        [
            row("tmdb:603", "unresolved", "invalid rating"),
            row("tmdb:1396#show", "confirmed", ""),
            row("tmdb:272", "confirmed", ""),
        ],
        "{r}"
    );
    assert_lists_agree(&r);

    let run = h.cw_host(
        &["remove", "ratings"],
        &json!([{"type": "movie", "ids": {"tmdb": 603}}, {"type": "movie", "ids": {"tmdb": 272}}]).to_string(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    let o = outcomes(&r);
    assert_eq!(o.iter().map(|(k, _, _)| k.as_str()).collect::<Vec<_>>(), ["tmdb:603", "tmdb:272"], "{r}");
    assert_eq!(o[1].1, "confirmed", "{r}");
    assert_lists_agree(&r);
}

#[test]
fn history_outcomes_follow_the_input_order_with_event_keys() {
    let h = Harness::new(library());
    // 1751328000 = 2025-07-01T00:00:00Z, the seeded play of movie 1 (tmdb 272).
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "2025-07-01T00:00:17Z", "_cw_event_key": "tmdb:603@1751328017"},
        {"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2025-07-01T00:00:42Z"},
        {"type": "movie", "ids": {"tmdb": 603}},
        {"type": "movie", "ids": {"tmdb": 999999991}, "watched_at": "2025-07-02T00:00:00Z"},
        {"type": "episode", "show_ids": {"tmdb": 1396}, "season": 1, "episode": 1, "ids": {"tvdb": 349232}, "watched_at": 1751414400}
    ]);
    let run = h.cw_host(&["add", "history"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(
        outcomes(&r),
        [
            row("tmdb:603@1751328000", "confirmed", ""),
            row("tmdb:272@1751328000", "skipped", ""),
            row("tmdb:603", "unresolved", "missing watched_at"),
            row("tmdb:999999991@1751414400", "unresolved", "not_found"),
            row("tmdb:1396#s01e01@1751414400", "confirmed", ""),
        ],
        "{r}"
    );
    assert_lists_agree(&r);

    // Removes: by coordinates (every play), by minute, and a minute with no play.
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 999999992}, "watched_at": "2025-07-03T00:00:00Z"},
        {"type": "movie", "ids": {"tmdb": 603}, "watched_at": "2025-07-01T00:00:59Z"},
        {"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2025-07-05T00:00:00Z"},
        {"type": "movie", "ids": {"tmdb": 272}}
    ]);
    let run = h.cw_host(&["remove", "history"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    let o = outcomes(&r);
    assert_eq!(o.len(), 4, "{r}");
    assert_eq!((o[0].0.as_str(), o[0].1.as_str()), ("tmdb:999999992@1751500800", "skipped"), "{r}");
    assert_eq!(o[1], row("tmdb:603@1751328000", "confirmed", ""), "{r}");
    assert_eq!(o[2], row("tmdb:272@1751673600", "skipped", ""), "{r}");
    assert_eq!(o[3], row("tmdb:272", "confirmed", ""), "{r}");
    assert_lists_agree(&r);
}
