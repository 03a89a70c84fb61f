//! History add bodies through the compiled component: 250 plays by default, and when Trakt
//! fails large bodies (a 5xx, recorded or not) the bodies halve and grow back while every play
//! lands exactly once and the crash journal ends empty.

use e2e_tests::Harness;
use serde_json::{json, Value};
use trakt_emulator::{body_items, Fault, FaultAction, FaultWhen, Library};

const PLAYS: usize = 1000;
/// 2026-03-01T00:00:00Z: after every play of the sample library.
const START: i64 = 1_772_323_200;

/// 100 movies (and the sample's 3 plays); pacing off so the test does not wait on the write
/// bucket (the request counts are the same with it on).
fn harness() -> Harness {
    let h = Harness::new(Library::sample(100, 0));
    h.write_config(json!({"rate_limit": {"enabled": false}}));
    h
}

/// `PLAYS` plays: each of the 100 movies ten times, one minute apart.
fn items() -> Value {
    let items: Vec<Value> = (0..PLAYS)
        .map(|i| {
            json!({"type": "movie", "ids": {"trakt": i % 100 + 1},
                   "watched_at": START + 60 * i as i64})
        })
        .collect();
    Value::Array(items)
}

fn add(h: &Harness) -> e2e_tests::Run {
    let run = h.cw_host(&["add", "history"], &items().to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let r = run.json();
    assert_eq!(r["confirmed_keys"].as_array().unwrap().len(), PLAYS, "{}", run.stderr);
    assert_eq!(r["unresolved"], json!([]));
    run
}

/// Plays per `POST /sync/history`, in order.
fn bodies(h: &Harness) -> Vec<usize> {
    h.requests_to("POST", "/sync/history").iter().map(|r| body_items(r.body.as_ref().unwrap())).collect()
}

/// Every input play is on the emulator exactly once (the sample's own plays are older).
fn each_once(h: &Harness) {
    let mut got: Vec<(u64, String)> = h.emulator.dump()["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["watched_at"].as_str().unwrap() >= "2026-03")
        .map(|p| (p["trakt"].as_u64().unwrap(), p["watched_at"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    let mut want: Vec<(u64, String)> = (0..PLAYS)
        .map(|i| {
            let secs = START + 60 * i as i64;
            let t = trakt_emulator::Timestamp(secs).to_string();
            ((i % 100 + 1) as u64, t)
        })
        .collect();
    want.sort();
    assert_eq!(got.len(), PLAYS, "no duplicate, none lost");
    assert_eq!(got, want);
}

fn journal_left(h: &Harness) -> bool {
    h.state_dir().join("trakt_history.journal.json").exists()
}

fn fail_large(h: &Harness, action: FaultAction) {
    h.emulator.inject(Fault::new(
        FaultWhen { body_items_over: Some(120), times: 0, ..FaultWhen::request("POST", "/sync/history") },
        action,
    ));
}

#[test]
fn a_thousand_plays_take_four_posts_by_default() {
    let h = harness();
    add(&h);
    assert_eq!(bodies(&h), vec![250, 250, 250, 250]);
    each_once(&h);
    assert!(!journal_left(&h));
}

#[test]
fn large_bodies_answered_503_halve_and_grow_back_and_every_play_lands_once() {
    let h = harness();
    fail_large(&h, FaultAction::Status { status: 503, headers: vec![], body: String::new() });
    let run = add(&h);
    // 250 and 125 fail (nothing recorded, read back, sent again), 62 goes through; after 4
    // answered bodies the size doubles to 124, which fails again, and so on.
    let mut want = vec![250, 125];
    for _ in 0..3 {
        want.extend([62, 62, 62, 62, 124]);
    }
    want.extend([62, 62, 62, 62, 8]);
    assert_eq!(bodies(&h), want);
    each_once(&h);
    assert!(!journal_left(&h));
    assert!(run.stderr.contains("WARN chunk_shrunk from=250 to=125 failed_body=250"), "{}", run.stderr);
    assert!(run.stderr.contains("WARN chunk_shrunk from=125 to=62 failed_body=125"));
    assert!(run.stderr.contains("INFO chunk_grown from=62 to=124 answered=4"));
    // Each failed body was read back (a window read of its minutes) before anything was resent.
    let log = h.requests();
    let first_503 = log.iter().position(|r| r.status == 503).unwrap();
    assert!(
        log[first_503 + 1].path.starts_with("/sync/history/movies") && log[first_503 + 1].query.contains("start_at")
    );
}

#[test]
fn large_bodies_recorded_before_a_502_are_confirmed_not_resent() {
    let h = harness();
    fail_large(&h, FaultAction::ApplyThenStatus { status: 502 });
    let run = add(&h);
    assert_eq!(bodies(&h), vec![250, 125, 62, 62, 62, 62, 124, 62, 62, 62, 62, 5]);
    each_once(&h);
    assert!(!journal_left(&h));
    assert!(run.stderr.contains("journal_reconcile batches=1 landed=250 resent=0"), "{}", run.stderr);

    // The next add of the same plays sends nothing: they are all there.
    let again = h.cw_host(&["add", "history"], &items().to_string());
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.json()["skipped_keys"].as_array().unwrap().len(), PLAYS);
    assert_eq!(h.requests_to("POST", "/sync/history").len(), 12);
}
