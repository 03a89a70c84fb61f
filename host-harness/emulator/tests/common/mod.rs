//! Helpers shared by the emulator's integration tests: a client that sends exactly the
//! headers it is given (`send`), one that sends what a well-behaved Trakt client sends
//! (`Api`), and readers for rows, pages and the request log.
//!
//! Every test binary uses a different subset of them.
#![allow(dead_code)]

use serde_json::Value;
use trakt_emulator::{Emulator, EmulatorConfig, Library, LoggedRequest, RateLimitConfig, Timestamp};

pub struct Resp {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn h(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no header {name}"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }
}

pub fn agent_with(ua: bool, redirects: u32) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(redirects);
    if !ua {
        cfg = cfg.user_agent(ureq::config::AutoHeaderValue::None);
    }
    cfg.build().into()
}

/// Sends a request with exactly the given headers.
pub fn send(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.unwrap_or("").as_bytes().to_vec()).unwrap();
    let resp = agent.run(req).expect("transport error");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.into_body().read_to_string().unwrap();
    Resp { status, headers, text }
}

/// A client sending the headers a well-behaved Trakt client sends.
pub struct Api {
    pub agent: ureq::Agent,
    pub base: String,
    pub client_id: String,
    pub token: String,
}

impl Api {
    pub fn new(emu: &Emulator) -> Api {
        let c = emu.credentials();
        Api { agent: agent_with(true, 0), base: emu.url(), client_id: c.client_id, token: c.access_token }
    }

    pub fn with_token(mut self, token: &str) -> Api {
        self.token = token.to_string();
        self
    }

    pub fn call(&self, method: &str, path: &str, extra: &[(&str, &str)], body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![
            ("trakt-api-key", self.client_id.as_str()),
            ("trakt-api-version", "2"),
            ("authorization", auth.as_str()),
            ("user-agent", "emulator-tests/1.0"),
        ];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        headers.extend_from_slice(extra);
        let text = body.map(|b| b.to_string());
        send(&self.agent, method, &format!("{}{path}", self.base), &headers, text.as_deref())
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, &[], Some(body))
    }

    pub fn oauth(&self, path: &str, body: &Value) -> Resp {
        send(
            &self.agent,
            "POST",
            &format!("{}{path}", self.base),
            &[("content-type", "application/json"), ("user-agent", "emulator-tests/1.0")],
            Some(&body.to_string()),
        )
    }

    /// Like [`call`](Self::call) but hands back the transport result and the unread response.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let auth = format!("Bearer {}", self.token);
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("trakt-api-key", self.client_id.as_str())
            .header("trakt-api-version", "2")
            .header("authorization", auth.as_str())
            .header("user-agent", "emulator-tests/1.0");
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let req = b.body(body.map(|v| v.to_string()).unwrap_or_default().into_bytes()).unwrap();
        self.agent.run(req)
    }
}

pub fn start(seed: Library) -> Emulator {
    Emulator::start(EmulatorConfig { seed, ..Default::default() }).unwrap()
}

pub fn is_trakt_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with(".000Z") && Timestamp::parse(s).is_ok()
}

pub fn err(r: &Resp) -> String {
    r.json()["error"].as_str().unwrap_or("").to_string()
}

pub fn last_logged(emu: &Emulator) -> LoggedRequest {
    emu.requests().pop().expect("a logged request")
}

pub fn control(emu: &Emulator, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let text = body.map(|b| b.to_string());
    send(
        &agent_with(true, 0),
        method,
        &format!("{}{path}", emu.url()),
        &[("content-type", "application/json")],
        text.as_deref(),
    )
}

pub fn ranks(r: &Resp) -> Vec<u64> {
    r.json().as_array().unwrap().iter().map(|row| row["rank"].as_u64().unwrap()).collect()
}

/// One GET over a fresh socket with `Connection: close`; everything the server sent.
pub fn raw_get(emu: &Emulator, path: &str) -> String {
    use std::io::{Read, Write};
    let c = emu.credentials();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ntrakt-api-key: {}\r\ntrakt-api-version: 2\r\n\
         authorization: Bearer {}\r\nuser-agent: raw\r\nconnection: close\r\n\r\n",
        c.client_id, c.access_token
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn rate_limited(cfg: RateLimitConfig) -> Emulator {
    Emulator::start(EmulatorConfig { seed: Library::sample(3, 0), rate_limit: Some(cfg), ..Default::default() })
        .unwrap()
}

pub fn rows(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json().as_array().expect("a JSON array").clone()
}

/// `(type, trakt id of the row's movie/show/season/episode)` per row.
pub fn media_of(r: &Resp) -> Vec<(String, u64)> {
    rows(r)
        .iter()
        .map(|row| {
            let t = row["type"].as_str().unwrap().to_string();
            let id = row[t.as_str()]["ids"]["trakt"].as_u64().unwrap();
            (t, id)
        })
        .collect()
}

pub fn ids_of(r: &Resp) -> Vec<u64> {
    rows(r).iter().map(|row| row["id"].as_u64().unwrap()).collect()
}

pub fn paging_headers(r: &Resp) -> [String; 4] {
    [
        r.h("x-pagination-page").to_string(),
        r.h("x-pagination-limit").to_string(),
        r.h("x-pagination-page-count").to_string(),
        r.h("x-pagination-item-count").to_string(),
    ]
}

pub fn hdrs(page: u64, limit: u64, pages: u64, items: u64) -> [String; 4] {
    [page, limit, pages, items].map(|n| n.to_string())
}

pub fn activities(api: &Api) -> Value {
    api.get("/sync/last_activities").json()
}

pub fn mv(trakt: u64) -> (String, u64) {
    ("movie".to_string(), trakt)
}

pub fn ep(trakt: u64) -> (String, u64) {
    ("episode".to_string(), trakt)
}
