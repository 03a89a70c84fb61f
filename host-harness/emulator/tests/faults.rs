//! Fault injection over HTTP: status, dropped and truncated connections, delays, HTML bodies,
//! repeated pages and item counts, large bodies only, and the `/_emulator/faults` control
//! endpoints.

mod common;

use common::{control, last_logged, ranks, raw_get, start, Api};
use serde_json::{json, Value};
use trakt_emulator::{Fault, FaultAction, FaultWhen, Library};

#[test]
fn fault_status_nth_times_and_query() {
    let emu = start(Library::sample(5, 0));
    let api = Api::new(&emu);
    emu.inject(Fault::new(
        FaultWhen {
            method: Some("GET".into()),
            path: Some("/sync/watchlist".into()),
            query_contains: Some("page=2".into()),
            body_items_over: None,
            nth: 2,
            times: 2,
        },
        FaultAction::Status {
            status: 503,
            headers: vec![("retry-after".into(), "7".into())],
            body: r#"{"error":"unavailable"}"#.into(),
        },
    ));
    let statuses: Vec<u16> = [
        "page=2&limit=2", // 1st match: before nth
        "page=1&limit=2", // no match
        "page=2&limit=2", // 2nd: fires
        "page=2&limit=2", // 3rd: fires (times 2)
        "page=2&limit=2", // 4th: past the window
    ]
    .iter()
    .map(|q| api.get(&format!("/sync/watchlist?{q}")).status)
    .collect();
    assert_eq!(statuses, vec![200, 200, 503, 503, 200]);
    let log = emu.requests();
    assert_eq!(
        log.iter().map(|l| l.fault.clone()).collect::<Vec<_>>(),
        vec![None, None, Some("status:503".to_string()), Some("status:503".to_string()), None]
    );
    assert_eq!(log[2].status, 503);

    emu.inject(Fault::new(
        FaultWhen::path("/sync/last_activities"),
        FaultAction::Status { status: 429, headers: vec![("Retry-After".into(), "3".into())], body: String::new() },
    ));
    let r = api.get("/sync/last_activities");
    assert_eq!((r.status, r.h("retry-after"), r.text.as_str()), (429, "3", ""));
    assert!(!r.has("x-ratelimit"));
    assert!(!r.has("content-type"));
    assert_eq!(api.get("/sync/last_activities").status, 200);

    // A JSON body is served as JSON, and a faulted POST is not applied.
    emu.inject(Fault::new(
        FaultWhen::request("POST", "/sync/watchlist/remove"),
        FaultAction::Status { status: 500, headers: vec![], body: r#"{"error":"server_error"}"#.into() },
    ));
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 500);
    assert_eq!(r.h("content-type"), "application/json; charset=utf-8");
    assert_eq!(r.json(), json!({"error": "server_error"}));
    assert_eq!(emu.library().watchlist.len(), 5);
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    assert_eq!(emu.library().watchlist.len(), 4);

    // times 0 = forever; the earlier injected fault wins while both match; clear_faults.
    emu.inject(Fault::new(
        FaultWhen { times: 0, ..FaultWhen::path("/users/settings") },
        FaultAction::Status { status: 502, headers: vec![], body: "<html>bad gateway</html>".into() },
    ));
    emu.inject(Fault::new(
        FaultWhen::path("/users/settings"),
        FaultAction::Status { status: 504, headers: vec![], body: String::new() },
    ));
    for _ in 0..4 {
        let r = api.get("/users/settings");
        assert_eq!(r.status, 502);
        assert_eq!(r.h("content-type"), "text/html; charset=UTF-8");
    }
    emu.clear_faults();
    assert_eq!(api.get("/users/settings").status, 200);
}

#[test]
fn fault_drop_connection() {
    let emu = start(Library::sample(2, 0));
    let api = Api::new(&emu);
    assert_eq!(api.get("/sync/last_activities").status, 200); // a pooled connection
    emu.inject(Fault::new(FaultWhen::request("POST", "/sync/watchlist/remove"), FaultAction::DropConnection));
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    let r = api.try_call("POST", "/sync/watchlist/remove", Some(&body));
    assert!(r.is_err(), "expected a transport error, got {:?}", r.map(|r| r.status()));
    let l = last_logged(&emu);
    assert_eq!(
        (l.method.as_str(), l.path.as_str(), l.status, l.fault.as_deref()),
        ("POST", "/sync/watchlist/remove", 0, Some("drop_connection"))
    );
    assert_eq!(l.body, Some(body.clone()));
    assert_eq!(emu.library().watchlist.len(), 2, "a dropped request is not applied");
    assert_eq!(emu.requests().len(), 2);

    // Apply, then drop: the effect happens.
    emu.inject(Fault::new(FaultWhen::request("POST", "/sync/watchlist/remove"), FaultAction::ApplyThenDrop));
    assert!(api.try_call("POST", "/sync/watchlist/remove", Some(&body)).is_err());
    let l = last_logged(&emu);
    assert_eq!((l.status, l.fault.as_deref()), (0, Some("apply_then_drop")));
    assert_eq!(emu.library().watchlist.len(), 1);
    // The server keeps serving.
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["deleted"]["movies"], 0);
}

#[test]
fn fault_truncated_body() {
    let emu = start(Library::sample(3, 0));
    let api = Api::new(&emu);
    let full = api.get("/sync/watchlist?page=1&limit=10");
    emu.inject(Fault::new(FaultWhen::path("/sync/watchlist"), FaultAction::TruncatedBody));
    let resp = api.try_call("GET", "/sync/watchlist?page=1&limit=10", None).expect("the head arrives");
    assert_eq!(resp.status().as_u16(), 200);
    let len: usize = resp.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert_eq!(len, full.text.len());
    assert_eq!(resp.headers()["x-pagination-item-count"], "3");
    let read = resp.into_body().read_to_string();
    assert!(read.is_err(), "reading a truncated body must fail, got {read:?}");
    let l = last_logged(&emu);
    assert_eq!((l.status, l.fault.as_deref()), (200, Some("truncated_body")));
    // What a raw socket sees: exactly the head and half the body, then EOF.
    emu.inject(Fault::new(FaultWhen::default(), FaultAction::TruncatedBody));
    let raw = raw_get(&emu, "/sync/watchlist?page=1&limit=10");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"));
    assert_eq!(body, &full.text[..full.text.len() / 2]);
    assert_eq!(api.get("/sync/watchlist?page=1&limit=10").text, full.text);
}

#[test]
fn fault_delay() {
    let emu = start(Library::sample(1, 0));
    let api = Api::new(&emu);
    emu.inject(Fault::new(FaultWhen::path("/sync/last_activities"), FaultAction::Delay { ms: 300 }));
    let t = std::time::Instant::now();
    let r = api.get("/sync/last_activities");
    let elapsed = t.elapsed().as_millis();
    assert_eq!(r.status, 200);
    assert!(elapsed >= 300, "{elapsed} ms");
    let l = last_logged(&emu);
    assert_eq!((l.status, l.fault.as_deref()), (200, Some("delay:300")));

    // Beyond a client timeout: the client gives up, the request was still handled.
    emu.inject(Fault::new(FaultWhen::request("POST", "/sync/watchlist/remove"), FaultAction::Delay { ms: 1500 }));
    let quick = Api {
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_millis(200)))
            .build()
            .into(),
        ..Api::new(&emu)
    };
    let t = std::time::Instant::now();
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    assert!(quick.try_call("POST", "/sync/watchlist/remove", Some(&body)).is_err());
    assert!(t.elapsed().as_millis() < 1000);
    assert_eq!(emu.library().watchlist.len(), 0);
    assert_eq!(last_logged(&emu).fault.as_deref(), Some("delay:1500"));
}

#[test]
fn fault_html_bodies() {
    let emu = start(Library::sample(1, 0));
    let api = Api::new(&emu);
    emu.inject(Fault::new(FaultWhen::default(), FaultAction::NonJsonBody));
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-type"), "text/html; charset=UTF-8");
    assert!(r.text.starts_with("<!DOCTYPE html>"));
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    assert!(!r.has("x-pagination-page"));
    assert_eq!(last_logged(&emu).fault.as_deref(), Some("non_json_body"));

    emu.inject(Fault::new(FaultWhen::default(), FaultAction::CloudflareRateLimit { retry_after_secs: Some(300) }));
    emu.inject(Fault::new(
        FaultWhen { nth: 2, ..FaultWhen::default() },
        FaultAction::CloudflareRateLimit { retry_after_secs: None },
    ));
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 429);
    assert_eq!(r.h("server"), "cloudflare");
    assert_eq!(r.h("retry-after"), "300");
    assert_eq!(r.h("content-type"), "text/html; charset=UTF-8");
    assert!(!r.has("x-ratelimit"));
    assert!(r.text.contains("1015"));
    let r = api.get("/sync/watchlist");
    assert_eq!((r.status, r.h("server")), (429, "cloudflare"));
    assert!(!r.has("retry-after"));
    assert!(!r.has("x-ratelimit"));
    assert_eq!(last_logged(&emu).fault.as_deref(), Some("cloudflare_rate_limit"));
    assert_eq!(last_logged(&emu).status, 429);
    assert_eq!(api.get("/sync/watchlist").status, 200);
}

#[test]
fn fault_repeated_page_and_item_count() {
    let emu = start(Library::sample(5, 0));
    let api = Api::new(&emu);
    let p1 = api.get("/sync/watchlist?page=1&limit=2");
    let p2 = api.get("/sync/watchlist?page=2&limit=2");
    assert_eq!((ranks(&p1), ranks(&p2)), (vec![1, 2], vec![3, 4]));
    emu.inject(Fault::new(
        FaultWhen { query_contains: Some("page=2".into()), ..FaultWhen::path("/sync/watchlist") },
        FaultAction::RepeatPreviousPage,
    ));
    let r = api.get("/sync/watchlist?page=2&limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), p1.json());
    for (h, v) in [
        ("x-pagination-page", "2"),
        ("x-pagination-limit", "2"),
        ("x-pagination-page-count", "3"),
        ("x-pagination-item-count", "5"),
    ] {
        assert_eq!(r.h(h), v, "{h}");
    }
    assert_ne!(r.h("etag"), p1.h("etag"));
    let l = last_logged(&emu);
    assert_eq!((l.query.as_str(), l.fault.as_deref()), ("page=2&limit=2", Some("repeat_previous_page")));
    assert_eq!(ranks(&api.get("/sync/watchlist?page=2&limit=2")), vec![3, 4]);

    emu.inject(Fault::new(FaultWhen::path("/sync/watchlist"), FaultAction::ItemCountOffBy { delta: -1 }));
    let r = api.get("/sync/watchlist?page=3&limit=2");
    assert_eq!(r.h("x-pagination-item-count"), "4");
    assert_eq!(r.h("x-pagination-page-count"), "3");
    assert_eq!(ranks(&r), vec![5]);
    emu.inject(Fault::new(FaultWhen::path("/sync/watchlist"), FaultAction::ItemCountOffBy { delta: 2 }));
    let r = api.get("/sync/watchlist?page=1&limit=2");
    assert_eq!(r.h("x-pagination-item-count"), "7");
    assert_eq!(ranks(&r), vec![1, 2]);
    assert_eq!(last_logged(&emu).fault.as_deref(), Some("item_count_off_by:2"));
}

#[test]
fn fault_control_endpoints() {
    let emu = start(Library::sample(3, 0));
    let api = Api::new(&emu);
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(&json!([
            { "when": { "path": "/sync/watchlist", "query_contains": "page=2", "nth": 1, "times": 2 },
              "action": { "kind": "status", "status": 503, "headers": [["retry-after", "1"]] } },
            { "action": { "kind": "item_count_off_by", "delta": 1 } }
        ])),
    );
    assert_eq!((r.status, r.json()), (200, json!({ "injected": 2 })));
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(&json!({ "when": { "method": "POST" }, "action": { "kind": "drop_connection" } })),
    );
    assert_eq!(r.json(), json!({ "injected": 1 }));
    let listed = control(&emu, "GET", "/_emulator/faults", None).json();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[0]["action"]["kind"], "status");
    assert_eq!(listed[0]["when"]["times"], 2);
    assert_eq!(listed[1]["when"]["nth"], 1);
    assert_eq!(listed[0]["seen"], 0);
    // Control requests are neither faulted nor counted.
    assert_eq!(control(&emu, "GET", "/_emulator/state", None).status, 200);
    let r = api.get("/sync/watchlist?page=2&limit=1");
    assert_eq!((r.status, r.h("retry-after")), (503, "1"));
    // The catch-all item_count fault also counted that request (shadowed by the earlier fault),
    // so its window (the 1st match) is spent.
    let r = api.get("/sync/watchlist?page=1&limit=1");
    assert_eq!((r.status, r.h("x-pagination-item-count")), (200, "3"));
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(&json!({ "when": { "method": "get" }, "action": { "kind": "item_count_off_by", "delta": 1 } })),
    );
    assert_eq!(r.status, 200);
    let r = api.get("/sync/watchlist?page=1&limit=1");
    assert_eq!((r.status, r.h("x-pagination-item-count")), (200, "4"));
    let r = control(&emu, "POST", "/_emulator/faults", Some(&json!({ "action": { "kind": "nope" } })));
    assert_eq!(r.status, 400);
    assert_eq!(control(&emu, "DELETE", "/_emulator/faults", None).status, 204);
    assert_eq!(control(&emu, "GET", "/_emulator/faults", None).json(), json!([]));
    assert_eq!(api.get("/sync/watchlist?page=2&limit=1").status, 200);
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    let log = control(&emu, "GET", "/_emulator/requests", None).json();
    assert_eq!(log[0]["fault"], "status:503");
    assert_eq!(log[1]["fault"], Value::Null);
    assert_eq!(log[2]["fault"], "item_count_off_by:1");
}

#[test]
fn large_history_bodies_fail_applied_or_not_and_small_ones_pass() {
    let emu = start(Library::sample(5, 0));
    let api = Api::new(&emu);
    let before = emu.library().history.len();
    let body = |n: u64, day: u32| {
        let movies: Vec<Value> = (1..=n)
            .map(|t| json!({"ids": {"trakt": t}, "watched_at": format!("2026-03-{day:02}T10:00:00Z")}))
            .collect();
        json!({ "movies": movies })
    };
    // Bodies of more than 3 plays: a 503 and nothing recorded (injected over HTTP).
    let fault = json!({"when": {"method": "POST", "path": "/sync/history", "body_items_over": 3, "times": 0},
                       "action": {"kind": "status", "status": 503}});
    assert_eq!(control(&emu, "POST", "/_emulator/faults", Some(&fault)).status, 200);
    assert_eq!(api.post("/sync/history", &body(4, 1)).status, 503);
    assert_eq!(emu.library().history.len(), before, "not applied");
    let r = api.post("/sync/history", &body(3, 2));
    assert_eq!((r.status, r.json()["added"]["movies"].as_u64()), (201, Some(3)));
    assert_eq!(api.post("/sync/history", &body(5, 3)).status, 503, "still armed (times 0)");
    assert_eq!(emu.library().history.len(), before + 3);
    let faults: Vec<Option<String>> = emu.requests().iter().map(|l| l.fault.clone()).collect();
    assert_eq!(faults, vec![Some("status:503".to_string()), None, Some("status:503".to_string())]);
    assert_eq!(control(&emu, "GET", "/_emulator/faults", None).json()[0]["seen"], 2, "small bodies not counted");

    // Applied, then a gateway's 502: the plays are there although the answer says otherwise.
    assert_eq!(control(&emu, "DELETE", "/_emulator/faults", None).status, 204);
    emu.inject(Fault::new(
        FaultWhen { body_items_over: Some(3), ..FaultWhen::request("POST", "/sync/history") },
        FaultAction::ApplyThenStatus { status: 502 },
    ));
    let r = api.post("/sync/history", &body(4, 4));
    assert_eq!((r.status, r.text.as_str()), (502, ""));
    assert_eq!(emu.library().history.len(), before + 3 + 4, "applied");
    let l = last_logged(&emu);
    assert_eq!((l.status, l.fault.as_deref()), (502, Some("apply_then_status:502")));
    assert_eq!(api.post("/sync/history", &body(4, 5)).status, 201, "times 1: spent");
}
