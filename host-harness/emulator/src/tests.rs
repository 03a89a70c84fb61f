//! End-to-end tests of the emulator over real HTTP (ureq against a started [`Emulator`]).

use serde_json::{json, Value};

use super::*;

struct Resp {
    status: u16,
    headers: ureq::http::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    fn h(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no header {name}"))
    }

    fn has(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }
}

fn agent_with(ua: bool, redirects: u32) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(redirects);
    if !ua {
        cfg = cfg.user_agent(ureq::config::AutoHeaderValue::None);
    }
    cfg.build().into()
}

/// Sends a request with exactly the given headers.
fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.unwrap_or("").as_bytes().to_vec()).unwrap();
    let resp = agent.run(req).expect("transport error");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.into_body().read_to_string().unwrap();
    Resp {
        status,
        headers,
        text,
    }
}

/// A client sending the headers a well-behaved Trakt client sends.
struct Api {
    agent: ureq::Agent,
    base: String,
    client_id: String,
    token: String,
}

impl Api {
    fn new(emu: &Emulator) -> Api {
        let c = emu.credentials();
        Api {
            agent: agent_with(true, 0),
            base: emu.url(),
            client_id: c.client_id,
            token: c.access_token,
        }
    }

    fn with_token(mut self, token: &str) -> Api {
        self.token = token.to_string();
        self
    }

    fn call(&self, method: &str, path: &str, extra: &[(&str, &str)], body: Option<&Value>) -> Resp {
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
        send(
            &self.agent,
            method,
            &format!("{}{path}", self.base),
            &headers,
            text.as_deref(),
        )
    }

    fn get(&self, path: &str) -> Resp {
        self.call("GET", path, &[], None)
    }

    fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, &[], Some(body))
    }

    fn oauth(&self, path: &str, body: &Value) -> Resp {
        send(
            &self.agent,
            "POST",
            &format!("{}{path}", self.base),
            &[
                ("content-type", "application/json"),
                ("user-agent", "emulator-tests/1.0"),
            ],
            Some(&body.to_string()),
        )
    }
}

fn start(seed: Library) -> Emulator {
    Emulator::start(EmulatorConfig {
        seed,
        ..Default::default()
    })
    .unwrap()
}

fn is_trakt_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with(".000Z") && Timestamp::parse(s).is_ok()
}

fn err(r: &Resp) -> String {
    r.json()["error"].as_str().unwrap_or("").to_string()
}

#[test]
fn handle_types_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
    assert_send_sync::<Library>();
    let log: Vec<LoggedRequest> = serde_json::from_value(json!([{
        "method": "GET", "path": "/x", "query": "", "status": 200, "headers": [["a", "b"]], "body": null, "at_ms": 5
    }]))
    .unwrap();
    assert_eq!(log[0].header("a"), Some("b"));
}

#[test]
fn header_checks() {
    let emu = start(Library::sample(2, 1));
    let api = Api::new(&emu);
    let url = format!("{}/sync/watchlist", emu.url());
    let bearer = format!("Bearer {}", api.token);
    let a = agent_with(true, 0);

    let r = send(
        &a,
        "GET",
        &url,
        &[("trakt-api-version", "2"), ("authorization", &bearer)],
        None,
    );
    assert_eq!((r.status, err(&r).as_str()), (403, "forbidden"));
    let r = send(
        &a,
        "GET",
        &url,
        &[
            ("trakt-api-key", "nope"),
            ("trakt-api-version", "2"),
            ("authorization", &bearer),
        ],
        None,
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error_description"],
        "Invalid API key or unapproved app"
    );

    let r = api.call(
        "GET",
        "/sync/watchlist",
        &[("trakt-api-version", "3")],
        None,
    );
    // Two trakt-api-version headers ("2" first): the emulator reads the first one.
    assert_eq!(r.status, 200);
    let r = send(
        &a,
        "GET",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "3"),
            ("authorization", &bearer),
        ],
        None,
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_api_version"));
    let r = send(
        &a,
        "GET",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("authorization", &bearer),
        ],
        None,
    );
    assert_eq!(r.status, 400);

    let r = send(
        &a,
        "POST",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "2"),
            ("authorization", &bearer),
            ("content-type", "text/plain"),
        ],
        Some(r#"{"movies":[]}"#),
    );
    assert_eq!((r.status, err(&r).as_str()), (412, "precondition_failed"));
    let r = send(
        &a,
        "POST",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "2"),
            ("authorization", &bearer),
        ],
        Some(r#"{"movies":[]}"#),
    );
    assert_eq!(r.status, 412);

    let r = send(
        &a,
        "GET",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "2"),
        ],
        None,
    );
    assert_eq!((r.status, err(&r).as_str()), (401, "unauthorized"));
    let r = Api::new(&emu).with_token("wrong").get("/sync/watchlist");
    assert_eq!((r.status, err(&r).as_str()), (401, "invalid_token"));
    assert!(r
        .h("www-authenticate")
        .starts_with("Bearer realm=\"Doorkeeper\""));
    let r = Api::new(&emu).with_token("wrong").get("/users/settings");
    assert_eq!(r.status, 401);

    // Malformed JSON body with the right headers.
    let r = api.call(
        "POST",
        "/sync/watchlist",
        &[("content-type", "application/json")],
        None,
    );
    assert_eq!(r.status, 400);
    let r = send(
        &a,
        "POST",
        &url,
        &[
            ("trakt-api-key", "emulator-client-id"),
            ("trakt-api-version", "2"),
            ("authorization", &bearer),
            ("content-type", "application/json; charset=utf-8"),
        ],
        Some("{not json"),
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "bad_request"));

    // Expired token.
    emu.with_library(|l| l.auth.expires_at = Some(1_000));
    let r = api.get("/sync/last_activities");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error_description"], "The access token expired");
    emu.with_library(|l| l.auth.expires_at = None);
    assert_eq!(api.get("/sync/last_activities").status, 200);

    let r = api.get("/sync/nothing");
    assert_eq!((r.status, err(&r).as_str()), (404, "not_found"));
    let r = api.call("DELETE", "/sync/watchlist", &[], None);
    assert_eq!((r.status, err(&r).as_str()), (405, "method_not_allowed"));
    assert_eq!(r.h("allow"), "GET, POST");
    let r = api.get("/sync/watchlist/bogus");
    assert_eq!(r.status, 404);
}

#[test]
fn user_agent_flag() {
    let emu = Emulator::start(EmulatorConfig {
        require_user_agent: true,
        ..Default::default()
    })
    .unwrap();
    let c = emu.credentials();
    let bearer = format!("Bearer {}", c.access_token);
    let headers = [
        ("trakt-api-key", c.client_id.as_str()),
        ("trakt-api-version", "2"),
        ("authorization", bearer.as_str()),
    ];
    let url = format!("{}/sync/last_activities", emu.url());
    let r = send(&agent_with(false, 0), "GET", &url, &headers, None);
    assert_eq!(r.status, 403);
    assert!(r.h("content-type").starts_with("text/html"));
    assert!(r.text.contains("Sorry, you have been blocked"));
    let r = send(&agent_with(true, 0), "GET", &url, &headers, None);
    assert_eq!(r.status, 200);
    // Without the flag, no User-Agent is fine.
    let emu2 = start(Library::default());
    let c2 = emu2.credentials();
    let bearer2 = format!("Bearer {}", c2.access_token);
    let r = send(
        &agent_with(false, 0),
        "GET",
        &format!("{}/sync/last_activities", emu2.url()),
        &[
            ("trakt-api-key", c2.client_id.as_str()),
            ("trakt-api-version", "2"),
            ("authorization", bearer2.as_str()),
        ],
        None,
    );
    assert_eq!(r.status, 200);
    let log = emu2.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].header("user-agent"), None);
}

#[test]
fn watchlist_paging() {
    let emu = start(Library::sample(600, 0));
    let api = Api::new(&emu);
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = api.get(&format!("/sync/watchlist?page={page}&limit=250"));
        assert_eq!(r.status, 200);
        assert_eq!(r.h("x-pagination-page"), page.to_string());
        assert_eq!(r.h("x-pagination-limit"), "250");
        assert_eq!(r.h("x-pagination-page-count"), "3");
        assert_eq!(r.h("x-pagination-item-count"), "600");
        assert_eq!(r.h("x-sort-by"), "rank");
        assert_eq!(r.h("x-sort-how"), "asc");
        assert_eq!(r.h("x-applied-sort-by"), "rank");
        assert_eq!(r.h("x-applied-sort-how"), "asc");
        let rows = r.json();
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), if page < 3 { 250 } else { 100 });
        seen.extend(rows.iter().map(|row| row["rank"].as_u64().unwrap()));
    }
    assert_eq!(seen, (1..=600).collect::<Vec<u64>>());

    let r = api.get("/sync/watchlist?page=2&limit=1000");
    assert_eq!(r.h("x-pagination-limit"), "250");
    assert_eq!(r.h("x-pagination-page-count"), "3");
    assert_eq!(r.json()[0]["rank"], 251);
    assert_eq!(r.json().as_array().unwrap().len(), 250);

    let r = api.get("/sync/watchlist");
    assert_eq!(r.h("x-pagination-page"), "1");
    assert_eq!(r.h("x-pagination-limit"), "100");
    assert_eq!(r.h("x-pagination-page-count"), "6");
    assert_eq!(r.json().as_array().unwrap().len(), 100);

    let r = api.get("/sync/watchlist?limit=abc&page=x");
    assert_eq!(
        (r.h("x-pagination-page"), r.h("x-pagination-limit")),
        ("1", "100")
    );

    let r = api.get("/sync/watchlist?page=4&limit=250");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([]));
    assert_eq!(r.h("x-pagination-page"), "4");
    assert_eq!(r.h("x-pagination-page-count"), "3");
    assert_eq!(r.h("x-pagination-item-count"), "600");

    // Typed path, sort suffix.
    let r = api.get("/sync/watchlist/movies/rank/asc?limit=2");
    assert_eq!(r.h("x-pagination-item-count"), "600");
    let r = api.get("/sync/watchlist/shows?limit=10");
    assert_eq!(r.h("x-pagination-item-count"), "0");
    assert_eq!(r.h("x-pagination-page-count"), "0");
    assert_eq!(r.json(), json!([]));
}

#[test]
fn watchlist_rows_and_sorting() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let r = api.get("/sync/watchlist");
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let types: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["movie", "movie", "movie", "show", "show", "season", "season", "episode", "episode"]
    );
    assert_eq!(
        rows[0],
        json!({ "rank": 1, "id": 10001, "listed_at": "2026-01-01T00:01:00.000Z", "notes": null, "type": "movie",
                "movie": { "title": "Sample Movie 1", "year": 1991,
                           "ids": { "trakt": 1, "slug": "sample-movie-1-1991", "imdb": "tt1000001", "tmdb": 100001 } } })
    );
    let show1 = json!({ "title": "Sample Show 1", "year": 2001,
                        "ids": { "trakt": 1, "slug": "sample-show-1", "tvdb": 300001, "imdb": "tt2000001", "tmdb": 200001 } });
    assert_eq!(rows[3]["show"], show1);
    assert!(rows[3].get("movie").is_none());
    assert_eq!(
        rows[5],
        json!({ "rank": 6, "id": 10006, "listed_at": "2026-01-01T00:06:00.000Z", "notes": null, "type": "season",
                "season": { "number": 1, "ids": { "trakt": 10011, "tvdb": 400011, "tmdb": 410011 } },
                "show": show1 })
    );
    assert_eq!(
        rows[7],
        json!({ "rank": 8, "id": 10008, "listed_at": "2026-01-01T00:08:00.000Z", "notes": null, "type": "episode",
                "episode": { "season": 1, "number": 1, "title": "Episode 1",
                             "ids": { "trakt": 100111, "tvdb": 500111, "imdb": "tt3000111", "tmdb": 600111 } },
                "show": show1 })
    );

    let r = api.get("/sync/watchlist/episodes");
    let eps: Vec<u64> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["episode"]["ids"]["trakt"].as_u64().unwrap())
        .collect();
    assert_eq!(eps, [100111, 100223]);

    let r = api.get("/sync/watchlist/movies/added/desc");
    assert_eq!(
        (r.h("x-applied-sort-by"), r.h("x-applied-sort-how")),
        ("added", "desc")
    );
    assert_eq!(r.h("x-sort-by"), "rank");
    let ranks: Vec<u64> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, [3, 2, 1]);
    let r = api.get("/sync/watchlist/movies/popularity/asc");
    assert_eq!(
        (r.h("x-applied-sort-by"), r.h("x-applied-sort-how")),
        ("rank", "asc")
    );
}

#[test]
fn etag_and_304() {
    let emu = start(Library::sample(300, 0));
    let api = Api::new(&emu);
    let r1 = api.get("/sync/watchlist?page=1&limit=250");
    let etag = r1.h("etag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    assert_eq!(r1.h("cache-control"), "private, max-age=0, must-revalidate");
    let r2 = api.get("/sync/watchlist?page=1&limit=250");
    assert_eq!(r2.h("etag"), etag);
    let p2 = api.get("/sync/watchlist?page=2&limit=250");
    assert_ne!(p2.h("etag"), etag);

    let r = api.call(
        "GET",
        "/sync/watchlist?page=1&limit=250",
        &[("if-none-match", &etag)],
        None,
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.text, "");
    assert_eq!(r.h("etag"), etag);
    assert_eq!(r.h("x-pagination-page-count"), "2");
    let r = api.call(
        "GET",
        "/sync/watchlist?page=1&limit=250",
        &[("if-none-match", "\"other\", W/".to_string().as_str())],
        None,
    );
    assert_eq!(r.status, 200);
    let weak = format!("W/{etag}");
    let r = api.call(
        "GET",
        "/sync/watchlist?page=1&limit=250",
        &[("if-none-match", &weak)],
        None,
    );
    assert_eq!(r.status, 304);

    // A change moves the ETag.
    let r = api.post(
        "/sync/watchlist/remove",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }),
    );
    assert_eq!(r.status, 200);
    let r = api.call(
        "GET",
        "/sync/watchlist?page=1&limit=250",
        &[("if-none-match", &etag)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_ne!(r.h("etag"), etag);
    assert_eq!(r.json()[0]["movie"]["ids"]["trakt"], 2);
    // Other GETs carry ETags too.
    let la = api.get("/sync/last_activities");
    let tag = la.h("etag").to_string();
    assert_eq!(
        api.call(
            "GET",
            "/sync/last_activities",
            &[("if-none-match", &tag)],
            None
        )
        .status,
        304
    );
    // POST answers have none.
    assert!(!api.post("/sync/watchlist", &json!({})).has("etag"));
}

fn small_watchlist_seed() -> Library {
    let mut lib = Library::sample(3, 2);
    lib.watchlist
        .retain(|e| e.kind == MediaType::Movie && e.trakt == 1);
    lib
}

#[test]
fn watchlist_add() {
    let emu = start(small_watchlist_seed());
    let api = Api::new(&emu);
    let body = json!({
        "movies": [
            { "ids": { "trakt": 1 } },
            { "ids": { "imdb": "tt1000002" } },
            { "title": "Unknown", "ids": { "imdb": "tt0000111" } },
            { "ids": { "tvdb": 100003 } }
        ],
        "shows": [
            { "ids": { "tvdb": 300001 } },
            { "ids": { "slug": "sample-show-2" }, "seasons": [ { "number": 1 }, { "number": 9 } ] },
            { "ids": { "trakt": 1 }, "seasons": [ { "number": 2, "episodes": [ { "number": 1 }, { "number": 7 } ] } ] },
            { "ids": { "trakt": 999 } }
        ],
        "seasons": [ { "ids": { "tmdb": 410022 } }, { "ids": { "trakt": 1 } } ],
        "episodes": [ { "ids": { "tvdb": 500211 } }, { "ids": { "trakt": 5 } }, { "ids": { "imdb": "tt3000112" } } ]
    });
    let r = api.post("/sync/watchlist", &body);
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(
        v["added"],
        json!({ "movies": 1, "shows": 1, "seasons": 2, "episodes": 2 })
    );
    assert_eq!(
        v["existing"],
        json!({ "movies": 1, "shows": 0, "seasons": 0, "episodes": 0 })
    );
    assert_eq!(
        v["not_found"],
        json!({
            "movies": [ { "title": "Unknown", "ids": { "imdb": "tt0000111" } }, { "ids": { "tvdb": 100003 } } ],
            "shows": [
                { "ids": { "slug": "sample-show-2" }, "seasons": [ { "number": 9 } ] },
                { "ids": { "trakt": 1 }, "seasons": [ { "number": 2, "episodes": [ { "number": 7 } ] } ] },
                { "ids": { "trakt": 999 } }
            ],
            "seasons": [ { "ids": { "trakt": 1 } } ],
            "episodes": [ { "ids": { "trakt": 5 } }, { "ids": { "imdb": "tt3000112" } } ]
        })
    );
    assert_eq!(v["list"]["item_count"], 7);
    assert!(is_trakt_time(&v["list"]["updated_at"]));

    let lib = emu.library();
    let order: Vec<(MediaType, u64, u32)> = lib
        .watchlist
        .iter()
        .map(|e| (e.kind, e.trakt, e.rank))
        .collect();
    assert_eq!(
        order,
        [
            (MediaType::Movie, 1, 1),
            (MediaType::Movie, 2, 2),
            (MediaType::Show, 1, 3),
            (MediaType::Season, 10021, 4),
            (MediaType::Episode, 100121, 5),
            (MediaType::Season, 10022, 6),
            (MediaType::Episode, 100211, 7),
        ]
    );
    // New list item ids continue after the largest seeded one (10001).
    assert_eq!(lib.watchlist[1].id, 10002);
    assert_eq!(lib.watchlist[6].id, 10007);
    assert_eq!(lib.watchlist[6].listed_at, lib.watchlist[1].listed_at);

    // Same request again: nothing new.
    let v = api.post("/sync/watchlist", &body).json();
    assert_eq!(
        v["added"],
        json!({ "movies": 0, "shows": 0, "seasons": 0, "episodes": 0 })
    );
    assert_eq!(
        v["existing"],
        json!({ "movies": 2, "shows": 1, "seasons": 2, "episodes": 2 })
    );
    assert_eq!(v["list"]["item_count"], 7);

    // A nested episode shows up as an episode row with its show.
    let r = api.get("/sync/watchlist/episodes");
    let rows = r.json();
    assert_eq!(rows[0]["episode"]["season"], 2);
    assert_eq!(rows[0]["episode"]["number"], 1);
    assert_eq!(rows[0]["show"]["ids"]["trakt"], 1);
    assert_eq!(rows[0]["rank"], 5);

    // Duplicates inside one request count once as added, then as existing.
    let v = api.post("/sync/watchlist", &json!({ "movies": [ { "ids": { "slug": "sample-movie-3-1993" } }, { "ids": { "tmdb": 100003 } } ] })).json();
    assert_eq!(v["added"]["movies"], 1);
    assert_eq!(v["existing"]["movies"], 1);
    // Title fallback (no id matches).
    emu.with_library(|l| {
        l.watchlist
            .retain(|e| e.kind != MediaType::Movie || e.trakt != 3)
    });
    let v = api.post("/sync/watchlist", &json!({ "movies": [ { "title": "sample movie 3", "year": 1993, "ids": { "tmdb": 1 } } ] })).json();
    assert_eq!(v["added"]["movies"], 1);
    // Bad body shapes.
    assert_eq!(api.post("/sync/watchlist", &json!([1])).status, 400);
    assert_eq!(
        api.post("/sync/watchlist", &json!({ "movies": 5 })).status,
        400
    );
}

#[test]
fn watchlist_limit_420() {
    let mut seed = Library::sample(5, 0);
    seed.watchlist.truncate(3);
    seed.limits.watchlist.item_count = 4;
    let emu = start(seed);
    let api = Api::new(&emu);
    let before = emu.dump();
    let r = api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 4 } }, { "ids": { "trakt": 5 } } ] }),
    );
    assert_eq!(r.status, 420);
    assert_eq!(r.h("x-upgrade-url"), "https://app.trakt.tv/vip");
    assert_eq!(r.h("x-vip-user"), "false");
    assert_eq!(r.h("x-account-limit"), "4");
    assert_eq!(err(&r), "account_limit_exceeded");
    assert_eq!(emu.dump(), before);

    // Existing + unknown items alone are not additions: no 420.
    let r = api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 99 } } ] }),
    );
    assert_eq!(r.status, 201);
    assert_eq!(emu.dump(), before);

    let r = api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 4 } } ] }),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["list"]["item_count"], 4);
    let r = api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 5 } } ] }),
    );
    assert_eq!(r.status, 420);
    assert_eq!(emu.library().watchlist.len(), 4);

    // settings report the limit the emulator enforces.
    let s = api.get("/users/settings").json();
    assert_eq!(s["limits"]["watchlist"]["item_count"], 4);
    assert_eq!(s["user"]["vip"], false);
}

#[test]
fn watchlist_remove() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    let before = api.get("/sync/last_activities").json();
    let r = api.post(
        "/sync/watchlist/remove",
        &json!({
            "movies": [ { "ids": { "trakt": 1 } }, { "ids": { "trakt": 77 } } ],
            "shows": [ { "ids": { "trakt": 2 } }, { "ids": { "trakt": 1 }, "seasons": [ { "number": 2 } ] } ],
            "episodes": [ { "ids": { "trakt": 100111 } } ]
        }),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["deleted"],
        json!({ "movies": 1, "shows": 1, "seasons": 0, "episodes": 1 })
    );
    assert_eq!(
        v["not_found"],
        json!({ "movies": [ { "ids": { "trakt": 77 } } ], "shows": [], "seasons": [], "episodes": [] })
    );
    assert_eq!(v["list"]["item_count"], 6);
    assert!(v.get("added").is_none());
    let ranks: Vec<(u32, MediaType, u64)> = emu
        .library()
        .watchlist
        .iter()
        .map(|e| (e.rank, e.kind, e.trakt))
        .collect();
    assert_eq!(
        ranks,
        [
            (1, MediaType::Movie, 2),
            (2, MediaType::Movie, 3),
            (3, MediaType::Show, 1),
            (4, MediaType::Season, 10011),
            (5, MediaType::Season, 10022),
            (6, MediaType::Episode, 100223),
        ]
    );
    let after = api.get("/sync/last_activities").json();
    assert_ne!(
        after["watchlist"]["updated_at"],
        before["watchlist"]["updated_at"]
    );
    assert_ne!(
        after["episodes"]["watchlisted_at"],
        before["episodes"]["watchlisted_at"]
    );
    assert_eq!(
        after["seasons"]["watchlisted_at"],
        before["seasons"]["watchlisted_at"]
    );
    assert_eq!(v["list"]["updated_at"], after["watchlist"]["updated_at"]);

    // In the catalogue but not listed: not counted, not in not_found, nothing moves.
    let r = api.post(
        "/sync/watchlist/remove",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }),
    );
    let v = r.json();
    assert_eq!(
        v["deleted"],
        json!({ "movies": 0, "shows": 0, "seasons": 0, "episodes": 0 })
    );
    assert_eq!(v["not_found"]["movies"], json!([]));
    assert_eq!(v["list"]["item_count"], 6);
    assert_eq!(api.get("/sync/last_activities").json(), after);
}

#[test]
fn oauth_refresh_rotation() {
    let emu = Emulator::start(EmulatorConfig {
        seed: Library::sample(1, 0),
        access_token_ttl_secs: 3600,
        ..Default::default()
    })
    .unwrap();
    let old = emu.credentials();
    assert_eq!(old.client_id, "emulator-client-id");
    assert_eq!(old.access_token, "emulator-access-token");
    assert_eq!(old.refresh_token, "emulator-refresh-token");
    let api = Api::new(&emu);
    let refresh = |token: &str, secret: &str| {
        api.oauth(
            "/oauth/token",
            &json!({ "refresh_token": token, "client_id": old.client_id, "client_secret": secret,
                     "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "grant_type": "refresh_token" }),
        )
    };
    let r = refresh(&old.refresh_token, "wrong-secret");
    assert_eq!((r.status, err(&r).as_str()), (401, "invalid_client"));

    let r = refresh(&old.refresh_token, &old.client_secret);
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "public");
    let created = t["created_at"].as_i64().unwrap();
    assert!((created - emu.now().secs()).abs() <= 2);
    let access = t["access_token"].as_str().unwrap().to_string();
    let new_refresh = t["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(access.len(), 64);
    assert_ne!(access, old.access_token);
    assert_ne!(new_refresh, old.refresh_token);
    assert_ne!(access, new_refresh);
    let now = emu.credentials();
    assert_eq!(
        (now.access_token.as_str(), now.refresh_token.as_str()),
        (access.as_str(), new_refresh.as_str())
    );
    assert_eq!(now.expires_at, created + 3600);

    // Reusing the old refresh token: invalid_grant.
    let r = refresh(&old.refresh_token, &old.client_secret);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({ "error": "invalid_grant", "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client." })
    );
    // The old access token is dead, the new one works.
    let r = api.get("/sync/last_activities");
    assert_eq!((r.status, err(&r).as_str()), (401, "invalid_token"));
    let api2 = Api::new(&emu);
    assert_eq!(api2.get("/sync/last_activities").status, 200);
    assert_eq!(emu.credentials().access_token, access);

    // Expiry.
    emu.advance_clock(3601);
    let r = api2.get("/sync/last_activities");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error_description"], "The access token expired");
    let r = refresh(&new_refresh, &old.client_secret);
    assert_eq!(r.status, 200);
    let api3 = Api::new(&emu);
    assert_eq!(api3.get("/sync/last_activities").status, 200);

    // Grant errors.
    let r = api.oauth("/oauth/token", &json!({ "client_id": old.client_id }));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({ "error": "invalid_request", "error_description": "missing required parameter: grant_type" })
    );
    let r = api.oauth("/oauth/token", &json!({ "grant_type": "password", "client_id": old.client_id, "client_secret": old.client_secret }));
    assert_eq!(
        (r.status, err(&r).as_str()),
        (400, "unsupported_grant_type")
    );

    // Authorization code: any non-empty code.
    let r = api.oauth(
        "/oauth/token",
        &json!({ "code": "abc", "client_id": old.client_id, "client_secret": old.client_secret,
                 "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "grant_type": "authorization_code" }),
    );
    assert_eq!(r.status, 200);
    let code_token = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(emu.credentials().access_token, code_token);
    let r = api.oauth(
        "/oauth/token",
        &json!({ "code": "", "client_id": old.client_id, "client_secret": old.client_secret, "grant_type": "authorization_code" }),
    );
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_request"));

    // Form-encoded bodies work too.
    let form = format!(
        "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
        old.client_id,
        old.client_secret,
        emu.credentials().refresh_token
    );
    let r = send(
        &agent_with(true, 0),
        "POST",
        &format!("{}/oauth/token", emu.url()),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    assert_eq!(r.status, 200);

    // Revoke.
    let current = Api::new(&emu);
    let r = current.oauth(
        "/oauth/revoke",
        &json!({ "token": current.token, "client_id": old.client_id, "client_secret": old.client_secret }),
    );
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert_eq!(current.get("/sync/last_activities").status, 401);
    let r = refresh(&emu.credentials().refresh_token, &old.client_secret);
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_grant"));
}

#[test]
fn oauth_authorize() {
    let emu = start(Library::default());
    let a = agent_with(true, 0);
    let r = send(
        &a,
        "GET",
        &format!("{}/oauth/authorize?response_type=code&client_id=emulator-client-id&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&state=a%20b", emu.url()),
        &[],
        None,
    );
    assert_eq!(r.status, 302);
    let loc = r.h("location");
    assert!(loc.starts_with("http://localhost/cb?code="), "{loc}");
    assert!(loc.ends_with("&state=a%20b"), "{loc}");
    let r = send(
        &a,
        "GET",
        &format!("{}/oauth/authorize?response_type=code&client_id=emulator-client-id&redirect_uri=urn:ietf:wg:oauth:2.0:oob", emu.url()),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.text.contains("<code id=\"code\">"));
    let r = send(
        &a,
        "GET",
        &format!(
            "{}/oauth/authorize?response_type=code&client_id=x&redirect_uri=y",
            emu.url()
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn dump_round_trip() {
    let emu = start(Library::sample(3, 2));
    let api = Api::new(&emu);
    api.post(
        "/sync/watchlist/remove",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }),
    );
    api.oauth(
        "/oauth/token",
        &json!({ "grant_type": "refresh_token", "client_id": "emulator-client-id", "client_secret": "emulator-client-secret", "refresh_token": "emulator-refresh-token" }),
    );
    let dump = emu.dump();
    assert_eq!(
        dump["watchlist"][1],
        json!({ "rank": 2, "id": 10003, "listed_at": "2026-01-01T00:03:00.000Z", "notes": null, "type": "movie", "trakt": 3 })
    );
    assert_eq!(dump["auth"]["access_token"], emu.credentials().access_token);
    assert_eq!(dump["limits"]["watchlist"]["item_count"], 250);
    assert!(is_trakt_time(&dump["last_activities"]["all"]));
    let lib = Library::from_json(&dump.to_string()).unwrap();
    assert_eq!(lib, emu.library());
    let emu2 = start(lib);
    assert_eq!(emu2.dump(), dump);
    assert_eq!(emu2.credentials(), emu.credentials());
    // The control endpoint serves the same document.
    let r = send(
        &agent_with(true, 0),
        "GET",
        &format!("{}/_emulator/state", emu2.url()),
        &[],
        None,
    );
    assert_eq!(r.json(), dump);
    // Sample is deterministic.
    assert_eq!(Library::sample(4, 3), Library::sample(4, 3));
}

#[test]
fn seed_parsing() {
    let lib = Library::from_json(
        r#"{
          "user": { "username": "alice", "vip": true },
          "catalog": { "movies": [ { "title": "Batman Begins", "year": 2005, "ids": { "trakt": 1, "imdb": "tt0372784" } } ],
                       "shows": [ { "title": "Breaking Bad", "ids": { "trakt": 1, "tvdb": 81189 },
                                    "seasons": [ { "number": 1, "ids": { "trakt": 3950 },
                                                   "episodes": [ { "number": 1, "ids": { "trakt": 16 } } ] } ] } ] },
          "watchlist": [ { "type": "episode", "trakt": 16 }, { "type": "movie", "trakt": 1, "rank": 1, "notes": "x" } ],
          "last_activities": { "watchlist": { "updated_at": "2026-04-01T09:10:00.000Z" } }
        }"#,
    )
    .unwrap();
    assert_eq!(lib.catalog.movies[0].ids.slug, "batman-begins-2005");
    assert_eq!(lib.catalog.shows[0].ids.slug, "breaking-bad");
    assert_eq!(lib.limits.watchlist.item_count, 5000);
    assert_eq!(lib.auth.client_id, "emulator-client-id");
    let wl: Vec<(u32, u64, MediaType)> = lib
        .watchlist
        .iter()
        .map(|e| (e.rank, e.id, e.kind))
        .collect();
    assert_eq!(wl, [(1, 2, MediaType::Movie), (2, 1, MediaType::Episode)]);
    assert_eq!(
        lib.last_activities.get("watchlist", "updated_at"),
        Some(Timestamp::parse("2026-04-01T09:10:00Z").unwrap())
    );
    assert!(lib.last_activities.get("movies", "rated_at").is_some());

    let e = Library::from_json(r#"{"catalog":{"shows":[{"title":"S","ids":{"trakt":1},"seasons":[{"number":1,"ids":{"trakt":2},"episodes":[{"number":1,"ids":{"tvdb":5}}]}]}]}}"#).unwrap_err();
    assert_eq!(
        e,
        "catalog.shows[0].seasons[0].episodes[0].ids: missing field `trakt`"
    );
    let e = Library::from_json(r#"{"catalog":{"movies":[{"title":"M","ids":{"trakt":"one"}}]}}"#)
        .unwrap_err();
    assert!(
        e.starts_with("catalog.movies[0].ids: invalid type: string \"one\""),
        "{e}"
    );
    let e = Library::from_json(r#"{"watchlists":[]}"#).unwrap_err();
    assert!(e.starts_with("unknown top-level field `watchlists`"), "{e}");
    let e = Library::from_json(r#"{"watchlist":[{"type":"movie","trakt":9}]}"#).unwrap_err();
    assert_eq!(
        e,
        "watchlist: movie with trakt id 9 is not in the catalogue"
    );
    let e = Library::from_json(r#"{"watchlist":[{"type":"film","trakt":9}]}"#).unwrap_err();
    assert!(e.starts_with("watchlist[0]: unknown variant `film`"), "{e}");
    let e = Library::from_json(r#"{"catalog":{"movies":[{"title":"A","ids":{"trakt":1}},{"title":"B","ids":{"trakt":1}}]}}"#).unwrap_err();
    assert_eq!(e, "catalog: movie trakt id 1 is used twice");
    let e =
        Library::from_json(r#"{"last_activities":{"movies":{"rated_at":"soon"}}}"#).unwrap_err();
    assert!(
        e.starts_with("last_activities: movies.rated_at: invalid timestamp"),
        "{e}"
    );
    // An inconsistent seed refuses to start.
    let mut bad = Library::sample(1, 0);
    bad.watchlist[0].trakt = 42;
    let e = Emulator::start(EmulatorConfig {
        seed: bad,
        ..Default::default()
    })
    .err()
    .unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn request_log() {
    let emu = start(Library::sample(2, 0));
    let api = Api::new(&emu);
    api.get("/sync/watchlist?page=1&limit=250");
    emu.clear_requests();
    api.get("/sync/watchlist/movies?page=2&limit=1");
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    api.post("/sync/watchlist", &body);
    api.oauth("/oauth/revoke", &json!({ "token": "nothing" }));
    // Control endpoints are not logged.
    let ctl = send(
        &agent_with(true, 0),
        "GET",
        &format!("{}/_emulator/requests", emu.url()),
        &[],
        None,
    );
    assert_eq!(ctl.status, 200);
    assert_eq!(ctl.json().as_array().unwrap().len(), 3);
    assert_eq!(ctl.json()[1]["body"], body);
    send(
        &agent_with(true, 0),
        "GET",
        &format!("{}/_emulator/state", emu.url()),
        &[],
        None,
    );

    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (
            log[0].method.as_str(),
            log[0].path.as_str(),
            log[0].query.as_str(),
            log[0].status
        ),
        ("GET", "/sync/watchlist/movies", "page=2&limit=1", 200)
    );
    assert_eq!(log[0].body, None);
    assert_eq!(
        log[0].header("authorization"),
        Some("Bearer <redacted:oken>")
    );
    assert_eq!(log[0].header("trakt-api-key"), Some("emulator-client-id"));
    assert_eq!(log[0].header("trakt-api-version"), Some("2"));
    assert!(log[0]
        .headers
        .iter()
        .all(|(k, _)| *k == k.to_ascii_lowercase()));
    assert!(!log
        .iter()
        .flat_map(|r| &r.headers)
        .any(|(_, v)| v.contains("emulator-access-token")));
    assert_eq!(
        (
            log[1].method.as_str(),
            log[1].path.as_str(),
            log[1].query.as_str(),
            log[1].status
        ),
        ("POST", "/sync/watchlist", "", 201)
    );
    assert_eq!(log[1].body, Some(body));
    assert_eq!(log[1].header("content-type"), Some("application/json"));
    assert_eq!(
        (log[2].path.as_str(), log[2].status),
        ("/oauth/revoke", 200)
    );
    assert!(log[0].at_ms <= log[1].at_ms && log[1].at_ms <= log[2].at_ms);
    let r = send(
        &agent_with(true, 0),
        "DELETE",
        &format!("{}/_emulator/requests", emu.url()),
        &[],
        None,
    );
    assert_eq!(r.status, 204);
    assert!(emu.requests().is_empty());
}

#[test]
fn last_activities_move() {
    let emu = start(Library::sample(3, 1));
    let api = Api::new(&emu);
    let before = api.get("/sync/last_activities").json();
    let groups = [
        "movies",
        "episodes",
        "shows",
        "seasons",
        "comments",
        "lists",
        "watchlist",
        "favorites",
        "collaborations",
        "account",
        "saved_filters",
        "notes",
    ];
    for g in groups {
        assert!(before[g].is_object(), "{g}");
        for (k, v) in before[g].as_object().unwrap() {
            assert!(is_trakt_time(v), "{g}.{k} = {v}");
        }
    }
    assert_eq!(before["all"], "2026-01-01T00:08:00.000Z");
    assert_eq!(
        before["watchlist"]["updated_at"],
        "2026-01-01T00:08:00.000Z"
    );
    assert_eq!(before["movies"]["rated_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(before["movies"].as_object().unwrap().len(), 8);
    assert_eq!(before["episodes"]["paused_at"], "2026-01-01T00:00:00.000Z");

    emu.with_library(|l| l.watchlist.retain(|e| e.kind != MediaType::Movie));
    let r = api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }),
    );
    let list_updated = r.json()["list"]["updated_at"].clone();
    let after = api.get("/sync/last_activities").json();
    assert_eq!(after["watchlist"]["updated_at"], list_updated);
    assert_eq!(after["movies"]["watchlisted_at"], list_updated);
    assert_eq!(after["all"], list_updated);
    assert_eq!(
        after["shows"]["watchlisted_at"],
        before["shows"]["watchlisted_at"]
    );
    assert_eq!(after["movies"]["rated_at"], before["movies"]["rated_at"]);
    let t_before = Timestamp::parse(before["all"].as_str().unwrap()).unwrap();
    let t_after = Timestamp::parse(after["all"].as_str().unwrap()).unwrap();
    assert!(t_after > t_before);
    assert!((t_after.secs() - emu.now().secs()).abs() <= 2);

    // A second write within the same second still moves the timestamps.
    let r = api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }),
    );
    let t2 = Timestamp::parse(r.json()["list"]["updated_at"].as_str().unwrap()).unwrap();
    assert!(t2 > t_after);
    let again = api.get("/sync/last_activities").json();
    assert_eq!(again["movies"]["watchlisted_at"], t2.to_trakt());
    // A write that changes nothing does not.
    api.post(
        "/sync/watchlist",
        &json!({ "movies": [ { "ids": { "trakt": 2 } } ] }),
    );
    assert_eq!(api.get("/sync/last_activities").json(), again);
}

#[test]
fn users_settings() {
    let lib = Library::from_json(r#"{"user":{"username":"Alice Smith","vip":true,"name":"Alice"},"limits":{"watchlist":{"item_count":4000}}}"#).unwrap();
    let emu = start(lib);
    let r = Api::new(&emu).get("/users/settings");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["user"]["username"], "Alice Smith");
    assert_eq!(v["user"]["name"], "Alice");
    assert_eq!(v["user"]["vip"], true);
    assert_eq!(v["user"]["ids"]["slug"], "alice-smith");
    assert_eq!(v["user"]["joined_at"], "2020-01-01T00:00:00.000Z");
    assert_eq!(v["account"]["timezone"], "UTC");
    assert_eq!(
        v["limits"],
        json!({ "list": { "count": 100, "item_count": 5000 }, "watchlist": { "item_count": 4000 },
                "favorites": { "item_count": 50 }, "recommendations": { "item_count": 50 } })
    );
}

#[test]
fn rate_limits() {
    let emu = Emulator::start(EmulatorConfig {
        seed: Library::sample(2, 0),
        rate_limit: Some(RateLimitConfig {
            get_limit: 3,
            get_period_secs: 300,
            post_limit: 1,
            post_period_secs: 1,
            send_header_always: false,
        }),
        ..Default::default()
    })
    .unwrap();
    let api = Api::new(&emu);
    for _ in 0..3 {
        assert_eq!(api.get("/sync/last_activities").status, 200);
    }
    let r = api.get("/sync/last_activities");
    assert_eq!(r.status, 429);
    let retry: i64 = r.h("retry-after").parse().unwrap();
    assert!((299..=300).contains(&retry), "{retry}");
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["name"], "AUTHED_API_GET_LIMIT");
    assert_eq!(
        (
            x["period"].clone(),
            x["limit"].clone(),
            x["remaining"].clone()
        ),
        (json!(300), json!(3), json!(0))
    );
    assert!(x["until"].as_str().unwrap().ends_with('Z'));

    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 429);
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["name"], "AUTHED_API_POST_LIMIT");
    assert_eq!(r.h("retry-after"), "1");
    emu.advance_clock(2);
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    emu.advance_clock(300);
    assert_eq!(api.get("/sync/last_activities").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Fault injection, rate limits, device flow.

impl Api {
    /// Like [`call`](Self::call) but hands back the transport result and the unread response.
    fn try_call(
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
        let req = b
            .body(body.map(|v| v.to_string()).unwrap_or_default().into_bytes())
            .unwrap();
        self.agent.run(req)
    }
}

fn last_logged(emu: &Emulator) -> LoggedRequest {
    emu.requests().pop().expect("a logged request")
}

fn control(emu: &Emulator, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let text = body.map(|b| b.to_string());
    send(
        &agent_with(true, 0),
        method,
        &format!("{}{path}", emu.url()),
        &[("content-type", "application/json")],
        text.as_deref(),
    )
}

fn ranks(r: &Resp) -> Vec<u64> {
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["rank"].as_u64().unwrap())
        .collect()
}

#[test]
fn fault_status_nth_times_and_query() {
    let emu = start(Library::sample(5, 0));
    let api = Api::new(&emu);
    emu.inject(Fault::new(
        FaultWhen {
            method: Some("GET".into()),
            path: Some("/sync/watchlist".into()),
            query_contains: Some("page=2".into()),
            nth: 2,
            times: 2,
        },
        FaultAction::Status {
            status: 503,
            headers: vec![("retry-after".into(), "7".into())],
            body: r#"{"error":"unavailable"}"#.into(),
        },
    ));
    let statuses: Vec<u16> = [
        "page=2&limit=2", // 1st match: before nth
        "page=1&limit=2", // no match
        "page=2&limit=2", // 2nd: fires
        "page=2&limit=2", // 3rd: fires (times 2)
        "page=2&limit=2", // 4th: past the window
    ]
    .iter()
    .map(|q| api.get(&format!("/sync/watchlist?{q}")).status)
    .collect();
    assert_eq!(statuses, vec![200, 200, 503, 503, 200]);
    let log = emu.requests();
    assert_eq!(
        log.iter().map(|l| l.fault.clone()).collect::<Vec<_>>(),
        vec![
            None,
            None,
            Some("status:503".to_string()),
            Some("status:503".to_string()),
            None
        ]
    );
    assert_eq!(log[2].status, 503);

    emu.inject(Fault::new(
        FaultWhen::path("/sync/last_activities"),
        FaultAction::Status {
            status: 429,
            headers: vec![("Retry-After".into(), "3".into())],
            body: String::new(),
        },
    ));
    let r = api.get("/sync/last_activities");
    assert_eq!(
        (r.status, r.h("retry-after"), r.text.as_str()),
        (429, "3", "")
    );
    assert!(!r.has("x-ratelimit"));
    assert!(!r.has("content-type"));
    assert_eq!(api.get("/sync/last_activities").status, 200);

    // A JSON body is served as JSON, and a faulted POST is not applied.
    emu.inject(Fault::new(
        FaultWhen::request("POST", "/sync/watchlist/remove"),
        FaultAction::Status {
            status: 500,
            headers: vec![],
            body: r#"{"error":"server_error"}"#.into(),
        },
    ));
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 500);
    assert_eq!(r.h("content-type"), "application/json; charset=utf-8");
    assert_eq!(r.json(), json!({"error": "server_error"}));
    assert_eq!(emu.library().watchlist.len(), 5);
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    assert_eq!(emu.library().watchlist.len(), 4);

    // times 0 = forever; the earlier injected fault wins while both match; clear_faults.
    emu.inject(Fault::new(
        FaultWhen {
            times: 0,
            ..FaultWhen::path("/users/settings")
        },
        FaultAction::Status {
            status: 502,
            headers: vec![],
            body: "<html>bad gateway</html>".into(),
        },
    ));
    emu.inject(Fault::new(
        FaultWhen::path("/users/settings"),
        FaultAction::Status {
            status: 504,
            headers: vec![],
            body: String::new(),
        },
    ));
    for _ in 0..4 {
        let r = api.get("/users/settings");
        assert_eq!(r.status, 502);
        assert_eq!(r.h("content-type"), "text/html; charset=UTF-8");
    }
    emu.clear_faults();
    assert_eq!(api.get("/users/settings").status, 200);
}

#[test]
fn fault_drop_connection() {
    let emu = start(Library::sample(2, 0));
    let api = Api::new(&emu);
    assert_eq!(api.get("/sync/last_activities").status, 200); // a pooled connection
    emu.inject(Fault::new(
        FaultWhen::request("POST", "/sync/watchlist/remove"),
        FaultAction::DropConnection,
    ));
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    let r = api.try_call("POST", "/sync/watchlist/remove", Some(&body));
    assert!(
        r.is_err(),
        "expected a transport error, got {:?}",
        r.map(|r| r.status())
    );
    let l = last_logged(&emu);
    assert_eq!(
        (
            l.method.as_str(),
            l.path.as_str(),
            l.status,
            l.fault.as_deref()
        ),
        ("POST", "/sync/watchlist/remove", 0, Some("drop_connection"))
    );
    assert_eq!(l.body, Some(body.clone()));
    assert_eq!(
        emu.library().watchlist.len(),
        2,
        "a dropped request is not applied"
    );
    assert_eq!(emu.requests().len(), 2);

    // Apply, then drop: the effect happens.
    emu.inject(Fault::new(
        FaultWhen::request("POST", "/sync/watchlist/remove"),
        FaultAction::ApplyThenDrop,
    ));
    assert!(api
        .try_call("POST", "/sync/watchlist/remove", Some(&body))
        .is_err());
    let l = last_logged(&emu);
    assert_eq!((l.status, l.fault.as_deref()), (0, Some("apply_then_drop")));
    assert_eq!(emu.library().watchlist.len(), 1);
    // The server keeps serving.
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["deleted"]["movies"], 0);
}

#[test]
fn fault_truncated_body() {
    let emu = start(Library::sample(3, 0));
    let api = Api::new(&emu);
    let full = api.get("/sync/watchlist?page=1&limit=10");
    emu.inject(Fault::new(
        FaultWhen::path("/sync/watchlist"),
        FaultAction::TruncatedBody,
    ));
    let resp = api
        .try_call("GET", "/sync/watchlist?page=1&limit=10", None)
        .expect("the head arrives");
    assert_eq!(resp.status().as_u16(), 200);
    let len: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, full.text.len());
    assert_eq!(resp.headers()["x-pagination-item-count"], "3");
    let read = resp.into_body().read_to_string();
    assert!(
        read.is_err(),
        "reading a truncated body must fail, got {read:?}"
    );
    let l = last_logged(&emu);
    assert_eq!(
        (l.status, l.fault.as_deref()),
        (200, Some("truncated_body"))
    );
    // What a raw socket sees: exactly the head and half the body, then EOF.
    emu.inject(Fault::new(FaultWhen::default(), FaultAction::TruncatedBody));
    let raw = raw_get(&emu, "/sync/watchlist?page=1&limit=10");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"));
    assert_eq!(body, &full.text[..full.text.len() / 2]);
    assert_eq!(api.get("/sync/watchlist?page=1&limit=10").text, full.text);
}

/// One GET over a fresh socket with `Connection: close`; everything the server sent.
fn raw_get(emu: &Emulator, path: &str) -> String {
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

#[test]
fn fault_delay() {
    let emu = start(Library::sample(1, 0));
    let api = Api::new(&emu);
    emu.inject(Fault::new(
        FaultWhen::path("/sync/last_activities"),
        FaultAction::Delay { ms: 300 },
    ));
    let t = std::time::Instant::now();
    let r = api.get("/sync/last_activities");
    let elapsed = t.elapsed().as_millis();
    assert_eq!(r.status, 200);
    assert!(elapsed >= 300, "{elapsed} ms");
    let l = last_logged(&emu);
    assert_eq!((l.status, l.fault.as_deref()), (200, Some("delay:300")));

    // Beyond a client timeout: the client gives up, the request was still handled.
    emu.inject(Fault::new(
        FaultWhen::request("POST", "/sync/watchlist/remove"),
        FaultAction::Delay { ms: 1500 },
    ));
    let quick = Api {
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_millis(200)))
            .build()
            .into(),
        ..Api::new(&emu)
    };
    let t = std::time::Instant::now();
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    assert!(quick
        .try_call("POST", "/sync/watchlist/remove", Some(&body))
        .is_err());
    assert!(t.elapsed().as_millis() < 1000);
    assert_eq!(emu.library().watchlist.len(), 0);
    assert_eq!(last_logged(&emu).fault.as_deref(), Some("delay:1500"));
}

#[test]
fn fault_html_bodies() {
    let emu = start(Library::sample(1, 0));
    let api = Api::new(&emu);
    emu.inject(Fault::new(FaultWhen::default(), FaultAction::NonJsonBody));
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-type"), "text/html; charset=UTF-8");
    assert!(r.text.starts_with("<!DOCTYPE html>"));
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    assert!(!r.has("x-pagination-page"));
    assert_eq!(last_logged(&emu).fault.as_deref(), Some("non_json_body"));

    emu.inject(Fault::new(
        FaultWhen::default(),
        FaultAction::CloudflareRateLimit {
            retry_after_secs: Some(300),
        },
    ));
    emu.inject(Fault::new(
        FaultWhen {
            nth: 2,
            ..FaultWhen::default()
        },
        FaultAction::CloudflareRateLimit {
            retry_after_secs: None,
        },
    ));
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 429);
    assert_eq!(r.h("server"), "cloudflare");
    assert_eq!(r.h("retry-after"), "300");
    assert_eq!(r.h("content-type"), "text/html; charset=UTF-8");
    assert!(!r.has("x-ratelimit"));
    assert!(r.text.contains("1015"));
    let r = api.get("/sync/watchlist");
    assert_eq!((r.status, r.h("server")), (429, "cloudflare"));
    assert!(!r.has("retry-after"));
    assert!(!r.has("x-ratelimit"));
    assert_eq!(
        last_logged(&emu).fault.as_deref(),
        Some("cloudflare_rate_limit")
    );
    assert_eq!(last_logged(&emu).status, 429);
    assert_eq!(api.get("/sync/watchlist").status, 200);
}

#[test]
fn fault_repeated_page_and_item_count() {
    let emu = start(Library::sample(5, 0));
    let api = Api::new(&emu);
    let p1 = api.get("/sync/watchlist?page=1&limit=2");
    let p2 = api.get("/sync/watchlist?page=2&limit=2");
    assert_eq!((ranks(&p1), ranks(&p2)), (vec![1, 2], vec![3, 4]));
    emu.inject(Fault::new(
        FaultWhen {
            query_contains: Some("page=2".into()),
            ..FaultWhen::path("/sync/watchlist")
        },
        FaultAction::RepeatPreviousPage,
    ));
    let r = api.get("/sync/watchlist?page=2&limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), p1.json());
    for (h, v) in [
        ("x-pagination-page", "2"),
        ("x-pagination-limit", "2"),
        ("x-pagination-page-count", "3"),
        ("x-pagination-item-count", "5"),
    ] {
        assert_eq!(r.h(h), v, "{h}");
    }
    assert_ne!(r.h("etag"), p1.h("etag"));
    let l = last_logged(&emu);
    assert_eq!(
        (l.query.as_str(), l.fault.as_deref()),
        ("page=2&limit=2", Some("repeat_previous_page"))
    );
    assert_eq!(
        ranks(&api.get("/sync/watchlist?page=2&limit=2")),
        vec![3, 4]
    );

    emu.inject(Fault::new(
        FaultWhen::path("/sync/watchlist"),
        FaultAction::ItemCountOffBy { delta: -1 },
    ));
    let r = api.get("/sync/watchlist?page=3&limit=2");
    assert_eq!(r.h("x-pagination-item-count"), "4");
    assert_eq!(r.h("x-pagination-page-count"), "3");
    assert_eq!(ranks(&r), vec![5]);
    emu.inject(Fault::new(
        FaultWhen::path("/sync/watchlist"),
        FaultAction::ItemCountOffBy { delta: 2 },
    ));
    let r = api.get("/sync/watchlist?page=1&limit=2");
    assert_eq!(r.h("x-pagination-item-count"), "7");
    assert_eq!(ranks(&r), vec![1, 2]);
    assert_eq!(
        last_logged(&emu).fault.as_deref(),
        Some("item_count_off_by:2")
    );
}

#[test]
fn fault_control_endpoints() {
    let emu = start(Library::sample(3, 0));
    let api = Api::new(&emu);
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(&json!([
            { "when": { "path": "/sync/watchlist", "query_contains": "page=2", "nth": 1, "times": 2 },
              "action": { "kind": "status", "status": 503, "headers": [["retry-after", "1"]] } },
            { "action": { "kind": "item_count_off_by", "delta": 1 } }
        ])),
    );
    assert_eq!((r.status, r.json()), (200, json!({ "injected": 2 })));
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(&json!({ "when": { "method": "POST" }, "action": { "kind": "drop_connection" } })),
    );
    assert_eq!(r.json(), json!({ "injected": 1 }));
    let listed = control(&emu, "GET", "/_emulator/faults", None).json();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[0]["action"]["kind"], "status");
    assert_eq!(listed[0]["when"]["times"], 2);
    assert_eq!(listed[1]["when"]["nth"], 1);
    assert_eq!(listed[0]["seen"], 0);
    // Control requests are neither faulted nor counted.
    assert_eq!(control(&emu, "GET", "/_emulator/state", None).status, 200);
    let r = api.get("/sync/watchlist?page=2&limit=1");
    assert_eq!((r.status, r.h("retry-after")), (503, "1"));
    // The catch-all item_count fault also counted that request (shadowed by the earlier fault),
    // so its window (the 1st match) is spent.
    let r = api.get("/sync/watchlist?page=1&limit=1");
    assert_eq!((r.status, r.h("x-pagination-item-count")), (200, "3"));
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(
            &json!({ "when": { "method": "get" }, "action": { "kind": "item_count_off_by", "delta": 1 } }),
        ),
    );
    assert_eq!(r.status, 200);
    let r = api.get("/sync/watchlist?page=1&limit=1");
    assert_eq!((r.status, r.h("x-pagination-item-count")), (200, "4"));
    let r = control(
        &emu,
        "POST",
        "/_emulator/faults",
        Some(&json!({ "action": { "kind": "nope" } })),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        control(&emu, "DELETE", "/_emulator/faults", None).status,
        204
    );
    assert_eq!(
        control(&emu, "GET", "/_emulator/faults", None).json(),
        json!([])
    );
    assert_eq!(api.get("/sync/watchlist?page=2&limit=1").status, 200);
    let body = json!({ "movies": [ { "ids": { "trakt": 1 } } ] });
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    let log = control(&emu, "GET", "/_emulator/requests", None).json();
    assert_eq!(log[0]["fault"], "status:503");
    assert_eq!(log[1]["fault"], Value::Null);
    assert_eq!(log[2]["fault"], "item_count_off_by:1");
}

fn rate_limited(cfg: RateLimitConfig) -> Emulator {
    Emulator::start(EmulatorConfig {
        seed: Library::sample(3, 0),
        rate_limit: Some(cfg),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn rate_limit_write_spacing_uses_real_time() {
    let emu = rate_limited(RateLimitConfig::default());
    let api = Api::new(&emu);
    let body = json!({ "movies": [ { "ids": { "trakt": 99 } } ] });
    let sent = std::time::Instant::now();
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    let answered = std::time::Instant::now();
    // 300 ms, not 900: a loaded CI machine can take a few hundred ms to deliver a request.
    std::thread::sleep(std::time::Duration::from_millis(300).saturating_sub(sent.elapsed()));
    let r = api.post("/sync/watchlist/remove", &body);
    assert_eq!(r.status, 429, "300 ms after the first write");
    assert_eq!(r.h("retry-after"), "1");
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(
        x,
        json!({ "name": "AUTHED_API_POST_LIMIT", "period": 1, "limit": 1, "remaining": 0, "until": x["until"] })
    );
    let until = x["until"].as_str().unwrap();
    assert_eq!(until.len(), 20);
    // `until` is at whole seconds and `now` is read later: one period plus one second of rounding.
    assert!(Timestamp::parse(until).unwrap().secs() - emu.now().secs() <= 2);
    assert_eq!(r.json()["error"], "rate_limit_exceeded");
    // The 429 did not count: 1000 ms after the first one, a write passes.
    std::thread::sleep(std::time::Duration::from_millis(1000).saturating_sub(answered.elapsed()));
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    // advance_clock moves the window too.
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 429);
    emu.advance_clock(1);
    assert_eq!(api.post("/sync/watchlist/remove", &body).status, 200);
    // Writes and reads are separate buckets.
    assert_eq!(api.get("/sync/last_activities").status, 200);
    let statuses: Vec<u16> = emu.requests().iter().map(|l| l.status).collect();
    assert_eq!(statuses, vec![200, 429, 200, 429, 200, 200]);
}

#[test]
fn rate_limit_headers_always() {
    let emu = rate_limited(RateLimitConfig {
        get_limit: 3,
        get_period_secs: 60,
        send_header_always: true,
        ..RateLimitConfig::default()
    });
    let api = Api::new(&emu);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = api.get("/sync/watchlist");
        assert_eq!(r.status, 200);
        let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
        assert_eq!(
            (x["name"].clone(), x["period"].clone(), x["limit"].clone()),
            (json!("AUTHED_API_GET_LIMIT"), json!(60), json!(3))
        );
        remaining.push(x["remaining"].as_u64().unwrap());
    }
    assert_eq!(remaining, vec![2, 1, 0]);
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 429);
    let retry: i64 = r.h("retry-after").parse().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["remaining"], 0);
    let r = api.post(
        "/sync/watchlist/remove",
        &json!({ "movies": [ { "ids": { "trakt": 1 } } ] }),
    );
    assert_eq!(r.status, 200);
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(
        (x["name"].clone(), x["remaining"].clone()),
        (json!("AUTHED_API_POST_LIMIT"), json!(0))
    );
    // OAuth routes are not rate-limited and carry no header.
    let r = api.oauth("/oauth/revoke", &json!({ "token": "nothing" }));
    assert_eq!(r.status, 200);
    assert!(!r.has("x-ratelimit"));
    emu.advance_clock(60);
    let r = api.get("/sync/watchlist");
    assert_eq!(r.status, 200);
    let x: Value = serde_json::from_str(r.h("x-ratelimit")).unwrap();
    assert_eq!(x["remaining"], 2);

    // Off by default: no headers, no 429.
    let emu = start(Library::sample(1, 0));
    let api = Api::new(&emu);
    for _ in 0..3 {
        let r = api.post("/sync/watchlist/remove", &json!({ "movies": [] }));
        assert_eq!(r.status, 200);
        assert!(!r.has("x-ratelimit"));
    }
}

fn device_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        seed: Library::sample(1, 0),
        device_interval_secs: 1,
        device_expires_in_secs: 600,
        ..Default::default()
    })
    .unwrap()
}

impl Api {
    fn device_code(&self) -> (String, String) {
        let r = self.oauth(
            "/oauth/device/code",
            &json!({ "client_id": self.client_id }),
        );
        assert_eq!(r.status, 200);
        let v = r.json();
        (
            v["device_code"].as_str().unwrap().to_string(),
            v["user_code"].as_str().unwrap().to_string(),
        )
    }

    fn poll(&self, code: &str, secret: &str) -> Resp {
        self.oauth(
            "/oauth/device/token",
            &json!({ "code": code, "client_id": self.client_id, "client_secret": secret }),
        )
    }
}

#[test]
fn device_flow_approve() {
    let emu = device_emulator();
    let old = emu.credentials();
    let api = Api::new(&emu);
    let secret = old.client_secret.as_str();
    let r = api.oauth("/oauth/device/code", &json!({ "client_id": old.client_id }));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["verification_url"], "https://trakt.tv/activate");
    assert_eq!(
        (v["expires_in"].clone(), v["interval"].clone()),
        (json!(600), json!(1))
    );
    let code = v["device_code"].as_str().unwrap().to_string();
    let user_code = v["user_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 64);
    assert_eq!(user_code.len(), 8);
    assert!(user_code
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(emu.pending_device_codes(), vec![user_code.clone()]);

    let r = api.poll(&code, secret);
    assert_eq!((r.status, r.text.as_str()), (400, ""), "pending");
    assert_eq!(api.poll(&code, secret).status, 429, "polled too fast");
    emu.advance_clock(1);
    assert_eq!(api.poll(&code, secret).status, 400);
    assert_eq!(api.poll(&code, "wrong").status, 401);
    assert_eq!(api.poll("no-such-code", secret).status, 404);

    assert!(emu.approve_device(&user_code.to_lowercase()));
    assert!(emu.pending_device_codes().is_empty());
    assert!(!emu.approve_device(&user_code), "no longer pending");
    emu.advance_clock(1);
    let r = api.poll(&code, secret);
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(
        (t["token_type"].clone(), t["scope"].clone()),
        (json!("bearer"), json!("public"))
    );
    let now = emu.credentials();
    assert_eq!(t["access_token"].as_str(), Some(now.access_token.as_str()));
    assert_eq!(
        t["refresh_token"].as_str(),
        Some(now.refresh_token.as_str())
    );
    assert_ne!(now.access_token, old.access_token);
    assert_eq!(
        api.get("/sync/last_activities").status,
        401,
        "old token dead"
    );
    assert_eq!(Api::new(&emu).get("/sync/last_activities").status, 200);
    emu.advance_clock(1);
    assert_eq!(api.poll(&code, secret).status, 409, "already used");
    emu.advance_clock(1);
    assert_eq!(api.poll(&code, secret).status, 409);

    // Bad requests for a code.
    let r = api.oauth(
        "/oauth/device/code",
        &json!({ "client_id": "someone-else" }),
    );
    assert_eq!((r.status, err(&r).as_str()), (403, "invalid_client"));
    let r = api.oauth("/oauth/device/code", &json!({}));
    assert_eq!((r.status, err(&r).as_str()), (400, "invalid_request"));
    let log: Vec<(String, u16)> = emu
        .requests()
        .iter()
        .filter(|l| l.path == "/oauth/device/token")
        .map(|l| (l.path.clone(), l.status))
        .collect();
    assert_eq!(
        log.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        vec![400, 429, 400, 401, 404, 200, 409, 409]
    );
}

#[test]
fn device_flow_deny_expire_and_control() {
    let emu = device_emulator();
    let api = Api::new(&emu);
    let secret = emu.credentials().client_secret;
    let (denied, denied_user) = api.device_code();
    let (expiring, expiring_user) = api.device_code();
    let (by_control, control_user) = api.device_code();
    assert_ne!(denied_user, expiring_user);
    assert_eq!(
        emu.pending_device_codes(),
        vec![
            denied_user.clone(),
            expiring_user.clone(),
            control_user.clone()
        ]
    );

    assert!(emu.deny_device(&denied_user));
    assert_eq!(api.poll(&denied, &secret).status, 418);
    assert!(!emu.approve_device(&denied_user));

    // Control endpoints.
    let r = control(&emu, "GET", "/_emulator/device", None);
    assert_eq!(
        r.json(),
        json!({ "pending": [expiring_user.clone(), control_user.clone()] })
    );
    let r = control(
        &emu,
        "POST",
        &format!("/_emulator/device/{control_user}/approve"),
        None,
    );
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({ "user_code": control_user, "status": "approved" })
        )
    );
    let r = control(
        &emu,
        "POST",
        &format!("/_emulator/device/{control_user}/deny"),
        None,
    );
    assert_eq!(r.status, 404);
    assert_eq!(api.poll(&by_control, &secret).status, 200);

    // Expiry on the emulator clock.
    assert_eq!(api.poll(&expiring, &secret).status, 400);
    emu.advance_clock(601);
    assert_eq!(api.poll(&expiring, &secret).status, 410);
    assert!(emu.pending_device_codes().is_empty());
    assert!(!emu.deny_device(&expiring_user));
    let (fresh, fresh_user) = api.device_code();
    let r = control(
        &emu,
        "POST",
        &format!("/_emulator/device/{fresh_user}/deny"),
        None,
    );
    assert_eq!(r.json()["status"], "denied");
    assert_eq!(api.poll(&fresh, &secret).status, 418);
    assert_eq!(
        control(&emu, "POST", "/_emulator/device/NOPE0000/approve", None).status,
        404
    );
}

#[path = "tests_sync.rs"]
mod sync;

#[path = "tests_accounts.rs"]
mod multi_account;
