//! The `cw-host` binary as scripts outside this repository use it: separate processes, real
//! exit statuses, JSON on stdout. `cw-host emulator` serves; `cw-host index` reads from it
//! through `--api-url` alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const CW_HOST: &str = env!("CARGO_BIN_EXE_cw-host");

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `cw-host emulator` and read the JSON object it prints first.
fn start_emulator(seed: Option<&std::path::Path>) -> (Killed, Value) {
    let mut cmd = Command::new(CW_HOST);
    cmd.args(["emulator", "--port", "0"]).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(seed) = seed {
        cmd.arg("--seed").arg(seed);
    }
    let mut child = cmd.spawn().expect("spawn cw-host emulator");
    let stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    let mut reader = BufReader::new(stdout);
    // The pretty-printed object ends with a line holding only "}".
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("cw-host emulator exited early; printed {text:?}");
        }
        text.push_str(&line);
        if line.trim_end() == "}" {
            break;
        }
    }
    (Killed(child), serde_json::from_str(&text).expect("emulator prints JSON"))
}

#[test]
fn index_against_a_server_given_only_by_api_url() {
    let seed_dir = tempfile::tempdir().unwrap();
    let seed = seed_dir.path().join("seed.json");
    let movies: Vec<Value> = (1..=260)
        .map(|i| serde_json::json!({"title": format!("Film {i}"), "year": 2000, "ids": {"trakt": i, "tmdb": 5000 + i}}))
        .collect();
    let watchlist: Vec<Value> = (1..=260).map(|i| serde_json::json!({"type": "movie", "trakt": i})).collect();
    std::fs::write(&seed, serde_json::json!({"catalog": {"movies": movies}, "watchlist": watchlist}).to_string())
        .unwrap();
    let (_emulator, info) = start_emulator(Some(&seed));
    let url = info["url"].as_str().unwrap().to_string();

    // A config with credentials and no origins at all: the flag alone says where Trakt is.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let mut trakt = info["config"]["trakt"].clone();
    trakt.as_object_mut().unwrap().remove("api_url");
    trakt.as_object_mut().unwrap().remove("auth_url");
    std::fs::write(&config, serde_json::json!({"trakt": trakt}).to_string()).unwrap();

    let out = Command::new(CW_HOST)
        .arg("--config")
        .arg(&config)
        .args(["--api-url", &url, "--no-cache", "index", "watchlist"])
        .output()
        .expect("run cw-host index");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let index: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    let index = index.as_object().unwrap();
    assert_eq!(index.len(), 260);
    assert_eq!(index["tmdb:5260"]["title"], "Film 260");
    assert!(String::from_utf8_lossy(&out.stderr).contains("index_done count=260"));
    // State went beside the config file, as CrossWatch keeps it.
    assert!(!dir.path().join(".cw_state").exists() || dir.path().join(".cw_state").is_dir());

    let text = ureq::get(format!("{url}/_emulator/requests")).call().unwrap().body_mut().read_to_string().unwrap();
    let log: Value = serde_json::from_str(&text).unwrap();
    let pages = log.as_array().unwrap().iter().filter(|r| r["path"] == "/sync/watchlist").count();
    assert_eq!(pages, 2, "260 items, pages of 250");
}

#[test]
fn exit_statuses_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.json");
    let run = |args: &[&str]| Command::new(CW_HOST).args(args).output().unwrap();

    let out = run(&["--config", missing.to_str().unwrap(), "--no-cache", "manifest"]);
    assert_eq!(out.status.code(), Some(0));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["name"], "TRAKT");

    let out = run(&["--config", missing.to_str().unwrap(), "index", "watchlist"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));

    let out = run(&["bogus"]);
    assert_eq!(out.status.code(), Some(2));

    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("emulator"));

    // A reachable config whose server is down: the adapter reports a transport error.
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"trakt":{"client_id":"x","access_token":"y","api_url":"http://127.0.0.1:9","max_retries":1}}"#,
    )
    .unwrap();
    let out = run(&["--config", config.to_str().unwrap(), "--no-cache", "index", "watchlist"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "transport");
}
