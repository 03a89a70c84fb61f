//! Benchmark: index a 5,000-item watchlist from the emulator through the compiled component.
//! Prints wall time, requests made, and the component's share of the call (time not spent
//! inside host imports), plus fuel used. Run with `cargo bench -p e2e-tests --bench
//! index_watchlist`.

use std::time::{Duration, Instant};

use cw_host::host_credentials;
use trakt_emulator::{Emulator, EmulatorConfig, Library};
use trakt_host::imports::log::{Level, LogSink};
use trakt_host::imports::progress::ProgressSink;
use trakt_host::policy::{Limits, Origin, Policy};
use trakt_host::runtime::{Feature, HostSetup, Runtime};
use trakt_host::state_scope::StateLocation;

const ITEMS_TARGET: usize = 5_000;
const RUNS: usize = 5;

/// Process CPU time (user + system) from /proc, where there is one.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

fn main() {
    // Sample libraries put every movie and show on the watchlist plus a few seasons/episodes.
    let mut library = Library::sample(ITEMS_TARGET - 100, 100);
    library.watchlist.truncate(ITEMS_TARGET);
    let items = library.watchlist.len();
    let emulator = Emulator::start(EmulatorConfig { seed: library, ..EmulatorConfig::default() }).expect("emulator");
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(cw_host::EMBEDDED_COMPONENT, Some(cache.path())).expect("load component");
    let origin = Origin::parse(&emulator.url()).unwrap();
    let c = emulator.credentials();
    println!(
        "index_watchlist: {items} items, {RUNS} runs, pacing on (defaults), component {} bytes",
        cw_host::EMBEDDED_COMPONENT.len()
    );
    let mut walls = Vec::new();
    for run in 1..=RUNS {
        let state = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        let fuel_budget = limits.fuel_per_call;
        let mut adapter = runtime
            .instantiate(HostSetup {
                policy: Policy { api: origin.clone(), oauth: origin.clone(), limits },
                credentials: host_credentials(c.clone()),
                token_store: None,
                state: StateLocation::plain(state.path().to_path_buf()),
                log: LogSink::to_writer(Box::new(std::io::sink()), Level::Error),
                progress: ProgressSink::disabled(),
            })
            .expect("instantiate");
        adapter.configure(&format!(r#"{{"api_url": "{}"}}"#, emulator.url())).unwrap().unwrap();
        emulator.clear_requests();
        let imports_before = adapter.import_time();
        let cpu_before = process_cpu();
        let started = Instant::now();
        let index = adapter.build_index(Feature::Watchlist).expect("no trap").expect("index");
        let wall = started.elapsed();
        let cpu = process_cpu().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
        let in_imports = adapter.import_time() - imports_before;
        let fuel_used = fuel_budget - adapter.fuel_left();
        assert_eq!(index.len(), items, "complete index");
        let requests = emulator.requests().len();
        let guest = wall.saturating_sub(in_imports);
        println!(
            "run {run}: wall {:>7.1} ms | requests {requests} | in host imports {:>7.1} ms | component {:>7.1} ms ({:.0}% of wall) | fuel {:.1} M | process CPU {}",
            wall.as_secs_f64() * 1e3,
            in_imports.as_secs_f64() * 1e3,
            guest.as_secs_f64() * 1e3,
            100.0 * guest.as_secs_f64() / wall.as_secs_f64(),
            fuel_used as f64 / 1e6,
            cpu.map(|d| format!("{} ms (includes the emulator)", d.as_millis())).unwrap_or_else(|| "n/a".into()),
        );
        walls.push(wall);
    }
    walls.sort();
    println!("median wall: {:.1} ms", walls[RUNS / 2].as_secs_f64() * 1e3);
}
