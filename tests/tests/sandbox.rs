//! The sandbox policy holds with the real component: origins, signing, no ambient
//! capabilities, memory, CPU and wall-clock limits, and the compile cache.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cw_host::EMBEDDED_COMPONENT;
use e2e_tests::{cache_dir, host_credentials, Harness};
use serde_json::json;
use trakt_emulator::Library;
use trakt_host::config::Credentials;
use trakt_host::engine::LoadSource;
use trakt_host::imports::log::{Level, LogSink};
use trakt_host::imports::progress::ProgressSink;
use trakt_host::policy::{Limits, Origin, Policy};
use trakt_host::runtime::{Adapter, AdapterError, Feature, HostErrorKind, HostSetup, Item, Runtime};
use trakt_host::state_scope::StateLocation;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);
impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn credentials(h: &Harness) -> Credentials {
    host_credentials(h.emulator.credentials())
}

/// An instance whose policy allows `h`'s emulator, configured with `options` (which may point
/// the adapter somewhere else).
fn adapter(h: &Harness, limits: Limits, options: serde_json::Value, log: Capture) -> Adapter {
    let runtime = Runtime::new(EMBEDDED_COMPONENT, Some(&cache_dir())).expect("load component");
    let origin = Origin::parse(&h.emulator.url()).unwrap();
    let mut adapter = runtime
        .instantiate(HostSetup {
            policy: Policy { api: origin.clone(), oauth: origin, limits },
            credentials: credentials(h),
            token_store: None,
            state: StateLocation::plain(h.state_dir()),
            log: LogSink::to_writer(Box::new(log), Level::Trace),
            progress: ProgressSink::disabled(),
        })
        .expect("instantiate");
    let mut opts = json!({"api_url": h.emulator.url()});
    if let serde_json::Value::Object(m) = options {
        for (k, v) in m {
            opts[k] = v;
        }
    }
    adapter.configure(&opts.to_string()).expect("no trap").expect("options accepted");
    adapter
}

#[test]
fn requests_to_any_other_origin_are_refused() {
    let allowed = Harness::new(Library::sample(5, 1));
    let other = Harness::new(Library::sample(5, 1));
    let log = Capture::default();
    // The adapter is told to use `other`, but the host only allows `allowed`.
    let mut a = adapter(&allowed, Limits::default(), json!({"api_url": other.emulator.url()}), log.clone());
    let err = a.build_index(Feature::Watchlist).expect("no trap").expect_err("must be refused");
    match err {
        AdapterError::Transport(m) => {
            assert!(m.contains("refused by host policy"), "{m}");
            assert!(m.contains(&format!("127.0.0.1:{}", other.emulator.port())), "{m}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(other.requests().is_empty(), "nothing reached the other origin");
    assert!(allowed.requests().is_empty());
    assert!(log.text().contains("[TRAKT:http] WARN request_failed"), "{}", log.text());
}

#[test]
fn the_host_signs_requests_and_the_component_never_sees_secrets() {
    let h = Harness::new(Library::sample(30, 3));
    let log = Capture::default();
    let mut a = adapter(&h, Limits::default(), json!({}), log.clone());
    let index = a.build_index(Feature::Watchlist).unwrap().unwrap();
    assert!(!index.is_empty());
    let c = credentials(&h);
    let requests = h.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.header("trakt-api-key"), Some(c.client_id.as_str()), "{r:?}");
        let last4 = &c.access_token[c.access_token.len() - 4..];
        assert_eq!(r.header("authorization"), Some(format!("Bearer <redacted:{last4}>").as_str()), "{r:?}");
        assert_eq!(r.header("trakt-api-version"), Some("2"));
        assert!(r.header("user-agent").unwrap_or("").starts_with("crosswatch-trakt-adapter/"), "{r:?}");
    }
    // Everything the component produced: its log (at trace level) and its index.
    let logged = log.text();
    let produced = format!("{logged}{index:?}");
    for secret in [&c.access_token, &c.refresh_token, &c.client_secret] {
        assert!(!produced.contains(secret.as_str()), "a secret leaked into the component's output");
    }
}

#[test]
fn the_component_gets_no_filesystem_sockets_or_environment() {
    let runtime = Runtime::new(EMBEDDED_COMPONENT, Some(&cache_dir())).unwrap();
    let imports = runtime.component_imports();
    for name in &imports {
        assert!(
            !name.starts_with("wasi:filesystem") && !name.starts_with("wasi:sockets") && !name.starts_with("wasi:http"),
            "{name}"
        );
    }
    for needed in [
        "crosswatch:sync/http@0.1.0",
        "crosswatch:sync/state@0.1.0",
        "crosswatch:sync/auth@0.1.0",
        "crosswatch:sync/log@0.1.0",
        "crosswatch:sync/progress@0.1.0",
        "wasi:clocks/monotonic-clock@0.2.12",
        "wasi:clocks/wall-clock@0.2.12",
    ] {
        assert!(imports.iter().any(|i| i == needed), "{needed} missing from {imports:?}");
    }
}

#[test]
fn a_memory_cap_stops_the_call_with_a_clear_error() {
    let h = Harness::new(Library::sample(3000, 100));
    let limits = Limits { memory_bytes: 3 << 20, ..Limits::default() };
    let mut a = adapter(&h, limits, json!({}), Capture::default());
    let err = a.build_index(Feature::Watchlist).expect_err("the memory cap must stop this index");
    assert_eq!(err.kind, HostErrorKind::Limit, "{err}");
    assert!(err.message.contains("memory limit of 3 MiB"), "{err}");
    let again = a.manifest().expect_err("a stopped instance stays stopped");
    assert!(again.message.contains("stopped by an earlier failure"), "{again}");
}

#[test]
fn a_cpu_budget_stops_a_runaway_call() {
    let h = Harness::new(Library::sample(300, 20));
    let limits = Limits { fuel_per_call: 3_000_000, ..Limits::default() };
    let mut a = adapter(&h, limits, json!({}), Capture::default());
    let err = a.build_index(Feature::Watchlist).expect_err("fuel must run out");
    assert_eq!(err.kind, HostErrorKind::Limit, "{err}");
    assert!(err.message.contains("CPU budget of 3000000 instructions"), "{err}");
}

#[test]
fn a_wall_clock_limit_stops_a_call_that_runs_too_long() {
    let h = Harness::new(Library::sample(10, 2));
    let limits = Limits { call_timeout: Duration::from_millis(400), ..Limits::default() };
    // One item per POST: writes are spaced a second apart, so the call outlives its limit.
    let mut a = adapter(&h, limits, json!({"watchlist_batch_size": 1}), Capture::default());
    let items: Vec<Item> = (0..4)
        .map(|i| trakt_host::items::item_from_json(i, &json!({"type": "movie", "ids": {"tmdb": 900000 + i}})).unwrap())
        .collect();
    let started = std::time::Instant::now();
    let err = a.add(Feature::Watchlist, &items, false).expect_err("the wall-clock limit must stop this call");
    assert_eq!(err.kind, HostErrorKind::Limit, "{err}");
    assert!(err.message.contains("wall-clock limit"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "stopped promptly, not after every write");
    assert!(h.requests_to("POST", "/sync/watchlist").len() < 4);
}

#[test]
fn compiled_components_are_cached_between_starts() {
    let dir = tempfile::tempdir().unwrap();
    let first = Runtime::new(EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
    assert_eq!(first.load_source, LoadSource::Compiled);
    let second = Runtime::new(EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
    assert_eq!(second.load_source, LoadSource::Cache);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_json_index_is_the_same_index() {
    let printed = |text: &str| {
        let mut out = Vec::new();
        cw_host::print_json_text(&mut out, text).unwrap();
        String::from_utf8(out).unwrap()
    };
    let printed_records = |records: &[trakt_host::runtime::IndexEntry]| {
        let mut out = Vec::new();
        cw_host::print_json(&mut out, &trakt_host::items::index_to_json(records));
        String::from_utf8(out).unwrap()
    };
    for (library, feature) in [
        (Library::sample(30, 3), Feature::Watchlist),
        (Library::sample(30, 3), Feature::Ratings),
        (Library::history_sample(300), Feature::History),
    ] {
        // Live reads on one emulator and state directory, then reads from the caches.
        let h = Harness::new(library.clone());
        let mut a = adapter(&h, Limits::default(), json!({}), Capture::default());
        let records = a.build_index(feature).unwrap().unwrap();
        let text = a.build_index_json(feature).unwrap().unwrap();
        assert_eq!(streamed(&mut a, feature), text, "{feature:?}: index-stream's parts joined, from the cache");
        let from_json: serde_json::Value = serde_json::from_str(&text).expect("JSON object text");
        assert_eq!(from_json, trakt_host::items::index_to_json(&records), "{feature:?}");
        assert!(!records.is_empty());
        // cw-host prints the text exactly as it printed the records, byte for byte, in order.
        let cached_records = a.build_index(feature).unwrap().unwrap();
        assert_eq!(printed(&text), printed_records(&cached_records), "{feature:?} from the cache");
        let fresh = Harness::new(library.clone());
        let mut b = adapter(&fresh, Limits::default(), json!({}), Capture::default());
        let live_text = b.build_index_json(feature).unwrap().unwrap();
        assert_eq!(printed(&live_text), printed_records(&records), "{feature:?} live");
        let live = Harness::new(library);
        let mut c = adapter(&live, Limits::default(), json!({}), Capture::default());
        assert!(c.streams_index_json(), "the adapter exports index-stream");
        assert_eq!(streamed(&mut c, feature), live_text, "{feature:?}: index-stream's parts joined, live");
    }
}

/// The index text through `index-stream`, its parts joined.
fn streamed(a: &mut trakt_host::runtime::Adapter, feature: Feature) -> String {
    let mut text = String::new();
    let mut sink = |part: String| {
        text.push_str(&part);
        Ok(())
    };
    let len = a.index_json_to(feature, &mut sink).unwrap().unwrap();
    assert_eq!(len, text.len() as u64);
    text
}

#[test]
fn an_http_request_never_waits_past_the_calls_wall_clock_limit() {
    // Trakt hangs for 20 s on the watchlist; the call may take 1 s.
    let h = Harness::new(Library::sample(3, 1));
    let fault: trakt_emulator::Fault = serde_json::from_value(json!({
        "when": {"path": "/sync/watchlist"}, "action": {"kind": "delay", "ms": 20_000}
    }))
    .unwrap();
    h.emulator.inject(fault);
    let limits = Limits { call_timeout: Duration::from_secs(1), ..Limits::default() };
    let mut a = adapter(&h, limits, json!({"timeout": 60, "max_retries": 1}), Capture::default());
    let started = std::time::Instant::now();
    let err = a.build_index(Feature::Watchlist).expect_err("the call's limit must stop it");
    assert_eq!(err.kind, HostErrorKind::Limit, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped after {:?}, not at the request's own 60 s",
        started.elapsed()
    );
}
