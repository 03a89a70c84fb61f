//! Writes: accounting, failures, the index and shadow after a write, the unresolved file.

use super::*;

#[test]
fn add_mixed_existing_uses_the_index_and_not_found() {
    let rows = json!([{"type": "movie", "listed_at": "x", "movie": {"title": "A", "year": 1, "ids": {"tmdb": 1}}}]);
    let remote = Remote::new(rows, |req| {
        assert_eq!(route_of(&req.url), "/sync/watchlist");
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body, json!({"movies": [{"ids": {"tmdb": 2}}, {"ids": {"tmdb": 3}}]}), "movie 1 is not sent");
        Ok(resp(
            201,
            &[],
            &json!({
                "added": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 0},
                "existing": {"movies": 0, "shows": 0, "seasons": 0, "episodes": 0},
                "not_found": {"movies": [{"ids": {"tmdb": 3}}], "shows": [], "seasons": [], "episodes": []},
                "list": {"updated_at": "2026-05-02T18:41:00.000Z", "item_count": 2}
            })
            .to_string(),
        ))
    });
    let mut env = remote.env(Options::default());
    let mut w = Watchlist::default();
    w.build_index(&mut env.ctx()).unwrap();
    let items =
        vec![movie(1), movie(2), movie(3), item("movie", &[("slug", "only-a-slug")]), item("person", &[("tmdb", "9")])];
    let r = w.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:2"]);
    assert_eq!(r.skipped, vec!["tmdb:1"]);
    assert_eq!(
        unresolved(&r),
        vec![("tmdb:3", Hint::NotFound), ("slug:only-a-slug", Hint::MissingIds), ("tmdb:9", Hint::UnsupportedType)]
    );
    assert_eq!(r.unresolved[0].item, items[2], "the input item comes back unchanged");
    assert!(r.planned.is_empty());
    assert_eq!(w.index.as_ref().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1", "tmdb:2"], "index updated");
    let shadow = env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap();
    assert!(shadow.get("etag").is_none(), "the pre-write ETag is dropped");
    assert_eq!(shadow["items"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1", "tmdb:2"]);
}

#[test]
fn add_counts_without_index() {
    // VIP (no limit, no index): existing == 0 -> all confirmed; added == 0 -> all skipped;
    // mixed without index -> confirmed.
    for ((added, existing), want_confirmed, want_skipped) in [((2, 0), 2, 0), ((0, 2), 0, 2), ((1, 1), 2, 0)] {
        let remote = Remote::new(json!([]), move |_| created(added, existing));
        let mut env = remote.env(Options::default());
        let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2)], false, &mut env.ctx()).unwrap();
        assert_eq!(
            (r.confirmed.len(), r.skipped.len(), r.unresolved.len()),
            (want_confirmed, want_skipped, 0),
            "{added}/{existing}"
        );
        assert_eq!(env.mem.text(WATCHLIST_SHADOW), None, "no index this run: no shadow to update");
    }
}

#[test]
fn add_nested_not_found() {
    let bb = [("tmdb", "1396"), ("tvdb", "81189")];
    let mut e1 = item("episode", &[]);
    e1.show_ids = bb.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    e1.season = Some(1);
    e1.episode = Some(1);
    let mut e2 = e1.clone();
    e2.episode = Some(2);
    let remote = Remote::new(json!([]), |_| {
        Ok(resp(
            201,
            &[],
            &json!({
                "added": {"episodes": 1}, "existing": {"episodes": 0},
                "not_found": {"shows": [{"ids": {"tmdb": 1396, "tvdb": 81189},
                                         "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}]}
            })
            .to_string(),
        ))
    });
    let mut env = remote.env(Options::default());
    let r = Watchlist::default().write(Op::Add, &[e1, e2], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:1396#s01e01"]);
    assert_eq!(unresolved(&r), vec![("tmdb:1396#s01e02", Hint::NotFound)]);
}

#[test]
fn account_limit_on_chunk_two_stops_and_marks_the_rest() {
    let mut n = 0;
    let remote = Remote::new(json!([]), move |_| {
        n += 1;
        Ok(match n {
            1 => resp(201, &[], &json!({"added": {"movies": 2}, "existing": {"movies": 0}}).to_string()),
            _ => resp(
                420,
                &[("x-account-limit", "250"), ("x-vip-user", "false"), ("x-upgrade-url", "https://trakt.tv/vip")],
                "",
            ),
        })
    });
    let mut env = remote.env(Options { watchlist_batch_size: 2, ..Options::default() });
    let items: Vec<Item> = (1..=6).map(movie).collect();
    let r = Watchlist::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        env.sent(),
        vec!["GET /users/settings", "POST /sync/watchlist", "POST /sync/watchlist"],
        "nothing after the 420"
    );
    assert_eq!(r.confirmed, vec!["tmdb:1", "tmdb:2"]);
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:3", Hint::TraktLimit),
            ("tmdb:4", Hint::TraktLimit),
            ("tmdb:5", Hint::TraktLimit),
            ("tmdb:6", Hint::TraktLimit)
        ]
    );
    assert!(
        env.fakes.sleeps().contains(&1000),
        "the second write waited for the 1 s spacing: {:?}",
        env.fakes.sleeps()
    );
}

#[test]
fn http_failure_marks_only_its_chunk() {
    let mut n = 0;
    let remote = Remote::new(json!([]), move |_| {
        n += 1;
        Ok(match n {
            1 => resp(400, &[], "bad"),
            _ => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
        })
    });
    let mut env = remote.env(Options { watchlist_batch_size: 1, ..Options::default() });
    let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:2"]);
    assert_eq!(unresolved(&r), vec![("tmdb:1", Hint::Http(400))]);
}

#[test]
fn session_failures() {
    // Before anything was written: the call fails with the typed error.
    let remote = Remote::new(json!([]), |_| Ok(resp(401, &[], "")));
    let mut env = remote.env(Options::default());
    let err = Watchlist::default().write(Op::Add, &[movie(1)], false, &mut env.ctx()).unwrap_err();
    assert!(matches!(err, AdapterError::Auth(_)), "{err:?}");
    assert_eq!(env.mem.names(), Vec::<String>::new(), "a failed call journals nothing");

    // After a successful chunk: the rest is reported, nothing more is sent.
    let mut n = 0;
    let remote = Remote::new(json!([]), move |_| {
        n += 1;
        match n {
            1 => created(1, 0),
            _ => Err(TransportError::Denied("origin".into())),
        }
    });
    let mut env = remote.env(Options { watchlist_batch_size: 1, ..Options::default() });
    let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2), movie(3)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:1"]);
    assert_eq!(r.unresolved.iter().map(|u| u.hint).collect::<Vec<_>>(), vec![Hint::Transport, Hint::Transport]);
    assert_eq!(env.sent().iter().filter(|s| s.starts_with("POST")).count(), 2);
}

#[test]
fn a_write_with_an_unknown_outcome_drops_the_index_and_the_shadow() {
    let mut n = 0;
    let remote = Remote::new(movie_rows(1, 1), move |_| {
        n += 1;
        Ok(match n {
            1 => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
            _ => resp(503, &[], ""),
        })
    });
    let mut env = remote.env(Options {
        watchlist_batch_size: 1,
        max_retries: 2,
        watchlist_limit: Some(100),
        ..Options::default()
    });
    let mut w = Watchlist::default();
    w.build_index(&mut env.ctx()).unwrap();
    assert!(env.mem.text(WATCHLIST_SHADOW).is_some());
    let r = w.write(Op::Add, &[movie(2), movie(3)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:2"]);
    assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::Http(503))]);
    assert!(w.index.is_none(), "Trakt may or may not have added movie 3");
    assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);
}

#[test]
fn a_failed_shadow_write_deletes_the_shadow_and_the_write_still_succeeds() {
    let remote = Remote::new(movie_rows(1, 1), |_| created(1, 0));
    let mut env = remote.env(Options { watchlist_limit: Some(10), ..Options::default() });
    let mut w = Watchlist::default();
    w.build_index(&mut env.ctx()).unwrap();
    env.mem.fail_writes(true);
    let r = w.write(Op::Add, &[movie(2)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:2"]);
    assert_eq!(env.mem.text(WATCHLIST_SHADOW), None, "no outdated shadow stays behind");
    assert_eq!(w.index.as_ref().unwrap().len(), 2, "this run's index is still right");
}

#[test]
fn trakt_count_disagreeing_with_the_index_drops_both() {
    // Someone else added an item meanwhile: Trakt reports 3, the index knows 2.
    let remote = Remote::new(movie_rows(1, 1), |_| {
        Ok(resp(
            201,
            &[],
            &json!({"added": {"movies": 1}, "existing": {"movies": 0}, "list": {"item_count": 3}}).to_string(),
        ))
    });
    let mut env = remote.env(Options { watchlist_limit: Some(10), ..Options::default() });
    let mut w = Watchlist::default();
    w.build_index(&mut env.ctx()).unwrap();
    take_lines();
    let r = w.write(Op::Add, &[movie(2)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:2"]);
    assert!(w.index.is_none());
    assert_eq!(env.mem.text(WATCHLIST_SHADOW), None);
    assert!(take_lines().iter().any(|l| l.contains("WARN index_drift trakt_count=3 index_count=2")));
}

#[test]
fn unresolved_journal_lifecycle() {
    let answers = Rc::new(RefCell::new(vec![
        json!({"added": {"movies": 1}, "not_found": {"movies": [{"ids": {"tmdb": 3}}]}}),
        json!({"added": {"movies": 1}}),
    ]));
    let a = answers.clone();
    let mut n = 0;
    let remote = Remote::new(json!([]), move |_| {
        n += 1;
        if n == 2 {
            return Ok(resp(422, &[], "{}"));
        }
        Ok(resp(201, &[], &a.borrow_mut().remove(0).to_string()))
    });
    let mut env = remote.env(Options::default());
    let mut w = Watchlist::default();
    let mut m3 = movie(3);
    m3.title = Some("Unknown Film".into());

    // 1: movie 3 is not found.
    let r = w.write(Op::Add, &[movie(4), m3.clone()], false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::NotFound)]);
    let t1 = crate::time::format_utc(T0);
    assert_eq!(
        env.mem.json(WATCHLIST_UNRESOLVED).unwrap(),
        json!({"schema": 1, "items": {"tmdb:3": {
            "item": {"type": "movie", "title": "Unknown Film", "year": null, "ids": {"tmdb": "3"}},
            "action": "add", "reasons": ["not_found"], "first_seen": t1, "last_attempt": t1, "attempts": 1
        }}})
    );

    // 2: a minute later it fails differently; a dry run in between changes nothing.
    env.fakes.advance(60_000);
    w.write(Op::Add, &[m3.clone()], true, &mut env.ctx()).unwrap();
    let r = w.write(Op::Add, &[m3.clone()], false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::Http(422))]);
    let e = &env.mem.json(WATCHLIST_UNRESOLVED).unwrap()["items"]["tmdb:3"];
    assert_eq!(e["reasons"], json!(["http:422", "not_found"]));
    assert_eq!(e["attempts"], 2);
    assert_eq!(e["first_seen"], t1.as_str());
    assert_eq!(e["last_attempt"], crate::time::format_utc(T0 + 60).as_str());

    // 3: it is retried (the journal never blocks) and goes through: cleared.
    let r = w.write(Op::Add, &[m3], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:3"]);
    assert_eq!(env.mem.text(WATCHLIST_UNRESOLVED), None, "an empty journal is deleted");

    // A remove with a different action starts a new entry; items without a key are not journaled.
    let remote = Remote::new(json!([]), |_| {
        Ok(resp(
            200,
            &[],
            &json!({"deleted": {"movies": 0}, "not_found": {"movies": [{"ids": {"tmdb": 8}}]}}).to_string(),
        ))
    });
    let mut env = remote.env(Options::default());
    env.mem.put(
        WATCHLIST_UNRESOLVED,
        &json!({"schema": 1, "items": {"tmdb:8": {
        "item": {"type": "movie"}, "action": "add", "reasons": ["trakt_limit"], "first_seen": "2020-01-01T00:00:00Z",
        "last_attempt": "2020-01-01T00:00:00Z", "attempts": 7}}})
        .to_string(),
    );
    Watchlist::default().write(Op::Remove, &[movie(8), item("movie", &[])], false, &mut env.ctx()).unwrap();
    let doc = env.mem.json(WATCHLIST_UNRESOLVED).unwrap();
    assert_eq!(doc["items"].as_object().unwrap().len(), 1);
    let e = &doc["items"]["tmdb:8"];
    assert_eq!(
        (e["action"].as_str(), e["attempts"].as_u64(), e["reasons"].clone()),
        (Some("remove"), Some(1), json!(["not_found"]))
    );
}

#[test]
fn remove_accounting() {
    let remote = Remote::new(movie_rows(1, 1), |req| {
        assert_eq!(route_of(&req.url), "/sync/watchlist/remove");
        Ok(resp(200, &[], &json!({"deleted": {"movies": 1}, "not_found": {"movies": []}}).to_string()))
    });
    let mut env = remote.env(Options::default());
    let mut w = Watchlist::default();
    w.build_index(&mut env.ctx()).unwrap();
    let r = w.write(Op::Remove, &[movie(1), movie(2)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:1"]);
    assert_eq!(r.skipped, vec!["tmdb:2"]);
    assert!(w.index.as_ref().unwrap().is_empty(), "removed from the index");
    assert_eq!(env.mem.text_cache_doc(WATCHLIST_SHADOW).unwrap()["items"], json!({}));

    // Without an index yet, a remove reads it first (no /users/settings: no capacity).
    let remote = Remote::new(movie_rows(1, 1), |_| {
        Ok(resp(
            200,
            &[],
            &json!({"deleted": {"movies": 1}, "not_found": {"movies": [{"ids": {"tmdb": 99}}]}}).to_string(),
        ))
    });
    let mut env = remote.env(Options::default());
    let r = Watchlist::default().write(Op::Remove, &[movie(1), movie(2), movie(99)], false, &mut env.ctx()).unwrap();
    assert_eq!((r.confirmed.clone(), r.skipped.clone()), (vec!["tmdb:1".to_string()], vec!["tmdb:2".to_string()]));
    assert_eq!(unresolved(&r), vec![("tmdb:99", Hint::NotFound)]);
    assert_eq!(env.sent(), vec!["GET /sync/watchlist?page=1&limit=250", "POST /sync/watchlist/remove"]);
    let body: Value = serde_json::from_slice(&env.fakes.requests()[1].body).unwrap();
    assert_eq!(body["movies"].as_array().unwrap().len(), 3, "everything is sent");

    let remote = Remote::new(json!([]), |_| Ok(resp(200, &[], &json!({"deleted": {"movies": 0}}).to_string())));
    let mut env = remote.env(Options::default());
    let r = Watchlist::default().write(Op::Remove, &[movie(1)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.skipped, vec!["tmdb:1"], "already gone");
}

#[test]
fn dry_run_sends_no_write_and_plans_each_chunk() {
    let remote = Remote::new(movie_rows(1, 1), no_posts);
    let mut env = remote.env(Options { watchlist_batch_size: 2, ..Options::default() });
    let mut bad = movie(4);
    bad.extra = Some("not json".into());
    let items = vec![movie(1), movie(2), movie(3), bad, item("movie", &[])];
    let r = Watchlist::default().write(Op::Remove, &items, true, &mut env.ctx()).unwrap();
    assert!(env.fakes.requests().is_empty());
    assert_eq!(r.confirmed, vec!["tmdb:1", "tmdb:2", "tmdb:3"]);
    assert_eq!(
        r.planned,
        vec![
            PlannedRequest {
                method: "POST".into(),
                path: "/sync/watchlist/remove".into(),
                body: r#"{"movies":[{"ids":{"tmdb":1}},{"ids":{"tmdb":2}}]}"#.into()
            },
            PlannedRequest {
                method: "POST".into(),
                path: "/sync/watchlist/remove".into(),
                body: r#"{"movies":[{"ids":{"tmdb":3}}]}"#.into()
            },
        ]
    );
    assert_eq!(unresolved(&r), vec![("tmdb:4", Hint::InvalidExtra), ("", Hint::MissingIds)]);
    assert!(env.mem.names().is_empty(), "a dry run writes no state");

    // A dry add still reads what the capacity check needs, and plans only what fits.
    let mut env = remote.env(Options { watchlist_limit: Some(2), ..Options::default() });
    let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2), movie(3)], true, &mut env.ctx()).unwrap();
    assert_eq!(env.sent(), vec!["GET /sync/watchlist?page=1&limit=250"]);
    assert_eq!((r.skipped.clone(), r.confirmed.clone()), (vec!["tmdb:1".to_string()], vec!["tmdb:2".to_string()]));
    assert_eq!(unresolved(&r), vec![("tmdb:3", Hint::TraktLimit)]);
    assert_eq!(r.planned[0].body, r#"{"movies":[{"ids":{"tmdb":2}}]}"#);
}

#[test]
fn empty_input_sends_nothing() {
    let remote = Remote::new(json!([]), no_posts);
    let mut env = remote.env(Options::default());
    let r = Watchlist::default().write(Op::Add, &[], false, &mut env.ctx()).unwrap();
    assert_eq!(r, WriteReport::default());
    assert!(env.fakes.requests().is_empty());
}
