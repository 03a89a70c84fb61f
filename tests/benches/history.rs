//! Benchmark: the history feature at scale through the compiled component.
//! 1. A full index of 100,000 plays from the emulator, pacing off: wall time, requests, the
//!    component's peak linear memory and the process's peak RSS.
//! 2. Adding 10,000 new plays, pacing on (Trakt's 1 write/s): wall time, POSTs, and the time
//!    the adapter spent waiting (from its ledger).
//!
//! Run with `cargo bench -p e2e-tests --bench history` (about two minutes: the write pacing
//! is real).

use std::time::Instant;

use cw_host::host_credentials;
use serde_json::{json, Value};
use trakt_emulator::{Emulator, EmulatorConfig, Library};
use trakt_host::imports::log::{Level, LogSink};
use trakt_host::imports::progress::ProgressSink;
use trakt_host::items::{item_from_json, item_to_json};
use trakt_host::policy::{Limits, Origin, Policy};
use trakt_host::runtime::{Adapter, Feature, HostSetup, Runtime};
use trakt_host::state_scope::StateLocation;

const PLAYS: usize = 100_000;
const ADDS: usize = 10_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn adapter(runtime: &Runtime, emulator: &Emulator, state: &std::path::Path, options: Value) -> Adapter {
    let origin = Origin::parse(&emulator.url()).unwrap();
    let c = emulator.credentials();
    let mut adapter = runtime
        .instantiate(HostSetup {
            policy: Policy { api: origin.clone(), oauth: origin, limits: Limits::default() },
            credentials: host_credentials(c.clone()),
            token_store: None,
            state: StateLocation::plain(state.to_path_buf()),
            log: LogSink::to_writer(Box::new(std::io::sink()), Level::Error),
            progress: ProgressSink::disabled(),
        })
        .expect("instantiate");
    let mut opts = options;
    opts["api_url"] = json!(emulator.url());
    adapter.configure(&opts.to_string()).expect("no trap").expect("options");
    adapter
}

fn main() {
    let started = Instant::now();
    let mut seed = Library::history_sample(PLAYS);
    // Room for the added plays above Trakt's 100,000-play account limit (a VIP-sized account).
    seed.limits.history.item_count = (PLAYS + ADDS) as u64;
    let emulator = Emulator::start(EmulatorConfig { seed, ..EmulatorConfig::default() }).expect("emulator");
    println!("history bench: emulator with {PLAYS} plays ready in {:.1} s", started.elapsed().as_secs_f64());
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(cw_host::EMBEDDED_COMPONENT, Some(cache.path())).expect("component");

    // 1. Full index, pacing off.
    let state = tempfile::tempdir().unwrap();
    let mut a = adapter(&runtime, &emulator, state.path(), json!({"rate_limit": {"enabled": false}}));
    emulator.clear_requests();
    let t = Instant::now();
    let index = a.build_index(Feature::History).expect("no trap").expect("index");
    let wall = t.elapsed();
    let requests = emulator.requests().len();
    assert_eq!(index.len(), PLAYS, "one entry per play");
    println!(
        "full index: {} plays in {:.2} s | {requests} requests | component peak memory {:.1} MiB | process peak RSS {} | {:.0}% of wall in the component",
        index.len(),
        wall.as_secs_f64(),
        a.peak_memory() as f64 / (1 << 20) as f64,
        peak_rss_kib().map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into()),
        100.0 * (wall.saturating_sub(a.import_time())).as_secs_f64() / wall.as_secs_f64(),
    );

    // 2. 10,000 new plays of indexed items, ten years later, pacing on (defaults).
    let items: Vec<_> = index
        .iter()
        .take(ADDS)
        .enumerate()
        .map(|(i, e)| {
            let mut v = item_to_json(&e.item);
            let at = v["watched_at"].as_str().unwrap_or("2020-01-01T00:00:00.000Z").to_string();
            let year: i32 = at[..4].parse().unwrap_or(2020);
            v["watched_at"] = json!(format!("{}{}", year + 10, &at[4..]));
            v.as_object_mut().unwrap().remove("_trakt_history_id");
            item_from_json(i, &v).expect("item")
        })
        .collect();
    let state = tempfile::tempdir().unwrap();
    let mut a = adapter(&runtime, &emulator, state.path(), json!({}));
    emulator.clear_requests();
    let t = Instant::now();
    let report = a.add(Feature::History, &items, false).expect("no trap").expect("add");
    let wall = t.elapsed();
    let ledger = a.last_ledger().expect("ledger");
    let posts = emulator.requests().iter().filter(|r| r.method == "POST" && r.path == "/sync/history").count();
    let gets = emulator.requests().iter().filter(|r| r.method == "GET").count();
    let waited: u64 = ledger.iter().map(|e| e.waited_ms).sum();
    println!(
        "add {ADDS} plays: {} confirmed, {} skipped, {} unresolved in {:.1} s | {posts} POSTs to /sync/history, {gets} GETs | waited {:.1} s for pacing/backoff",
        report.confirmed.len(),
        report.skipped.len(),
        report.unresolved.len(),
        wall.as_secs_f64(),
        waited as f64 / 1000.0,
    );
}
