//! Fault injection, scriptable by tests: [`Emulator::inject`](crate::Emulator::inject) (or
//! `POST /_emulator/faults`) adds a [`Fault`]; `Emulator::clear_faults` (`DELETE
//! /_emulator/faults`) removes them all.
//!
//! Every API or OAuth request (never `/_emulator/*`) is offered to the faults in injection order.
//! Each fault counts the requests that match its [`FaultWhen`] filter since it was injected; the
//! first fault whose window (`nth`, `times`) contains its current count fires, and its action
//! decides the answer. The request log records the fired action in `LoggedRequest::fault`
//! ([`FaultAction::label`]).
//!
//! JSON form (the control endpoint takes one fault or an array):
//!
//! ```json
//! { "when": { "method": "GET", "path": "/sync/watchlist", "query_contains": "page=2", "nth": 1, "times": 1 },
//!   "action": { "kind": "status", "status": 503, "headers": [["retry-after", "2"]], "body": "" } }
//! ```
//!
//! `when` and each of its keys are optional (`nth` and `times` default to 1; `times: 0` = forever).
//! `body_items_over: N` narrows `when` to requests whose JSON body holds more than `N` items
//! ([`body_items`]), e.g. a history add POST of more than 120 plays, so a test can make Trakt
//! fail large bodies only. Action kinds: `status`, `apply_then_status` (`status`), `delay`
//! (`ms`), `drop_connection`, `apply_then_drop`, `truncated_body`, `non_json_body`,
//! `cloudflare_rate_limit` (`retry_after_secs`, may be null), `repeat_previous_page`,
//! `item_count_off_by` (`delta`).
//!
//! Connection-level faults (dropping, truncating) need control over the socket: the server accepts
//! connections through [`FaultListener`], whose [`FaultIo`] can be told by the request handler (via
//! the [`ConnHandle`] connection info) to let through only the response head and `n` body bytes
//! (or nothing) and then fail every further write, which makes hyper close the socket. The client
//! sees the connection end without a response (drop) or before `Content-Length` bytes (truncate).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One scripted fault: which requests it hits and what happens to them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub when: FaultWhen,
    pub action: FaultAction,
}

impl Fault {
    /// A fault hitting the first request matching `when`.
    pub fn new(when: FaultWhen, action: FaultAction) -> Fault {
        Fault { when, action }
    }
}

/// Which requests a fault applies to. `Default` (all `None`, `nth` 1, `times` 1) = the very next
/// API or OAuth request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultWhen {
    /// HTTP method, e.g. `"GET"` (case-insensitive); `None` = any.
    pub method: Option<String>,
    /// Exact path without the query, e.g. `"/sync/watchlist"`; `None` = any API/OAuth path.
    pub path: Option<String>,
    /// A substring of the raw query string, e.g. `"page=2"`; `None` = any.
    pub query_contains: Option<String>,
    /// Only requests whose JSON body holds more than this many items ([`body_items`]; a
    /// request without a JSON body holds 0); `None` = any body.
    pub body_items_over: Option<u32>,
    /// 1-based: the fault starts at the `nth` matching request counted from its injection
    /// (`0` is read as `1`).
    pub nth: u32,
    /// How many matching requests in a row it applies to from the `nth`; `0` = forever.
    pub times: u32,
}

impl Default for FaultWhen {
    fn default() -> FaultWhen {
        FaultWhen { method: None, path: None, query_contains: None, body_items_over: None, nth: 1, times: 1 }
    }
}

impl FaultWhen {
    /// Any request to `path` (any method, any query).
    pub fn path(path: &str) -> FaultWhen {
        FaultWhen { path: Some(path.to_string()), ..FaultWhen::default() }
    }

    /// Requests with this method to `path`.
    pub fn request(method: &str, path: &str) -> FaultWhen {
        FaultWhen { method: Some(method.to_string()), path: Some(path.to_string()), ..FaultWhen::default() }
    }

    pub(crate) fn matches(&self, method: &str, path: &str, query: &str, items: &mut BodyItems) -> bool {
        self.method.as_deref().is_none_or(|m| m.trim().eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| p == path)
            && self.query_contains.as_deref().is_none_or(|q| query.contains(q))
            && self.body_items_over.is_none_or(|n| items.count() > n as usize)
    }

    /// Whether the `count`-th matching request (1-based) is inside the window.
    pub(crate) fn in_window(&self, count: u32) -> bool {
        let first = self.nth.max(1);
        count >= first && (self.times == 0 || count - first < self.times)
    }
}

/// What happens to a request hit by a fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer `status` with these extra headers and this body instead of handling the request
    /// (the request is not applied and not rate-counted). The `Content-Type` is JSON when the
    /// body parses as JSON, HTML when it starts with `<`, else text; a `content-type` in
    /// `headers` overrides it. E.g. `503`, or `429` with `retry-after`.
    Status {
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
    },
    /// Apply the request (e.g. a POST's effect happens), then answer `status` with an empty
    /// body instead of the real answer: a proxy or gateway giving up on a slow origin (a `502`,
    /// `504`, Cloudflare's `524`) after the origin recorded the write. Logged with `status`.
    ApplyThenStatus { status: u16 },
    /// Handle the request at once (its effect happens and is logged with the real status), but
    /// send the answer only after `ms` milliseconds.
    Delay { ms: u64 },
    /// Close the connection without any response; the request is not applied. Logged with
    /// status 0.
    DropConnection,
    /// Apply the request (e.g. a POST's effect happens), then close the connection without any
    /// response. Logged with status 0.
    ApplyThenDrop,
    /// Handle the request normally and send the status line and headers (with the full
    /// `Content-Length`) but only the first half of the body (rounded down), then close.
    TruncatedBody,
    /// `200` with an HTML page (`Content-Type: text/html`) instead of handling the request (not
    /// applied), as a captive portal or a misconfigured proxy would answer.
    NonJsonBody,
    /// Cloudflare's rate-limit page: `429`, `Server: cloudflare`, HTML body with "error 1015",
    /// `Retry-After` only when `retry_after_secs` is set, no `X-Ratelimit`. Not applied.
    CloudflareRateLimit { retry_after_secs: Option<u64> },
    /// On a GET with `page=N`, N > 1: serve page N-1's rows with page N's headers (a server
    /// repeating a page). On other requests it fires (and is logged) but changes nothing.
    RepeatPreviousPage,
    /// Handle normally, then add `delta` to `X-Pagination-Item-Count` (clamped at 0; rows and the
    /// other headers unchanged). No effect on responses without that header.
    ItemCountOffBy { delta: i64 },
}

impl FaultAction {
    /// Short name for the request log: `status:503`, `apply_then_status:502`, `delay:1500`,
    /// `drop_connection`,
    /// `apply_then_drop`, `truncated_body`, `non_json_body`, `cloudflare_rate_limit`,
    /// `repeat_previous_page`, `item_count_off_by:-1`.
    pub fn label(&self) -> String {
        match self {
            FaultAction::Status { status, .. } => format!("status:{status}"),
            FaultAction::ApplyThenStatus { status } => format!("apply_then_status:{status}"),
            FaultAction::Delay { ms } => format!("delay:{ms}"),
            FaultAction::DropConnection => "drop_connection".into(),
            FaultAction::ApplyThenDrop => "apply_then_drop".into(),
            FaultAction::TruncatedBody => "truncated_body".into(),
            FaultAction::NonJsonBody => "non_json_body".into(),
            FaultAction::CloudflareRateLimit { .. } => "cloudflare_rate_limit".into(),
            FaultAction::RepeatPreviousPage => "repeat_previous_page".into(),
            FaultAction::ItemCountOffBy { delta } => format!("item_count_off_by:{delta}"),
        }
    }
}

/// One or many faults (the body of `POST /_emulator/faults`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(Fault),
    Many(Vec<Fault>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<Fault> {
        match self {
            OneOrMany::One(f) => vec![f],
            OneOrMany::Many(v) => v,
        }
    }
}

/// An injected fault and how many matching requests it has seen.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Armed {
    #[serde(flatten)]
    pub fault: Fault,
    pub seen: u32,
}

/// The injected faults, in injection order.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    armed: Vec<Armed>,
}

impl FaultSet {
    pub(crate) fn inject(&mut self, fault: Fault) {
        self.armed.push(Armed { fault, seen: 0 });
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    pub(crate) fn list(&self) -> &[Armed] {
        &self.armed
    }

    /// Counts one request against every fault whose filter matches and returns the action of
    /// the first one whose window contains its count.
    pub(crate) fn fire(&mut self, method: &str, path: &str, query: &str, body: &[u8]) -> Option<FaultAction> {
        let mut fired = None;
        let mut items = BodyItems::Unread(body);
        for a in &mut self.armed {
            if !a.fault.when.matches(method, path, query, &mut items) {
                continue;
            }
            a.seen = a.seen.saturating_add(1);
            if fired.is_none() && a.fault.when.in_window(a.seen) {
                fired = Some(a.fault.action.clone());
            }
        }
        // Forget exhausted faults (they can never fire again).
        self.armed.retain(|a| {
            let w = &a.fault.when;
            w.times == 0 || a.seen < w.nth.max(1).saturating_add(w.times - 1)
        });
        fired
    }
}

/// The items a request body holds, as a Trakt sync write counts them: each entry of `movies`,
/// `episodes` and `ids` (history ids); each episode under `shows[].seasons[]`; a season (top
/// level or under a show) without `episodes`, and a show without `seasons`, as one item; `0`
/// for a body that is not a JSON object.
pub fn body_items(body: &serde_json::Value) -> usize {
    let list = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_array()).cloned().unwrap_or_default();
    let season = |s: &serde_json::Value| list(s, "episodes").len().max(1);
    let show = |s: &serde_json::Value| {
        let seasons = list(s, "seasons");
        if seasons.is_empty() {
            1
        } else {
            seasons.iter().map(season).sum()
        }
    };
    list(body, "movies").len()
        + list(body, "episodes").len()
        + list(body, "ids").len()
        + list(body, "seasons").iter().map(season).sum::<usize>()
        + list(body, "shows").iter().map(show).sum::<usize>()
}

/// A request body's item count, parsed only when a fault asks for it.
pub(crate) enum BodyItems<'b> {
    Unread(&'b [u8]),
    Counted(usize),
}

impl BodyItems<'_> {
    fn count(&mut self) -> usize {
        if let BodyItems::Unread(bytes) = self {
            let n = serde_json::from_slice::<serde_json::Value>(bytes).map(|v| body_items(&v)).unwrap_or(0);
            *self = BodyItems::Counted(n);
        }
        match self {
            BodyItems::Counted(n) => *n,
            BodyItems::Unread(_) => 0,
        }
    }
}

/// What the transport does with the next response on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// Pass everything through.
    Open,
    /// Let the response head through plus `body` bytes, then fail.
    After { body: usize },
    /// Fail every read and write.
    Dead,
}

#[derive(Debug)]
struct CutState {
    cut: Cut,
    /// Whether the head (up to `\r\n\r\n`) of the current response was written.
    head_done: bool,
    /// The last bytes written while looking for `\r\n\r\n` across writes.
    tail: Vec<u8>,
}

/// Per-connection handle given to the request handler (as axum connection info).
#[derive(Clone, Debug)]
pub(crate) struct ConnHandle(Arc<Mutex<CutState>>);

impl ConnHandle {
    fn new() -> ConnHandle {
        ConnHandle(Arc::new(Mutex::new(CutState { cut: Cut::Open, head_done: false, tail: Vec::new() })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CutState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next response on this connection is not sent at all; the connection closes.
    pub(crate) fn drop_response(&self) {
        self.state().cut = Cut::Dead;
    }

    /// The next response gets its head and `body_bytes` body bytes out, then the connection
    /// closes.
    pub(crate) fn truncate_response(&self, body_bytes: usize) {
        let mut s = self.state();
        s.cut = Cut::After { body: body_bytes };
        s.head_done = false;
        s.tail.clear();
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, FaultListener>> for ConnHandle {
    fn connect_info(stream: axum::serve::IncomingStream<'_, FaultListener>) -> ConnHandle {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be cut by the handler (see the module docs).
pub(crate) struct FaultListener(pub tokio::net::TcpListener);

impl axum::serve::Listener for FaultListener {
    type Io = FaultIo;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (FaultIo, ConnHandle) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handle = ConnHandle::new();
                    return (FaultIo { inner: stream, handle: handle.clone() }, handle);
                }
                // E.g. too many open files: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnHandle> {
        self.0.local_addr().map(|_| ConnHandle::new())
    }
}

/// A TCP stream that obeys its [`ConnHandle`].
pub(crate) struct FaultIo {
    inner: tokio::net::TcpStream,
    handle: ConnHandle,
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "emulator fault: connection cut")
}

impl AsyncRead for FaultIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.handle.state().cut == Cut::Dead {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// End of the `\r\n\r\n` head terminator within `buf`, given the bytes written before it.
fn head_end(tail: &[u8], buf: &[u8]) -> Option<usize> {
    let mut joined = tail.to_vec();
    joined.extend_from_slice(buf);
    joined.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4 - tail.len())
}

impl AsyncWrite for FaultIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut st = this.handle.state();
        let allowed = match st.cut {
            Cut::Open => {
                drop(st);
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
            Cut::Dead => return Poll::Ready(Err(cut_error())),
            Cut::After { body } => {
                if st.head_done {
                    body.min(buf.len())
                } else {
                    match head_end(&st.tail, buf) {
                        Some(end) => end + body.min(buf.len() - end),
                        None => buf.len(),
                    }
                }
            }
        };
        if allowed == 0 && !buf.is_empty() {
            st.cut = Cut::Dead;
            return Poll::Ready(Err(cut_error()));
        }
        let written = match Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        // Account for what went out.
        let chunk = &buf[..written];
        let Cut::After { body } = st.cut else {
            return Poll::Ready(Ok(written));
        };
        let body_sent = if st.head_done {
            written
        } else {
            match head_end(&st.tail, chunk) {
                Some(end) => {
                    st.head_done = true;
                    st.tail.clear();
                    written - end
                }
                None => {
                    let mut t = std::mem::take(&mut st.tail);
                    t.extend_from_slice(chunk);
                    let keep = t.len().saturating_sub(3);
                    st.tail = t.split_off(keep);
                    0
                }
            }
        };
        let left = body - body_sent.min(body);
        st.cut = if st.head_done && left == 0 { Cut::Dead } else { Cut::After { body: left } };
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(Ok(())) if self.handle.state().cut == Cut::Dead => Poll::Ready(Err(cut_error())),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_matching() {
        let w = FaultWhen::default();
        assert!(w.in_window(1) && !w.in_window(2));
        let w = FaultWhen { nth: 2, times: 3, ..FaultWhen::default() };
        assert_eq!((1..=6).map(|c| w.in_window(c)).collect::<Vec<_>>(), vec![false, true, true, true, false, false]);
        let w = FaultWhen { nth: 0, times: 0, ..FaultWhen::default() };
        assert!(w.in_window(1) && w.in_window(1000));
        let w = FaultWhen {
            method: Some("get".into()),
            path: Some("/sync/watchlist".into()),
            query_contains: Some("page=2".into()),
            ..FaultWhen::default()
        };
        let none = || BodyItems::Counted(0);
        assert!(w.matches("GET", "/sync/watchlist", "page=2&limit=10", &mut none()));
        assert!(!w.matches("POST", "/sync/watchlist", "page=2", &mut none()));
        assert!(!w.matches("GET", "/sync/watchlist/movies", "page=2", &mut none()));
        assert!(!w.matches("GET", "/sync/watchlist", "page=1", &mut none()));

        let mut set = FaultSet::default();
        set.inject(Fault::new(FaultWhen { nth: 2, ..FaultWhen::path("/a") }, FaultAction::DropConnection));
        set.inject(Fault::new(FaultWhen::path("/a"), FaultAction::NonJsonBody));
        // First /a: fault 1 counts 1 (outside), fault 2 fires.
        assert_eq!(set.fire("GET", "/a", "", b""), Some(FaultAction::NonJsonBody));
        assert_eq!(set.fire("GET", "/b", "", b""), None);
        assert_eq!(set.fire("GET", "/a", "", b""), Some(FaultAction::DropConnection));
        assert_eq!(set.fire("GET", "/a", "", b""), None);
        assert!(set.list().is_empty());
    }

    #[test]
    fn body_items_count_plays_as_a_sync_body_holds_them() {
        let body = serde_json::json!({
            "movies": [{"ids": {"trakt": 1}}, {"ids": {"trakt": 2}}],
            "episodes": [{"ids": {"trakt": 16}}],
            "seasons": [{"ids": {"trakt": 3950}}],
            "shows": [
                {"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 1}, {"number": 2}]}, {"number": 2}]},
                {"ids": {"tvdb": 1}}
            ],
            "ids": [5000000001u64]
        });
        assert_eq!(body_items(&body), 2 + 1 + 1 + 3 + 1 + 1);
        assert_eq!(body_items(&serde_json::json!([1, 2])), 0);

        // Only bodies above the threshold count and fire.
        let mut set = FaultSet::default();
        let when = FaultWhen { body_items_over: Some(2), times: 0, ..FaultWhen::request("POST", "/sync/history") };
        set.inject(Fault::new(when, FaultAction::ApplyThenStatus { status: 502 }));
        let two = br#"{"movies": [{"ids": {"trakt": 1}}, {"ids": {"trakt": 2}}]}"#;
        let three = br#"{"movies": [{"ids": {"trakt": 1}}, {"ids": {"trakt": 2}}, {"ids": {"trakt": 3}}]}"#;
        assert_eq!(set.fire("POST", "/sync/history", "", two), None);
        assert_eq!(set.fire("POST", "/sync/history", "", b"not json"), None);
        assert_eq!(set.fire("POST", "/sync/history", "", three), Some(FaultAction::ApplyThenStatus { status: 502 }));
        assert_eq!(set.fire("POST", "/sync/history", "", three), Some(FaultAction::ApplyThenStatus { status: 502 }));
        assert_eq!(set.list()[0].seen, 2, "only the large bodies were counted");
        let f: Fault = serde_json::from_str(
            r#"{"when": {"method": "POST", "path": "/sync/history", "body_items_over": 120, "times": 0},
                "action": {"kind": "apply_then_status", "status": 504}}"#,
        )
        .unwrap();
        assert_eq!((f.when.body_items_over, f.action.label()), (Some(120), "apply_then_status:504".to_string()));
    }

    #[test]
    fn json_forms() {
        let f: Fault = serde_json::from_str(
            r#"{"when":{"path":"/sync/watchlist","query_contains":"page=2"},
                "action":{"kind":"status","status":503}}"#,
        )
        .unwrap();
        assert_eq!(f.when.nth, 1);
        assert_eq!(f.when.times, 1);
        assert_eq!(f.action.label(), "status:503");
        let f: Fault = serde_json::from_str(r#"{"action":{"kind":"drop_connection"}}"#).unwrap();
        assert_eq!(f.when, FaultWhen::default());
        let v = serde_json::to_value(FaultAction::CloudflareRateLimit { retry_after_secs: Some(300) }).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "cloudflare_rate_limit", "retry_after_secs": 300}));
        let f: FaultAction = serde_json::from_str(r#"{"kind":"item_count_off_by","delta":-2}"#).unwrap();
        assert_eq!(f.label(), "item_count_off_by:-2");
        let many: OneOrMany =
            serde_json::from_str(r#"[{"action":{"kind":"delay","ms":5}},{"action":{"kind":"truncated_body"}}]"#)
                .unwrap();
        assert_eq!(many.into_vec().len(), 2);
        assert_eq!(head_end(b"\r\n", b"\r\nbody"), Some(2));
        assert_eq!(head_end(b"", b"a\r\n\r\nb"), Some(5));
        assert_eq!(head_end(b"", b"abc"), None);
    }
}
