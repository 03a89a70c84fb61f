//! The plugin's code built natively (`trakt-adapter-native`, host-harness/native-runner) does
//! the same work as the component in `cw-host`: for the same seeded emulator and config it
//! prints byte-identical index JSON, cold and from its caches, with the same requests on the
//! wire. So the benchmark's native-vs-wasm ratio (tests/benches/cw_host.rs) compares like with
//! like.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use e2e_tests::{Harness, Run};
use serde_json::{json, Value};
use trakt_emulator::{Library, MediaType, Rating, Timestamp};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `trakt-adapter-native ARGS`, in-process.
fn native(args: &[&str]) -> Run {
    let (out, err) = (Capture::default(), Capture::default());
    let io = trakt_adapter_native::Io { stdout: Box::new(out.clone()), stderr: Box::new(err.clone()) };
    let argv = std::iter::once("trakt-adapter-native").chain(args.iter().copied());
    let code = trakt_adapter_native::run(argv, io);
    let text = |c: &Capture| String::from_utf8_lossy(&c.0.lock().unwrap()).into_owned();
    Run { code, stdout: text(&out), stderr: text(&err) }
}

/// The emulator's requests since `from`, as "METHOD path?query status".
fn wire_since(h: &Harness, from: usize) -> Vec<String> {
    h.requests()[from..].iter().map(|r| format!("{} {}?{} {}", r.method, r.path, r.query, r.status)).collect()
}

/// Index `feature` twice (cold, then from the state the first run left) with cw-host and
/// with the native runner, each in a state directory of its own; both must print the same
/// bytes and send the same requests. Returns cw-host's cold index.
fn same_index(h: &Harness, feature: &str, expected_entries: usize) -> Value {
    let wasm_state = h.dir.path().join("state-wasm");
    let native_state = h.dir.path().join("state-native");
    let config = h.config_path().display().to_string();
    let mut cold = Value::Null;
    for pass in ["cold", "cached"] {
        let before = h.requests().len();
        let wasm = h.cw_host(&["--state-dir", wasm_state.to_str().unwrap(), "index", feature], "");
        assert_eq!(wasm.code, 0, "cw-host index {feature} {pass}: {wasm:#?}");
        let wasm_wire = wire_since(h, before);
        let before = h.requests().len();
        let nat = native(&["--config", &config, "--state-dir", native_state.to_str().unwrap(), "index", feature]);
        assert_eq!(nat.code, 0, "native index {feature} {pass}: {nat:#?}");
        let native_wire = wire_since(h, before);
        assert!(wasm.stdout == nat.stdout, "{feature} {pass}: the native runner printed another index");
        assert_eq!(native_wire, wasm_wire, "{feature} {pass}: other requests");
        let v = wasm.json();
        assert_eq!(v.as_object().map(|m| m.len()), Some(expected_entries), "{feature} {pass}: {v}");
        if pass == "cold" {
            cold = v;
        }
    }
    assert_state_files_alike(&wasm_state, &native_state, feature);
    cold
}

/// The same state file names in both directories (the caches the cached pass read).
fn assert_state_files_alike(a: &Path, b: &Path, feature: &str) {
    let names = |d: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        n.sort();
        n
    };
    let (wasm, native) = (names(a), names(b));
    assert!(wasm.iter().any(|n| n.contains(feature)), "{feature}: no state file written: {wasm:?}");
    assert_eq!(native, wasm, "{feature}: state files");
}

#[test]
fn native_runner_prints_the_same_watchlist_and_ratings_as_cw_host() {
    // 634 watchlist entries (three pages of 250) and 604 ratings of four types.
    let mut lib = Library::sample(600, 30);
    lib.ratings.retain(|r| r.kind != MediaType::Movie);
    let newest = 1_767_225_600i64;
    lib.ratings.extend((0..600).map(|i| Rating {
        kind: MediaType::Movie,
        trakt: i + 1,
        rating: (i % 10) as u8 + 1,
        rated_at: Timestamp(newest - 60 * i as i64),
    }));
    let h = Harness::new(lib);
    h.write_config(json!({"rate_limit": {"enabled": false}}));
    let watchlist = same_index(&h, "watchlist", 634);
    assert!(watchlist.as_object().unwrap().values().any(|i| i["type"] == "episode"), "{watchlist}");
    let ratings = same_index(&h, "ratings", 604);
    assert!(ratings.as_object().unwrap().values().all(|i| i["rating"].is_u64()), "{ratings}");
}

#[test]
fn native_runner_prints_the_same_history_as_cw_host() {
    // 1,200 plays: five pages; the cached pass reads the history cache.
    let h = Harness::new(Library::history_sample(1200));
    h.write_config(json!({"rate_limit": {"enabled": false}}));
    let history = same_index(&h, "history", 1200);
    assert!(history.as_object().unwrap().values().any(|i| i["type"] == "episode"), "{history}");
}

#[test]
fn native_runner_refuses_bad_input_clearly() {
    let h = Harness::new(Library::sample(3, 1));
    let config = h.config_path().display().to_string();
    let run = native(&["--config", &config, "index", "bookmarks"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("unknown feature \"bookmarks\""), "{run:#?}");

    let empty = h.dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"trakt": {}}"#).unwrap();
    let run = native(&["--config", empty.to_str().unwrap(), "index", "watchlist"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("no client id: pass --client-id"), "{run:#?}");

    // A token Trakt does not know: a 401 that is not refreshed here, an adapter error (exit 1).
    let run = native(&["--config", &config, "--access-token", "wrong", "index", "watchlist"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("auth"), "{run:#?}");
    assert_eq!(run.json()["ok"], false, "{run:#?}");
}
