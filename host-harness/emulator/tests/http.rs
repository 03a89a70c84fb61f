//! The HTTP front over real HTTP (ureq against a started emulator): header checks, the
//! Cloudflare User-Agent block, `GET /users/settings`, and the request log.

mod common;

use common::{agent_with, err, send, start, Api};
use serde_json::json;
use trakt_emulator::{Emulator, EmulatorConfig, Library, LoggedRequest};

#[test]
fn handle_types_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
    assert_send_sync::<Library>();
    let log: Vec<LoggedRequest> = serde_json::from_value(json!([{
        "method": "GET", "path": "/x", "query": "", "status": 200, "headers": [["a", "b"]], "body": null, "at_ms": 5
    }]))
    .unwrap();
    assert_eq!(log[0].header("a"), Some("b"));
}

#[test]
fn header_checks() {
    let emu = start(Library::sample(2, 1));
    let api = Api::new(&emu);
    let url = format!("{}/sync/watchlist", emu.url());
    let bearer = format!("Bearer {}", api.token);
    let a = agent_with(true, 0);

    let r = send(&a, "GET", &url, &[("trakt-api-version", "2"), ("authorization", &bearer)], None);
    assert_eq!((r.status, err(&r).as_str()), (403, "forbidden"));
    let r = send(
        &a,
        "GET",
        &url,
        &[("trakt-api-key", "nope"), ("trakt-api-version", "2"), ("authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error_description"], "Invalid API key or unapproved app");

    let r = api.call("GET", "/sync/watchlist", &[("trakt-api-version", "3")], None);
    // Two trakt-api-version headers ("2" first): the emulator reads the first one.
    assert_eq!(r.status, 200);
    let r = send(
        &a,
        "GET",
        &url,
        &[("trakt-api-key", "emulator-client-id"), ("trakt-api-version", "3"), ("authorization", &bearer)],
        None,
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_api_version"));
    let r = send(&a, "GET", &url, &[("trakt-api-key", "emulator-client-id"), ("authorization", &bearer)], None);
    assert_eq!(r.status, 400);

    let r = send(
        &a,
        "POST",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "2"),
            ("authorization", &bearer),
            ("content-type", "text/plain"),
        ],
        Some(r#"{"movies":[]}"#),
    );
    assert_eq!((r.status, err(&r).as_str()), (412, "precondition_failed"));
    let r = send(
        &a,
        "POST",
        &url,
        &[("trakt-api-key", "emulator-client-id"), ("trakt-api-version", "2"), ("authorization", &bearer)],
        Some(r#"{"movies":[]}"#),
    );
    assert_eq!(r.status, 412);

    let r = send(&a, "GET", &url, &[("trakt-api-key", "emulator-client-id"), ("trakt-api-version", "2")], None);
    assert_eq!((r.status, err(&r).as_str()), (401, "unauthorized"));
    let r = Api::new(&emu).with_token("wrong").get("/sync/watchlist");
    assert_eq!((r.status, err(&r).as_str()), (401, "invalid_token"));
    assert!(r.h("www-authenticate").starts_with("Bearer realm=\"Doorkeeper\""));
    let r = Api::new(&emu).with_token("wrong").get("/users/settings");
    assert_eq!(r.status, 401);

    // Malformed JSON body with the right headers.
    let r = api.call("POST", "/sync/watchlist", &[("content-type", "application/json")], None);
    assert_eq!(r.status, 400);
    let r = send(
        &a,
        "POST",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "2"),
            ("authorization", &bearer),
            ("content-type", "application/json; charset=utf-8"),
        ],
        Some("{not json"),
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "bad_request"));

    // Expired token.
    emu.with_library(|l| l.auth.expires_at = Some(1_000));
    let r = api.get("/sync/last_activities");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error_description"], "The access token expired");
    emu.with_library(|l| l.auth.expires_at = None);
    assert_eq!(api.get("/sync/last_activities").status, 200);

    let r = api.get("/sync/nothing");
    assert_eq!((r.status, err(&r).as_str()), (404, "not_found"));
    let r = api.call("DELETE", "/sync/watchlist", &[], None);
    assert_eq!((r.status, err(&r).as_str()), (405, "method_not_allowed"));
    assert_eq!(r.h("allow"), "GET, POST");
    let r = api.get("/sync/watchlist/bogus");
    assert_eq!(r.status, 404);
}

#[test]
fn user_agent_flag() {
    let emu = Emulator::start(EmulatorConfig { require_user_agent: true, ..Default::default() }).unwrap();
    let c = emu.credentials();
    let bearer = format!("Bearer {}", c.access_token);
    let headers =
        [("trakt-api-key", c.client_id.as_str()), ("trakt-api-version", "2"), ("authorization", bearer.as_str())];
    let url = format!("{}/sync/last_activities", emu.url());
    let r = send(&agent_with(false, 0), "GET", &url, &headers, None);
    assert_eq!(r.status, 403);
    assert!(r.h("content-type").starts_with("text/html"));
    assert!(r.text.contains("Sorry, you have been blocked"));
    let r = send(&agent_with(true, 0), "GET", &url, &headers, None);
    assert_eq!(r.status, 200);
    // Without the flag, no User-Agent is fine.
    let emu2 = start(Library::default());
    let c2 = emu2.credentials();
    let bearer2 = format!("Bearer {}", c2.access_token);
    let r = send(
        &agent_with(false, 0),
        "GET",
        &format!("{}/sync/last_activities", emu2.url()),
        &[("trakt-api-key", c2.client_id.as_str()), ("trakt-api-version", "2"), ("authorization", bearer2.as_str())],
        None,
    );
    assert_eq!(r.status, 200);
    let log = emu2.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].header("user-agent"), None);
}

#[test]
fn users_settings() {
    let lib = Library::from_json(
        r#"{"user":{"username":"Alice Smith","vip":true,"name":"Alice"},"limits":{"watchlist":{"item_count":4000}}}"#,
    )
    .unwrap();
    let emu = start(lib);
    let r = Api::new(&emu).get("/users/settings");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["user"]["username"], "Alice Smith");
    assert_eq!(v["user"]["name"], "Alice");
    assert_eq!(v["user"]["vip"], true);
    assert_eq!(v["user"]["ids"]["slug"], "alice-smith");
    assert_eq!(v["user"]["joined_at"], "2020-01-01T00:00:00.000Z");
    assert_eq!(v["account"]["timezone"], "UTC");
    assert_eq!(
        v["limits"],
        json!({ "list": { "count": 100, "item_count": 5000 }, "watchlist": { "item_count": 4000 },
                "favorites": { "item_count": 50 }, "recommendations": { "item_count": 50 } })
    );
}

#[test]
fn request_log() {
    let emu = start(Library::sample(2, 0));
    let api = Api::new(&emu);
    api.get("/sync/watchlist?page=1&limit=250");
    emu.clear_requests();
    api.get("/sync/watchlist/movies?page=2&limit=1");
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    api.post("/sync/watchlist", &body);
    api.oauth("/oauth/revoke", &json!({ "token": "nothing" }));
    // Control endpoints are not logged.
    let ctl = send(&agent_with(true, 0), "GET", &format!("{}/_emulator/requests", emu.url()), &[], None);
    assert_eq!(ctl.status, 200);
    assert_eq!(ctl.json().as_array().unwrap().len(), 3);
    assert_eq!(ctl.json()[1]["body"], body);
    send(&agent_with(true, 0), "GET", &format!("{}/_emulator/state", emu.url()), &[], None);

    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str(), log[0].query.as_str(), log[0].status),
        ("GET", "/sync/watchlist/movies", "page=2&limit=1", 200)
    );
    assert_eq!(log[0].body, None);
    assert_eq!(log[0].header("authorization"), Some("Bearer <redacted:oken>"));
    assert_eq!(log[0].header("trakt-api-key"), Some("emulator-client-id"));
    assert_eq!(log[0].header("trakt-api-version"), Some("2"));
    assert!(log[0].headers.iter().all(|(k, _)| *k == k.to_ascii_lowercase()));
    assert!(!log.iter().flat_map(|r| &r.headers).any(|(_, v)| v.contains("emulator-access-token")));
    assert_eq!(
        (log[1].method.as_str(), log[1].path.as_str(), log[1].query.as_str(), log[1].status),
        ("POST", "/sync/watchlist", "", 201)
    );
    assert_eq!(log[1].body, Some(body));
    assert_eq!(log[1].header("content-type"), Some("application/json"));
    assert_eq!((log[2].path.as_str(), log[2].status), ("/oauth/revoke", 200));
    assert!(log[0].at_ms <= log[1].at_ms && log[1].at_ms <= log[2].at_ms);
    let r = send(&agent_with(true, 0), "DELETE", &format!("{}/_emulator/requests", emu.url()), &[], None);
    assert_eq!(r.status, 204);
    assert!(emu.requests().is_empty());
}
