//! Shared set-up for the end-to-end tests: an emulator seeded with a library, a CrossWatch
//! config pointing at it, and the `cw-host` command line run in-process against the real
//! compiled component.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use trakt_emulator::{Emulator, EmulatorConfig, Library, LoggedRequest};

/// Compiled components are cached across the tests and runs, as a user's cw-host would: one
/// directory in the Cargo target directory (`target/debug/e2e-component-cache`), so nothing is
/// left behind in the system's temp directory. Entries are named by the component's digest and
/// written atomically (host-harness/host/src/engine.rs), so test processes share it safely.
pub fn cache_dir() -> PathBuf {
    // The test binary runs from target/<profile>/deps/; fall back to the temp dir elsewhere.
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|profile_dir| profile_dir.join("e2e-component-cache")))
        .unwrap_or_else(|| std::env::temp_dir().join("cw-host-e2e-component-cache"));
    std::fs::create_dir_all(&dir).expect("create the test cache dir");
    dir
}

/// The emulator's current credentials as a host holds them (the CLI's demo needs the same).
pub use cw_host::host_credentials;

/// What one `cw-host` run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON; panics with the whole run when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

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

/// An emulator plus a config directory for one test.
pub struct Harness {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub fn new(library: Library) -> Harness {
        Harness::with_config(EmulatorConfig { seed: library, ..EmulatorConfig::default() })
    }

    pub fn with_config(config: EmulatorConfig) -> Harness {
        let emulator = Emulator::start(config).expect("start the emulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let h = Harness { emulator, dir };
        h.write_config(json!({}));
        h
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config").join("config.json")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("config").join(".cw_state")
    }

    /// Write config.json: the emulator's credentials and origins plus `extra` keys merged
    /// into the `trakt` block.
    pub fn write_config(&self, extra: Value) {
        let c = self.emulator.credentials();
        let mut trakt = json!({
            "client_id": c.client_id, "client_secret": c.client_secret,
            "access_token": c.access_token, "refresh_token": c.refresh_token, "expires_at": c.expires_at,
            "api_url": self.emulator.url(), "auth_url": self.emulator.url(),
        });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                trakt[k] = v;
            }
        }
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_vec_pretty(&json!({"version": 1, "trakt": trakt})).unwrap()).unwrap();
    }

    /// Run `cw-host --config <this config> --cache-dir <shared> ARGS` with `stdin`.
    pub fn cw_host(&self, args: &[&str], stdin: &str) -> Run {
        let mut argv: Vec<String> = vec!["cw-host".into(), "--config".into(), self.config_path().display().to_string()];
        argv.push("--cache-dir".into());
        argv.push(cache_dir().display().to_string());
        argv.extend(args.iter().map(|s| s.to_string()));
        run_cli(argv, stdin)
    }

    /// POST `body` to the emulator as the user would from another app (a change made
    /// "elsewhere" on Trakt); the HTTP status.
    pub fn post_as_user(&self, path: &str, body: &Value) -> u16 {
        let c = self.emulator.credentials();
        let resp = ureq::post(format!("{}{path}", self.emulator.url()))
            .header("trakt-api-key", &c.client_id)
            .header("trakt-api-version", "2")
            .header("Authorization", &format!("Bearer {}", c.access_token))
            .header("Content-Type", "application/json")
            .config()
            .http_status_as_error(false)
            .build()
            .send(body.to_string())
            .expect("the emulator answers");
        resp.status().as_u16()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.emulator.requests()
    }

    /// Requests to `path` (exact path, any query), in order.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<LoggedRequest> {
        self.requests().into_iter().filter(|r| r.method == method && r.path == path).collect()
    }
}

/// Run the CLI in-process with captured streams.
pub fn run_cli(argv: Vec<String>, stdin: &str) -> Run {
    let out = Capture::default();
    let err = Capture::default();
    let io = cw_host::Io {
        stdin: Box::new(std::io::Cursor::new(stdin.as_bytes().to_vec())),
        stdout: Box::new(out.clone()),
        stderr: Box::new(err.clone()),
        exits_after: false,
    };
    let code = cw_host::run(argv, io);
    let text = |c: &Capture| String::from_utf8_lossy(&c.0.lock().unwrap()).into_owned();
    Run { code, stdout: text(&out), stderr: text(&err) }
}

/// Write `items` to a file in `dir` and return its path, for `add FEATURE FILE`.
pub fn items_file(dir: &Path, name: &str, items: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(items).unwrap()).unwrap();
    p
}
