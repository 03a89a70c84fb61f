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
