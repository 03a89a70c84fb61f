//! The watchlist's unit tests against a fake Trakt (`Remote`), by subject.

mod capacity;
mod shadow;
mod write;

use super::capacity::{limit_from_settings, Limit};
use super::*;
use crate::client::transport::{Method, Request, Response, TransportError};
use crate::config::Options;
use crate::error::AdapterError;
use crate::features::PlannedRequest;
use crate::log::take_lines;
use crate::state::{WATCHLIST_SHADOW, WATCHLIST_UNRESOLVED};
use crate::testkit::{header_of, paged, resp, route_of, Env, Fakes};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

type Post = Box<dyn FnMut(&Request) -> Result<Response, TransportError>>;

struct RemoteState {
    rows: Vec<Value>,
    etag: Option<String>,
    settings: Value,
    /// Page number answered 500.
    fail_page: Option<u64>,
    /// `/sync/last_activities` (every watchlist timestamp at `ACTIVITIES_AT`).
    activities: Value,
    post: Post,
}

const ACTIVITIES_AT: &str = "2026-04-05T12:00:00.000Z";

/// A fake Trakt: the watchlist (paged, ETag/304), `/users/settings`, `/sync/last_activities`, and POSTs answered
/// by a closure.
#[derive(Clone)]
struct Remote(Rc<RefCell<RemoteState>>);

impl Remote {
    fn new(rows: Value, post: impl FnMut(&Request) -> Result<Response, TransportError> + 'static) -> Remote {
        Remote(Rc::new(RefCell::new(RemoteState {
            rows: rows.as_array().cloned().unwrap_or_default(),
            etag: Some("\"v1\"".into()),
            settings: json!({"user": {"vip": true}}),
            fail_page: None,
            activities: json!({
                "all": ACTIVITIES_AT,
                "watchlist": {"updated_at": ACTIVITIES_AT},
                "movies": {"watchlisted_at": ACTIVITIES_AT, "watched_at": ACTIVITIES_AT},
                "shows": {"watchlisted_at": ACTIVITIES_AT},
                "seasons": {"watchlisted_at": ACTIVITIES_AT},
                "episodes": {"watchlisted_at": ACTIVITIES_AT, "watched_at": ACTIVITIES_AT},
            }),
            post: Box::new(post),
        })))
    }
    fn fakes(&self) -> Fakes {
        let r = self.clone();
        Fakes::new(move |req| {
            let mut s = r.0.borrow_mut();
            match (req.method, route_of(&req.url).as_str()) {
                (Method::Get, "/sync/watchlist") => {
                    let page = crate::testkit::query_param(&req.url, "page").and_then(|p| p.parse().ok());
                    if page.is_some() && page == s.fail_page {
                        return Ok(resp(500, &[], "boom"));
                    }
                    Ok(paged(req, &s.rows, s.etag.as_deref()))
                }
                (Method::Get, "/users/settings") => Ok(resp(200, &[], &s.settings.to_string())),
                (Method::Get, "/sync/last_activities") => Ok(resp(200, &[], &s.activities.to_string())),
                (Method::Post, _) => (s.post)(req),
                _ => panic!("unexpected {}", req.url),
            }
        })
    }
    fn env(&self, opts: Options) -> Env {
        Env::new(self.fakes(), opts)
    }
    fn set_rows(&self, rows: Value) {
        self.0.borrow_mut().rows = rows.as_array().cloned().unwrap();
    }
    fn set(&self, f: impl FnOnce(&mut RemoteState)) {
        f(&mut self.0.borrow_mut());
    }
}

fn no_posts(req: &Request) -> Result<Response, TransportError> {
    panic!("no writes expected, got {}", req.url)
}

fn item(kind: &str, ids: &[(&str, &str)]) -> Item {
    Item {
        kind: kind.into(),
        ids: ids.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Item::default()
    }
}

fn movie(tmdb: u32) -> Item {
    item("movie", &[("tmdb", &tmdb.to_string())])
}

fn movie_row(tmdb: u32) -> Value {
    json!({"type": "movie", "listed_at": "2026-04-01T00:00:00.000Z",
           "movie": {"title": format!("M{tmdb}"), "year": 2000, "ids": {"trakt": tmdb + 1000, "tmdb": tmdb}}})
}

fn movie_rows(from: u32, n: u32) -> Value {
    Value::Array((from..from + n).map(movie_row).collect())
}

fn sample_rows() -> Value {
    json!([
        {"rank": 1, "id": 101, "listed_at": "2026-04-01T09:10:00.000Z", "type": "movie",
         "movie": {"title": "Batman Begins", "year": 2005,
                   "ids": {"trakt": 1, "slug": "batman-begins-2005", "imdb": "tt0372784", "tmdb": 272}}},
        {"rank": 2, "id": 102, "listed_at": "2026-04-02T10:00:00.000Z", "type": "show",
         "show": {"title": "Breaking Bad", "year": 2008,
                  "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396,
                          "plex": {"guid": "x", "slug": "y"}}}},
        {"rank": 3, "id": 103, "listed_at": "2026-04-03T11:00:00.000Z", "type": "season",
         "season": {"number": 3, "ids": {"trakt": 3958, "tvdb": 171641, "tmdb": 3626}},
         "show": {"title": "The Walking Dead", "year": 2010,
                  "ids": {"trakt": 2, "slug": "the-walking-dead", "tvdb": 153021, "imdb": "tt1520211", "tmdb": 1402}}},
        {"rank": 4, "id": 104, "listed_at": "2026-04-04T12:00:00.000Z", "type": "episode",
         "episode": {"season": 4, "number": 1, "title": null,
                     "ids": {"trakt": 49, "tvdb": 2639411, "imdb": "tt1683084", "tmdb": 62118}},
         "show": {"title": "Breaking Bad", "year": 2008,
                  "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396}}},
        {"rank": 5, "id": 105, "listed_at": "2026-04-05T12:00:00.000Z", "type": "movie",
         "movie": {"title": "Batman Begins (dup)", "year": 2005, "ids": {"trakt": 7, "tmdb": 272}}}
    ])
}

fn keys_of(entries: &[(String, Item)]) -> Vec<&str> {
    entries.iter().map(|(k, _)| k.as_str()).collect()
}

fn unresolved(r: &WriteReport) -> Vec<(&str, Hint)> {
    r.unresolved.iter().map(|u| (u.key.as_str(), u.hint)).collect()
}

fn created(added: u64, existing: u64) -> Result<Response, TransportError> {
    Ok(resp(
        201,
        &[],
        &json!({"added": {"movies": added}, "existing": {"movies": existing}, "not_found": {}}).to_string(),
    ))
}

/// Fake wall clock at the start of a test: 1_700_000_000 + 1_000_000 ms.
const T0: i64 = 1_700_001_000;
