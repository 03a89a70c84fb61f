//! A hostile component of the `trakt-adapter` world, built only for the sandbox tests (never
//! shipped). `configure(options)` picks an attack from the JSON object
//! `{"attack": NAME, ...parameters}`; `build-index-json(any feature)` runs it and answers a
//! JSON text of what the guest observed, so a test in any host can assert on it; `health`
//! runs it too and puts the same text in the report's `message`.
//!
//! Attacks (parameters, all optional unless noted):
//! - `method`: `{"method": "TRACE", "url"}` sends that method to the API origin.
//! - `host_header`: `{"host": "other.example", "url"}` a signed GET with `Host` set.
//! - `framing`: `{"url", "method" ("GET"), "headers": [[k, v], ...], "body"}` a request with
//!   Content-Length / Transfer-Encoding / Connection / TE / Upgrade / Expect / Keep-Alive /
//!   Proxy-Authorization set by the guest and a body that holds a second request.
//! - `path_prefix`: `{"url"}` (required) a URL on the API origin outside its base path.
//! - `http`: `{"method", "url", "headers", "body"}` any one request.
//! - `log_forge`: logs feature, event, keys and values holding newlines, ANSI escapes and a
//!   fake `[TRAKT:auth] INFO token_refreshed` line, and prints the same to stdout and stderr.
//! - `state_error`: `{"name": "dir"}` reads and writes `name` (the test makes it a directory)
//!   and answers the error texts.
//! - `environment`: answers what WASI hands the guest: environment variables, arguments,
//!   the initial working directory and the first bytes of stdin (hosts give none of them).
//! - `spin`: a call that never returns (a busy loop in guest code): only the host's
//!   wall-clock bound (or fuel) stops it.
//! - `refresh_spam`: `{"count": 10}` calls `auth.refresh` that many times without a 401;
//!   with `"url"` it first sends one GET there (results[0]), e.g. to earn a 401.
//!
//! - `sleep`: `{"secs": 3600, "via": "duration" | "instant"}` one `wasi:clocks` sleep of that
//!   length (`subscribe-duration` or `subscribe-instant`, then `pollable.block`); answers
//!   `{"slept_ms"}` if it ever returns.
//! - `progress_flood`: `{"count"}` (default: no end) `progress.report` calls in a tight loop;
//!   answers `{"reports"}` if it ever ends.
//! - `state_flood`: `{"count": 5000}` writes that many empty state files (`f0`, `f1`, ...);
//!   answers `{"written", "error"}` (the first refusal, if any).
//! - `big_index`: `{"mib": 100}` answers, instead of the usual report, a JSON object of that
//!   many MiB of tiny entries (`{"k0":0,"k1":0,...}`) for the host to parse.
//!
//! - `stream_flood`: `{"part_kib": 1024}` `index-stream` parts of that size, no end.
//! - `stream_empty`: `index-stream` answers an empty part.
//! - `stream_cut`: `index-stream` answers the start of an object, then fails.
//!
//! Otherwise `index-stream` hands out `build-index-json`'s text in one part.
//!
//! `url` defaults to `<api_url>/sync/last_activities` (not for `refresh_spam`); `api_url`
//! defaults to `http://127.0.0.1:9`. Every request result is `{status, headers, body}` (body: the first
//! 4,000 characters) or `{error: {kind, message}}`.
//!
//! `table_grow` is not here: stable Rust has no way to emit `table.grow` on wasm32 (no
//! intrinsic in `core::arch::wasm32`, and inline assembly for wasm is unstable).
//!
//! Only the wasm32 build exports anything (a native cdylib cannot carry the component's
//! export names), so `cargo build --workspace` still links.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod bindings {
    wit_bindgen::generate!({
        world: "trakt-adapter-streaming",
        path: "../../wit",
        with: {
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
        },
    });
}

use std::cell::RefCell;

use bindings::crosswatch::sync::types as wit;
use bindings::crosswatch::sync::{auth, http, log, progress, state};
use bindings::exports::crosswatch::sync::sync_adapter::Guest;
use serde_json::{json, Value};

thread_local! {
    static OPTIONS: RefCell<Value> = RefCell::new(json!({}));
    /// What `open-index-json` made ready: `build-index-json`'s text, handed out once.
    static OPENED: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Parts handed out since the open.
    static PARTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The fake line a forged log entry tries to plant.
const FORGED: &str = "\n[TRAKT:auth] INFO token_refreshed reason=rejected\n";
/// ANSI escapes: clear screen, red, and an OSC window title.
const ANSI: &str = "\u{1b}[2J\u{1b}[31mred\u{1b}]0;owned\u{7}";
/// The request a framing attack hides in its body.
const SMUGGLED: &str =
    "GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nPOST /capture HTTP/1.1\r\n";

struct Component;

fn opt_str(o: &Value, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_string)
}

fn default_url(o: &Value) -> String {
    opt_str(o, "url").unwrap_or_else(|| {
        let base = opt_str(o, "api_url").unwrap_or_else(|| "http://127.0.0.1:9".into());
        format!("{}/sync/last_activities", base.trim_end_matches('/'))
    })
}

fn headers_of(o: &Value) -> Option<Vec<(String, String)>> {
    let list = o.get("headers")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|pair| {
                let pair = pair.as_array()?;
                Some((pair.first()?.as_str()?.to_string(), pair.get(1)?.as_str()?.to_string()))
            })
            .collect(),
    )
}

fn send(method: &str, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Value {
    let req = http::Request { method: method.into(), url: url.into(), headers, body, timeout_ms: 10_000 };
    match http::send(&req) {
        Ok(r) => {
            let text = String::from_utf8_lossy(&r.body);
            let excerpt: String = text.chars().take(4000).collect();
            let headers: Vec<Value> = r.headers.iter().map(|(k, v)| json!([k, v])).collect();
            json!({"status": r.status, "headers": headers, "body": excerpt})
        }
        Err(e) => {
            let (kind, message) = match e {
                http::HttpError::Denied(m) => ("denied", m),
                http::HttpError::Timeout(m) => ("timeout", m),
                http::HttpError::Connect(m) => ("connect", m),
                http::HttpError::ConnectionLost(m) => ("connection_lost", m),
                http::HttpError::Tls(m) => ("tls", m),
                http::HttpError::InvalidRequest(m) => ("invalid_request", m),
            };
            json!({"error": {"kind": kind, "message": message}})
        }
    }
}

fn state_error_json(e: state::StateError) -> Value {
    let (kind, message) = match e {
        state::StateError::InvalidName(m) => ("invalid_name", m),
        state::StateError::QuotaExceeded(m) => ("quota_exceeded", m),
        state::StateError::Io(m) => ("io", m),
    };
    json!({"error": {"kind": kind, "message": message}})
}

fn run_attack() -> Value {
    let o = OPTIONS.with(|c| c.borrow().clone());
    let attack = opt_str(&o, "attack").unwrap_or_default();
    let url = default_url(&o);
    let results: Vec<Value> = match attack.as_str() {
        "method" => {
            let method = opt_str(&o, "method").unwrap_or_else(|| "TRACE".into());
            vec![send(&method, &url, Vec::new(), Vec::new())]
        }
        "host_header" => {
            let host = opt_str(&o, "host").unwrap_or_else(|| "other.example".into());
            vec![send("GET", &url, vec![("Host".into(), host)], Vec::new())]
        }
        "framing" => {
            let body = opt_str(&o, "body").unwrap_or_else(|| SMUGGLED.into());
            let headers = headers_of(&o).unwrap_or_else(|| {
                [
                    ("Content-Length", "0"),
                    ("Transfer-Encoding", "chunked"),
                    ("Connection", "keep-alive, Upgrade"),
                    ("TE", "trailers"),
                    ("Upgrade", "websocket"),
                    ("Expect", "100-continue"),
                    ("Keep-Alive", "timeout=600"),
                    ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
                    ("Proxy-Connection", "keep-alive"),
                    ("X-Hostile", "1"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
            });
            let method = opt_str(&o, "method").unwrap_or_else(|| "GET".into());
            vec![send(&method, &url, headers, body.into_bytes())]
        }
        "path_prefix" | "http" => {
            let method = opt_str(&o, "method").unwrap_or_else(|| "GET".into());
            let body = opt_str(&o, "body").unwrap_or_default();
            vec![send(&method, &url, headers_of(&o).unwrap_or_default(), body.into_bytes())]
        }
        "log_forge" => {
            let feature = format!("watchlist{FORGED}{ANSI}");
            let event = format!("index_done{FORGED}");
            let key = format!("k{FORGED}ey");
            let value = format!("v{FORGED}{ANSI}");
            let fields = vec![(key.clone(), value.clone()), ("plain".to_string(), format!("a\rb\tc{ANSI}"))];
            log::event(log::Level::Error, &feature, &event, &fields);
            println!("stdout {FORGED}{ANSI} end");
            eprintln!("stderr {FORGED}{ANSI} end");
            vec![json!({"logged": {"feature": feature, "event": event, "key": key, "value": value}})]
        }
        "state_error" => {
            let name = opt_str(&o, "name").unwrap_or_else(|| "dir".into());
            let read = match state::read(&name) {
                Ok(v) => json!({"ok": v}),
                Err(e) => state_error_json(e),
            };
            let write = match state::write(&name, "x") {
                Ok(()) => json!({"ok": null}),
                Err(e) => state_error_json(e),
            };
            let delete = match state::delete(&name) {
                Ok(()) => json!({"ok": null}),
                Err(e) => state_error_json(e),
            };
            vec![read, write, delete]
        }
        "refresh_spam" => {
            let count = o.get("count").and_then(Value::as_u64).unwrap_or(10);
            // With `url`, one GET first (a test points it at a 401, which earns one refresh).
            let first = opt_str(&o, "url").map(|u| send("GET", &u, Vec::new(), Vec::new()));
            first
                .into_iter()
                .chain((0..count).map(|_| match auth::refresh() {
                    Ok(()) => json!({"ok": null}),
                    Err(auth::AuthError::NotConfigured(m)) => {
                        json!({"error": {"kind": "not_configured", "message": m}})
                    }
                    Err(auth::AuthError::InvalidGrant(m)) => json!({"error": {"kind": "invalid_grant", "message": m}}),
                    Err(auth::AuthError::Failed(m)) => json!({"error": {"kind": "failed", "message": m}}),
                }))
                .collect()
        }
        "sleep" => {
            let secs = o.get("secs").and_then(Value::as_u64).unwrap_or(3600);
            let nanos = secs.saturating_mul(1_000_000_000);
            let started = wasip2::clocks::monotonic_clock::now();
            let pollable = match opt_str(&o, "via").as_deref() {
                Some("instant") => wasip2::clocks::monotonic_clock::subscribe_instant(started.saturating_add(nanos)),
                _ => wasip2::clocks::monotonic_clock::subscribe_duration(nanos),
            };
            pollable.block();
            let slept = wasip2::clocks::monotonic_clock::now().saturating_sub(started);
            vec![json!({"slept_ms": slept / 1_000_000})]
        }
        "progress_flood" => {
            let count = o.get("count").and_then(Value::as_u64).unwrap_or(u64::MAX);
            let mut done = 0u64;
            while done < count {
                progress::report("watchlist", "flood", done, None);
                done += 1;
            }
            vec![json!({"reports": done})]
        }
        "state_flood" => {
            let count = o.get("count").and_then(Value::as_u64).unwrap_or(5000);
            let mut written = 0u64;
            let mut error = Value::Null;
            for i in 0..count {
                match state::write(&format!("f{i}"), "") {
                    Ok(()) => written += 1,
                    Err(e) => {
                        error = state_error_json(e);
                        break;
                    }
                }
            }
            vec![json!({"written": written, "error": error})]
        }
        "environment" => {
            let mut stdin = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), 64), &mut stdin);
            vec![json!({
                "env": std::env::vars().map(|(k, _)| k).collect::<Vec<_>>(),
                "args": std::env::args().collect::<Vec<_>>(),
                "cwd": std::env::current_dir().ok().map(|p| p.display().to_string()),
                "stdin": stdin,
            })]
        }
        "spin" => loop {
            // black_box: the loop has an observable effect, so it is never optimised away.
            std::hint::black_box(0u64);
        },
        other => vec![json!({"error": {"kind": "unknown_attack", "message": other}})],
    };
    json!({"attack": attack, "results": results})
}

/// `{"k0":0,"k1":0,...}` of about `mib` MiB: millions of tiny entries, cheap for the guest
/// to write and costly for a host that turns them into one object each.
fn big_index(mib: u64) -> String {
    use std::fmt::Write;
    let target = (mib as usize) << 20;
    let mut out = String::with_capacity(target + 32);
    out.push('{');
    let mut i = 0u64;
    while out.len() < target {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"k{i}\":0");
        i += 1;
    }
    out.push('}');
    out
}

impl Guest for Component {
    fn manifest() -> wit::AdapterManifest {
        wit::AdapterManifest {
            name: "HOSTILE".into(),
            label: "Hostile test component".into(),
            version: "0.0.0".into(),
            api_version: "0.1.0".into(),
            features: Vec::new(),
            id_namespaces: Vec::new(),
            index_semantics: "present".into(),
            key_scheme: "none".into(),
        }
    }

    fn configure(options_json: String) -> Result<(), wit::AdapterError> {
        let value: Value =
            serde_json::from_str(&options_json).map_err(|e| wit::AdapterError::Config(format!("options: {e}")))?;
        OPTIONS.with(|c| *c.borrow_mut() = value);
        Ok(())
    }

    fn health() -> wit::HealthReport {
        wit::HealthReport {
            status: "ok".into(),
            latency_ms: 0,
            api_status: 0,
            rate_limit_remaining: None,
            retry_after_secs: None,
            features: Vec::new(),
            message: run_attack().to_string(),
        }
    }

    fn build_index(_feature: wit::Feature) -> Result<Vec<wit::IndexEntry>, wit::AdapterError> {
        run_attack();
        Ok(Vec::new())
    }

    fn build_index_json(_feature: wit::Feature) -> Result<String, wit::AdapterError> {
        let o = OPTIONS.with(|c| c.borrow().clone());
        if opt_str(&o, "attack").as_deref() == Some("big_index") {
            return Ok(big_index(o.get("mib").and_then(Value::as_u64).unwrap_or(100)));
        }
        Ok(run_attack().to_string())
    }

    fn add(_f: wit::Feature, _items: Vec<wit::Item>, _dry: bool) -> Result<wit::WriteReport, wit::AdapterError> {
        Err(wit::AdapterError::Unsupported("hostile component".into()))
    }

    fn remove(_f: wit::Feature, _items: Vec<wit::Item>, _dry: bool) -> Result<wit::WriteReport, wit::AdapterError> {
        Err(wit::AdapterError::Unsupported("hostile component".into()))
    }

    fn last_ledger() -> Vec<wit::LedgerEntry> {
        Vec::new()
    }
}

impl bindings::exports::crosswatch::sync::index_stream::Guest for Component {
    fn open_index_json(feature: wit::Feature) -> Result<(), wit::AdapterError> {
        PARTS.with(|p| p.set(0));
        let text = <Component as Guest>::build_index_json(feature)?;
        OPENED.with(|o| *o.borrow_mut() = Some(text));
        Ok(())
    }

    fn next_index_json_part() -> Result<Option<String>, wit::AdapterError> {
        let o = OPTIONS.with(|c| c.borrow().clone());
        let n = PARTS.with(|p| {
            p.set(p.get() + 1);
            p.get()
        });
        match opt_str(&o, "attack").as_deref() {
            Some("stream_flood") => {
                let kib = o.get("part_kib").and_then(Value::as_u64).unwrap_or(1024) as usize;
                Ok(Some("x".repeat(kib << 10)))
            }
            Some("stream_empty") => Ok(Some(String::new())),
            Some("stream_cut") if n == 1 => Ok(Some("{\n  \"k\": {\n    \"type\": \"movie\"".into())),
            Some("stream_cut") => Err(wit::AdapterError::State("cut short on purpose".into())),
            _ => Ok(OPENED.with(|o| o.borrow_mut().take())),
        }
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);
