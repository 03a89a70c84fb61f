//! The HTTP front: route table, header checks (Cloudflare User-Agent block, `trakt-api-key`,
//! `trakt-api-version`, `Content-Type`, `Authorization: Bearer`), rate limits, ETag/304, fault
//! injection and the request log (the `/_emulator/*` control endpoints are in `control`, the
//! choice of account in `accounts`).
//!
//! Handlers are plain synchronous functions `fn(&mut Ctx) -> Reply` that run while the state
//! lock is held, so every request sees and leaves a consistent state. A feature module exposes
//! `routes()` and is listed once in [`all_routes`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::accounts::bearer;
use super::catalog::{CatalogIndex, Lookup};
use super::faults::{ConnHandle, FaultAction, FaultSet};
use super::library::Library;
use super::oauth::DeviceCode;
use super::ratelimit::RateLimiter;
use super::timestamp::Timestamp;
use super::user_index::UserIndex;
use super::LoggedRequest;

/// What a route requires besides a matching path and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// OAuth endpoints: no `trakt-api-key`/`Authorization`; JSON or form bodies.
    OAuth,
    /// API endpoints that only need the app headers (the token is optional).
    #[allow(dead_code, reason = "for public GETs such as /movies/{id}")]
    Public,
    /// API endpoints that need a valid `Authorization: Bearer` token (all `/sync/*`).
    User,
}

pub(crate) type Handler = fn(&mut Ctx<'_>) -> Reply;

/// One route: `pattern` segments starting with `:` capture a path parameter.
pub(crate) struct RouteDef {
    pub method: &'static str,
    pub pattern: &'static str,
    pub access: Access,
    pub handler: Handler,
}

impl RouteDef {
    pub(crate) fn new(
        method: &'static str,
        pattern: &'static str,
        access: Access,
        handler: Handler,
    ) -> RouteDef {
        RouteDef {
            method,
            pattern,
            access,
            handler,
        }
    }
}

/// Every route the emulator serves, in matching order (first match wins).
pub(crate) fn all_routes() -> Vec<RouteDef> {
    let mut r = Vec::new();
    r.extend(super::oauth::routes());
    r.extend(super::activities::routes());
    r.extend(super::users::routes());
    r.extend(super::sync_watchlist::routes());
    r.extend(super::sync_ratings::routes());
    r.extend(super::sync_history::routes());
    r.extend(super::sync_collection::routes());
    r
}

fn match_pattern(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let pat: Vec<&'static str> = pattern.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if pat.len() != got.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, g) in pat.into_iter().zip(got) {
        if let Some(name) = p.strip_prefix(':') {
            if g.is_empty() {
                return None;
            }
            params.push((name, percent_decode(g)));
        } else if p != g {
            return None;
        }
    }
    Some(params)
}

/// Mutable server state (behind one lock).
pub(crate) struct State {
    pub library: Library,
    pub index: CatalogIndex,
    /// Derived lookups over ratings, history and collection.
    pub user: UserIndex,
    /// Rendered media objects of response rows (see `render`).
    pub fragments: super::render::Fragments,
    /// Next watchlist list item id.
    pub next_list_item_id: u64,
    /// Counter mixed into generated tokens and codes.
    pub token_serial: u64,
    /// Per-instance randomness for generated tokens.
    pub token_nonce: u64,
    pub access_token_ttl_secs: i64,
    pub rate: RateLimiter,
    /// Device-flow codes issued by `POST /oauth/device/code`.
    pub devices: Vec<DeviceCode>,
    pub device_interval_secs: u64,
    pub device_expires_in_secs: u64,
}

impl State {
    pub(crate) fn new(
        library: Library,
        ttl: i64,
        rate: RateLimiter,
        nonce: u64,
    ) -> Result<State, String> {
        let index = CatalogIndex::build(&library.catalog)?;
        let next_list_item_id = library.watchlist.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        let user = UserIndex::build(&library);
        Ok(State {
            library,
            index,
            user,
            fragments: Default::default(),
            next_list_item_id,
            token_serial: 0,
            token_nonce: nonce,
            access_token_ttl_secs: ttl,
            rate,
            devices: Vec::new(),
            device_interval_secs: 5,
            device_expires_in_secs: 600,
        })
    }

    /// Re-derives the catalogue index (after the library was replaced or edited).
    pub(crate) fn reindex(&mut self) -> Result<(), String> {
        self.index = CatalogIndex::build(&self.library.catalog)?;
        let max = self
            .library
            .watchlist
            .iter()
            .map(|e| e.id)
            .max()
            .unwrap_or(0);
        self.next_list_item_id = self.next_list_item_id.max(max + 1);
        self.user.rebuild_ratings(&self.library);
        self.user.rebuild_history(&self.library);
        self.user.rebuild_collection(&self.library);
        self.fragments.clear();
        Ok(())
    }

    pub(crate) fn lookup(&self) -> Lookup<'_> {
        Lookup::new(&self.library.catalog, &self.index)
    }

    /// A fresh 64-hex-digit token (or code), unique within this emulator.
    pub(crate) fn new_token(&mut self, kind: &str) -> String {
        self.token_serial += 1;
        let mut h = Sha256::new();
        h.update(format!("{kind}:{}:{}", self.token_serial, self.token_nonce));
        hex(&h.finalize())
    }
}

/// What a handler sees.
pub(crate) struct Ctx<'a> {
    pub state: &'a mut State,
    pub params: Vec<(&'static str, String)>,
    pub query: Vec<(String, String)>,
    #[allow(dead_code, reason = "available to handlers")]
    pub headers: &'a HeaderMap,
    /// Parsed JSON body (OAuth routes: JSON or form fields as a JSON object).
    pub body: Option<&'a Value>,
    /// The emulator clock (wall clock plus the test offset).
    pub now: Timestamp,
    /// The same instant in Unix milliseconds.
    pub now_ms: i64,
}

impl Ctx<'_> {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First value of a query parameter.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response before it becomes HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
}

#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    Empty,
    Json(Value),
    /// JSON already serialized (large pages are rendered straight to text).
    JsonText(String),
    Html(String),
    /// Bytes with an optional `Content-Type`.
    Raw {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Json(body),
        }
    }

    /// `{"error": .., "error_description": ..}` (section 6.3).
    pub(crate) fn error(status: u16, error: &str, description: impl Into<String>) -> Reply {
        Reply::json(
            status,
            json!({ "error": error, "error_description": description.into() }),
        )
    }

    /// A reply whose body is JSON text rendered by the handler.
    pub(crate) fn json_text(status: u16, body: String) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::JsonText(body),
        }
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Empty,
        }
    }

    pub(crate) fn html(status: u16, text: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Html(text.into()),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub(crate) fn into_response(self) -> Response {
        let (bytes, content_type) = match self.body {
            ReplyBody::Empty => (Vec::new(), None),
            ReplyBody::Json(v) => (
                serde_json::to_vec(&v).unwrap_or_default(),
                Some("application/json; charset=utf-8".to_string()),
            ),
            ReplyBody::JsonText(s) => (
                s.into_bytes(),
                Some("application/json; charset=utf-8".to_string()),
            ),
            ReplyBody::Html(s) => (s.into_bytes(), Some("text/html; charset=UTF-8".to_string())),
            ReplyBody::Raw {
                content_type,
                bytes,
            } => (bytes, content_type),
        };
        let mut b = Response::builder().status(self.status);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Body::from(bytes)).unwrap_or_else(|_| {
            let mut r = Response::new(Body::from("emulator: invalid response header"));
            *r.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}

/// A request as received.
#[derive(Clone)]
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// State shared by the server task and the [`Emulator`](super::Emulator) handle.
pub(crate) struct Shared {
    /// The primary account (see `accounts` for the lock order).
    pub state: Mutex<State>,
    /// The seed's further `accounts`, in order.
    pub accounts: Mutex<Vec<State>>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub started: Instant,
    /// Wall clock (Unix ms) at `started`; the emulator clock runs on from it monotonically.
    pub started_wall_ms: i64,
    /// Seconds added to the clock (`Emulator::advance_clock`).
    pub clock_offset: AtomicI64,
    pub faults: Mutex<FaultSet>,
    pub require_user_agent: bool,
    pub routes: Vec<RouteDef>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, Vec<LoggedRequest>> {
        lock(&self.log)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultSet> {
        lock(&self.faults)
    }

    /// Emulator time in Unix milliseconds: the wall clock at start plus the monotonic time
    /// elapsed since, plus the test offset.
    pub(crate) fn now_ms(&self) -> i64 {
        self.started_wall_ms
            + self.started.elapsed().as_millis() as i64
            + self.clock_offset.load(Ordering::SeqCst) * 1000
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp(self.now_ms().div_euclid(1000))
    }

    /// Handles one request: control endpoints directly, everything else through the faults and
    /// [`dispatch`](Self::dispatch) and into the request log.
    pub(crate) fn process(&self, req: Incoming) -> Outcome {
        if req.path == "/_emulator" || req.path.starts_with("/_emulator/") {
            return Outcome::normal(self.control(&req));
        }
        let at_ms = self.started.elapsed().as_millis() as u64;
        let action = self.faults().fire(&req.method, &req.path, &req.query);
        let mut transport = Transport::Normal;
        let mut logged_status = None;
        let mut account = None;
        let reply = match &action {
            None => self.respond(&req, &mut account, |_| {}),
            Some(FaultAction::Status {
                status,
                headers,
                body,
            }) => status_reply(*status, headers, body),
            Some(FaultAction::Delay { ms }) => {
                transport = Transport::Delay(*ms);
                self.respond(&req, &mut account, |_| {})
            }
            Some(FaultAction::DropConnection) => {
                transport = Transport::Drop;
                logged_status = Some(0);
                Reply::empty(200)
            }
            Some(FaultAction::ApplyThenDrop) => {
                transport = Transport::Drop;
                logged_status = Some(0);
                self.respond(&req, &mut account, |_| {})
            }
            Some(FaultAction::TruncatedBody) => {
                transport = Transport::Truncate;
                self.respond(&req, &mut account, |_| {})
            }
            Some(FaultAction::NonJsonBody) => non_json_page(),
            Some(FaultAction::CloudflareRateLimit { retry_after_secs }) => {
                cloudflare_rate_limit(*retry_after_secs)
            }
            Some(FaultAction::RepeatPreviousPage) => self.repeat_previous_page(&req, &mut account),
            Some(FaultAction::ItemCountOffBy { delta }) => self.respond(&req, &mut account, |r| {
                for (k, v) in &mut r.headers {
                    if k.eq_ignore_ascii_case("x-pagination-item-count") {
                        let n = v.parse::<i64>().unwrap_or(0);
                        *v = (n + delta).max(0).to_string();
                    }
                }
            }),
        };
        let headers = req
            .headers
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().to_ascii_lowercase();
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                let value = if name == "authorization" {
                    redact_authorization(&value)
                } else {
                    value
                };
                (name, value)
            })
            .collect();
        let body = if req.body.is_empty() {
            None
        } else {
            serde_json::from_slice(&req.body).ok()
        };
        self.log().push(LoggedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            status: logged_status.unwrap_or(reply.status),
            headers,
            body,
            at_ms,
            fault: action.map(|a| a.label()),
            account,
        });
        Outcome { reply, transport }
    }

    /// [`dispatch`](Self::dispatch), then `edit` on the reply, then the ETag.
    fn respond(
        &self,
        req: &Incoming,
        account: &mut Option<String>,
        edit: impl FnOnce(&mut Reply),
    ) -> Reply {
        let (mut reply, etag) = self.dispatch(req, account);
        edit(&mut reply);
        if etag && reply.status == 200 {
            apply_etag(&mut reply, &req.headers);
        }
        reply
    }

    /// The `repeat_previous_page` fault: page N-1's rows with page N's headers.
    fn repeat_previous_page(&self, req: &Incoming, account: &mut Option<String>) -> Reply {
        let page = parse_urlencoded(&req.query)
            .into_iter()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .unwrap_or(1);
        if req.method != "GET" || page < 2 {
            return self.respond(req, account, |_| {});
        }
        let mut prev = req.clone();
        prev.query = req
            .query
            .split('&')
            .map(|part| {
                let key = part.split_once('=').map_or(part, |(k, _)| k);
                if percent_decode(key) == "page" {
                    format!("page={}", page - 1)
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        self.respond(&prev, account, |r| {
            for (k, v) in &mut r.headers {
                if k.eq_ignore_ascii_case("x-pagination-page") {
                    *v = page.to_string();
                }
            }
        })
    }

    /// Handles an API/OAuth request. The flag says whether a `200` gets an ETag (API GETs);
    /// `account` gets the username whose valid token signed it (see `LoggedRequest::account`).
    fn dispatch(&self, req: &Incoming, account: &mut Option<String>) -> (Reply, bool) {
        let mut etag = false;
        let reply = self.dispatch_inner(req, &mut etag, account);
        (reply, etag)
    }

    fn dispatch_inner(
        &self,
        req: &Incoming,
        etag: &mut bool,
        account: &mut Option<String>,
    ) -> Reply {
        if self.require_user_agent
            && header(&req.headers, "user-agent").is_none_or(|v| v.trim().is_empty())
        {
            return cloudflare_block();
        }

        let mut allowed: Vec<&str> = Vec::new();
        let mut hit = None;
        for route in &self.routes {
            if let Some(params) = match_pattern(route.pattern, &req.path) {
                if route.method == req.method {
                    hit = Some((route, params));
                    break;
                }
                if !allowed.contains(&route.method) {
                    allowed.push(route.method);
                }
            }
        }
        let Some((route, params)) = hit else {
            if allowed.is_empty() {
                return Reply::error(
                    404,
                    "not_found",
                    format!("No route matches {} {}", req.method, req.path),
                );
            }
            return Reply::error(
                405,
                "method_not_allowed",
                format!("{} is not allowed on {}", req.method, req.path),
            )
            .header("allow", allowed.join(", "));
        };

        let now_ms = self.now_ms();
        let now = Timestamp(now_ms.div_euclid(1000));
        let query = parse_urlencoded(&req.query);
        let content_type = header(&req.headers, "content-type").unwrap_or("");
        let mut accounts = self.accounts();
        let pick;
        let mut rate_header = None;
        let body: Option<Value> = if route.access == Access::OAuth {
            let body = if req.body.is_empty() {
                None
            } else if media_type(content_type) == "application/x-www-form-urlencoded" {
                let text = String::from_utf8_lossy(&req.body);
                Some(Value::Object(
                    parse_urlencoded(&text)
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                ))
            } else {
                match serde_json::from_slice(&req.body) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        return Reply::error(
                            400,
                            "invalid_request",
                            format!("The request body could not be parsed as JSON: {e}"),
                        );
                    }
                }
            };
            pick = accounts.for_oauth(&req.path, body.as_ref());
            body
        } else {
            // The account, then the app headers.
            let token = bearer(&req.headers);
            let api_key = header(&req.headers, "trakt-api-key").map(str::trim);
            pick = accounts.for_api(token, api_key);
            let state = accounts.get(pick);
            match api_key {
                None | Some("") => {
                    return Reply::error(
                        403,
                        "forbidden",
                        "Missing trakt-api-key header (your app's client_id)",
                    );
                }
                Some(key) if key != state.library.auth.client_id => {
                    return Reply::error(403, "forbidden", "Invalid API key or unapproved app");
                }
                Some(_) => {}
            }
            match header(&req.headers, "trakt-api-version").map(str::trim) {
                Some("2") => {}
                other => {
                    return Reply::error(
                        400,
                        "invalid_api_version",
                        format!(
                            "trakt-api-version header must be 2 (got {})",
                            other.map_or("nothing".into(), |v| format!("{v:?}"))
                        ),
                    );
                }
            }
            if !req.body.is_empty() && media_type(content_type) != "application/json" {
                return Reply::error(
                    412,
                    "precondition_failed",
                    "Use application/json content type",
                );
            }
            // Token.
            let auth = &state.library.auth;
            let token_error = match token {
                None => Some((
                    "unauthorized",
                    "Missing Authorization: Bearer <access_token> header",
                )),
                Some(t) if t.is_empty() || t != auth.access_token || auth.revoked => {
                    Some(("invalid_token", "The access token is invalid"))
                }
                Some(_) if auth.expires_at.is_some_and(|e| now.secs() >= e) => {
                    Some(("invalid_token", "The access token expired"))
                }
                Some(_) => None,
            };
            if let (Some((code, description)), Access::User) = (token_error, route.access) {
                return Reply::error(401, code, description).header(
                    "www-authenticate",
                    format!("Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"{description}\""),
                );
            }
            let user = if token_error.is_none() {
                Some(state.library.user.username.clone())
            } else {
                None
            };
            account.clone_from(&user);
            let client_id = state.library.auth.client_id.clone();
            match state
                .rate
                .check(req.method == "GET", user.as_deref(), &client_id, now_ms)
            {
                Ok(h) => rate_header = h,
                Err(reply) => return reply,
            }
            if req.body.is_empty() {
                None
            } else {
                match serde_json::from_slice(&req.body) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        return Reply::error(
                            400,
                            "bad_request",
                            format!("The request body could not be parsed as JSON: {e}"),
                        )
                    }
                }
            }
        };

        let mut ctx = Ctx {
            state: accounts.get(pick),
            params,
            query,
            headers: &req.headers,
            body: body.as_ref(),
            now,
            now_ms,
        };
        let mut reply = (route.handler)(&mut ctx);
        if reply.status == 200 && refresh_grant(route.pattern, ctx.body) {
            *account = Some(ctx.state.library.user.username.clone());
        }
        if let Some(h) = rate_header {
            reply.headers.push(("x-ratelimit".into(), h));
        }
        *etag = req.method == "GET" && route.access != Access::OAuth;
        reply
    }
}

/// A `POST /oauth/token` body with `grant_type=refresh_token`.
fn refresh_grant(pattern: &str, body: Option<&Value>) -> bool {
    pattern == "/oauth/token"
        && body
            .and_then(|b| b.get("grant_type"))
            .and_then(Value::as_str)
            .map(str::trim)
            == Some("refresh_token")
}

/// Adds a strong `ETag` (hash of the body and the pagination headers) and `Cache-Control`; turns
/// the reply into an empty `304` when `If-None-Match` names that ETag (or `*`). A JSON value body
/// is serialized here once (and kept as text for sending).
fn apply_etag(reply: &mut Reply, headers: &HeaderMap) {
    let text = match std::mem::replace(&mut reply.body, ReplyBody::Empty) {
        ReplyBody::Json(v) => serde_json::to_string(&v).unwrap_or_default(),
        ReplyBody::JsonText(t) => t,
        other => {
            reply.body = other;
            return;
        }
    };
    let mut h = EtagHasher::default();
    h.update(text.as_bytes());
    for (k, v) in &reply.headers {
        if k.to_ascii_lowercase().starts_with("x-pagination-") {
            h.update(format!("\n{}={v}", k.to_ascii_lowercase()).as_bytes());
        }
    }
    let etag = format!("\"{}\"", h.hex());
    reply.body = ReplyBody::JsonText(text);
    let matches = headers
        .get_all("if-none-match")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
        });
    reply.headers.push(("etag".into(), etag));
    reply.headers.push((
        "cache-control".into(),
        "private, max-age=0, must-revalidate".into(),
    ));
    if matches {
        reply.status = 304;
        reply.body = ReplyBody::Empty;
    }
}

/// A 128-bit content hash for ETags (not cryptographic): two multiply-xorshift lanes over
/// 8-byte words. Cheap even in unoptimized builds, where SHA-256 over a 250-row page costs
/// milliseconds.
#[derive(Clone, Copy)]
struct EtagHasher {
    a: u64,
    b: u64,
    len: u64,
}

impl Default for EtagHasher {
    fn default() -> EtagHasher {
        EtagHasher {
            a: 0x243F_6A88_85A3_08D3,
            b: 0x1319_8A2E_0370_7344,
            len: 0,
        }
    }
}

impl EtagHasher {
    fn mix(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.a ^= self.a >> 29;
        self.b = (self.b.rotate_left(23) ^ w).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        self.b ^= self.b >> 31;
    }

    fn update(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ 0xFF00_0000_0000_0000);
        }
        self.len += bytes.len() as u64;
    }

    fn hex(mut self) -> String {
        let len = self.len;
        self.mix(len);
        self.mix(!len);
        format!("{:016x}{:016x}", self.a, self.b)
    }
}

/// How the answer leaves the server (see [`FaultAction`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Normal,
    /// Send after this many milliseconds.
    Delay(u64),
    /// Close the connection without sending anything.
    Drop,
    /// Send the head and half the body, then close.
    Truncate,
}

/// A reply and how to send it.
pub(crate) struct Outcome {
    pub reply: Reply,
    pub transport: Transport,
}

impl Outcome {
    fn normal(reply: Reply) -> Outcome {
        Outcome {
            reply,
            transport: Transport::Normal,
        }
    }
}

/// The `status` fault's reply.
fn status_reply(status: u16, headers: &[(String, String)], body: &str) -> Reply {
    let has_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let content_type = if has_type || body.is_empty() {
        None
    } else if serde_json::from_str::<Value>(body).is_ok() {
        Some("application/json; charset=utf-8")
    } else if body.trim_start().starts_with('<') {
        Some("text/html; charset=UTF-8")
    } else {
        Some("text/plain; charset=utf-8")
    };
    Reply {
        status,
        headers: headers.to_vec(),
        body: ReplyBody::Raw {
            content_type: content_type.map(str::to_string),
            bytes: body.as_bytes().to_vec(),
        },
    }
}

/// The `non_json_body` fault: a `200` HTML page.
fn non_json_page() -> Reply {
    Reply::html(
        200,
        "<!DOCTYPE html>\n<html><head><title>Network login</title></head>\
         <body><h1>Please sign in to continue</h1><p>emulator: non-JSON body fault</p></body></html>\n",
    )
}

/// The `cloudflare_rate_limit` fault: Cloudflare's HTML `429` (error 1015), no `X-Ratelimit`.
fn cloudflare_rate_limit(retry_after_secs: Option<u64>) -> Reply {
    let reply = Reply::html(
        429,
        "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Access denied | api.trakt.tv used Cloudflare to restrict access</title></head>\
         <body><h1>Error 1015</h1><h2>You are being rate limited</h2>\
         <p>The owner of this website (api.trakt.tv) has banned you temporarily from accessing this website.</p>\
         <p>Cloudflare Ray ID: 0000000000000000 &bull; error 1015 &bull; emulator</p></body></html>\n",
    )
    .header("server", "cloudflare")
    .header("cf-ray", "0000000000000000-EMU");
    match retry_after_secs {
        Some(s) => reply.header("retry-after", s.to_string()),
        None => reply,
    }
}

/// What Cloudflare answers to requests without a User-Agent.
fn cloudflare_block() -> Reply {
    Reply::html(
        403,
        "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Attention Required! | Cloudflare</title></head>\
         <body><h1>Sorry, you have been blocked</h1><h2>You are unable to access trakt.tv</h2>\
         <p>This website is using a security service to protect itself from online attacks.</p>\
         <p>Cloudflare Ray ID: 0000000000000000 &bull; emulator</p></body></html>\n",
    )
    .header("server", "cloudflare")
    .header("cf-ray", "0000000000000000-EMU")
}

/// `Bearer <redacted:LAST4>`: never log a whole token.
pub(crate) fn redact_authorization(value: &str) -> String {
    let (scheme, token) = match value.trim().split_once(' ') {
        Some((s, t)) => (Some(s), t.trim()),
        None => (None, value.trim()),
    };
    let chars: Vec<char> = token.chars().collect();
    let last4: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    match scheme {
        Some(s) => format!("{s} <redacted:{last4}>"),
        None => format!("<redacted:{last4}>"),
    }
}

/// `application/json; charset=utf-8` -> `application/json`.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `a=1&b=x%20y` -> `[("a","1"),("b","x y")]` (`+` is a space).
pub(crate) fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hexval = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hexval(bytes[i + 1]), hexval(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The axum entry point: every request goes through [`Shared::process`]; connection-level faults
/// act through the connection's [`ConnHandle`].
pub(crate) async fn handle(
    axum::extract::State(shared): axum::extract::State<std::sync::Arc<Shared>>,
    axum::extract::ConnectInfo(conn): axum::extract::ConnectInfo<ConnHandle>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b.to_vec(),
        Err(e) => {
            return Reply::error(
                400,
                "bad_request",
                format!("could not read the request body: {e}"),
            )
            .into_response()
        }
    };
    let incoming = Incoming {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let Outcome { reply, transport } = shared.process(incoming);
    match transport {
        Transport::Normal => {}
        Transport::Delay(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
        Transport::Drop => conn.drop_response(),
        Transport::Truncate => {
            let response = reply.into_response();
            let len = axum::body::HttpBody::size_hint(response.body())
                .exact()
                .unwrap_or(0);
            conn.truncate_response((len / 2) as usize);
            return response;
        }
    }
    reply.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            redact_authorization("Bearer abcdef123456"),
            "Bearer <redacted:3456>"
        );
        assert_eq!(redact_authorization("xy"), "<redacted:xy>");
        assert_eq!(
            parse_urlencoded("a=1&b=x%20y+z&c"),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y z".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
        assert_eq!(
            match_pattern("/sync/watchlist/:type", "/sync/watchlist/movies"),
            Some(vec![("type", "movies".to_string())])
        );
        assert_eq!(
            match_pattern("/sync/watchlist/:type", "/sync/watchlist/"),
            None
        );
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
    }
}
