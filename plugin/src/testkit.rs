//! Test fakes for the host seams: a scripted transport, a manual clock, a counting auth.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::client::transport::{Auth, AuthFailure, Clock, Request, Response, Transport, TransportError};
use crate::client::Client;
use crate::config::Options;

type Responder = Box<dyn FnMut(&Request) -> Result<Response, TransportError>>;

struct State {
    now: u64,
    latency: u64,
    sleeps: Vec<u64>,
    requests: Vec<Request>,
    send_times: Vec<u64>,
    refreshes: u32,
    refresh_failure: Option<AuthFailure>,
}

/// Shared handle over the fake host: build a `Client` from it, then inspect what happened.
#[derive(Clone)]
pub struct Fakes {
    state: Rc<RefCell<State>>,
    responder: Rc<RefCell<Responder>>,
}

impl Fakes {
    pub fn new(f: impl FnMut(&Request) -> Result<Response, TransportError> + 'static) -> Fakes {
        Fakes {
            state: Rc::new(RefCell::new(State {
                now: 1_000_000,
                latency: 0,
                sleeps: Vec::new(),
                requests: Vec::new(),
                send_times: Vec::new(),
                refreshes: 0,
                refresh_failure: None,
            })),
            responder: Rc::new(RefCell::new(Box::new(f))),
        }
    }

    /// Answers in order; running out is a test failure.
    pub fn script(answers: Vec<Result<Response, TransportError>>) -> Fakes {
        let mut q: VecDeque<_> = answers.into();
        Fakes::new(move |req| q.pop_front().unwrap_or_else(|| panic!("unexpected request {}", req.url)))
    }

    pub fn client(&self, opts: &Options) -> Client {
        Client::new(
            Box::new(FakeTransport(self.clone())),
            Box::new(FakeClock(self.state.clone())),
            Box::new(FakeAuth(self.state.clone())),
            opts,
        )
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.borrow().requests.clone()
    }
    pub fn sleeps(&self) -> Vec<u64> {
        self.state.borrow().sleeps.clone()
    }
    pub fn send_times(&self) -> Vec<u64> {
        self.state.borrow().send_times.clone()
    }
    pub fn refreshes(&self) -> u32 {
        self.state.borrow().refreshes
    }
    pub fn fail_refresh(&self, f: AuthFailure) {
        self.state.borrow_mut().refresh_failure = Some(f);
    }
    pub fn advance(&self, ms: u64) {
        self.state.borrow_mut().now += ms;
    }
    pub fn set_latency(&self, ms: u64) {
        self.state.borrow_mut().latency = ms;
    }
}

struct FakeTransport(Fakes);

impl Transport for FakeTransport {
    fn send(&mut self, req: &Request) -> Result<Response, TransportError> {
        {
            let mut s = self.0.state.borrow_mut();
            let now = s.now;
            s.send_times.push(now);
            s.requests.push(req.clone());
            s.now += s.latency;
        }
        (self.0.responder.borrow_mut())(req)
    }
}

struct FakeClock(Rc<RefCell<State>>);

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.borrow().now
    }
    fn sleep_ms(&mut self, ms: u64) {
        let mut s = self.0.borrow_mut();
        s.sleeps.push(ms);
        s.now += ms;
    }
    fn wall_unix_secs(&self) -> i64 {
        1_700_000_000 + (self.0.borrow().now / 1000) as i64
    }
}

struct FakeAuth(Rc<RefCell<State>>);

impl Auth for FakeAuth {
    fn refresh(&mut self) -> Result<(), AuthFailure> {
        let mut s = self.0.borrow_mut();
        s.refreshes += 1;
        match &s.refresh_failure {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }
}

/// A response with lowercase header names.
pub fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect(),
        body: body.as_bytes().to_vec(),
    }
}

/// Query parameter of a request URL.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// An in-memory `state` store with switchable failures; clones share the files.
#[derive(Clone, Default)]
pub struct MemStore {
    inner: Rc<RefCell<MemInner>>,
}

#[derive(Default)]
struct MemInner {
    files: std::collections::BTreeMap<String, Vec<u8>>,
    fail_reads: bool,
    fail_writes: bool,
    fail_deletes: bool,
    /// "read NAME", "write NAME", "delete NAME", in order.
    ops: Vec<String>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }
    /// A store handle for feature code.
    pub fn store(&self) -> Box<dyn crate::state::Store> {
        Box::new(self.clone())
    }
    pub fn put(&self, name: &str, text: &str) {
        self.inner.borrow_mut().files.insert(name.to_string(), text.as_bytes().to_vec());
    }
    pub fn text(&self, name: &str) -> Option<String> {
        self.inner.borrow().files.get(name).map(|b| String::from_utf8_lossy(b).into_owned())
    }
    pub fn json(&self, name: &str) -> Option<serde_json::Value> {
        self.text(name).map(|t| serde_json::from_str(&t).expect("state file is JSON"))
    }
    /// A cache file of `state::text_cache`'s form as one JSON document: its trailer's
    /// fields, and `items`, the index text before it.
    /// The history cache (a file that names its parts) the same way: its fields, and
    /// `items`, its parts joined.
    pub fn text_cache_doc(&self, name: &str) -> Option<serde_json::Value> {
        let text = self.text(name)?;
        let Some((items, trailer)) = text.rsplit_once('\n') else {
            let mut doc: serde_json::Value = serde_json::from_str(&text).expect("the cache file is JSON");
            let parts = doc["parts"].as_array().expect("a file without a trailer names its parts").len();
            let joined: String = (0..parts)
                .map(|n| self.text(&crate::state::history_index_part(n)).expect("every part exists"))
                .collect();
            doc["items"] = serde_json::from_str(&joined).expect("the parts joined are JSON");
            return Some(doc);
        };
        let mut doc: serde_json::Value = serde_json::from_str(trailer).expect("the trailer is JSON");
        doc["items"] = serde_json::from_str(items).expect("the index text is JSON");
        Some(doc)
    }
    /// Write `doc` (as `text_cache_doc` gives it, perhaps changed) back in the cache form:
    /// `items` as the text, the other fields and the text's length and hash as the trailer.
    pub fn put_text_cache(&self, name: &str, doc: &serde_json::Value) {
        let mut trailer = doc.clone();
        let items = trailer.as_object_mut().unwrap().remove("items").unwrap();
        let text = serde_json::to_string_pretty(&items).unwrap();
        trailer["items_bytes"] = text.len().into();
        trailer["items_xxh3"] = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes())).into();
        self.put(name, &format!("{text}\n{trailer}"));
    }
    pub fn delete_file(&self, name: &str) {
        self.inner.borrow_mut().files.remove(name);
    }
    pub fn names(&self) -> Vec<String> {
        self.inner.borrow().files.keys().cloned().collect()
    }
    pub fn ops(&self) -> Vec<String> {
        self.inner.borrow().ops.clone()
    }
    pub fn fail_reads(&self, on: bool) {
        self.inner.borrow_mut().fail_reads = on;
    }
    pub fn fail_writes(&self, on: bool) {
        self.inner.borrow_mut().fail_writes = on;
    }
    pub fn fail_deletes(&self, on: bool) {
        self.inner.borrow_mut().fail_deletes = on;
    }
}

impl crate::state::Store for MemStore {
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let mut s = self.inner.borrow_mut();
        s.ops.push(format!("read {name}"));
        if s.fail_reads {
            return Err("io: injected read failure".into());
        }
        Ok(s.files.get(name).cloned())
    }
    fn write(&mut self, name: &str, contents: &[u8]) -> Result<(), String> {
        let mut s = self.inner.borrow_mut();
        s.ops.push(format!("write {name}"));
        if s.fail_writes {
            return Err("quota exceeded: injected write failure".into());
        }
        s.files.insert(name.to_string(), contents.to_vec());
        Ok(())
    }
    fn delete(&mut self, name: &str) -> Result<(), String> {
        let mut s = self.inner.borrow_mut();
        s.ops.push(format!("delete {name}"));
        if s.fail_deletes {
            return Err("io: injected delete failure".into());
        }
        s.files.remove(name);
        Ok(())
    }
    fn names(&mut self) -> Result<Vec<String>, String> {
        let mut s = self.inner.borrow_mut();
        s.ops.push("list".into());
        if s.fail_reads {
            return Err("io: injected read failure".into());
        }
        Ok(s.files.keys().cloned().collect())
    }
}

/// A client, options and a state store for feature tests, over `Fakes` and a `MemStore`.
pub struct Env {
    pub fakes: Fakes,
    pub mem: MemStore,
    pub opts: Options,
    client: Client,
    store: MemStore,
}

impl Env {
    pub fn new(fakes: Fakes, opts: Options) -> Env {
        let client = fakes.client(&opts);
        let mem = MemStore::new();
        Env { fakes, store: mem.clone(), mem, opts, client }
    }

    pub fn ctx(&mut self) -> crate::features::Ctx<'_> {
        crate::features::Ctx { client: &mut self.client, opts: &self.opts, state: &mut self.store }
    }

    /// Requests sent so far as "METHOD /path?query".
    pub fn sent(&self) -> Vec<String> {
        self.fakes.requests().iter().map(|r| format!("{} {}", r.method.as_str(), path_of(&r.url))).collect()
    }
}

/// Path and query of an absolute URL.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

/// Path of an absolute URL, without the query.
pub fn route_of(url: &str) -> String {
    path_of(url).split('?').next().unwrap_or("").to_string()
}

/// A request header, case-insensitively.
pub fn header_of<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Trakt's answer to a paged GET over `rows`: the requested page with the four pagination
/// headers, and `etag` when given (then a 304 with the same headers and an empty body when
/// `If-None-Match` names it).
pub fn paged(req: &Request, rows: &[serde_json::Value], etag: Option<&str>) -> Response {
    let page: usize = query_param(&req.url, "page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let limit: usize = query_param(&req.url, "limit").and_then(|p| p.parse().ok()).unwrap_or(100).clamp(1, 250);
    let pages = rows.len().div_ceil(limit).max(1);
    let from = ((page - 1) * limit).min(rows.len());
    let to = (from + limit).min(rows.len());
    let body = serde_json::Value::Array(rows[from..to].to_vec()).to_string();
    let (p, l, c, n) = (page.to_string(), limit.to_string(), pages.to_string(), rows.len().to_string());
    let mut headers: Vec<(&str, &str)> = vec![
        ("x-pagination-page", &p),
        ("x-pagination-limit", &l),
        ("x-pagination-page-count", &c),
        ("x-pagination-item-count", &n),
    ];
    if let Some(tag) = etag {
        headers.push(("etag", tag));
        if page == 1 && header_of(req, "if-none-match") == Some(tag) {
            return resp(304, &headers, "");
        }
    }
    resp(200, &headers, &body)
}
