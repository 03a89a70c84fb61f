//! A small in-memory Trakt for the history tests: a catalogue, plays with 64-bit history
//! ids, `last_activities`, paged history reads (newest first, `start_at`/`end_at`
//! inclusive), the add / remove / collection writes as trakt-api.md 3.6 to 3.9 describe
//! them, and scripted faults on the add POST.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use serde_json::{json, Value};

use crate::client::transport::{Method, Request, Response, TransportError};
use crate::config::Options;
use crate::testkit::{paged, query_param, resp, route_of, Env, Fakes};
use crate::time;

pub struct Movie {
    pub trakt: u64,
    pub tmdb: u64,
    pub imdb: &'static str,
    pub title: &'static str,
    pub year: i64,
}

pub struct Episode {
    pub trakt: u64,
    pub tvdb: u64,
    pub tmdb: u64,
    pub season: i64,
    pub number: i64,
    pub title: &'static str,
}

pub struct Show {
    pub trakt: u64,
    pub tmdb: u64,
    pub tvdb: u64,
    pub imdb: &'static str,
    pub slug: &'static str,
    pub title: &'static str,
    pub year: i64,
    pub episodes: Vec<Episode>,
}

/// A resolved title and the `watched_at` sent with it.
type Target = (u64, Option<Value>);

#[derive(Debug, Clone, PartialEq)]
pub struct FakePlay {
    pub id: u64,
    pub movie: bool,
    /// The movie's or episode's trakt id.
    pub trakt: u64,
    pub at: i64,
}

/// What happens to the next `POST /sync/history`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Recorded, then the answer is lost (timeout).
    ApplyThenTimeout,
    /// Lost before Trakt saw it (timeout).
    TimeoutUnapplied,
    /// Recorded, then a 503 answer.
    ApplyThen503,
    /// Refused with this status, nothing recorded.
    Status(u16),
    /// The last movie of the body is silently not recorded (and not counted).
    DropLastMovie,
}

pub struct State {
    pub movies: Vec<Movie>,
    pub shows: Vec<Show>,
    pub plays: Vec<FakePlay>,
    pub next_id: u64,
    /// Server clock (Unix seconds); each write takes a minute.
    pub now: i64,
    pub movies_wm: i64,
    pub episodes_wm: i64,
    pub faults: VecDeque<Fault>,
    /// Every add POST of more than `.0` plays meets fault `.1` (before, and instead of, the
    /// scripted `faults`): Trakt failing on large bodies.
    pub large_body: Option<(usize, Fault)>,
    /// Status of the next collection POSTs (none: 201).
    pub collection_status: Option<u16>,
    /// Bodies of every collection POST.
    pub collected: Vec<Value>,
    /// Called at each history add POST; what it returns is kept in `seen_at_add`.
    pub on_add: Option<Box<dyn FnMut() -> Option<String>>>,
    pub seen_at_add: Vec<Option<String>>,
    /// GETs of history answered 500 while set.
    pub fail_reads: bool,
}

#[derive(Clone)]
pub struct Trakt(pub Rc<RefCell<State>>);

/// Plays in an add body: flat movies and episodes, and episodes under `shows[].seasons[]`.
pub fn plays_in(body: &Value) -> usize {
    let list = |v: &Value, k: &str| v.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    let nested: usize = body
        .get("shows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|s| s.get("seasons").and_then(Value::as_array).into_iter().flatten())
        .map(|season| list(season, "episodes"))
        .sum();
    list(body, "movies") + list(body, "episodes") + nested
}

/// Movies 272 (trakt 1), 603 (trakt 2), 11 (trakt 3); Breaking Bad (tmdb 1396, tvdb 81189)
/// with S00E01 (trakt 90), S01E01 (16), S01E02 (17), S01E05 (20).
pub fn catalogue() -> (Vec<Movie>, Vec<Show>) {
    let movies = vec![
        Movie { trakt: 1, tmdb: 272, imdb: "tt0372784", title: "Batman Begins", year: 2005 },
        Movie { trakt: 2, tmdb: 603, imdb: "tt0133093", title: "The Matrix", year: 1999 },
        Movie { trakt: 3, tmdb: 11, imdb: "tt0076759", title: "Star Wars", year: 1977 },
    ];
    let ep = |trakt, tvdb, tmdb, season, number, title| Episode { trakt, tvdb, tmdb, season, number, title };
    let shows = vec![Show {
        trakt: 1,
        tmdb: 1396,
        tvdb: 81189,
        imdb: "tt0903747",
        slug: "breaking-bad",
        title: "Breaking Bad",
        year: 2008,
        episodes: vec![
            ep(90, 1_000_001, 0, 0, 1, "Good Cop Bad Cop"),
            ep(16, 349_232, 62_085, 1, 1, "Pilot"),
            ep(17, 349_233, 62_086, 1, 2, "Cat's in the Bag..."),
            ep(20, 349_236, 62_089, 1, 5, "Gray Matter"),
        ],
    }];
    (movies, shows)
}

/// 2026-06-10T00:00:00Z.
pub const NOW: i64 = 1_781_049_600;
/// First history id handed out: above 2^32.
pub const FIRST_ID: u64 = 6_000_000_000;

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Every id given matches (at least one given).
fn ids_match(given: Option<&Value>, have: &[(&str, String)]) -> bool {
    let Some(Value::Object(g)) = given else { return false };
    let mut any = false;
    for (k, v) in g {
        let Some(v) = id_text(v) else { continue };
        match have.iter().find(|(hk, _)| hk == k) {
            Some((_, hv)) if *hv == v => any = true,
            Some(_) => return false,
            None => {}
        }
    }
    any
}

impl Movie {
    fn ids(&self) -> Vec<(&'static str, String)> {
        vec![("trakt", self.trakt.to_string()), ("tmdb", self.tmdb.to_string()), ("imdb", self.imdb.to_string())]
    }
}

impl Episode {
    fn ids(&self) -> Vec<(&'static str, String)> {
        vec![("trakt", self.trakt.to_string()), ("tvdb", self.tvdb.to_string()), ("tmdb", self.tmdb.to_string())]
    }
}

impl Show {
    fn ids(&self) -> Vec<(&'static str, String)> {
        vec![
            ("trakt", self.trakt.to_string()),
            ("tmdb", self.tmdb.to_string()),
            ("tvdb", self.tvdb.to_string()),
            ("imdb", self.imdb.to_string()),
            ("slug", self.slug.to_string()),
        ]
    }
}

impl State {
    fn movie(&self, trakt: u64) -> &Movie {
        self.movies.iter().find(|m| m.trakt == trakt).expect("catalogue movie")
    }

    fn episode(&self, trakt: u64) -> (&Show, &Episode) {
        self.shows
            .iter()
            .find_map(|s| s.episodes.iter().find(|e| e.trakt == trakt).map(|e| (s, e)))
            .expect("catalogue episode")
    }

    fn row(&self, p: &FakePlay) -> Value {
        let at = time::format_utc_millis(p.at);
        if p.movie {
            let m = self.movie(p.trakt);
            json!({"id": p.id, "watched_at": at, "action": "watch", "type": "movie",
                   "movie": {"title": m.title, "year": m.year, "ids": {"trakt": m.trakt, "slug": null, "imdb": m.imdb, "tmdb": m.tmdb}}})
        } else {
            let (s, e) = self.episode(p.trakt);
            json!({"id": p.id, "watched_at": at, "action": "watch", "type": "episode",
                   "episode": {"season": e.season, "number": e.number, "title": e.title,
                               "ids": {"trakt": e.trakt, "tvdb": e.tvdb, "imdb": null, "tmdb": e.tmdb}},
                   "show": {"title": s.title, "year": s.year,
                            "ids": {"trakt": s.trakt, "slug": s.slug, "tvdb": s.tvdb, "imdb": s.imdb, "tmdb": s.tmdb}}})
        }
    }

    fn bump(&mut self, movie: bool) {
        if movie {
            self.movies_wm = self.now;
        } else {
            self.episodes_wm = self.now;
        }
    }

    fn history(&self, req: &Request, route: &str) -> Response {
        let kind = route.strip_prefix("/sync/history").unwrap_or("");
        let bound =
            |name: &str| query_param(&req.url, name).map(|v| v.replace("%3A", ":")).and_then(|v| time::parse_secs(&v));
        let (start, end) = (bound("start_at"), bound("end_at"));
        let mut plays: Vec<&FakePlay> = self
            .plays
            .iter()
            .filter(|p| match kind {
                "" => true,
                "/movies" => p.movie,
                "/episodes" => !p.movie,
                _ => panic!("unexpected history route {route}"),
            })
            .filter(|p| start.is_none_or(|s| p.at >= s) && end.is_none_or(|e| p.at <= e))
            .collect();
        plays.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        let rows: Vec<Value> = plays.iter().map(|p| self.row(p)).collect();
        paged(req, &rows, None)
    }

    /// Resolve an add or remove body: (movie trakt ids, episode trakt ids, not_found).
    fn resolve(&self, body: &Value) -> (Vec<Target>, Vec<Target>, Value) {
        let mut movies = Vec::new();
        let mut episodes = Vec::new();
        let mut nf = json!({"movies": [], "shows": [], "seasons": [], "episodes": []});
        let list = |k: &str| body.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        for m in list("movies") {
            match self.movies.iter().find(|c| ids_match(m.get("ids"), &c.ids())) {
                Some(c) => movies.push((c.trakt, m.get("watched_at").cloned())),
                None => nf["movies"].as_array_mut().unwrap().push(m.clone()),
            }
        }
        for e in list("episodes") {
            match self.shows.iter().flat_map(|s| &s.episodes).find(|c| ids_match(e.get("ids"), &c.ids())) {
                Some(c) => episodes.push((c.trakt, e.get("watched_at").cloned())),
                None => nf["episodes"].as_array_mut().unwrap().push(e.clone()),
            }
        }
        for s in list("shows") {
            let Some(show) = self.shows.iter().find(|c| ids_match(s.get("ids"), &c.ids())) else {
                nf["shows"].as_array_mut().unwrap().push(s.clone());
                continue;
            };
            let seasons = s.get("seasons").and_then(Value::as_array).cloned().unwrap_or_default();
            if seasons.is_empty() {
                episodes.extend(show.episodes.iter().map(|e| (e.trakt, s.get("watched_at").cloned())));
                continue;
            }
            let mut missing = Vec::new();
            for season in seasons {
                let number = season.get("number").and_then(Value::as_i64).unwrap_or(-1);
                let in_season: Vec<&Episode> = show.episodes.iter().filter(|e| e.season == number).collect();
                if in_season.is_empty() {
                    missing.push(season.clone());
                    continue;
                }
                let eps = season.get("episodes").and_then(Value::as_array).cloned().unwrap_or_default();
                if eps.is_empty() {
                    episodes.extend(in_season.iter().map(|e| (e.trakt, season.get("watched_at").cloned())));
                    continue;
                }
                let mut missing_eps = Vec::new();
                for ep in eps {
                    let n = ep.get("number").and_then(Value::as_i64).unwrap_or(-1);
                    match in_season.iter().find(|e| e.number == n) {
                        Some(e) => episodes.push((e.trakt, ep.get("watched_at").cloned())),
                        None => missing_eps.push(ep.clone()),
                    }
                }
                if !missing_eps.is_empty() {
                    let mut echo = season.clone();
                    echo["episodes"] = Value::Array(missing_eps);
                    missing.push(echo);
                }
            }
            if !missing.is_empty() {
                let mut echo = s.clone();
                echo["seasons"] = Value::Array(missing);
                nf["shows"].as_array_mut().unwrap().push(echo);
            }
        }
        (movies, episodes, nf)
    }

    fn when(&self, v: &Option<Value>) -> i64 {
        match v.as_ref().and_then(Value::as_str) {
            None => self.now,
            Some("unknown") => 0,
            Some("released") => 1_199_145_600, // 2008-01-01
            Some(t) => time::floor_minute(time::parse_secs(t).expect("fake: a valid watched_at")),
        }
    }

    fn add(&mut self, body: &Value, fault: Option<&Fault>) -> Value {
        let (mut movies, episodes, nf) = self.resolve(body);
        if fault == Some(&Fault::DropLastMovie) {
            movies.pop();
        }
        let counts = (movies.len(), episodes.len());
        for (trakt, at) in movies {
            let at = self.when(&at);
            self.plays.push(FakePlay { id: self.next_id, movie: true, trakt, at });
            self.next_id += 1;
        }
        for (trakt, at) in episodes {
            let at = self.when(&at);
            self.plays.push(FakePlay { id: self.next_id, movie: false, trakt, at });
            self.next_id += 1;
        }
        if counts.0 > 0 {
            self.bump(true);
        }
        if counts.1 > 0 {
            self.bump(false);
        }
        self.now += 60;
        json!({"added": {"movies": counts.0, "episodes": counts.1}, "not_found": nf})
    }

    fn remove(&mut self, body: &Value) -> Value {
        let (movies, episodes, mut nf) = self.resolve(body);
        let ids: Vec<Value> = body.get("ids").and_then(Value::as_array).cloned().unwrap_or_default();
        let wanted: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
        let mut deleted = (0u64, 0u64);
        let mut matched = Vec::new();
        self.plays.retain(|p| {
            let by_id = wanted.contains(&p.id);
            let by_item =
                if p.movie { movies.iter().any(|m| m.0 == p.trakt) } else { episodes.iter().any(|e| e.0 == p.trakt) };
            if by_id {
                matched.push(p.id);
            }
            if by_id || by_item {
                if p.movie {
                    deleted.0 += 1
                } else {
                    deleted.1 += 1
                }
                false
            } else {
                true
            }
        });
        if deleted.0 > 0 {
            self.bump(true);
        }
        if deleted.1 > 0 {
            self.bump(false);
        }
        self.now += 60;
        nf["ids"] =
            Value::Array(ids.into_iter().filter(|v| v.as_u64().is_none_or(|id| !matched.contains(&id))).collect());
        json!({"deleted": {"movies": deleted.0, "episodes": deleted.1}, "not_found": nf})
    }

    fn activities(&self) -> Value {
        json!({"all": time::format_utc_millis(self.now),
               "movies": {"watched_at": time::format_utc_millis(self.movies_wm), "rated_at": "2026-01-01T00:00:00.000Z"},
               "episodes": {"watched_at": time::format_utc_millis(self.episodes_wm)}})
    }
}

impl Trakt {
    pub fn new() -> Trakt {
        let (movies, shows) = catalogue();
        Trakt(Rc::new(RefCell::new(State {
            movies,
            shows,
            plays: Vec::new(),
            next_id: FIRST_ID,
            now: NOW,
            movies_wm: NOW - 86_400,
            episodes_wm: NOW - 86_400,
            faults: VecDeque::new(),
            large_body: None,
            collection_status: None,
            collected: Vec::new(),
            on_add: None,
            seen_at_add: Vec::new(),
            fail_reads: false,
        })))
    }

    /// A play recorded elsewhere, with its id; moves the activities like Trakt.
    pub fn seed(&self, movie: bool, trakt: u64, at: &str, id: u64) -> &Trakt {
        let mut s = self.0.borrow_mut();
        let at = time::parse_secs(at).expect("seed time");
        s.plays.push(FakePlay { id, movie, trakt, at: time::floor_minute(at) });
        s.bump(movie);
        s.now += 60;
        self
    }

    pub fn plays(&self) -> Vec<FakePlay> {
        let mut p = self.0.borrow().plays.clone();
        p.sort_by_key(|p| (p.movie, p.trakt, p.at, p.id));
        p
    }

    /// Times (ISO) of the plays of one title, sorted.
    pub fn times(&self, movie: bool, trakt: u64) -> Vec<String> {
        let mut v: Vec<String> = self
            .0
            .borrow()
            .plays
            .iter()
            .filter(|p| p.movie == movie && p.trakt == trakt)
            .map(|p| time::format_utc(p.at))
            .collect();
        v.sort();
        v
    }

    pub fn fault(&self, f: Fault) {
        self.0.borrow_mut().faults.push_back(f);
    }

    pub fn fakes(&self) -> Fakes {
        let t = self.clone();
        Fakes::new(move |req| t.answer(req))
    }

    pub fn env(&self, opts: Options) -> Env {
        Env::new(self.fakes(), opts)
    }

    fn answer(&self, req: &Request) -> Result<Response, TransportError> {
        let route = route_of(&req.url);
        let body = || serde_json::from_slice::<Value>(&req.body).expect("fake: JSON body");
        match (req.method, route.as_str()) {
            (Method::Get, "/sync/last_activities") => Ok(resp(200, &[], &self.0.borrow().activities().to_string())),
            (Method::Get, r) if r.starts_with("/sync/history") => {
                let s = self.0.borrow();
                if s.fail_reads {
                    return Ok(resp(500, &[], ""));
                }
                Ok(s.history(req, r))
            }
            (Method::Post, "/sync/history") => {
                let seen = {
                    let hook = self.0.borrow_mut().on_add.take();
                    let mut hook = hook;
                    let seen = hook.as_mut().and_then(|f| f());
                    self.0.borrow_mut().on_add = hook;
                    seen
                };
                let mut s = self.0.borrow_mut();
                s.seen_at_add.push(seen);
                let fault = match &s.large_body {
                    Some((over, f)) if plays_in(&body()) > *over => Some(f.clone()),
                    _ => s.faults.pop_front(),
                };
                match fault {
                    Some(Fault::TimeoutUnapplied) => Err(TransportError::Timeout("fake: no answer".into())),
                    Some(Fault::Status(code)) => Ok(resp(code, &[], "")),
                    Some(Fault::ApplyThenTimeout) => {
                        s.add(&body(), None);
                        Err(TransportError::Timeout("fake: answer lost".into()))
                    }
                    Some(Fault::ApplyThen503) => {
                        s.add(&body(), None);
                        Ok(resp(503, &[], ""))
                    }
                    f => Ok(resp(201, &[], &s.add(&body(), f.as_ref()).to_string())),
                }
            }
            (Method::Post, "/sync/history/remove") => {
                Ok(resp(200, &[], &self.0.borrow_mut().remove(&body()).to_string()))
            }
            (Method::Post, "/sync/collection") => {
                let mut s = self.0.borrow_mut();
                s.collected.push(body());
                match s.collection_status {
                    Some(code) => Ok(resp(code, &[], "")),
                    None => Ok(resp(201, &[], &json!({"added": {"movies": 1, "episodes": 0}}).to_string())),
                }
            }
            _ => panic!("fake trakt: unexpected {} {}", req.method.as_str(), req.url),
        }
    }
}
