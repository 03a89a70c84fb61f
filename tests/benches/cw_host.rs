//! Benchmark of the whole `cw-host` process (issue 13): CPU (user + sys) and peak RSS of
//! `cw-host index FEATURE` against a `trakt-emulator` process of its own, pacing off, release
//! builds; cold (empty state directory) and cached (the same state directory again: the
//! history cache, the watchlist ETag shadow, the ratings cache); plus a cached `manifest`.
//! Then the same index runs of the plugin's code built natively (`trakt-adapter-native`,
//! host-harness/native-runner) against an emulator of their own with the same seed: a second
//! table of native vs wasm CPU, and whether both sent the same requests.
//!
//! ```sh
//! cargo build --release -p cw-host -p trakt-emulator -p trakt-adapter-native
//! cargo bench -p e2e-tests --bench cw_host [-- --runs 3 --only history --component FILE]
//! ```
//!
//! Binaries: `CW_HOST_BIN`, `TRAKT_EMULATOR_BIN` and `TRAKT_ADAPTER_NATIVE_BIN`, else
//! `target/release/{cw-host,trakt-emulator,trakt-adapter-native}` (without the native runner
//! the second table is left out). Each run of a scenario starts a fresh emulator (its read
//! limit is 1,000 GETs per 5 minutes). With `--runs N` the run with the least CPU is printed.
//! The tables' columns stay as they are, so runs of different commits compare line by line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trakt_emulator::{Library, MediaType, Rating, Timestamp};

/// What one `cw-host` process cost.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    user: Duration,
    sys: Duration,
    wall: Duration,
    peak_rss_kib: u64,
}

impl Cost {
    fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// Run `cmd` with stdout to `out`, wait for it with `wait4` (its own rusage: CPU and peak
/// RSS of this child only) and return the cost and exit status. On Linux a child's peak RSS
/// is at least its parent's at the fork, so this process stays small: seeds are written by a
/// child of their own and the index is counted from its file, never held.
// The child is reaped by `wait4` (std's `wait` would not give its rusage).
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command, out: &Path) -> (Cost, i32) {
    let file = std::fs::File::create(out).expect("stdout file");
    let started = Instant::now();
    let child = cmd.stdout(Stdio::from(file)).stderr(Stdio::piped()).spawn().expect("start cw-host");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for the child we just started.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    if code != 0 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        eprintln!("cw-host exited {code}: {err}");
    }
    let cost = Cost { user: tv(usage.ru_utime), sys: tv(usage.ru_stime), wall, peak_rss_kib: usage.ru_maxrss as u64 };
    (cost, code)
}

/// The number of entries of the JSON object in `path`, read as a stream.
fn count_entries(path: &Path) -> usize {
    struct Count(usize);
    impl<'de> serde::Deserialize<'de> for Count {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Count;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Count, A::Error> {
                    let mut n = 0;
                    while a.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    Ok(Count(n))
                }
            }
            d.deserialize_map(V)
        }
    }
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("index file"));
    serde_json::from_reader::<_, Count>(file).expect("the index is a JSON object").0
}

fn bin(env: &str, name: &str) -> PathBuf {
    find_bin(env, name).unwrap_or_else(|p| {
        eprintln!(
            "{} not found; build it with `cargo build --release -p cw-host -p trakt-emulator` or set {env}",
            p.display()
        );
        std::process::exit(2);
    })
}

/// `$env`, else `target/release/NAME`; `Err(path looked at)` when that is no file.
fn find_bin(env: &str, name: &str) -> Result<PathBuf, PathBuf> {
    if let Ok(p) = std::env::var(env) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(p) };
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let p = target.join("release").join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(p)
    }
}

/// A running `trakt-emulator` process (killed on drop).
struct EmulatorProcess {
    child: std::process::Child,
    banner: Value,
}

impl EmulatorProcess {
    // The child is killed and reaped by `Drop` (or before the panic below).
    #[allow(clippy::zombie_processes)]
    fn start(exe: &Path, seed: &Path) -> EmulatorProcess {
        let mut child = Command::new(exe)
            .args(["--port", "0", "--seed"])
            .arg(seed)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start trakt-emulator");
        // The banner is one pretty-printed JSON object: read until it parses.
        let mut text = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        loop {
            use std::io::BufRead;
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("trakt-emulator ended before its banner: {text}");
            }
            text.push_str(&line);
            if let Ok(banner) = serde_json::from_str::<Value>(&text) {
                return EmulatorProcess { child, banner };
            }
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One library to index, and what to index of it.
struct Scenario {
    name: &'static str,
    feature: &'static str,
    items: usize,
    seed: fn(usize) -> Library,
}

fn history(n: usize) -> Library {
    Library::history_sample(n)
}

/// `n` movies and shows on the watchlist (the shape of `Library::sample`).
fn watchlist(n: usize) -> Library {
    let mut lib = Library::sample(n - 100, 100);
    lib.watchlist.truncate(n);
    lib.ratings.clear();
    lib.history.clear();
    lib
}

/// `n` rated movies, one a minute, newest first.
fn ratings(n: usize) -> Library {
    let mut lib = Library::sample(n, 0);
    lib.watchlist.clear();
    lib.history.clear();
    let newest = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    lib.ratings = (0..n)
        .map(|i| Rating {
            kind: MediaType::Movie,
            trakt: i as u64 + 1,
            rating: (i % 10) as u8 + 1,
            rated_at: Timestamp(newest - 60 * i as i64),
        })
        .collect();
    lib
}

const SCENARIOS: &[Scenario] = &[
    Scenario { name: "history", feature: "history", items: 1_000, seed: history },
    Scenario { name: "history", feature: "history", items: 20_000, seed: history },
    Scenario { name: "history", feature: "history", items: 100_000, seed: history },
    Scenario { name: "watchlist", feature: "watchlist", items: 5_000, seed: watchlist },
    Scenario { name: "ratings", feature: "ratings", items: 10_000, seed: ratings },
];

struct Args {
    runs: usize,
    only: Vec<String>,
    component: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args { runs: 1, only: Vec::new(), component: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => a.runs = it.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0).expect("--runs N"),
            "--only" => a.only.extend(it.next().expect("--only NAME[,NAME]").split(',').map(str::to_string)),
            "--component" => a.component = Some(PathBuf::from(it.next().expect("--component FILE"))),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

struct Row {
    label: String,
    items: usize,
    requests: usize,
    cost: Cost,
}

/// One index run: its row and its requests as the ledger lists them ("METHOD path status").
struct Measured {
    row: Row,
    wire: Vec<String>,
}

/// The requests of a `--ledger` file, in order.
fn ledger_wire(path: &Path) -> Vec<String> {
    let ledger: Value = serde_json::from_slice(&std::fs::read(path).expect("ledger")).expect("the ledger is JSON");
    let entries = ledger.as_array().expect("the ledger is an array");
    entries.iter().map(|e| format!("{} {} {}", e["method"], e["path"], e["status"])).collect()
}

/// What runs `index FEATURE`: the component in cw-host, or the plugin's code natively.
#[derive(Clone, Copy, PartialEq)]
enum Runner {
    CwHost,
    Native,
}

/// The best cw-host and native runs of one scenario, cold and cached.
struct Compared {
    wasm: [Option<Measured>; 2],
    native: [Option<Measured>; 2],
}

fn print_native_header() {
    println!(
        "{:<24} {:>12} {:>10} {:>12} {:>15} {:>14}",
        "scenario", "native_cpu_s", "wasm_cpu_s", "wasm/native", "native_us/item", "requests_equal"
    );
}

fn print_native_row(wasm: &Measured, native: &Measured) {
    let (w, n) = (wasm.row.cost.cpu().as_secs_f64(), native.row.cost.cpu().as_secs_f64());
    println!(
        "{:<24} {:>12.3} {:>10.3} {:>12.2} {:>15.2} {:>14}",
        wasm.row.label,
        n,
        w,
        w / n.max(1e-6),
        n * 1e6 / native.row.items.max(1) as f64,
        if wasm.wire == native.wire { "yes" } else { "no" },
    );
}

fn print_header() {
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8}",
        "scenario", "items", "requests", "cpu_s", "user_s", "sys_s", "us/item", "rss_mib", "wall_s"
    );
}

fn print_row(r: &Row) {
    let c = r.cost;
    println!(
        "{:<24} {:>8} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>9.2} {:>9.1} {:>8.3}",
        r.label,
        r.items,
        r.requests,
        c.cpu().as_secs_f64(),
        c.user.as_secs_f64(),
        c.sys.as_secs_f64(),
        c.cpu().as_secs_f64() * 1e6 / r.items.max(1) as f64,
        c.peak_rss_kib as f64 / 1024.0,
        c.wall.as_secs_f64(),
    );
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{model}, {cores} cores")
}

/// What the index runs of every scenario share.
struct Bench<'a> {
    emulator_exe: PathBuf,
    work: &'a Path,
    /// `cw-host --cache-dir ... [--config FILE]`.
    cw_host: &'a dyn Fn(Option<&Path>) -> Command,
    native: Result<PathBuf, PathBuf>,
}

impl Bench<'_> {
    /// Run `index FEATURE` of `s` by `runner` cold (an empty state directory) then cached (the
    /// same directory again) on a fresh emulator seeded from `seed_file`; keep each run in
    /// `best` when it used less CPU than the one there.
    fn index_runs(&self, s: &Scenario, seed_file: &Path, run: usize, runner: Runner, best: &mut [Option<Measured>; 2]) {
        let emu = EmulatorProcess::start(&self.emulator_exe, seed_file);
        let tag = if runner == Runner::Native { "-native" } else { "" };
        let dir = self.work.join(format!("{}-{}-{run}{tag}", s.name, s.items));
        std::fs::create_dir_all(&dir).expect("run dir");
        let mut trakt = emu.banner["config"]["trakt"].clone();
        trakt["rate_limit"] = json!({"enabled": false});
        let config = dir.join("config.json");
        std::fs::write(&config, serde_json::to_vec_pretty(&json!({"trakt": trakt})).expect("config")).expect("config");
        let state = dir.join("state");
        let out = dir.join("stdout.json");
        // Settles the token (a refresh when the seed's has expired) outside the figures; the
        // native runner then reads the token cw-host saved into the config.
        let (_, code) = measure((self.cw_host)(Some(&config)).arg("--state-dir").arg(&state).arg("health"), &out);
        assert_eq!(code, 0, "cw-host health failed");
        for (slot, label) in ["cold", "cached"].iter().enumerate() {
            let ledger = dir.join(format!("ledger-{label}.json"));
            let mut cmd = match (runner, &self.native) {
                (Runner::Native, Ok(exe)) => {
                    let mut c = Command::new(exe);
                    c.arg("--config").arg(&config).args(["--log-level", "error"]);
                    c
                }
                _ => (self.cw_host)(Some(&config)),
            };
            cmd.arg("--state-dir").arg(&state).arg("--ledger").arg(&ledger).args(["index", s.feature]);
            let (cost, code) = measure(&mut cmd, &out);
            assert_eq!(code, 0, "index {} failed", s.feature);
            let items = count_entries(&out);
            assert_eq!(items, s.items, "{} {}: index size", s.name, label);
            let wire = ledger_wire(&ledger);
            let row =
                Row { label: format!("{} {} {label}", s.name, short(s.items)), items, requests: wire.len(), cost };
            if best[slot].as_ref().is_none_or(|b| row.cost.cpu() < b.row.cost.cpu()) {
                best[slot] = Some(Measured { row, wire });
            }
        }
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let [_, flag, name, items, file] = argv.as_slice() {
        if flag == "--write-seed" {
            let s = SCENARIOS.iter().find(|s| s.name == name).expect("scenario");
            let lib = (s.seed)(items.parse().expect("items"));
            std::fs::write(file, serde_json::to_vec(&lib).expect("seed JSON")).expect("write seed");
            return;
        }
    }
    let a = args();
    let cw_host = bin("CW_HOST_BIN", "cw-host");
    let emulator_exe = bin("TRAKT_EMULATOR_BIN", "trakt-emulator");
    let work = tempfile::tempdir().expect("temp dir");
    let cache_dir = work.path().join("component-cache");
    let base_cmd = |config: Option<&Path>| {
        let mut c = Command::new(&cw_host);
        c.arg("--cache-dir").arg(&cache_dir).args(["--log-level", "error"]);
        if let Some(config) = config {
            c.arg("--config").arg(config);
        }
        if let Some(file) = &a.component {
            c.arg("--component").arg(file);
        }
        c
    };
    let component = match &a.component {
        Some(f) => format!("{} ({} bytes)", f.display(), std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)),
        None => format!(
            "cw-host's own ({} bytes as this tree builds it)",
            trakt_adapter_artifacts::TRAKT_ADAPTER_WASM.len()
        ),
    };
    println!("cw-host bench | {} | component {component} | pacing off | best of {} run(s)", machine(), a.runs);

    // The first manifest compiles the component into the cache; the next ones load it.
    let out = work.path().join("stdout.json");
    let (_, code) = measure(base_cmd(None).arg("manifest"), &out);
    assert_eq!(code, 0, "cw-host manifest failed");
    print_header();
    let mut best: Option<Row> = None;
    for _ in 0..a.runs.max(3) {
        let (cost, _) = measure(base_cmd(None).arg("manifest"), &out);
        if best.as_ref().is_none_or(|b| cost.cpu() < b.cost.cpu()) {
            best = Some(Row { label: "manifest cached".into(), items: 1, requests: 0, cost });
        }
    }
    print_row(&best.expect("one run"));

    let bench = Bench {
        emulator_exe,
        work: work.path(),
        cw_host: &base_cmd,
        native: find_bin("TRAKT_ADAPTER_NATIVE_BIN", "trakt-adapter-native"),
    };
    let mut compared = Vec::new();
    for s in SCENARIOS {
        if !a.only.is_empty() && !a.only.iter().any(|o| o == s.name || o == s.feature) {
            continue;
        }
        let seed_file = work.path().join(format!("seed-{}-{}.json", s.name, s.items));
        let status = Command::new(std::env::current_exe().expect("this bench"))
            .args(["--write-seed", s.name, &s.items.to_string()])
            .arg(&seed_file)
            .status()
            .expect("write the seed");
        assert!(status.success(), "writing the seed failed");
        let mut best = Compared { wasm: [None, None], native: [None, None] };
        for run in 0..a.runs {
            bench.index_runs(s, &seed_file, run, Runner::CwHost, &mut best.wasm);
            if bench.native.is_ok() {
                bench.index_runs(s, &seed_file, run, Runner::Native, &mut best.native);
            }
        }
        for m in best.wasm.iter().flatten() {
            print_row(&m.row);
        }
        compared.push(best);
    }
    match &bench.native {
        Ok(_) => {
            println!();
            print_native_header();
            for c in &compared {
                for (w, n) in c.wasm.iter().zip(&c.native) {
                    if let (Some(w), Some(n)) = (w, n) {
                        print_native_row(w, n);
                    }
                }
            }
        }
        Err(p) => println!(
            "\nno native table: {} not found (cargo build --release -p trakt-adapter-native, or set TRAKT_ADAPTER_NATIVE_BIN)",
            p.display()
        ),
    }
}

fn short(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}
