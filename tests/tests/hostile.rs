//! The hostile test component (`tests/hostile`) in the reference host (issue 12): each test
//! configures one attack, runs it through `build-index-json` and asserts on what the guest
//! observed, on the raw bytes a loopback listener of our own received, on the log and on disk.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_tests::cache_dir;
use serde_json::{json, Value};
use trakt_adapter_artifacts::HOSTILE_COMPONENT_WASM;
use trakt_host::config::Credentials;
use trakt_host::imports::log::{Level, LogSink};
use trakt_host::imports::progress::ProgressSink;
use trakt_host::policy::{Limits, Origin, Policy};
use trakt_host::runtime::{Adapter, Feature, HostErrorKind, HostSetup, Runtime};
use trakt_host::state_scope::StateLocation;

const CANARY_TOKEN: &str = "canary-access-token-5f2e";
const CANARY_REFRESH: &str = "canary-refresh-token-91ab";
const CANARY_SECRET: &str = "canary-client-secret-77c0";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);
impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// How the listener answers one request (given its raw bytes): status and body.
type AnswerFn = dyn Fn(&[u8]) -> (u16, Vec<u8>) + Send + Sync;
type Answer = Box<AnswerFn>;

/// A loopback HTTP/1.1 server of our own that keeps the raw bytes of every connection, so a
/// test sees exactly what the host put on the wire (framing included). One request per
/// connection: it reads until the client has been silent for a moment, answers with
/// `Connection: close` and closes.
struct Wire {
    port: u16,
    raw: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Wire {
    fn start(answer: Answer) -> Wire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let raw: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let seen = raw.clone();
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, &seen, &*answer));
            }
        });
        Wire { port, raw }
    }

    /// Answers every request 200 `ok`.
    fn ok() -> Wire {
        Wire::start(Box::new(|_| (200, b"{}".to_vec())))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> Vec<String> {
        self.raw.lock().unwrap().iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
    }
}

fn serve(mut stream: TcpStream, seen: &Mutex<Vec<Vec<u8>>>, answer: &AnswerFn) {
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break, // quiet for 300 ms: the client has sent what it will send
        }
    }
    if bytes.is_empty() {
        return;
    }
    let (status, body) = answer(&bytes);
    seen.lock().unwrap().push(bytes);
    let head = format!(
        "HTTP/1.1 {status} Answer\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn canary_credentials() -> Credentials {
    Credentials {
        client_id: "canary-client-id".into(),
        client_secret: CANARY_SECRET.into(),
        access_token: CANARY_TOKEN.into(),
        refresh_token: CANARY_REFRESH.into(),
        expires_at: 0,
        created_at: 0,
    }
}

/// The hostile component in a host whose API origin is `api` (with any base path) and whose
/// OAuth origin is `oauth`.
fn hostile(api: &str, oauth: &str, state: &std::path::Path, log: Capture) -> Adapter {
    hostile_with(Limits::default(), api, oauth, state, log)
}

/// The hostile component under `limits`.
fn hostile_with(limits: Limits, api: &str, oauth: &str, state: &std::path::Path, log: Capture) -> Adapter {
    assert!(!HOSTILE_COMPONENT_WASM.is_empty(), "the artifacts crate did not build the hostile component");
    let runtime = Runtime::new(HOSTILE_COMPONENT_WASM, Some(&cache_dir())).expect("load the hostile component");
    runtime
        .instantiate(HostSetup {
            policy: Policy { api: Origin::parse(api).unwrap(), oauth: Origin::parse(oauth).unwrap(), limits },
            credentials: canary_credentials(),
            token_store: None,
            state: StateLocation::plain(state.to_path_buf()),
            log: LogSink::to_writer(Box::new(log), Level::Trace),
            progress: ProgressSink::disabled(),
        })
        .expect("instantiate the hostile component")
}

/// Configure `options` and run the attack; the guest's observations as JSON.
fn attack(adapter: &mut Adapter, options: Value) -> Value {
    adapter.configure(&options.to_string()).expect("no trap").expect("options accepted");
    let text = adapter.build_index_json(Feature::Watchlist).expect("no trap").expect("the attack reports");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn header_values<'a>(raw: &'a str, name: &str) -> Vec<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// Issue 12, point 4: only GET, POST, PUT and DELETE (the methods `wit/host.wit` names) are
/// sent; any other method is refused before it reaches the wire, naming the method, so a
/// `TRACE` can never echo the signed request (token included) back to the component.
#[test]
fn only_the_wit_methods_are_sent() {
    // A server that answers TRACE as RFC 9110 describes: the request echoed back.
    let wire = Wire::start(Box::new(|raw| (200, raw.to_vec())));
    let dir = tempfile::tempdir().unwrap();
    let mut a = hostile(&wire.url(), &wire.url(), dir.path(), Capture::default());
    for method in ["TRACE", "CONNECT", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "trace"] {
        let seen = attack(&mut a, json!({"attack": "method", "method": method, "api_url": wire.url()}));
        let r = &seen["results"][0];
        assert_eq!(r["error"]["kind"], "invalid_request", "{method}: {seen}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(method), "{method}: the error names the method: {message}");
        assert!(!seen.to_string().contains(CANARY_TOKEN), "{method}: the token came back: {seen}");
    }
    assert!(wire.connections().is_empty(), "nothing went out: {:?}", wire.connections());
    // The WIT's methods still pass.
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let seen = attack(&mut a, json!({"attack": "method", "method": method, "api_url": wire.url()}));
        assert_eq!(seen["results"][0]["status"], 200, "{method}: {seen}");
    }
    assert_eq!(wire.connections().len(), 4);
}

/// Issue 12, point 5: a `Host` header from the component never reaches the wire; the host
/// sends the one that names the configured origin.
#[test]
fn the_component_cannot_set_host() {
    let wire = Wire::ok();
    let dir = tempfile::tempdir().unwrap();
    let mut a = hostile(&wire.url(), &wire.url(), dir.path(), Capture::default());
    let seen = attack(&mut a, json!({"attack": "host_header", "host": "other.example", "api_url": wire.url()}));
    assert_eq!(seen["results"][0]["status"], 200, "{seen}");
    let raw = wire.connections();
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert_eq!(header_values(&raw[0], "host"), [format!("127.0.0.1:{}", wire.port)], "{}", raw[0]);
    assert!(!raw[0].contains("other.example"), "{}", raw[0]);
    assert!(raw[0].contains(&format!("Bearer {CANARY_TOKEN}")), "still signed: {}", raw[0]);
}

/// Issue 12, point 1: the host owns framing and hop-by-hop headers. Whatever the component
/// sets of Content-Length, Transfer-Encoding, Connection, TE, Upgrade, Expect, Keep-Alive or
/// Proxy-* is dropped; the request on the wire is framed by the host's own Content-Length,
/// so a second request hidden in the body stays body.
#[test]
fn the_host_owns_framing_and_hop_by_hop_headers() {
    let wire = Wire::ok();
    let dir = tempfile::tempdir().unwrap();
    let mut a = hostile(&wire.url(), &wire.url(), dir.path(), Capture::default());
    for method in ["POST", "GET"] {
        let seen = attack(&mut a, json!({"attack": "framing", "method": method, "api_url": wire.url()}));
        let raw = wire.connections().pop().unwrap_or_default();
        assert_eq!(seen["results"][0]["status"], 200, "{method}: dropped, not refused: {seen}");
        for dropped in
            ["transfer-encoding", "te", "upgrade", "expect", "keep-alive", "proxy-authorization", "proxy-connection"]
        {
            assert!(header_values(&raw, dropped).is_empty(), "{method}: {dropped} reached the wire:\n{raw}");
        }
        for v in header_values(&raw, "connection") {
            assert!(!v.to_ascii_lowercase().contains("upgrade"), "{method}: the component's Connection: {raw}");
        }
        assert_eq!(header_values(&raw, "x-hostile"), ["1"], "ordinary headers pass: {raw}");
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let lengths = header_values(head, "content-length");
        assert_eq!(lengths.len(), 1, "{method}: one Content-Length: {raw}");
        assert_eq!(lengths[0].parse::<usize>().unwrap(), body.len(), "{method}: framed by the host: {raw}");
        assert!(body.starts_with("GET /smuggled"), "the second request is body: {raw}");
    }
}

/// Issue 12, point 11: with a base path in api_url, a signed request outside it is refused
/// (`http-error::denied`) and never sent; inside it passes.
#[test]
fn signed_requests_stay_under_the_base_path() {
    let wire = Wire::ok();
    let dir = tempfile::tempdir().unwrap();
    let api = format!("{}/trakt", wire.url());
    let oauth = "http://127.0.0.1:9";
    let mut a = hostile(&api, oauth, dir.path(), Capture::default());
    for path in ["/other-app/users/me", "/trakt-evil/x", "/", "/trakt/../other-app/x", "/trakt/%2e%2e/other-app"] {
        let seen = attack(&mut a, json!({"attack": "path_prefix", "url": format!("{}{path}", wire.url())}));
        let r = &seen["results"][0];
        assert_eq!(r["error"]["kind"], "denied", "{path}: {seen}");
        assert!(r["error"]["message"].as_str().unwrap().contains("/trakt"), "{path}: names the base path: {seen}");
    }
    assert!(wire.connections().is_empty(), "nothing went out: {:?}", wire.connections());
    for path in ["/trakt", "/trakt/sync/watchlist?page=1"] {
        let seen = attack(&mut a, json!({"attack": "path_prefix", "url": format!("{}{path}", wire.url())}));
        assert_eq!(seen["results"][0]["status"], 200, "{path}: {seen}");
    }
}

/// Issue 12, point 9: feature, event, keys and values with newlines, ANSI escapes and a fake
/// `[TRAKT:auth] INFO token_refreshed` line, and the same text on the guest's stdout and
/// stderr: every log line is one of ours (`[TRAKT:<feature>] LEVEL event ...`), none is
/// forged, and no control character reaches the writer.
#[test]
fn log_lines_escape_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let log = Capture::default();
    let mut a = hostile("http://127.0.0.1:9", "http://127.0.0.1:9", dir.path(), log.clone());
    attack(&mut a, json!({"attack": "log_forge"}));
    let text = log.text();
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "control characters in the log: {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "the event and both guest outputs: {text}");
    for line in &lines {
        assert!(line.starts_with("[TRAKT:"), "a line of ours: {line:?}");
        assert!(!line.starts_with("[TRAKT:auth]"), "forged: {line:?}");
        let level = line.split(' ').nth(1).unwrap_or_default();
        assert!(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level), "{line:?}");
    }
    assert!(lines.iter().any(|l| l.contains("\\n[TRAKT:auth] INFO token_refreshed")), "kept, escaped: {text}");
    assert!(lines.iter().any(|l| l.contains("guest_output") && l.contains("stdout")), "{text}");
    assert!(lines.iter().any(|l| l.contains("guest_output") && l.contains("stderr")), "{text}");
}

/// Issue 12, point 12: a state `io` error names the file, never the host's state directory.
#[test]
fn state_errors_do_not_name_the_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state-dir-canary");
    std::fs::create_dir_all(state.join("dir")).unwrap();
    let mut a = hostile("http://127.0.0.1:9", "http://127.0.0.1:9", &state, Capture::default());
    let seen = attack(&mut a, json!({"attack": "state_error", "name": "dir"}));
    let results = seen["results"].as_array().unwrap();
    let errors: Vec<&str> = results.iter().filter_map(|r| r["error"]["message"].as_str()).collect();
    assert!(errors.len() >= 2, "read and write fail on a directory: {seen}");
    for r in results.iter().filter(|r| r["error"].is_object()) {
        assert_eq!(r["error"]["kind"], "io", "{seen}");
    }
    for message in errors {
        assert!(message.contains("\"dir\""), "names the file: {message}");
        assert!(!message.contains("state-dir-canary"), "names the host's directory: {message}");
        assert!(!message.contains(&*dir.path().to_string_lossy()), "names the host's directory: {message}");
    }
}

/// A Trakt OAuth server that counts refresh-token grants and answers each with a new pair.
fn oauth_server() -> (Wire, Arc<Mutex<u32>>) {
    let grants: Arc<Mutex<u32>> = Arc::default();
    let count = grants.clone();
    let wire = Wire::start(Box::new(move |raw| {
        let text = String::from_utf8_lossy(raw);
        if text.starts_with("POST /oauth/token") {
            let mut n = count.lock().unwrap();
            *n += 1;
            let body = json!({"access_token": format!("new-access-{n}"), "refresh_token": format!("new-refresh-{n}"),
                "expires_in": 86400, "created_at": 1_700_000_000, "token_type": "bearer"});
            (200, body.to_string().into_bytes())
        } else {
            (404, b"{}".to_vec())
        }
    }));
    (wire, grants)
}

/// Issue 12, point 8: `auth.refresh` without a 401 the host saw on this call spends no
/// refresh-token grant (it answers ok and changes nothing).
#[test]
fn refresh_without_a_401_spends_no_grant() {
    let api = Wire::ok();
    let (oauth, grants) = oauth_server();
    let dir = tempfile::tempdir().unwrap();
    let mut a = hostile(&api.url(), &oauth.url(), dir.path(), Capture::default());
    let seen = attack(&mut a, json!({"attack": "refresh_spam", "count": 10}));
    assert_eq!(seen["results"].as_array().unwrap().len(), 10, "{seen}");
    assert_eq!(*grants.lock().unwrap(), 0, "no 401, no grant: {seen}");
    assert_eq!(a.credentials().refresh_token, CANARY_REFRESH);
    // A 200 earns nothing either.
    let seen = attack(&mut a, json!({"attack": "refresh_spam", "count": 3, "url": format!("{}/sync/x", api.url())}));
    assert_eq!(seen["results"][0]["status"], 200, "{seen}");
    assert_eq!(*grants.lock().unwrap(), 0, "{seen}");
}

/// Issue 12, point 8: a 401 from the API origin earns one grant, and only one however often
/// the component asks; the 401 must be on the same call.
#[test]
fn a_401_earns_exactly_one_refresh() {
    let api = Wire::start(Box::new(|_| (401, b"{}".to_vec())));
    let (oauth, grants) = oauth_server();
    let dir = tempfile::tempdir().unwrap();
    let mut a = hostile(&api.url(), &oauth.url(), dir.path(), Capture::default());
    let url = format!("{}/sync/last_activities", api.url());
    let seen = attack(&mut a, json!({"attack": "refresh_spam", "count": 5, "url": url}));
    assert_eq!(seen["results"][0]["status"], 401, "{seen}");
    assert_eq!(*grants.lock().unwrap(), 1, "{seen}");
    assert_eq!(a.credentials().access_token, "new-access-1");
    // The next call starts with no unanswered 401.
    let seen = attack(&mut a, json!({"attack": "refresh_spam", "count": 5}));
    assert_eq!(*grants.lock().unwrap(), 1, "{seen}");
}

/// Issue 12, point 2 (the bound's headroom): the real adapter's largest table, over health,
/// a full index of each feature and a dry-run add, stays far below `Limits::table_elements`
/// (`trakt_host::runtime` tests a `table.grow` past it on a core module of its own).
#[test]
fn the_real_adapter_stays_far_below_the_table_bound() {
    let h = e2e_tests::Harness::new(trakt_emulator::Library::sample(20, 3));
    let runtime = Runtime::new(cw_host::EMBEDDED_COMPONENT, Some(&cache_dir())).expect("load component");
    let origin = Origin::parse(&h.emulator.url()).unwrap();
    let mut a = runtime
        .instantiate(HostSetup {
            policy: Policy { api: origin.clone(), oauth: origin, limits: Limits::default() },
            credentials: e2e_tests::host_credentials(h.emulator.credentials()),
            token_store: None,
            state: StateLocation::plain(h.state_dir()),
            log: LogSink::to_writer(Box::new(std::io::sink()), Level::Error),
            progress: ProgressSink::disabled(),
        })
        .expect("instantiate");
    a.configure(&json!({"api_url": h.emulator.url()}).to_string()).unwrap().unwrap();
    a.health().unwrap();
    for feature in [Feature::Watchlist, Feature::Ratings, Feature::History] {
        a.build_index_json(feature).unwrap().unwrap();
    }
    let peak = a.peak_table_elements();
    let bound = Limits::default().table_elements;
    eprintln!("the adapter's largest table: {peak} elements (bound {bound})");
    assert!(peak > 0, "tables are measured");
    assert!(peak * 20 <= bound, "{peak} elements is too close to the bound of {bound}");
}

/// A keep-alive HTTP/1.1 server that frames requests by their first Content-Length, as a
/// naive origin or proxy would, and records each request line it parsed.
fn keep_alive_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut pending: Vec<u8> = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                        let length = header_values(&format!("{head}\r\n\r\n"), "content-length")
                            .first()
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if pending.len() < end + 4 + length {
                            break;
                        }
                        pending.drain(..end + 4 + length);
                        seen.lock().unwrap().push(head.lines().next().unwrap_or_default().to_string());
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                    }
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    (port, lines)
}

/// Issue 12, point 1, end to end: after a framing attack whose body holds a second request,
/// a server that reuses the connection parses exactly the requests the host meant to send,
/// never the smuggled one. (A regression guard: ureq kept this framing right even before the
/// host dropped the component's framing headers; the raw-bytes test above is the one that
/// failed then. The Python host is where issue 12 saw the smuggling.)
#[test]
fn a_body_never_becomes_a_request_on_a_kept_alive_connection() {
    let (port, lines) = keep_alive_server();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let mut a = hostile(&url, &url, dir.path(), Capture::default());
    let body = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    for method in ["GET", "POST"] {
        let headers = json!([["Content-Length", "0"], ["Connection", "keep-alive"]]);
        let seen = attack(
            &mut a,
            json!({"attack": "framing", "method": method, "headers": headers, "body": body, "api_url": url}),
        );
        assert_eq!(seen["results"][0]["status"], 200, "{seen}");
        let seen = attack(&mut a, json!({"attack": "http", "url": format!("{url}/after")}));
        assert_eq!(seen["results"][0]["status"], 200, "{seen}");
    }
    let lines = lines.lock().unwrap().clone();
    assert!(!lines.iter().any(|l| l.contains("/smuggled")), "a smuggled request was parsed: {lines:?}");
    assert_eq!(
        lines,
        [
            "GET /sync/last_activities HTTP/1.1",
            "GET /after HTTP/1.1",
            "POST /sync/last_activities HTTP/1.1",
            "GET /after HTTP/1.1"
        ]
    );
}

/// Issue 12, point 3: a `wasi:clocks` sleep (by duration or until an instant) never outlasts
/// the call's wall-clock limit: a one-hour sleep under a two-second limit ends at the limit
/// and the call stops with the wall-clock error (epoch interruption alone never fires while
/// the guest waits in the host).
#[test]
fn a_wasi_sleep_never_outlasts_the_calls_wall_clock_limit() {
    let dir = tempfile::tempdir().unwrap();
    for via in ["duration", "instant"] {
        let limits = Limits { call_timeout: Duration::from_secs(2), ..Limits::default() };
        let log = Capture::default();
        let mut adapter = hostile_with(limits, "http://127.0.0.1:9", "http://127.0.0.1:9", dir.path(), log.clone());
        adapter.configure(&json!({"attack": "sleep", "secs": 3600, "via": via}).to_string()).unwrap().unwrap();
        let started = std::time::Instant::now();
        let e = adapter.build_index_json(Feature::Watchlist).expect_err("a one-hour sleep must be stopped");
        let took = started.elapsed();
        assert_eq!(e.kind, HostErrorKind::Limit, "{via}: {e}");
        assert!(e.message.contains("wall-clock limit of 2s"), "{via}: {e}");
        assert!(took < Duration::from_secs(10), "{via}: the sleep ran {took:?}");
        assert!(log.text().contains("call_stopped"), "{}", log.text());
    }
}

/// Issue 12, point 6: every import call costs fuel (10,000,000 per call plus 1,000 per byte,
/// `trakt_host::policy::IMPORT_CALL_FUEL`), so a flood of `progress.report` calls under a
/// budget of 100 such calls stops after at most 100 of them with the CPU-budget error.
#[test]
fn a_flood_of_import_calls_spends_the_calls_fuel() {
    use trakt_host::policy::IMPORT_CALL_FUEL;
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { fuel_per_call: 100 * IMPORT_CALL_FUEL, ..Limits::default() };
    let mut adapter = hostile_with(limits, "http://127.0.0.1:9", "http://127.0.0.1:9", dir.path(), Capture::default());
    adapter.configure(&json!({"attack": "progress_flood"}).to_string()).unwrap().unwrap();
    let before = adapter.progress_reports();
    let e = adapter.build_index_json(Feature::Watchlist).expect_err("an endless flood must be stopped");
    assert_eq!(e.kind, HostErrorKind::Limit, "{e}");
    assert!(e.message.contains("CPU budget"), "{e}");
    let reports = adapter.progress_reports() - before;
    assert!(reports > 0 && reports <= 100, "{reports} reports under a budget of 100 import calls");

    // Within the budget, the same calls run to their end: the charge is per call, not a ban.
    let mut adapter = hostile("http://127.0.0.1:9", "http://127.0.0.1:9", dir.path(), Capture::default());
    let seen = attack(&mut adapter, json!({"attack": "progress_flood", "count": 1000}));
    assert_eq!(seen["results"][0]["reports"], 1000, "{seen}");
}

/// `index-stream`: the host bounds what a component hands out part by part (never past its
/// memory limit, never an empty part) and stops the instance then; cw-host prints no part of
/// a text cut short, only the failure.
#[test]
fn an_index_stream_is_bounded_and_a_text_cut_short_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let mut a = hostile_with(limits, "http://127.0.0.1:9", "http://127.0.0.1:9", dir.path(), Capture::default());
    assert!(a.streams_index_json());
    a.configure(&json!({"attack": "stream_flood", "part_kib": 1024}).to_string()).unwrap().unwrap();
    let mut handed = 0u64;
    let mut sink = |p: String| {
        handed += p.len() as u64;
        Ok(())
    };
    let e = a.index_json_to(Feature::Watchlist, &mut sink).expect_err("an endless stream must be stopped");
    assert_eq!(e.kind, HostErrorKind::Limit, "{e}");
    assert!(e.message.contains("memory limit of 64 MiB"), "{e}");
    assert!((60 << 20..=64 << 20).contains(&handed), "{handed} bytes handed on");
    assert!(a.manifest().is_err(), "the instance is stopped");

    let mut a = hostile("http://127.0.0.1:9", "http://127.0.0.1:9", dir.path(), Capture::default());
    a.configure(&json!({"attack": "stream_empty"}).to_string()).unwrap().unwrap();
    let e = a.index_json_to(Feature::Watchlist, &mut |_: String| Ok(())).expect_err("an empty part is refused");
    assert_eq!(e.kind, HostErrorKind::Trap, "{e}");
    assert!(e.message.contains("empty part"), "{e}");

    // Through cw-host: the first part came, then the failure; stdout holds the failure only.
    let h = e2e_tests::Harness::new(trakt_emulator::Library::sample(1, 0));
    h.write_config(json!({"attack": "stream_cut"}));
    let wasm = trakt_adapter_artifacts::HOSTILE_COMPONENT_WASM_PATH;
    let state = h.state_dir().display().to_string();
    let run = h.cw_host(&["--component", wasm, "--state-dir", &state, "index", "watchlist"], "");
    assert_ne!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("\"k\""), "no part of the cut text is printed: {run:?}");
    let doc = run.json();
    assert_eq!((doc["ok"].clone(), doc["error"]["kind"].clone()), (json!(false), json!("state")), "{run:?}");

    // The hostile component's own text, in its one part, is printed whole.
    h.write_config(json!({"attack": "environment"}));
    let run = h.cw_host(&["--component", wasm, "--state-dir", &state, "index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["attack"], "environment", "{run:?}");
}
