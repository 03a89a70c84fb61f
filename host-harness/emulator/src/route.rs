//! What a route is and what its handler sees: [`RouteDef`], [`Access`], [`Ctx`]. Route modules
//! (`routes::*`) depend on this module and the server dispatches through it; it depends on
//! neither.
//!
//! Handlers are plain synchronous functions `fn(&mut Ctx) -> Reply` that run while the state
//! lock is held, so every request sees and leaves a consistent state.

use axum::http::HeaderMap;
use serde_json::Value;

use crate::encoding::percent_decode;
use crate::timestamp::Timestamp;

pub(crate) use crate::reply::Reply;
pub(crate) use crate::state::State;

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
    pub(crate) fn new(method: &'static str, pattern: &'static str, access: Access, handler: Handler) -> RouteDef {
        RouteDef { method, pattern, access, handler }
    }
}

/// The path parameters when `path` matches `pattern` (`:name` segments capture one non-empty
/// segment each, percent-decoded), else `None`.
pub(crate) fn match_pattern(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
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
        self.params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// First value of a query parameter.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}
