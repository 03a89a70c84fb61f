//! Trakt's rate limits: the buckets, `Retry-After` and `X-Ratelimit`, write spacing in real
//! time, and the header on every answer.

mod common;

use common::{rate_limited, start, Api};
use serde_json::{json, Value};
use trakt_emulator::{Emulator, EmulatorConfig, Library, RateLimitConfig, Timestamp};

#[test]
fn rate_limits() {
    let emu = Emulator::start(EmulatorConfig {
        seed: Library::sample(2, 0),
        rate_limit: Some(RateLimitConfig {
            get_limit: 3,
            get_period_secs: 300,
            post_limit: 1,
            post_period_secs: 1,
            send_header_always: false,
        }),
        ..Default::default()
    })
    .unwrap();
    let api = Api::new(&emu);
    for _ in 0..3 {
        assert_eq!(api.get("/sync/last_activities").status, 200);
    }
    let r = api.get("/sync/last_activities");
    assert_eq!(r.status, 429);
    let retry: i64 = r.h("retry-after").parse().unwrap();
    assert!((299..=300).contains(&retry), "{retry}");
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["name"], "AUTHED_API_GET_LIMIT");
    assert_eq!((x["period"].clone(), x["limit"].clone(), x["remaining"].clone()), (json!(300), json!(3), json!(0)));
    assert!(x["until"].as_str().unwrap().ends_with('Z'));

    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 429);
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["name"], "AUTHED_API_POST_LIMIT");
    assert_eq!(r.h("retry-after"), "1");
    emu.advance_clock(2);
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    emu.advance_clock(300);
    assert_eq!(api.get("/sync/last_activities").status, 200);
}

#[test]
fn rate_limit_write_spacing_uses_real_time() {
    let emu = rate_limited(RateLimitConfig::default());
    let api = Api::new(&emu);
    let body = json!({ "movies": [ { "ids": { "trakt": 99 } } ] });
    let sent = std::time::Instant::now();
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    let answered = std::time::Instant::now();
    // 300 ms, not 900: a loaded CI machine can take a few hundred ms to deliver a request.
    std::thread::sleep(std::time::Duration::from_millis(300).saturating_sub(sent.elapsed()));
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 429, "300 ms after the first write");
    assert_eq!(r.h("retry-after"), "1");
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(
        x,
        json!({ "name": "AUTHED_API_POST_LIMIT", "period": 1, "limit": 1, "remaining": 0, "until": x["until"] })
    );
    let until = x["until"].as_str().unwrap();
    assert_eq!(until.len(), 20);
    // `until` is at whole seconds and `now` is read later: one period plus one second of rounding.
    assert!(Timestamp::parse(until).unwrap().secs() - emu.now().secs() <= 2);
    assert_eq!(r.json()["error"], "rate_limit_exceeded");
    // The 429 did not count: 1000 ms after the first one, a write passes.
    std::thread::sleep(std::time::Duration::from_millis(1000).saturating_sub(answered.elapsed()));
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    // advance_clock moves the window too.
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 429);
    emu.advance_clock(1);
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    // Writes and reads are separate buckets.
    assert_eq!(api.get("/sync/last_activities").status, 200);
    let statuses: Vec<u16> = emu.requests().iter().map(|l| l.status).collect();
    assert_eq!(statuses, vec![200, 429, 200, 429, 200, 200]);
}

#[test]
fn rate_limit_headers_always() {
    let emu = rate_limited(RateLimitConfig {
        get_limit: 3,
        get_period_secs: 60,
        send_header_always: true,
        ..RateLimitConfig::default()
    });
    let api = Api::new(&emu);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = api.get("/sync/watchlist");
        assert_eq!(r.status, 200);
        let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
        assert_eq!(
            (x["name"].clone(), x["period"].clone(), x["limit"].clone()),
            (json!("AUTHED_API_GET_LIMIT"), json!(60), json!(3))
        );
        remaining.push(x["remaining"].as_u64().unwrap());
    }
    assert_eq!(remaining, vec![2, 1, 0]);
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 429);
    let retry: i64 = r.h("retry-after").parse().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["remaining"], 0);
    let r = api.post("/sync/watchlist/remove", &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }));
    assert_eq!(r.status, 200);
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!((x["name"].clone(), x["remaining"].clone()), (json!("AUTHED_API_POST_LIMIT"), json!(0)));
    // OAuth routes are not rate-limited and carry no header.
    let r = api.oauth("/oauth/revoke", &json!({ "token": "nothing" }));
    assert_eq!(r.status, 200);
    assert!(!r.has("x-ratelimit"));
    emu.advance_clock(60);
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 200);
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["remaining"], 2);

    // Off by default: no headers, no 429.
    let emu = start(Library::sample(1, 0));
    let api = Api::new(&emu);
    for _ in 0..3 {
        let r = api.post("/sync/watchlist/remove", &json!({ "movies": [] }));
        assert_eq!(r.status, 200);
        assert!(!r.has("x-ratelimit"));
    }
}
