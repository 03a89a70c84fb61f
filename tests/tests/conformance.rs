//! The Rust runner of the conformance suite (`tests/conformance/README.md`): every scenario
//! of `tests/conformance/scenarios` through `cw-host` (the CLI in-process, the real
//! component) against the emulator, checking outputs, the request log, config.json, the state
//! files and the log. The Node runner (host-harness/node/test/conformance-runner.mjs)
//! executes the same files.

use std::path::{Path, PathBuf};

use e2e_tests::{cache_dir, run_cli};
use serde_json::{json, Map, Value};
use trakt_adapter_artifacts::HOSTILE_COMPONENT_WASM;
use trakt_emulator::{load_seed, trakt_block, Emulator, EmulatorConfig, Fault, Library};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance").join("scenarios")
}

fn substitute(v: &Value, vars: &[(String, String)]) -> Value {
    match v {
        Value::String(s) => {
            let mut out = s.clone();
            for (k, val) in vars {
                out = out.replace(&format!("{{{k}}}"), val);
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), substitute(x, vars))).collect()),
        other => other.clone(),
    }
}

/// `a.b.0.c`; a `$json` segment parses the string reached so far.
fn resolve(v: &Value, path: &str) -> Option<Value> {
    let mut cur = v.clone();
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        cur = if seg == "$json" {
            serde_json::from_str(cur.as_str()?).ok()?
        } else {
            match &cur {
                Value::Object(m) => m.get(seg)?.clone(),
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?.clone(),
                _ => return None,
            }
        };
    }
    Some(cur)
}

fn holds(got: &Option<Value>, needle: &Value) -> bool {
    match (got, needle) {
        (Some(Value::String(s)), Value::String(n)) => s.contains(n.as_str()),
        (Some(Value::Array(a)), n) => a.contains(n),
        _ => false,
    }
}

fn check(v: &Value, c: &Value, at: &str) -> Result<(), String> {
    let path = c["path"].as_str().unwrap_or("");
    let got = resolve(v, path);
    let show = || {
        format!(
            "{at}: {} = {}",
            if path.is_empty() { "(value)" } else { path },
            got.as_ref().map_or("undefined".into(), |g| g.to_string().chars().take(400).collect::<String>())
        )
    };
    if let Some(want) = c.get("equals") {
        if got.as_ref() != Some(want) {
            return Err(format!("{}, expected {want}", show()));
        }
    }
    if let Some(want) = c.get("not_equals") {
        if got.as_ref() == Some(want) {
            return Err(format!("{}, expected anything else", show()));
        }
    }
    if let Some(n) = c.get("contains") {
        if !holds(&got, n) {
            return Err(format!("{}, expected it to contain {n}", show()));
        }
    }
    if let Some(n) = c.get("not_contains") {
        if holds(&got, n) {
            return Err(format!("{}, expected it not to contain {n}", show()));
        }
    }
    if let Some(n) = c.get("len").and_then(Value::as_u64) {
        let len = match &got {
            Some(Value::Array(a)) => Some(a.len()),
            Some(Value::Object(m)) => Some(m.len()),
            Some(Value::String(s)) => Some(s.chars().count()),
            _ => None,
        };
        if len != Some(n as usize) {
            return Err(format!("{}, expected length {n} (got {len:?})", show()));
        }
    }
    Ok(())
}

fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    list(v, key).iter().filter_map(|x| x.as_str().map(str::to_string)).collect()
}

fn run(name: &str, raw: &Value) -> Result<(), String> {
    let seed = match raw.get("seed") {
        Some(s) => Library::from_json(&s.to_string())?,
        None => load_seed(None)?,
    };
    let emu = Emulator::start(EmulatorConfig { seed, ..EmulatorConfig::default() }).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state_dir = dir.path().join("state");
    let initial = trakt_block(&emu, &emu.credentials());
    let mut vars = vec![
        ("emulator".to_string(), emu.url()),
        ("emulator_authority".to_string(), emu.url().trim_start_matches("http://").to_string()),
        ("state_dir".to_string(), state_dir.display().to_string()),
    ];
    for (k, v) in initial.as_object().expect("a block") {
        vars.push((format!("initial.{k}"), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
    }
    let s = substitute(raw, &vars);

    let mut trakt: Map<String, Value> = initial.as_object().cloned().unwrap_or_default();
    trakt.insert("timeout".into(), json!(10));
    trakt.insert("max_retries".into(), json!(3));
    trakt.insert("rate_limit".into(), json!({"enabled": false}));
    if let Some(Value::Object(extra)) = s.get("trakt") {
        trakt.extend(extra.clone());
    }
    if let Some(p) = s["api_path"].as_str() {
        trakt.insert("api_url".into(), json!(format!("{}{p}", emu.url())));
    }
    let config = dir.path().join("config.json");
    let cfg = json!({"version": 1, "plex": {"account_token": "plex-secret"}, "trakt": trakt});
    std::fs::write(&config, serde_json::to_vec_pretty(&cfg).unwrap()).map_err(|e| e.to_string())?;
    let made = strs(&s["setup"], "state_dirs");
    for d in &made {
        std::fs::create_dir_all(state_dir.join(d)).map_err(|e| e.to_string())?;
    }
    for f in list(&s, "faults") {
        emu.inject(serde_json::from_value::<Fault>(f.clone()).map_err(|e| format!("fault {f}: {e}"))?);
    }

    let mut global: Vec<String> = vec![
        "cw-host".into(),
        "--config".into(),
        config.display().to_string(),
        "--state-dir".into(),
        state_dir.display().to_string(),
        "--cache-dir".into(),
        cache_dir().display().to_string(),
        "--log-level".into(),
        "debug".into(),
    ];
    if s["component"].as_str() == Some("hostile") {
        let file = dir.path().join("hostile_component.wasm");
        std::fs::write(&file, HOSTILE_COMPONENT_WASM).map_err(|e| e.to_string())?;
        global.extend(["--component".into(), file.display().to_string()]);
    }
    if let Some(t) = s["host"]["call_timeout_secs"].as_u64() {
        global.extend(["--call-timeout".into(), t.to_string()]);
    }
    let mut log = String::new();
    for (i, c) in list(&s, "calls").into_iter().enumerate() {
        let command = c["command"].as_str().unwrap_or("");
        let mut argv = global.clone();
        argv.push(command.into());
        if let Some(f) = c["feature"].as_str() {
            argv.push(f.into());
        }
        if c["dry_run"].as_bool() == Some(true) {
            argv.push("--dry-run".into());
        }
        let stdin = c.get("items").map(Value::to_string).unwrap_or_default();
        let r = run_cli(argv, &stdin);
        log.push_str(&r.stderr);
        let out: Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|_| json!({"usage_error": r.stderr.trim(), "code": r.code}));
        for e in list(c, "expect") {
            check(&out, e, &format!("{name}: call {i} ({command})"))?;
        }
    }

    let requests: Vec<Value> = emu.requests().iter().map(|r| serde_json::to_value(r).unwrap()).collect();
    for r in list(&s, "requests") {
        let hits: Vec<&Value> = requests
            .iter()
            .filter(|x| r["method"].as_str().is_none_or(|m| x["method"] == m))
            .filter(|x| r["path"].as_str().is_none_or(|p| x["path"] == p))
            .collect();
        let what =
            format!("{name}: requests {} {}", r["method"].as_str().unwrap_or("*"), r["path"].as_str().unwrap_or("*"));
        if let Some(n) = r["count"].as_u64() {
            if hits.len() as u64 != n {
                let seen: Vec<String> =
                    requests.iter().map(|x| format!("{} {} {}", x["method"], x["path"], x["status"])).collect();
                return Err(format!("{what}: {}, expected {n}: {seen:?}", hits.len()));
            }
        }
        for h in hits {
            let header = |k: &str| {
                list(h, "headers")
                    .into_iter()
                    .find(|p| p[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(k)))
                    .map(|p| p[1].clone())
            };
            if let Some(Value::Object(want)) = r.get("headers") {
                for (k, v) in want {
                    if header(k).as_ref() != Some(v) {
                        return Err(format!("{what}: header {k} = {:?}, expected {v}", header(k)));
                    }
                }
            }
            for k in strs(r, "headers_absent") {
                if let Some(v) = header(&k) {
                    return Err(format!("{what}: header {k} present ({v})"));
                }
            }
        }
    }
    if s.get("config").is_some() {
        let after: Value =
            serde_json::from_slice(&std::fs::read(&config).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        for c in list(&s, "config") {
            check(&after, c, &format!("{name}: config.json"))?;
        }
    }
    if let Some(sf) = s.get("state_files") {
        let names: Vec<String> = std::fs::read_dir(&state_dir)
            .map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| !made.contains(n)).collect())
            .unwrap_or_default();
        if sf["empty"].as_bool() == Some(true) && !names.is_empty() {
            return Err(format!("{name}: state files {names:?}, expected none"));
        }
        if sf["not_empty"].as_bool() == Some(true) && names.is_empty() {
            return Err(format!("{name}: no state files, expected some"));
        }
        for p in strs(sf, "none_start_with") {
            if names.iter().any(|n| n.starts_with(&p)) {
                return Err(format!("{name}: state files {names:?}: one starts with {p}"));
            }
        }
    }
    if let Some(l) = s.get("log") {
        let lines: Vec<&str> = log.lines().collect();
        let control = |c: char| c.is_control() && c != '\n';
        if l["no_control_chars"].as_bool() == Some(true) {
            if let Some(bad) = lines.iter().find(|x| x.chars().any(control)) {
                return Err(format!("{name}: a log line holds a control character: {bad:?}"));
            }
        }
        for p in strs(l, "no_line_starts_with") {
            if lines.iter().any(|x| x.starts_with(&p)) {
                return Err(format!("{name}: a log line starts with {p}"));
            }
        }
        for t in strs(l, "contains") {
            if !lines.iter().any(|x| x.contains(&t)) {
                return Err(format!("{name}: no log line contains {t}: {log}"));
            }
        }
    }
    emu.shutdown();
    Ok(())
}

#[test]
fn every_conformance_scenario_passes_in_cw_host() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("tests/conformance/scenarios")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "the scenarios are missing: {names:?}");
    let failures: Vec<String> = names
        .iter()
        .filter_map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let raw: Value =
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
            run(&name, &raw).err()
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} scenarios failed:\n{}", failures.len(), names.len(), failures.join("\n"));
}
