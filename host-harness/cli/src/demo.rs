//! `cw-host demo`: the whole path on the built-in emulator, no setup, no network: health,
//! index, a real remove, a dry-run add (checked to send nothing) and the real add.

use std::io::Write;

use serde_json::{json, Value};

use crate::args::{GlobalArgs, EXIT_ADAPTER_ERROR, EXIT_OK};
use crate::commands::{describe, report_failure, Failure, Session};
use crate::io::Io;
use trakt_emulator::{Emulator, EmulatorConfig, Library};
use trakt_host::config::Credentials;
use trakt_host::items::item_from_json;
use trakt_host::runtime::Feature;

pub fn run(global: &GlobalArgs, mut io: Io) -> i32 {
    match demo(global, &mut io) {
        Ok(code) => code,
        Err(f) => report_failure(f, &mut io),
    }
}

fn demo(global: &GlobalArgs, io: &mut Io) -> Result<i32, Failure> {
    let emulator = Emulator::start(EmulatorConfig { seed: Library::sample(150, 30), ..EmulatorConfig::default() })
        .map_err(|e| Failure::Usage(format!("cannot start the emulator: {e}")))?;
    let dir = tempfile::tempdir().map_err(|e| Failure::Usage(format!("cannot create a temporary directory: {e}")))?;
    let config_path = dir.path().join("config.json");
    let c = emulator.credentials();
    let config = json!({"trakt": {
        "client_id": c.client_id, "client_secret": c.client_secret, "access_token": c.access_token,
        "refresh_token": c.refresh_token, "expires_at": c.expires_at, "api_url": emulator.url(), "auth_url": emulator.url(),
    }});
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).expect("JSON serialises"))
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", config_path.display())))?;
    let global = GlobalArgs { config: config_path, state_dir: None, api_url: None, auth_url: None, ..global.clone() };
    let stderr = std::mem::replace(&mut io.stderr, Box::new(std::io::sink()));
    let mut session = Session::open(&global, stderr, true)?;
    let out = &mut io.stdout;
    let _ = writeln!(out, "Trakt emulator on {} (sample library; nothing leaves this machine)", emulator.url());

    let health = session.health()?;
    let _ = writeln!(out, "1. health: {} in {} ms", health["status"].as_str().unwrap_or("?"), health["latency_ms"]);
    if health["ok"] != Value::Bool(true) {
        return Ok(EXIT_ADAPTER_ERROR);
    }

    let index = session.index(Feature::Watchlist)?;
    let entries = index.as_object().cloned().unwrap_or_default();
    let _ = writeln!(out, "2. index watchlist: {} items, e.g.", entries.len());
    for (key, item) in entries.iter().take(3) {
        let _ = writeln!(out, "     {key:<28} {}", describe(item));
    }

    // Two items of the watchlist and one Trakt does not know.
    let picked: Vec<Value> = entries.values().take(2).cloned().collect();
    if picked.len() < 2 {
        return Err(Failure::Usage("the sample library is unexpectedly small".into()));
    }
    let unknown = json!({"type": "movie", "title": "No Such Film", "year": 1901, "ids": {"tmdb": 999999991}});
    let to_items = |values: &[Value]| -> Result<Vec<_>, Failure> {
        values.iter().enumerate().map(|(i, v)| item_from_json(i, v).map_err(Failure::Usage)).collect()
    };

    let removed = session.write(true, Feature::Watchlist, &to_items(&picked)?, false)?;
    let _ = writeln!(out, "3. remove 2 items: confirmed {}", keys(&removed["confirmed_keys"]));

    let mut additions = picked.clone();
    additions.push(unknown);
    let additions = to_items(&additions)?;
    let posts_before = count_posts(&emulator);
    let dry = session.write(false, Feature::Watchlist, &additions, true)?;
    let sent = count_posts(&emulator) - posts_before;
    let planned = dry["requests"].as_array().map(Vec::len).unwrap_or(0);
    let _ = writeln!(out, "4. dry-run add of 3 items: {planned} request(s) planned, {sent} write(s) sent");
    if let Some(first) = dry["requests"].get(0) {
        let _ = writeln!(
            out,
            "     {} {} {}",
            first["method"].as_str().unwrap_or(""),
            first["path"].as_str().unwrap_or(""),
            first["body"]
        );
    }

    let added = session.write(false, Feature::Watchlist, &additions, false)?;
    let unresolved: Vec<String> = added["unresolved"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| format!("{} ({})", u["key"].as_str().unwrap_or(""), u["hint"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "5. add 3 items: confirmed {}; unresolved {}",
        keys(&added["confirmed_keys"]),
        if unresolved.is_empty() { "none".to_string() } else { unresolved.join(", ") }
    );

    let after = session.index(Feature::Watchlist)?;
    let count = after.as_object().map(|o| o.len()).unwrap_or(0);
    let same = count == entries.len();
    let _ =
        writeln!(out, "6. index again: {count} items ({})", if same { "back where we started" } else { "UNEXPECTED" });
    let _ = writeln!(out, "Requests the emulator saw: {}", emulator.requests().len());
    Ok(if same && sent == 0 && unresolved.len() == 1 { EXIT_OK } else { EXIT_ADAPTER_ERROR })
}

fn keys(v: &Value) -> String {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

fn count_posts(emulator: &Emulator) -> usize {
    emulator.requests().iter().filter(|r| r.method == "POST").count()
}

/// The emulator's current credentials as a host holds them (issue time unknown), for benches
/// and tools that instantiate the component against an emulator.
pub fn host_credentials(c: trakt_emulator::Credentials) -> Credentials {
    Credentials {
        client_id: c.client_id,
        client_secret: c.client_secret,
        access_token: c.access_token,
        refresh_token: c.refresh_token,
        expires_at: c.expires_at,
        created_at: 0,
    }
}
