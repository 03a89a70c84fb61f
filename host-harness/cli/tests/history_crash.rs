//! Crash safety of history adds, with real processes: a `cw-host add history` killed
//! after Trakt applied its POST and before the answer came, then a rerun; and connections
//! dropped before or after Trakt applied the POST. No play may be lost or duplicated.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trakt_emulator::{Emulator, EmulatorConfig, Fault, FaultAction, FaultWhen, Library};

const CW_HOST: &str = env!("CARGO_BIN_EXE_cw-host");

fn library() -> Library {
    Library::from_json(
        &json!({"catalog": {
            "movies": [
                {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "imdb": "tt0372784", "tmdb": 272}},
                {"title": "The Matrix", "year": 1999, "ids": {"trakt": 2, "imdb": "tt0133093", "tmdb": 603}}
            ],
            "shows": [{"title": "Breaking Bad", "year": 2008, "ids": {"trakt": 1, "tvdb": 81189, "tmdb": 1396},
                "seasons": [{"number": 1, "ids": {"trakt": 3950},
                    "episodes": [{"number": 1, "title": "Pilot", "ids": {"trakt": 16, "tvdb": 349232, "tmdb": 62085}}]}]}]
        }})
        .to_string(),
    )
    .unwrap()
}

fn plays() -> Value {
    json!([
        {"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2026-05-01T21:10:00Z"},
        {"type": "movie", "ids": {"tmdb": 272}, "watched_at": "2026-05-03T20:00:00Z"},
        {"type": "episode", "show_ids": {"tvdb": 81189}, "season": 1, "episode": 1, "ids": {"trakt": 16},
         "watched_at": "2026-05-02T01:30:00Z"}
    ])
}

struct Setup {
    emulator: Emulator,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let emulator = Emulator::start(EmulatorConfig { seed: library(), ..EmulatorConfig::default() }).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = emulator.credentials();
        let config = json!({"trakt": {
            "client_id": c.client_id, "client_secret": c.client_secret, "access_token": c.access_token,
            "refresh_token": c.refresh_token, "expires_at": c.expires_at,
            "api_url": emulator.url(), "auth_url": emulator.url(), "timeout": 2, "backoff_base_ms": 10,
        }});
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        std::fs::write(dir.path().join("plays.json"), plays().to_string()).unwrap();
        Setup { emulator, dir }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(CW_HOST);
        cmd.arg("--config").arg(self.dir.path().join("config.json")).arg("--no-cache");
        cmd.args(["add", "history"]).arg(self.dir.path().join("plays.json"));
        cmd
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join(".cw_state").join("trakt_history.journal.json")
    }

    fn plays_on_trakt(&self) -> usize {
        self.emulator.dump()["history"].as_array().map(Vec::len).unwrap_or(0)
    }

    fn history_posts(&self) -> usize {
        self.emulator.requests().iter().filter(|r| r.method == "POST" && r.path == "/sync/history").count()
    }

    /// Run `cw-host add history` to the end; its JSON report.
    fn add(&self) -> Value {
        let out = self.command().output().unwrap();
        assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn accounted(report: &Value) -> usize {
    report["confirmed_keys"].as_array().unwrap().len()
        + report["skipped_keys"].as_array().unwrap().len()
        + report["unresolved"].as_array().unwrap().len()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exists(p: &Path) -> bool {
    p.exists()
}

#[test]
fn a_process_killed_after_trakt_applied_the_add_loses_nothing_and_duplicates_nothing() {
    let s = Setup::new();
    // Trakt applies the POST at once but answers only after a minute: the process dies first.
    s.emulator.inject(Fault {
        when: FaultWhen { method: Some("POST".into()), path: Some("/sync/history".into()), ..FaultWhen::default() },
        action: FaultAction::Delay { ms: 60_000 },
    });
    let mut child = s.command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the POST to reach Trakt", || s.history_posts() == 1);
    assert!(exists(&s.journal()), "the batch was journaled before it was sent");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(s.plays_on_trakt(), 3, "Trakt applied the batch");
    s.emulator.clear_faults();

    let report = s.add();
    assert_eq!(accounted(&report), 3, "{report:#}");
    assert!(report["unresolved"].as_array().unwrap().is_empty(), "{report:#}");
    assert_eq!(s.history_posts(), 1, "nothing resent: the rerun found the plays on Trakt");
    assert_eq!(s.plays_on_trakt(), 3, "no duplicate");
    assert!(!exists(&s.journal()), "the journal is cleared once reconciled");
}

#[test]
fn a_connection_dropped_after_trakt_applied_the_add_is_reconciled_in_the_same_call() {
    let s = Setup::new();
    s.emulator.inject(Fault {
        when: FaultWhen { method: Some("POST".into()), path: Some("/sync/history".into()), ..FaultWhen::default() },
        action: FaultAction::ApplyThenDrop,
    });
    let report = s.add();
    assert_eq!(report["confirmed_keys"].as_array().unwrap().len(), 3, "{report:#}");
    assert_eq!(s.history_posts(), 1, "not resent");
    assert_eq!(s.plays_on_trakt(), 3);
    assert!(!exists(&s.journal()));
}

#[test]
fn a_connection_dropped_before_trakt_saw_the_add_is_sent_once_more() {
    let s = Setup::new();
    s.emulator.inject(Fault {
        when: FaultWhen { method: Some("POST".into()), path: Some("/sync/history".into()), ..FaultWhen::default() },
        action: FaultAction::DropConnection,
    });
    let report = s.add();
    assert_eq!(report["confirmed_keys"].as_array().unwrap().len(), 3, "{report:#}");
    assert_eq!(s.history_posts(), 2, "the dropped POST and one resend");
    assert_eq!(s.plays_on_trakt(), 3, "none lost, none doubled");
    // A rerun of the same plays sends nothing: they are all on Trakt.
    let again = s.add();
    assert_eq!(again["skipped_keys"].as_array().unwrap().len(), 3, "{again:#}");
    assert_eq!(s.history_posts(), 2);
    assert_eq!(s.plays_on_trakt(), 3);
}
