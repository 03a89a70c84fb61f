//! Reading the index: rows, collisions, the ETag shadow and its 304s.

use super::*;

#[test]
fn index_maps_rows_keeps_first_of_a_collision_and_saves_the_shadow() {
    let remote = Remote::new(sample_rows(), no_posts);
    let mut env = remote.env(Options::default());
    let mut w = Watchlist::default();
    take_lines();
    let entries = w.build_index(&mut env.ctx()).unwrap();
    // In key order.
    assert_eq!(keys_of(&entries), vec!["tmdb:1396#s04e01", "tmdb:1396#show", "tmdb:1402#season:3", "tmdb:272"]);
    let entry = |k: &str| &entries.iter().find(|(key, _)| key == k).unwrap().1;

    let movie = entry("tmdb:272");
    assert_eq!(movie.kind, "movie");
    assert_eq!(movie.title.as_deref(), Some("Batman Begins"));
    assert_eq!(movie.year, Some(2005));
    assert_eq!(movie.listed_at.as_deref(), Some("2026-04-01T09:10:00.000Z"));
    let raw = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    assert_eq!(
        movie.ids,
        raw(&[("tmdb", "272"), ("imdb", "tt0372784"), ("trakt", "1"), ("slug", "batman-begins-2005")])
    );
    assert!(entry("tmdb:1396#show").ids.iter().all(|(k, _)| k != "plex"), "non-scalar plex id dropped");
    let season = entry("tmdb:1402#season:3");
    assert_eq!((season.kind.as_str(), season.season), ("season", Some(3)));
    assert_eq!(season.title.as_deref(), Some("The Walking Dead"));
    assert_eq!(season.series_title.as_deref(), Some("The Walking Dead"));
    assert_eq!(season.ids, raw(&[("tmdb", "3626"), ("tvdb", "171641"), ("trakt", "3958")]));
    assert_eq!(season.show_ids[0], ("tmdb".to_string(), "1402".to_string()));
    let ep = entry("tmdb:1396#s04e01");
    assert_eq!((ep.season, ep.episode), (Some(4), Some(1)));
    assert_eq!(ep.title.as_deref(), Some("Breaking Bad"), "null episode title falls back to the show's");

    let lines = take_lines();
    assert!(lines.iter().any(|l| l.contains("WARN index_reconcile reason=key_collision key=tmdb:272")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("INFO index_done count=4 source=live pages=1")), "{lines:?}");

    let shadow = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    assert_eq!(shadow["schema"], 2);
    assert_eq!(shadow["etag"], "\"v1\"");
    assert_eq!((shadow["ts"].as_i64(), shadow["count"].as_u64()), (Some(T0), Some(5)));
    assert_eq!(
        shadow["items"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["tmdb:1396#s04e01", "tmdb:1396#show", "tmdb:1402#season:3", "tmdb:272"]
    );
    assert_eq!(
        shadow["items"]["tmdb:272"],
        json!({
            "type": "movie", "title": "Batman Begins", "year": 2005,
            "ids": {"tmdb": "272", "imdb": "tt0372784", "trakt": "1", "slug": "batman-begins-2005"},
            "listed_at": "2026-04-01T09:10:00.000Z"
        })
    );
}

#[test]
fn no_etag_from_trakt_means_no_etag_key() {
    let remote = Remote::new(movie_rows(1, 2), no_posts);
    remote.set(|s| s.etag = None);
    let mut env = remote.env(Options::default());
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    let shadow = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    // Sorted: serde_json keeps insertion order when another workspace member enables
    // its `preserve_order` feature.
    let mut keys: Vec<_> = shadow.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["count", "entries", "items", "items_bytes", "items_xxh3", "schema", "ts"]);
    // A blank ETag is no ETag either.
    remote.set(|s| s.etag = Some("  ".into()));
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert!(env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap().get("etag").is_none());
    // ... and the next index sends no If-None-Match.
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert!(env.fakes.requests().iter().all(|r| header_of(r, "if-none-match").is_none()));
}

#[test]
fn a_304_with_a_complete_shadow_transfers_no_rows() {
    let remote = Remote::new(sample_rows(), no_posts);
    let mut env = remote.env(Options::default());
    let first = Watchlist::default().build_index(&mut env.ctx()).unwrap();
    let saved = env.mem.text(WATCHLIST_SHADOW).unwrap();
    env.fakes.advance(3_600_000);
    take_lines();

    let mut w = Watchlist::default();
    let mut again = w.build_index(&mut env.ctx()).unwrap();
    let mut first_sorted = first.clone();
    first_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    again.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(again, first_sorted, "the shadow's items, listed_at included");
    let reqs = env.fakes.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(header_of(&reqs[1], "if-none-match"), Some("\"v1\""));
    assert_eq!(env.sent()[1], "GET /sync/watchlist?page=1&limit=250");
    let ledger = env.ctx().client.ledger_entries();
    let last = ledger.last().unwrap();
    assert_eq!((last.status, last.bytes_received), (304, 0), "zero item rows transferred");
    assert_eq!(env.mem.text(WATCHLIST_SHADOW).unwrap(), saved, "a 304 leaves the shadow as it was");
    let lines = take_lines();
    assert!(lines.iter().any(|l| l.contains("INFO index_cache_hit etag=\"v1\"")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("INFO index_done count=4 source=shadow")), "{lines:?}");
    assert_eq!(w.index.as_ref().unwrap().len(), 4, "the shadow becomes this run's index");
}

#[test]
fn a_shadow_text_is_answered_with_the_count_its_trailer_keeps_or_counted_when_it_has_none() {
    let remote = Remote::new(sample_rows(), no_posts);
    let mut env = remote.env(Options::default());
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    let mut doc = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    // 5 rows listed, 4 entries (one collision).
    assert_eq!((doc["count"].as_u64(), doc["entries"].as_u64()), (Some(5), Some(4)));
    env.fakes.advance(3_600_000);
    for entries in [Some(4), None] {
        match entries {
            Some(n) => doc["entries"] = json!(n),
            None => {
                doc.as_object_mut().unwrap().remove("entries");
            }
        }
        env.mem.put_text_cache(WATCHLIST_SHADOW, &doc);
        take_lines();
        let text = Watchlist::default().build_index_json(&mut env.ctx()).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), doc["items"], "the shadow's text");
        let lines = take_lines();
        assert!(lines.iter().any(|l| l.contains("INFO index_done count=4 source=shadow")), "{entries:?} {lines:?}");
    }
}

#[test]
fn a_304_for_a_shadow_that_is_not_the_whole_list_reads_in_full() {
    // Page 1 unchanged (same ETag) but the list holds more than the shadow: item count.
    let remote = Remote::new(movie_rows(1, 2), no_posts);
    let mut env = remote.env(Options::default());
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    remote.set_rows(movie_rows(1, 3));
    let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(keys_of(&entries), vec!["tmdb:1", "tmdb:2", "tmdb:3"]);
    let reqs = env.fakes.requests();
    assert_eq!(
        reqs.iter().map(|r| header_of(r, "if-none-match")).collect::<Vec<_>>(),
        vec![None, Some("\"v1\""), None]
    );
    assert_eq!(
        env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap()["items"].as_object().unwrap().len(),
        3,
        "shadow refreshed"
    );

    // The list spans two pages: a 304 on page 1 says nothing about page 2.
    let opts = Options { page_limit: 2, ..Options::default() };
    let remote = Remote::new(movie_rows(1, 2), no_posts);
    let mut env = remote.env(opts);
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    remote.set_rows(movie_rows(1, 3));
    // The same page 1 and item count as the shadow knows would be a hit; page count 2 is not.
    remote.set(|s| s.etag = Some("\"v1\"".into()));
    let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 3);
    // Read in full, `last_activities` read after page 1 and before page 2.
    assert_eq!(
        env.sent(),
        vec![
            "GET /sync/watchlist?page=1&limit=2",
            "GET /sync/watchlist?page=1&limit=2",
            "GET /sync/watchlist?page=1&limit=2",
            "GET /sync/last_activities",
            "GET /sync/watchlist?page=2&limit=2",
        ]
    );
    let saved = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    assert_eq!(saved["wm"]["watchlist.updated_at"], ACTIVITIES_AT);
    assert_eq!(saved["wm"].as_object().unwrap().len(), 7);

    // A shadow longer than a page is revalidated behind its timestamps: last_activities,
    // then page 1 asked with If-None-Match; unchanged, that is the whole index.
    take_lines();
    let before = env.fakes.requests().len();
    let mut w = Watchlist::default();
    let text = w.build_index_json(&mut env.ctx()).unwrap();
    assert_eq!(env.sent()[before..], ["GET /sync/last_activities", "GET /sync/watchlist?page=1&limit=2"]);
    assert_eq!(header_of(&env.fakes.requests()[before + 1], "if-none-match"), Some("\"v1\""));
    assert_eq!(env.mem.text(WATCHLIST_SHADOW).unwrap().rsplit_once('\n').unwrap().0, text, "the shadow's text");
    assert!(w.index.is_none(), "its items unread");
    assert!(take_lines().iter().any(|l| l.contains("INFO index_done count=3 source=shadow")));

    // A moved timestamp (here a play: it can take a title off the watchlist) reads in full.
    remote.set(|s| s.activities["episodes"]["watched_at"] = json!("2026-04-06T00:00:00.000Z"));
    let before = env.fakes.requests().len();
    assert_eq!(Watchlist::default().build_index_json(&mut env.ctx()).unwrap(), text);
    let reqs = env.fakes.requests();
    assert_eq!(reqs.len() - before, 3, "{:?}", &env.sent()[before..]);
    assert!(reqs[before..].iter().all(|r| header_of(r, "if-none-match").is_none()));
    // ... and keeps the new timestamps: the next index is a hit again.
    let before = env.fakes.requests().len();
    Watchlist::default().build_index_json(&mut env.ctx()).unwrap();
    assert_eq!(env.fakes.requests().len() - before, 2);

    // watchlist_use_etag off: nothing is reused, so last_activities is never read.
    let mut off = remote.env(Options { page_limit: 2, watchlist_use_etag: false, ..Options::default() });
    Watchlist::default().build_index(&mut off.ctx()).unwrap();
    Watchlist::default().build_index(&mut off.ctx()).unwrap();
    assert!(off.sent().iter().all(|r| r.starts_with("GET /sync/watchlist?")), "{:?}", off.sent());
    assert!(off.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap().get("wm").is_none());

    // Missing timestamps: a long shadow is never reused.
    remote.set(|s| s.activities = json!({"all": ACTIVITIES_AT}));
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert!(env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap().get("wm").is_none());
    let before = env.fakes.requests().len();
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(
        env.sent()[before..],
        ["GET /sync/watchlist?page=1&limit=2", "GET /sync/last_activities", "GET /sync/watchlist?page=2&limit=2"]
    );
}

#[test]
fn a_failed_page_two_leaves_the_shadow_untouched() {
    let opts = Options { page_limit: 2, max_retries: 2, ..Options::default() };
    let remote = Remote::new(movie_rows(1, 2), no_posts);
    let mut env = remote.env(opts);
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    let saved = env.mem.text(WATCHLIST_SHADOW).unwrap();
    remote.set_rows(movie_rows(1, 3));
    remote.set(|s| {
        s.etag = Some("\"v2\"".into());
        s.fail_page = Some(2);
    });
    let mut w = Watchlist::default();
    let err = w.build_index(&mut env.ctx()).unwrap_err();
    assert!(matches!(err, AdapterError::Http { status: 500, .. }), "{err:?}");
    assert_eq!(env.mem.text(WATCHLIST_SHADOW).unwrap(), saved);
    assert!(w.index.is_none());
}

#[test]
fn shadow_ttl_switch_and_corruption() {
    // Older than the TTL: no If-None-Match.
    let remote = Remote::new(movie_rows(1, 2), no_posts);
    let mut env = remote.env(Options { watchlist_shadow_ttl_hours: 1, ..Options::default() });
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    env.fakes.advance(3_600_000);
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(header_of(&env.fakes.requests()[1], "if-none-match"), None);
    // Within it: conditional.
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(header_of(&env.fakes.requests()[2], "if-none-match"), Some("\"v1\""));

    // A timestamp from the future or absurdly old: not fresh.
    for ts in [T0 + 7_200, i64::MIN] {
        let mut doc = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
        doc["ts"] = json!(ts);
        env.mem.put_text_cache(WATCHLIST_SHADOW, &doc);
        let n = env.fakes.requests().len();
        Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(header_of(&env.fakes.requests()[n], "if-none-match"), None, "ts {ts}");
    }

    // watchlist_use_etag off: never conditional.
    let mut env = remote.env(Options { watchlist_use_etag: false, ..Options::default() });
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert!(env.fakes.requests().iter().all(|r| header_of(r, "if-none-match").is_none()));

    // A corrupt shadow, another schema, or an item whose key does not match: ignored.
    for bad in [
        "{\"schema\":1,".to_string(),
        json!({"schema": 9, "etag": "\"v1\"", "ts": T0, "items": {}}).to_string(),
        json!({"schema": 1, "etag": "\"v1\"", "ts": T0, "count": 1, "items": {"tmdb:9": {"type": "movie", "ids": {"tmdb": "1"}}}}).to_string(),
    ] {
        let mut env = remote.env(Options::default());
        env.mem.put(WATCHLIST_SHADOW, &bad);
        let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(entries.len(), 2, "{bad}");
        assert_eq!(header_of(&env.fakes.requests()[0], "if-none-match"), None, "{bad}");
        assert_eq!(env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap()["etag"], "\"v1\"", "rewritten: {bad}");
    }
}

#[test]
fn a_shadow_longer_than_a_page_is_not_checked_item_by_item() {
    // It cannot be used (page 1's ETag says nothing of later pages): read in full and
    // rewritten, its items never read, so a wrong one is not reported.
    let remote = Remote::new(movie_rows(1, 3), no_posts);
    let mut env = remote.env(Options { page_limit: 2, ..Options::default() });
    let bad = json!({"schema": 1, "etag": "\"v1\"", "ts": T0, "count": 3, "items": {"tmdb:9": {"type": "movie", "ids": {"tmdb": "1"}}}});
    env.mem.put(WATCHLIST_SHADOW, &bad.to_string());
    take_lines();
    let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 3);
    assert!(env.fakes.requests().iter().all(|r| header_of(r, "if-none-match").is_none()));
    assert!(!take_lines().iter().any(|l| l.contains("state_ignored")));
    let saved = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    assert_eq!(saved["count"], 3);
    assert_eq!(saved["items"].as_object().unwrap().len(), 3, "rewritten from the live read");
}

#[test]
fn a_schema_1_shadow_is_used_once_and_rewritten_as_schema_2() {
    let remote = Remote::new(sample_rows(), no_posts);
    let mut env = remote.env(Options::default());
    let live = Watchlist::default().build_index_json(&mut env.ctx()).unwrap();
    let file = env.mem.text(WATCHLIST_SHADOW).unwrap();
    let doc = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    let old = json!({"schema": 1, "etag": doc["etag"], "ts": doc["ts"], "count": doc["count"], "items": doc["items"]});
    env.mem.put(WATCHLIST_SHADOW, &old.to_string());
    take_lines();
    let n = env.fakes.requests().len();
    assert_eq!(Watchlist::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.sent()[n..], ["GET /sync/watchlist?page=1&limit=250"], "one conditional GET, a 304");
    let lines = take_lines();
    assert!(
        lines.iter().any(|l| l.contains("INFO state_migrated file=trakt_watchlist.shadow.json schema=2")),
        "{lines:?}"
    );
    assert_eq!(env.mem.text(WATCHLIST_SHADOW).unwrap(), file, "as the live read wrote it");
}

#[test]
fn malformed_row_fails_the_index() {
    let remote = Remote::new(json!([{"type": "movie"}]), no_posts);
    let mut env = remote.env(Options::default());
    let err = Watchlist::default().build_index(&mut env.ctx()).unwrap_err();
    assert!(matches!(err, AdapterError::Protocol(_)), "{err:?}");
    assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);

    // Rows are numbered in their listing, skipped ones too.
    let movie = json!({"type": "movie", "movie": {"title": "M", "year": 2000, "ids": {"trakt": 1}}});
    let person = json!({"type": "person", "person": {"name": "P"}});
    let remote = Remote::new(json!([movie, person, {"type": "movie"}]), no_posts);
    let mut env = remote.env(Options::default());
    take_lines();
    let err = Watchlist::default().build_index(&mut env.ctx()).unwrap_err();
    assert!(matches!(&err, AdapterError::Protocol(m) if m.contains("/sync/watchlist: row 2 is malformed")), "{err:?}");
    assert!(take_lines().iter().any(|l| l.contains("WARN index_row_skipped reason=unsupported_type type=person")));
    assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);
}
