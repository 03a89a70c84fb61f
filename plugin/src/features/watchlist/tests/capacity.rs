//! The add capacity pre-check: the limit and what does not fit.

use super::*;

#[test]
fn capacity_from_the_config_override() {
    let remote = Remote::new(movie_rows(1, 2), |req| {
        assert_eq!(serde_json::from_slice::<Value>(&req.body).unwrap(), json!({"movies": [{"ids": {"tmdb": 3}}]}));
        created(1, 0)
    });
    let mut env = remote.env(Options { watchlist_limit: Some(3), ..Options::default() });
    let mut w = Watchlist::default();
    // Movie 1 is already listed (found by its trakt id): skipped, not sent, no capacity used.
    let items = vec![item("movie", &[("trakt", "1001")]), movie(3), movie(4), movie(5)];
    let r = w.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.skipped, vec!["trakt:1001"]);
    assert_eq!(r.confirmed, vec!["tmdb:3"]);
    assert_eq!(unresolved(&r), vec![("tmdb:4", Hint::TraktLimit), ("tmdb:5", Hint::TraktLimit)]);
    assert_eq!(env.sent(), vec!["GET /sync/watchlist?page=1&limit=250", "POST /sync/watchlist"]);
    // The run's index now holds 3: the list is full, nothing more is sent.
    let r = w.write(Op::Add, &[movie(6)], false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&r), vec![("tmdb:6", Hint::TraktLimit)]);
    assert_eq!(env.fakes.requests().len(), 2);
}

#[test]
fn capacity_from_users_settings_read_once() {
    let remote = Remote::new(movie_rows(1, 2), |_| created(1, 0));
    remote.set(|s| s.settings = json!({"user": {"vip": false}, "limits": {"watchlist": {"item_count": 4}}}));
    let mut env = remote.env(Options::default());
    let mut w = Watchlist::default();
    let r = w.write(Op::Add, &[movie(3)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:3"]);
    let r = w.write(Op::Add, &[movie(4), movie(5)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:4"]);
    assert_eq!(unresolved(&r), vec![("tmdb:5", Hint::TraktLimit)]);
    assert_eq!(
        env.sent(),
        vec![
            "GET /users/settings",
            "GET /sync/watchlist?page=1&limit=250",
            "POST /sync/watchlist",
            "POST /sync/watchlist",
        ]
    );
}

#[test]
fn capacity_defaults_to_250_for_free_accounts_and_none_for_vip() {
    let remote = Remote::new(movie_rows(1, 249), |req| {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        created(body["movies"].as_array().unwrap().len() as u64, 0)
    });
    remote.set(|s| s.settings = json!({"user": {"vip": false, "vip_og": false}, "limits": {"list": {"count": 5}}}));
    let mut env = remote.env(Options::default());
    let r = Watchlist::default().write(Op::Add, &[movie(1000), movie(1001)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:1000"]);
    assert_eq!(unresolved(&r), vec![("tmdb:1001", Hint::TraktLimit)]);

    // VIP without a number: no limit, so no index is read for the count.
    remote.set(|s| s.settings = json!({"user": {"vip": true}}));
    let mut env = remote.env(Options::default());
    let r = Watchlist::default().write(Op::Add, &[movie(1000), movie(1001)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:1000", "tmdb:1001"]);
    assert_eq!(env.sent(), vec!["GET /users/settings", "POST /sync/watchlist"]);

    // Settings unreadable (404): no pre-check, the write goes out.
    let f = Fakes::new(|req| {
        Ok(match req.method {
            Method::Get => resp(404, &[], ""),
            _ => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
        })
    });
    let mut env = Env::new(f, Options::default());
    let r = Watchlist::default().write(Op::Add, &[movie(7)], false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:7"]);
    // ... but a session-wide failure fails the call before any write.
    let f = Fakes::new(|_| Ok(resp(403, &[], "{}")));
    let mut env = Env::new(f, Options::default());
    let err = Watchlist::default().write(Op::Add, &[movie(7)], false, &mut env.ctx()).unwrap_err();
    assert!(matches!(err, AdapterError::Forbidden(_)), "{err:?}");
    assert_eq!(env.sent(), vec!["GET /users/settings"]);
}

#[test]
fn limit_from_settings_table() {
    let cases = [
        (json!({"limits": {"watchlist": {"item_count": 5000}}, "user": {"vip": true}}), Limit::Items(5000)),
        (json!({"limits": {"watchlist": {"item_count": 100}}}), Limit::Items(100)),
        (json!({"user": {"vip": false}}), Limit::Items(250)),
        (json!({}), Limit::Items(250)),
        (json!({"user": {"vip": false, "vip_ep": true}}), Limit::Unlimited),
        (json!({"user": {"vip_og": true}}), Limit::Unlimited),
    ];
    for (body, want) in cases {
        assert_eq!(limit_from_settings(body.to_string().as_bytes()), want, "{body}");
    }
    assert_eq!(limit_from_settings(b"<html>"), Limit::Unknown);
}
