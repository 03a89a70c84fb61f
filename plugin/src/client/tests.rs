//! The client's unit tests against fake transport, clock and auth.

use super::retry::Jitter;
use super::transport::{AuthFailure, Method, TransportError};
use super::*;
use crate::config::RateLimit;
use crate::log::take_lines;
use crate::testkit::{resp, Fakes};

fn has_line(lines: &[String], prefix: &str) -> bool {
    lines.iter().any(|l| l.starts_with(prefix))
}

#[test]
fn builds_url_and_headers() {
    let f = Fakes::new(|_| Ok(resp(200, &[], "[]")));
    let mut c = f.client(&Options { api_url: "http://127.0.0.1:9/".into(), ..Options::default() });
    c.execute(&Call::get("/sync/watchlist").query("page", 1).query("limit", 250)).unwrap();
    let sent = f.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.url, "http://127.0.0.1:9/sync/watchlist?page=1&limit=250");
    assert_eq!(r.timeout_ms, 10_000);
    let h = |n: &str| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    assert_eq!(h("trakt-api-version"), Some("2"));
    assert_eq!(h("content-type"), Some("application/json"));
    assert_eq!(h("accept"), Some("application/json"));
    assert_eq!(h("user-agent"), Some(concat!("crosswatch-trakt-adapter/", env!("CARGO_PKG_VERSION"))));
    assert!(h("authorization").is_none());
}

#[test]
fn retries_503_with_full_jitter_within_bounds() {
    let f = Fakes::script(vec![
        Ok(resp(503, &[], "")),
        Ok(resp(503, &[], "")),
        Ok(resp(503, &[], "")),
        Ok(resp(200, &[], "{}")),
    ]);
    let mut c = f.client(&Options::default());
    take_lines();
    assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
    assert_eq!(f.requests().len(), 4);
    let s = f.sleeps();
    assert_eq!(s.len(), 3);
    assert!(s[0] <= 1000 && s[1] <= 2000 && s[2] <= 4000, "{s:?}");
    assert!(!(s[0] == s[1] && s[1] == s[2]), "jittered: {s:?}");
    let lines = take_lines();
    let first = format!("[TRAKT:http] WARN http_retry method=GET path=/x status=503 attempt=1 wait_ms={}", s[0]);
    assert!(lines.contains(&first), "{lines:?}");
    let e = &c.ledger_entries()[0];
    assert_eq!((e.status, e.attempts, e.waited_ms), (200, 4, s.iter().sum::<u64>()));
}

#[test]
fn every_retryable_status_is_retried() {
    for status in [429u16, 500, 502, 503, 504, 520, 521, 522] {
        let f = Fakes::script(vec![Ok(resp(status, &[("retry-after", "1")], "")), Ok(resp(200, &[], "{}"))]);
        let mut c = f.client(&Options::default());
        assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200, "{status}");
        assert_eq!(f.requests().len(), 2, "{status}");
        assert_eq!(f.sleeps().len(), 1, "{status}");
    }
}

#[test]
fn backoff_is_capped_by_backoff_max() {
    let f = Fakes::new(|_| Ok(resp(500, &[], "")));
    let mut c = f.client(&Options { max_retries: 8, backoff_base_ms: 100, backoff_max_ms: 250, ..Options::default() });
    assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Http { status: 500, .. })));
    let s = f.sleeps();
    assert_eq!(s.len(), 7);
    assert!(s[0] <= 100 && s[1] <= 200, "{s:?}");
    assert!(s.iter().all(|w| *w <= 250), "{s:?}");
}

#[test]
fn attempt_count_honours_max_retries() {
    for (max, sent) in [(1u32, 1usize), (3, 3), (5, 5)] {
        let f = Fakes::new(|_| Ok(resp(502, &[], "bad gateway")));
        let mut c = f.client(&Options { max_retries: max, ..Options::default() });
        match c.execute(&Call::get("/x")) {
            Err(AdapterError::Http { status: 502, message }) => assert!(message.contains("bad gateway"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), sent);
        assert_eq!(f.sleeps().len(), sent - 1);
        assert_eq!(c.ledger_entries()[0].attempts, max);
    }
    let f = Fakes::new(|_| Err(TransportError::Timeout("slow".into())));
    let mut c = f.client(&Options { max_retries: 2, ..Options::default() });
    assert!(matches!(c.execute(&Call::post("/w", "{}".into(), true)), Err(AdapterError::Transport(_))));
    assert_eq!(f.requests().len(), 2, "an idempotent write is retried after a timeout");
}

#[test]
fn refreshes_once_on_401_and_replays() {
    let f = Fakes::script(vec![Ok(resp(401, &[], "")), Ok(resp(200, &[], "{}"))]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
    assert_eq!(f.refreshes(), 1);
    assert_eq!(f.requests().len(), 2);
    assert!(f.sleeps().is_empty());
    assert_eq!(c.ledger_entries()[0].attempts, 2);
}

#[test]
fn second_401_is_auth_error() {
    let f = Fakes::new(|_| Ok(resp(401, &[], "")));
    let mut c = f.client(&Options::default());
    match c.execute(&Call::get("/x")) {
        Err(AdapterError::Auth(m)) => assert!(m.contains("log in to Trakt again"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.refreshes(), 1);
    assert_eq!(f.requests().len(), 2);
}

#[test]
fn failed_refresh_is_auth_error_without_replay() {
    let f = Fakes::new(|_| Ok(resp(401, &[], "")));
    f.fail_refresh(AuthFailure::InvalidGrant("invalid_grant".into()));
    let mut c = f.client(&Options::default());
    match c.execute(&Call::get("/x")) {
        Err(AdapterError::Auth(m)) => assert!(m.contains("log in")),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.requests().len(), 1);

    let f = Fakes::new(|_| Ok(resp(401, &[], "")));
    f.fail_refresh(AuthFailure::Failed("auth server unreachable".into()));
    let mut c = f.client(&Options::default());
    assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Transport(_))));
}

#[test]
fn retry_after_3_waits_3s() {
    let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "3")], "")), Ok(resp(200, &[], "{}"))]);
    let mut c = f.client(&Options::default());
    take_lines();
    assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
    assert_eq!(f.sleeps(), vec![3000], "max(3 s, jitter <= 1 s)");
    let t = f.send_times();
    assert_eq!(t[1] - t[0], 3000);
    assert!(has_line(
        &take_lines(),
        "[TRAKT:http] WARN rate_limit_retry method=GET path=/x retry_after_s=3 attempt=1 wait_ms=3000"
    ));
}

#[test]
fn retry_after_over_cap_fails_at_once() {
    let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "500")], "")));
    let mut c = f.client(&Options::default());
    take_lines();
    match c.execute(&Call::get("/x")) {
        Err(AdapterError::RateLimited { retry_after_secs: 500, message }) => {
            assert!(message.contains("wait 500 s") && message.contains("run again later"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(f.sleeps().is_empty());
    assert_eq!(f.requests().len(), 1);
    assert!(has_line(&take_lines(), "[TRAKT:http] WARN rate_limited method=GET path=/x retry_after_s=500 cap_s=120"));
    let e = &c.ledger_entries()[0];
    assert_eq!((e.status, e.attempts), (429, 1));
    assert!(e.error.starts_with("rate limited: "), "{}", e.error);

    // The cap is configurable.
    let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "500")], "")), Ok(resp(200, &[], "{}"))]);
    let mut c = f.client(&Options { retry_after_cap_secs: 600, ..Options::default() });
    assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
    assert_eq!(f.sleeps(), vec![500_000]);
}

#[test]
fn cloudflare_429_without_retry_after_waits_10s() {
    let page = "<html><head><title>Error 1015</title></head><body>You are being rate limited</body></html>";
    let f = Fakes::script(vec![
        Ok(resp(429, &[("content-type", "text/html"), ("server", "cloudflare")], page)),
        Ok(resp(200, &[], "{}")),
    ]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
    assert_eq!(f.sleeps(), vec![10_000]);

    // Attempts exhausted on a 429: rate-limited with the wait Trakt asked for.
    let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "7")], "")));
    let mut c = f.client(&Options { max_retries: 2, ..Options::default() });
    match c.execute(&Call::get("/x")) {
        Err(AdapterError::RateLimited { retry_after_secs: 7, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(f.requests().len(), 2);
}

#[test]
fn non_idempotent_post_is_resent_only_when_provably_not_applied() {
    // Timeout: may have reached Trakt -> not resent.
    let f = Fakes::new(|_| Err(TransportError::Timeout("slow".into())));
    let mut c = f.client(&Options::default());
    match c.execute(&Call::post("/sync/history", "{}".into(), false)) {
        Err(AdapterError::Transport(m)) => assert!(m.contains("may or may not have been applied"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.requests().len(), 1);

    // Connection lost: same.
    let f = Fakes::new(|_| Err(TransportError::ConnectionLost("reset".into())));
    let mut c = f.client(&Options::default());
    assert!(matches!(c.execute(&Call::post("/sync/history", "{}".into(), false)), Err(AdapterError::Transport(_))));
    assert_eq!(f.requests().len(), 1);

    // 5xx: not resent, typed http error.
    let f = Fakes::new(|_| Ok(resp(503, &[], "")));
    let mut c = f.client(&Options::default());
    match c.execute(&Call::post("/sync/history", "{}".into(), false)) {
        Err(AdapterError::Http { status: 503, message }) => {
            assert!(message.contains("may or may not have been applied"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.requests().len(), 1);

    // Connect error: never reached Trakt -> resent.
    let f = Fakes::script(vec![Err(TransportError::Connect("refused".into())), Ok(resp(201, &[], "{}"))]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::post("/sync/history", "{}".into(), false)).unwrap().status, 201);
    assert_eq!(f.requests().len(), 2);

    // 429: not applied -> resent after Retry-After.
    let f = Fakes::script(vec![Ok(resp(429, &[("retry-after", "2")], "")), Ok(resp(201, &[], "{}"))]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::post("/sync/history", "{}".into(), false)).unwrap().status, 201);
    assert_eq!(f.requests().len(), 2);
    assert_eq!(f.sleeps(), vec![2000]);
}

#[test]
fn transport_errors_that_are_never_retried() {
    for err in [
        TransportError::Denied("origin".into()),
        TransportError::Tls("bad cert".into()),
        TransportError::InvalidRequest("bad header".into()),
    ] {
        let e = err.clone();
        let f = Fakes::new(move |_| Err(e.clone()));
        let mut c = f.client(&Options::default());
        assert!(matches!(c.execute(&Call::get("/x")), Err(AdapterError::Transport(_))), "{err:?}");
        assert_eq!(f.requests().len(), 1, "{err:?}");
        assert!(f.sleeps().is_empty());
    }
    let f = Fakes::script(vec![Err(TransportError::ConnectionLost("reset".into())), Ok(resp(200, &[], "[]"))]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::get("/x")).unwrap().status, 200);
    let e = &c.ledger_entries()[0];
    assert_eq!((e.attempts, e.status, e.error.as_str()), (2, 200, ""));
}

#[test]
fn trakt_statuses_are_typed_after_one_request() {
    let f = Fakes::new(|_| {
        Ok(resp(
            420,
            &[("x-account-limit", "250"), ("x-vip-user", "false"), ("x-upgrade-url", "https://trakt.tv/vip")],
            "",
        ))
    });
    let mut c = f.client(&Options::default());
    match c.execute(&Call::post("/sync/watchlist", "{}".into(), true)) {
        Err(AdapterError::AccountLimit { limit, vip, upgrade_url, message }) => {
            assert_eq!(limit, Some(250));
            assert_eq!(vip, Some(false));
            assert_eq!(upgrade_url.as_deref(), Some("https://trakt.tv/vip"));
            assert_eq!(
                message,
                "Trakt account limit reached for POST /sync/watchlist (limit 250): remove items on Trakt or \
                 upgrade to VIP at https://trakt.tv/vip"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.requests().len(), 1, "420 is never retried");

    type Case<'a> = (u16, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (403, vec![("content-type", "application/json")], "{\"error\":\"forbidden\"}", "forbidden: Trakt answered 403 for GET /x: the API key is invalid or the app may have been deleted: check client_id"),
        (403, vec![("content-type", "text/html")], "<html>Attention Required! | Cloudflare</html>", "forbidden: Trakt answered 403 for GET /x: blocked by Cloudflare (missing User-Agent?)"),
        (423, vec![("x-account-locked", "false"), ("x-account-deactivated", "true")], "", "locked: Trakt answered 423 for GET /x: the account is deactivated; contact Trakt support"),
        (423, vec![], "", "locked: Trakt answered 423 for GET /x: the account is locked or deactivated; contact Trakt support"),
        (426, vec![("x-upgrade-url", "https://app.trakt.tv/vip")], "", "vip only: Trakt answered 426 for GET /x: this needs Trakt VIP; upgrade at https://app.trakt.tv/vip"),
        (400, vec![], "", "http 400: Trakt answered 400 for GET /x: Trakt could not parse the request; this is an adapter bug"),
        (404, vec![], "", "http 404: Trakt answered 404 for GET /x: not found on Trakt"),
        (405, vec![], "", "http 405: Trakt answered 405 for GET /x: method not allowed"),
        (409, vec![], "", "http 409: Trakt answered 409 for GET /x: conflict"),
        (412, vec![], "", "http 412: Trakt answered 412 for GET /x: Trakt wants the content type application/json"),
        (422, vec![], "{\"errors\":{}}", "http 422: Trakt answered 422 for GET /x: Trakt rejected the values sent: check the items ({\"errors\":{}})"),
        (501, vec![], "", "http 501: Trakt answered 501 for GET /x: Trakt is having trouble"),
    ];
    for (status, headers, body, want) in cases {
        let (h, b): (Vec<(String, String)>, String) =
            (headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body.to_string());
        let f = Fakes::new(move |_| {
            let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Ok(resp(status, &hs, &b))
        });
        let mut c = f.client(&Options::default());
        let err = c.execute(&Call::get("/x")).unwrap_err();
        assert!(err.to_string().starts_with(want), "{status}: {err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(f.requests().len(), 1, "{status} is not retried");
        assert!(f.sleeps().is_empty());
    }
}

#[test]
fn ledger_of_a_retried_get() {
    let rl =
        r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":997,"until":"2023-11-14T22:30:30Z"}"#;
    let f = Fakes::script(vec![Ok(resp(503, &[("x-ratelimit", rl)], "down")), Ok(resp(200, &[], "[1,2]"))]);
    f.set_latency(7);
    let mut c = f.client(&Options::default());
    c.reset_ledger();
    c.execute(&Call::get("/sync/watchlist").query("page", 2).query("limit", 250)).unwrap();
    let entries = c.ledger_entries();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.method, "GET");
    assert_eq!(e.path, "/sync/watchlist?page=2&limit=250");
    assert_eq!((e.status, e.attempts), (200, 2));
    assert_eq!(e.waited_ms, f.sleeps()[0]);
    assert_eq!(e.elapsed_ms, 14);
    assert_eq!((e.bytes_sent, e.bytes_received), (0, 5));
    assert_eq!(e.rate_limit.as_deref(), Some(rl));
    assert_eq!(e.error, "");
    assert_eq!(c.rate_limit_remaining, Some(997));

    // A failing POST: bytes of every attempt, the error text; a reset starts over.
    let f = Fakes::new(|_| Ok(resp(502, &[], "")));
    let mut c = f.client(&Options { max_retries: 3, ..Options::default() });
    let _ = c.execute(&Call::post("/sync/watchlist", "{\"movies\":[]}".into(), true));
    let e = &c.ledger_entries()[0];
    assert_eq!((e.method.as_str(), e.status, e.attempts, e.bytes_sent), ("POST", 502, 3, 39));
    assert!(e.error.starts_with("http 502: "), "{}", e.error);
    assert!(e.waited_ms >= f.sleeps()[0] + f.sleeps()[1]);
    c.reset_ledger();
    assert!(c.ledger_entries().is_empty());
}

#[test]
fn x_ratelimit_remaining_zero_delays_the_next_request_until_reset() {
    // Fake wall clock at the first request: 1_700_001_000 = 2023-11-14T22:30:00Z.
    let rl =
        r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"limit":1000,"remaining":0,"until":"2023-11-14T22:30:30Z"}"#;
    let f = Fakes::script(vec![Ok(resp(200, &[("x-ratelimit", rl)], "{}")), Ok(resp(200, &[], "{}"))]);
    let mut c = f.client(&Options::default());
    c.execute(&Call::get("/a")).unwrap();
    c.execute(&Call::get("/b")).unwrap();
    assert_eq!(f.sleeps(), vec![30_000]);
    let t = f.send_times();
    assert_eq!(t[1] - t[0], 30_000);
    assert_eq!(c.ledger_entries()[1].waited_ms, 30_000);

    // A reset beyond the Retry-After cap fails at once without sending.
    let rl = r#"{"name":"AUTHED_API_GET_LIMIT","period":300,"remaining":0,"until":"2023-11-14T22:34:00Z"}"#;
    let f = Fakes::script(vec![Ok(resp(200, &[("x-ratelimit", rl)], "{}"))]);
    let mut c = f.client(&Options::default());
    c.execute(&Call::get("/a")).unwrap();
    match c.execute(&Call::get("/b")) {
        Err(AdapterError::RateLimited { retry_after_secs: 240, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(f.requests().len(), 1);
    assert_eq!(c.ledger_entries()[1].attempts, 0);
}

#[test]
fn read_bucket_holds_the_1001st_get_to_the_window() {
    let f = Fakes::new(|_| Ok(resp(200, &[], "{}")));
    f.set_latency(10);
    let mut c = f.client(&Options::default());
    for _ in 0..1000 {
        c.execute(&Call::get("/x")).unwrap();
    }
    assert!(f.sleeps().is_empty());
    c.execute(&Call::get("/x")).unwrap();
    // The first GET finished at +10 ms; the 1001st goes 300 s after that.
    assert_eq!(f.sleeps(), vec![300_010 - 10_000]);
    let t = f.send_times();
    assert_eq!(t[1000] - t[0], 300_010);
    assert_eq!(c.ledger_entries()[1000].waited_ms, 290_010);

    let f = Fakes::new(|_| Ok(resp(200, &[], "{}")));
    let opts = Options { rate_limit: RateLimit { read_limit: 500, ..RateLimit::default() }, ..Options::default() };
    let mut c = f.client(&opts);
    for _ in 0..501 {
        c.execute(&Call::get("/x")).unwrap();
    }
    assert_eq!(f.sleeps(), vec![300_000]);

    let f = Fakes::new(|_| Ok(resp(201, &[], "{}")));
    let opts = Options { rate_limit: RateLimit { enabled: false, ..RateLimit::default() }, ..Options::default() };
    let mut c = f.client(&opts);
    for _ in 0..1500 {
        c.execute(&Call::get("/x")).unwrap();
    }
    for _ in 0..5 {
        c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
    }
    assert!(f.sleeps().is_empty(), "disabled buckets never wait");
}

#[test]
fn writes_are_spaced_one_second_apart() {
    let f = Fakes::new(|_| Ok(resp(201, &[], "{}")));
    let mut c = f.client(&Options::default());
    c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
    f.advance(300);
    c.execute(&Call::get("/r")).unwrap();
    c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
    c.execute(&Call::post("/w", "{}".into(), true)).unwrap();
    assert_eq!(f.sleeps(), vec![700, 1000]);
    let t = f.send_times();
    assert_eq!((t[2] - t[0], t[3] - t[2]), (1000, 1000));
    assert_eq!(c.ledger_entries()[2].waited_ms, 700);
}

#[test]
fn a_truncated_body_is_retried_like_a_lost_connection() {
    let f = Fakes::script(vec![
        Ok(resp(200, &[("content-length", "10")], "[1,")),
        Ok(resp(200, &[("content-length", "5")], "[1,2]")),
    ]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::get("/x")).unwrap().body, b"[1,2]");
    assert_eq!(f.requests().len(), 2);
    // Not for a write that may have been applied: the answer is returned as it came.
    let f = Fakes::script(vec![Ok(resp(201, &[("content-length", "10")], "{"))]);
    let mut c = f.client(&Options::default());
    assert_eq!(c.execute(&Call::post("/sync/history", "{}".into(), false)).unwrap().status, 201);
    assert_eq!(f.requests().len(), 1);
}

#[test]
fn jitter_needs_no_random_import() {
    let mut j = Jitter(42);
    let draws: Vec<u64> = (0..1000).map(|_| j.upto(1000)).collect();
    assert!(draws.iter().all(|d| *d <= 1000));
    assert!(draws.iter().any(|d| *d < 100) && draws.iter().any(|d| *d > 900));
    assert_eq!(Jitter(7).upto(0), 0);
}
