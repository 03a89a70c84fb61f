//! The Trakt client core through the compiled component: pacing, retries, Retry-After, the
//! rate-limited error, typed account errors, 401 replay, never a partial index, the ledger,
//! and the host's token lifecycle (refresh ahead of expiry, device login, status).

use std::time::Duration;

use e2e_tests::Harness;
use serde_json::{json, Value};
use trakt_emulator::{EmulatorConfig, Fault, FaultAction, FaultWhen, Library, RateLimitConfig};

/// 300 movies: two pages of 250.
fn two_pages() -> Library {
    Library::sample(280, 10)
}

/// Fast backoff so retry tests take milliseconds, not seconds.
fn fast_retries(h: &Harness, extra: Value) {
    let mut opts = json!({"backoff_base_ms": 10, "backoff_max_ms": 50, "max_retries": 3, "timeout": 1});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            opts[k] = v;
        }
    }
    h.write_config(opts);
}

fn on_page(page: u32, action: FaultAction, times: u32) -> Fault {
    Fault {
        when: FaultWhen {
            method: Some("GET".into()),
            path: Some("/sync/watchlist".into()),
            query_contains: Some(format!("page={page}&")),
            body_items_over: None,
            nth: 1,
            times,
        },
        action,
    }
}

fn status(code: u16, headers: &[(&str, &str)]) -> FaultAction {
    FaultAction::Status {
        status: code,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: json!({"error": "injected"}).to_string(),
    }
}

fn watchlist_len(h: &Harness) -> usize {
    h.emulator.library().watchlist.len()
}

fn page_statuses(h: &Harness, page: u32) -> Vec<u16> {
    h.requests_to("GET", "/sync/watchlist")
        .iter()
        .filter(|r| r.query.contains(&format!("page={page}&")))
        .map(|r| r.status)
        .collect()
}

#[test]
fn writes_are_spaced_a_second_apart() {
    let h = Harness::with_config(EmulatorConfig {
        seed: Library::sample(5, 1),
        rate_limit: Some(RateLimitConfig::default()),
        ..EmulatorConfig::default()
    });
    h.write_config(json!({"watchlist_batch_size": 1}));
    let items = json!([
        {"type": "movie", "ids": {"tmdb": 910001}},
        {"type": "movie", "ids": {"tmdb": 910002}},
        {"type": "movie", "ids": {"tmdb": 910003}}
    ]);
    let run = h.cw_host(&["add", "watchlist"], &items.to_string());
    assert_eq!(run.code, 0, "{run:#?}");
    let posts = h.requests_to("POST", "/sync/watchlist");
    assert_eq!(posts.len(), 3, "one POST per item, none retried");
    assert!(posts.iter().all(|p| p.status == 201), "no 429 from the server: {posts:?}");
    for pair in posts.windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!(gap >= 1000, "two POSTs {gap} ms apart");
    }
}

#[test]
fn a_429_waits_at_least_retry_after_then_succeeds() {
    let h = Harness::new(two_pages());
    fast_retries(&h, json!({}));
    h.emulator.inject(on_page(2, status(429, &[("Retry-After", "1")]), 1));
    let ledger = h.dir.path().join("ledger.json");
    let run = h.cw_host(&["--ledger", ledger.to_str().unwrap(), "index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), watchlist_len(&h));
    assert_eq!(page_statuses(&h, 2), [429, 200]);
    let tries = h.requests_to("GET", "/sync/watchlist");
    let gap = tries[2].at_ms - tries[1].at_ms;
    assert!(gap >= 1000, "retried {gap} ms after a Retry-After of 1 s");

    let ledger: Value = serde_json::from_str(&std::fs::read_to_string(&ledger).unwrap()).unwrap();
    let page2 = ledger.as_array().unwrap().iter().find(|e| e["path"].as_str().unwrap().contains("page=2")).unwrap();
    assert_eq!(page2["attempts"], 2);
    assert_eq!(page2["status"], 200);
    assert!(page2["waited_ms"].as_u64().unwrap() >= 1000, "{page2}");
    assert!(page2["bytes_received"].as_u64().unwrap() > 0);
}

#[test]
fn a_retry_after_beyond_the_cap_fails_with_a_typed_error_at_once() {
    let h = Harness::new(two_pages());
    fast_retries(&h, json!({}));
    h.emulator.inject(on_page(1, status(429, &[("Retry-After", "2852")]), 0));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert_eq!(v["error"]["kind"], "rate_limited");
    assert_eq!(v["error"]["retry_after"], 2852);
    assert_eq!(h.requests_to("GET", "/sync/watchlist").len(), 1, "no retry, no sleep");
}

#[test]
fn server_errors_and_a_cloudflare_429_are_retried() {
    let h = Harness::new(two_pages());
    fast_retries(&h, json!({}));
    h.emulator.inject(on_page(1, FaultAction::CloudflareRateLimit { retry_after_secs: Some(1) }, 1));
    h.emulator.inject(on_page(2, status(503, &[]), 2));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), watchlist_len(&h));
    assert_eq!(page_statuses(&h, 1), [429, 200]);
    assert_eq!(page_statuses(&h, 2), [503, 503, 200]);
}

#[test]
fn one_off_transport_faults_are_retried_to_a_complete_index() {
    for action in [FaultAction::DropConnection, FaultAction::TruncatedBody, FaultAction::Delay { ms: 2500 }] {
        let h = Harness::new(two_pages());
        fast_retries(&h, json!({}));
        h.emulator.inject(on_page(2, action.clone(), 1));
        let run = h.cw_host(&["index", "watchlist"], "");
        assert_eq!(run.code, 0, "{action:?}: {run:#?}");
        assert_eq!(run.json().as_object().unwrap().len(), watchlist_len(&h), "{action:?}");
        assert_eq!(page_statuses(&h, 2).len(), 2, "{action:?}: one failed try, one retry");
    }
}

#[test]
fn no_partial_index_on_any_page_fault() {
    let persistent = |a: FaultAction| (a, 0);
    let cases = [
        persistent(status(500, &[])),
        persistent(FaultAction::DropConnection),
        persistent(FaultAction::TruncatedBody),
        persistent(FaultAction::Delay { ms: 2500 }),
        (FaultAction::NonJsonBody, 0),
        (FaultAction::RepeatPreviousPage, 0),
        (FaultAction::ItemCountOffBy { delta: 1 }, 0),
        (FaultAction::ItemCountOffBy { delta: -3 }, 0),
    ];
    for (action, times) in cases {
        let h = Harness::new(two_pages());
        fast_retries(&h, json!({"max_retries": 2}));
        h.emulator.inject(on_page(2, action.clone(), times));
        let run = h.cw_host(&["index", "watchlist"], "");
        assert_eq!(run.code, 1, "{action:?}: {run:#?}");
        let v = run.json();
        assert_eq!(v["ok"], false, "{action:?}");
        let kind = v["error"]["kind"].as_str().unwrap();
        assert!(["http", "transport", "protocol"].contains(&kind), "{action:?}: {kind}");
        assert_eq!(v.as_object().unwrap().len(), 2, "{action:?}: an error and nothing else: {v}");
        assert!(!run.stdout.contains("tmdb:"), "{action:?}: no item leaked into stdout");
    }
}

#[test]
fn a_second_401_is_an_auth_error_after_exactly_one_refresh() {
    let h = Harness::new(two_pages());
    fast_retries(&h, json!({}));
    h.emulator.inject(on_page(1, status(401, &[]), 2));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.json()["error"]["kind"], "auth");
    assert_eq!(h.requests_to("POST", "/oauth/token").len(), 1, "exactly one refresh");
    assert_eq!(page_statuses(&h, 1), [401, 401], "exactly one replay");
}

/// A status Trakt answers, the headers it sends with it, the adapter error kind expected.
type AccountCase<'a> = (u16, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn account_statuses_are_typed_and_never_retried() {
    let cases: [AccountCase; 4] = [
        (403, &[], "forbidden"),
        (
            420,
            &[("X-Account-Limit", "250"), ("X-VIP-User", "false"), ("X-Upgrade-URL", "https://trakt.tv/vip")],
            "account_limit",
        ),
        (423, &[("X-Account-Locked", "true")], "locked"),
        (426, &[("X-Upgrade-URL", "https://trakt.tv/vip")], "vip_only"),
    ];
    for (code, headers, kind) in cases {
        let h = Harness::new(two_pages());
        fast_retries(&h, json!({}));
        h.emulator.inject(on_page(1, status(code, headers), 0));
        let run = h.cw_host(&["index", "watchlist"], "");
        assert_eq!(run.code, 1, "{code}: {run:#?}");
        let v = run.json();
        assert_eq!(v["error"]["kind"], kind, "{code}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 20, "{code}: the message says what to do");
        assert_eq!(h.requests_to("GET", "/sync/watchlist").len(), 1, "{code}: never retried");
        if code == 420 {
            assert_eq!(v["error"]["limit"], 250);
            assert_eq!(v["error"]["vip"], false);
            assert_eq!(v["error"]["upgrade_url"], "https://trakt.tv/vip");
        }
    }
}

#[test]
fn reads_are_paced_to_the_configured_window_without_a_single_429() {
    // Trakt (here) allows 4 reads per 2 s; the adapter is told the same and must never trip it.
    let h = Harness::with_config(EmulatorConfig {
        seed: Library::sample(20, 2),
        rate_limit: Some(RateLimitConfig { get_limit: 4, get_period_secs: 2, ..RateLimitConfig::default() }),
        ..EmulatorConfig::default()
    });
    h.write_config(json!({"page_limit": 4, "rate_limit": {"read_limit": 4, "read_window_secs": 2}}));
    let started = std::time::Instant::now();
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let pages = h.requests_to("GET", "/sync/watchlist");
    let expected_pages = watchlist_len(&h).div_ceil(4);
    assert_eq!(pages.len(), expected_pages);
    assert!(
        pages.iter().all(|r| r.status == 200),
        "paced below the server's limit: {:?}",
        pages.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    // 6+ pages at 4 per 2 s cannot finish in under 2 s.
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
}

#[test]
fn a_token_close_to_expiry_is_refreshed_before_the_first_request() {
    let h = Harness::new(Library::sample(3, 1));
    let soon = chrono_now() + 120;
    h.write_config(json!({"expires_at": soon}));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let log = h.requests();
    assert_eq!(
        log[0].path,
        "/oauth/token",
        "refreshed before anything else: {:?}",
        log.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(h.requests_to("POST", "/oauth/token").len(), 1);
    assert!(h.requests_to("GET", "/sync/watchlist").iter().all(|r| r.status == 200));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(h.config_path()).unwrap()).unwrap();
    let now = h.emulator.credentials();
    assert_eq!(saved["trakt"]["access_token"], now.access_token.as_str());
    assert!(saved["trakt"]["expires_at"].as_i64().unwrap() > soon);
    assert!(saved["trakt"]["token_created_at"].as_i64().unwrap() > 0);
    assert!(run.stderr.contains("token_refreshed reason=expiring"), "{}", run.stderr);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn auth_login_runs_the_device_flow_and_saves_the_tokens() {
    let h = Harness::with_config(EmulatorConfig {
        seed: Library::sample(3, 1),
        device_interval_secs: 1,
        ..EmulatorConfig::default()
    });
    // A config with the app's credentials only.
    h.write_config(json!({"access_token": null, "refresh_token": null, "expires_at": null, "keep": "me"}));
    let config = h.config_path().display().to_string();
    let login = std::thread::spawn(move || {
        e2e_tests::run_cli(vec!["cw-host".into(), "--config".into(), config, "auth".into(), "login".into()], "")
    });
    let code = wait_for(|| h.emulator.pending_device_codes().into_iter().next());
    assert!(h.emulator.approve_device(&code));
    let run = login.join().unwrap();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains(&code), "the user code is shown: {}", run.stderr);
    assert_eq!(run.json()["ok"], true);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(h.config_path()).unwrap()).unwrap();
    let now = h.emulator.credentials();
    assert_eq!(saved["trakt"]["access_token"], now.access_token.as_str());
    assert_eq!(saved["trakt"]["refresh_token"], now.refresh_token.as_str());
    assert_eq!(saved["trakt"]["keep"], "me");
    // The saved tokens work.
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");

    // status shows expiry and no secret.
    let run = h.cw_host(&["auth", "status"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let v = run.json();
    assert_eq!(v["configured"], true);
    assert_eq!(v["expired"], false);
    assert_eq!(v["expires_at"], saved["trakt"]["expires_at"]);
    for secret in [&now.access_token, &now.refresh_token, &now.client_secret] {
        assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()));
    }
}

#[test]
fn a_denied_device_login_says_so() {
    let h = Harness::with_config(EmulatorConfig {
        seed: Library::sample(3, 1),
        device_interval_secs: 1,
        ..EmulatorConfig::default()
    });
    let config = h.config_path().display().to_string();
    let login = std::thread::spawn(move || {
        e2e_tests::run_cli(vec!["cw-host".into(), "--config".into(), config, "auth".into(), "login".into()], "")
    });
    let code = wait_for(|| h.emulator.pending_device_codes().into_iter().next());
    assert!(h.emulator.deny_device(&code));
    let run = login.join().unwrap();
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert_eq!(v["error"]["kind"], "auth");
    assert!(v["error"]["message"].as_str().unwrap().contains("denied"), "{v}");
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting");
}
