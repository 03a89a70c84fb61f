//! The ratings' unit tests against a fake Trakt (`Remote`).

use super::index::{ACTIVITIES_PATH, TYPES};
use super::*;
use crate::client::transport::{Method, Request, Response, TransportError};
use crate::config::Options;
use crate::features::rows::row_rating;
use crate::log::take_lines;
use crate::state::{RATINGS_INDEX, RATINGS_UNRESOLVED};
use crate::testkit::{paged, resp, route_of, Env, Fakes};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

type Post = Box<dyn FnMut(&Request) -> Result<Response, TransportError>>;

struct RemoteState {
    /// Rows per type.
    rows: BTreeMap<String, Vec<Value>>,
    /// `last_activities` body.
    activities: Value,
    activities_status: u16,
    fail_type: Option<&'static str>,
    post: Post,
}

#[derive(Clone)]
struct Remote(Rc<RefCell<RemoteState>>);

const WM: [(&str, &str); 4] = [
    ("movies", "2026-04-30T19:02:00.000Z"),
    ("shows", "2026-04-11T19:50:00.000Z"),
    ("seasons", "2026-01-19T19:54:00.000Z"),
    ("episodes", "2026-04-12T08:00:00.000Z"),
];

impl Remote {
    fn new(post: impl FnMut(&Request) -> Result<Response, TransportError> + 'static) -> Remote {
        let mut rows = BTreeMap::new();
        for t in TYPES {
            rows.insert(t.to_string(), Vec::new());
        }
        let mut activities = json!({"all": "2026-05-02T18:41:00.000Z"});
        for (t, at) in WM {
            activities[t] = json!({"rated_at": at, "watchlisted_at": "2026-01-01T00:00:00.000Z"});
        }
        Remote(Rc::new(RefCell::new(RemoteState {
            rows,
            activities,
            activities_status: 200,
            fail_type: None,
            post: Box::new(post),
        })))
    }
    fn with_sample(self) -> Remote {
        {
            let mut s = self.0.borrow_mut();
            let rows = sample();
            for t in TYPES {
                s.rows.insert(t.to_string(), rows[t].as_array().unwrap().clone());
            }
        }
        self
    }
    fn fakes(&self) -> Fakes {
        let r = self.clone();
        Fakes::new(move |req| {
            let mut s = r.0.borrow_mut();
            let route = route_of(&req.url);
            match (req.method, route.as_str()) {
                (Method::Get, ACTIVITIES_PATH) => Ok(resp(s.activities_status, &[], &s.activities.to_string())),
                (Method::Get, p) if p.starts_with("/sync/ratings/") => {
                    let t = &p["/sync/ratings/".len()..];
                    if s.fail_type == Some(t) {
                        return Ok(resp(500, &[], ""));
                    }
                    Ok(paged(req, &s.rows[t], None))
                }
                (Method::Post, _) => (s.post)(req),
                _ => panic!("unexpected {}", req.url),
            }
        })
    }
    fn env(&self, opts: Options) -> Env {
        Env::new(self.fakes(), Options { max_retries: 2, ..opts })
    }
    fn set_rated_at(&self, t: &str, v: Value) {
        self.0.borrow_mut().activities[t]["rated_at"] = v;
    }
    fn set(&self, f: impl FnOnce(&mut RemoteState)) {
        f(&mut self.0.borrow_mut());
    }
}

fn no_posts(req: &Request) -> Result<Response, TransportError> {
    panic!("no writes expected, got {}", req.url)
}

const BB: &str = r#"{"title": "Breaking Bad", "year": 2008, "ids": {"trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396}}"#;

fn sample() -> Value {
    let bb: Value = serde_json::from_str(BB).unwrap();
    json!({
        "movies": [{"rated_at": "2026-04-30T19:02:00.000Z", "rating": 9, "type": "movie",
                    "movie": {"title": "Batman Begins", "year": 2005, "ids": {"trakt": 1, "slug": "batman-begins-2005", "imdb": "tt0372784", "tmdb": 272}}}],
        "shows": [{"rated_at": "2026-04-11T19:50:00.000Z", "rating": 10, "type": "show", "show": bb}],
        "seasons": [{"rated_at": "2026-01-19T19:54:00.000Z", "rating": 8, "type": "season",
                     "season": {"number": 1, "ids": {"trakt": 3950, "tvdb": 30272, "tmdb": 3572}}, "show": bb}],
        "episodes": [{"rated_at": "2026-04-12T08:00:00.000Z", "rating": 10, "type": "episode",
                      "episode": {"season": 4, "number": 8, "title": "Hermanos", "ids": {"trakt": 56, "tvdb": 4127161, "imdb": "tt1683095", "tmdb": 62127}},
                      "show": bb}]
    })
}

fn raw(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rated(kind: &str, ids: &[(&str, &str)], rating: Option<f64>) -> Item {
    Item { kind: kind.into(), ids: raw(ids), rating, ..Item::default() }
}

fn unresolved(r: &WriteReport) -> Vec<(&str, Hint)> {
    r.unresolved.iter().map(|u| (u.key.as_str(), u.hint)).collect()
}

fn body_of(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

const KEYS: [&str; 4] = ["tmdb:272", "tmdb:1396#show", "tmdb:1396#season:1", "tmdb:1396#s04e08"];

#[test]
fn index_reads_four_types_then_a_cache_hit_costs_one_get() {
    let remote = Remote::new(no_posts).with_sample();
    let mut env = remote.env(Options::default());
    take_lines();
    let first = Ratings::default().build_index(&mut env.ctx()).unwrap();
    let mut sorted_keys = KEYS;
    sorted_keys.sort();
    assert_eq!(first.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), sorted_keys, "in key order");
    let ep = &first.iter().find(|(k, _)| k == KEYS[3]).unwrap().1;
    assert_eq!((ep.rating, ep.rated_at.as_deref()), (Some(10.0), Some("2026-04-12T08:00:00.000Z")));
    assert_eq!(
        (ep.season, ep.episode, ep.title.as_deref(), ep.series_title.as_deref()),
        (Some(4), Some(8), Some("Hermanos"), Some("Breaking Bad"))
    );
    assert_eq!(ep.show_ids[0], ("tmdb".to_string(), "1396".to_string()));
    assert_eq!(
        env.sent(),
        vec![
            "GET /sync/last_activities",
            "GET /sync/ratings/movies?page=1&limit=250",
            "GET /sync/ratings/shows?page=1&limit=250",
            "GET /sync/ratings/seasons?page=1&limit=250",
            "GET /sync/ratings/episodes?page=1&limit=250",
        ]
    );
    let doc = env.mem.text_cache_doc(RATINGS_INDEX).unwrap();
    assert_eq!((&doc["schema"], &doc["count"]), (&json!(2), &json!(4)));
    assert_eq!(doc["generated_at"], "2023-11-14T22:30:00Z");
    assert_eq!(doc["wm"], json!({"movies": WM[0].1, "shows": WM[1].1, "seasons": WM[2].1, "episodes": WM[3].1}));
    assert_eq!(
        doc["items"]["tmdb:272"],
        json!({
            "type": "movie", "title": "Batman Begins", "year": 2005,
            "ids": {"tmdb": "272", "imdb": "tt0372784", "trakt": "1", "slug": "batman-begins-2005"},
            "rating": 9, "rated_at": "2026-04-30T19:02:00.000Z"
        })
    );
    assert!(take_lines().iter().any(|l| l.contains("INFO index_done count=4 source=live pages=4")));

    let mut r = Ratings::default();
    let ops = env.mem.ops().len();
    let again = r.build_index(&mut env.ctx()).unwrap();
    assert_eq!(env.fakes.requests().len(), 6, "exactly one GET: last_activities");
    assert_eq!(env.mem.ops()[ops..], ["read trakt_ratings.index.json".to_string()], "a hit writes nothing");
    assert_eq!(env.sent()[5], "GET /sync/last_activities");
    let mut sorted = first.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(again, sorted);
    assert!(take_lines().iter().any(|l| l.contains("INFO index_done count=4 source=cache")));
    assert_eq!(r.index.as_ref().unwrap().len(), 4);
}

#[test]
fn a_cache_hit_as_text_is_the_saved_text_and_an_old_cache_is_rewritten_once() {
    let remote = Remote::new(no_posts).with_sample();
    let mut env = remote.env(Options::default());
    let live = Ratings::default().build_index_json(&mut env.ctx()).unwrap();
    let file = env.mem.text(RATINGS_INDEX).unwrap();
    assert_eq!(file.rsplit_once('\n').unwrap().0, live, "the cache holds the index text as returned");
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, Value>>(&live).unwrap().keys().cloned().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "in key order");

    let mut r = Ratings::default();
    let ops = env.mem.ops().len();
    assert_eq!(r.build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.mem.ops()[ops..], ["read trakt_ratings.index.json".to_string()]);
    assert!(r.index.is_none(), "no item read: a write reads the index when it needs it");

    // The schema-1 form of the same cache: used, rewritten as schema 2, same text.
    let doc = env.mem.text_cache_doc(RATINGS_INDEX).unwrap();
    let old = json!({"schema": 1, "generated_at": doc["generated_at"], "items": doc["items"], "wm": doc["wm"]});
    env.mem.put(RATINGS_INDEX, &old.to_string());
    take_lines();
    let n = env.fakes.requests().len();
    assert_eq!(Ratings::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.fakes.requests().len() - n, 1, "still a cache hit");
    assert!(take_lines().iter().any(|l| l.contains("INFO state_migrated file=trakt_ratings.index.json schema=2")));
    assert_eq!(env.mem.text(RATINGS_INDEX).unwrap(), file, "rewritten as the live read wrote it");

    // A damaged text is not used: read live, and saved again.
    env.mem.put(RATINGS_INDEX, &file.replacen("Batman", "Batmen", 1));
    let n = env.fakes.requests().len();
    assert_eq!(Ratings::default().build_index_json(&mut env.ctx()).unwrap(), live);
    assert_eq!(env.fakes.requests().len() - n, 5, "last_activities and the four types");
    assert_eq!(env.mem.text(RATINGS_INDEX).unwrap(), file);
}

#[test]
fn the_same_instant_written_differently_is_unchanged() {
    let remote = Remote::new(no_posts).with_sample();
    let mut env = remote.env(Options::default());
    Ratings::default().build_index(&mut env.ctx()).unwrap();
    remote.set_rated_at("movies", json!("2026-04-30T19:02:00Z"));
    remote.set_rated_at("shows", json!("2026-04-11T21:50:00+02:00"));
    remote.set_rated_at("seasons", json!("2026-01-19T19:54:00.000000Z"));
    let n = env.fakes.requests().len();
    let entries = Ratings::default().build_index(&mut env.ctx()).unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(env.fakes.requests().len() - n, 1);
}

#[test]
fn any_moved_missing_or_unreadable_rated_at_reads_all_four_again() {
    let moved: [(&str, Value); 5] = [
        ("episodes", json!("2026-04-12T08:00:01.000Z")),
        ("seasons", json!("2026-01-19T19:54:00.001Z")),
        ("shows", Value::Null),
        ("movies", json!("yesterday")),
        ("episodes", json!("2026-04-12T08:00:00.000Z")), // back: still differs from the saved 08:00:01
    ];
    let remote = Remote::new(no_posts).with_sample();
    let mut env = remote.env(Options::default());
    Ratings::default().build_index(&mut env.ctx()).unwrap();
    for (t, v) in moved {
        remote.set_rated_at(t, v.clone());
        let n = env.fakes.requests().len();
        take_lines();
        Ratings::default().build_index(&mut env.ctx()).unwrap();
        assert_eq!(env.fakes.requests().len() - n, 5, "{t}={v}: last_activities + the four types");
        assert!(take_lines().iter().any(|l| l.contains("INFO index_cache_stale changed=") && l.contains(t)), "{t}");
        let wm = env.mem.text_cache_doc(RATINGS_INDEX).unwrap()["wm"].clone();
        match v.as_str() {
            Some(s) => assert_eq!(wm[t], s, "the new watermark is saved"),
            None => assert!(wm.get(t).is_none(), "a missing watermark is omitted"),
        }
    }

    // last_activities unavailable (not a session problem): read live.
    remote.set(|s| s.activities_status = 502);
    let n = env.fakes.requests().len();
    Ratings::default().build_index(&mut env.ctx()).unwrap();
    let sent = env.sent();
    assert_eq!(sent[n..].iter().filter(|s| s.starts_with("GET /sync/ratings/")).count(), 4);
    // ... but a 401 that no refresh fixes fails the index.
    remote.set(|s| s.activities_status = 401);
    let err = Ratings::default().build_index(&mut env.ctx()).unwrap_err();
    assert!(matches!(err, AdapterError::Auth(_)), "{err:?}");
}

#[test]
fn a_failed_type_fails_the_index_and_keeps_the_cache() {
    let remote = Remote::new(no_posts).with_sample();
    let mut env = remote.env(Options::default());
    Ratings::default().build_index(&mut env.ctx()).unwrap();
    let saved = env.mem.text(RATINGS_INDEX).unwrap();
    remote.set_rated_at("seasons", json!("2026-05-01T00:00:00.000Z"));
    remote.set(|s| s.fail_type = Some("seasons"));
    let mut r = Ratings::default();
    let err = r.build_index(&mut env.ctx()).unwrap_err();
    assert!(matches!(err, AdapterError::Http { status: 500, .. }), "{err:?}");
    assert_eq!(env.mem.text(RATINGS_INDEX).unwrap(), saved, "never saved from a partial read");
    assert!(r.index.is_none());
}

#[test]
fn duplicates_keep_the_newer_instant_and_bad_rows_are_skipped() {
    let bb: Value = serde_json::from_str(BB).unwrap();
    let ep = |rated_at: &str, rating: Value, trakt: u32| {
        json!({"rated_at": rated_at, "rating": rating, "type": "episode",
        "episode": {"season": 1, "number": 1, "title": "Pilot", "ids": {"trakt": trakt}}, "show": bb})
    };
    let remote = Remote::new(no_posts);
    remote.set(|s| {
        s.rows.insert(
            "episodes".into(),
            vec![
                ep("2026-04-12T09:00:00Z", json!(7), 16),
                // Same key; written later in the day by the clock, but 10:00+02:00 is 08:00Z: older.
                ep("2026-04-12T10:00:00+02:00", json!(3), 17),
                ep("2026-04-12T09:00:00.000Z", json!(0), 18),
                ep("2026-04-12T09:00:00.000Z", json!("x"), 19),
                ep("2026-04-12T09:00:00.000Z", Value::Null, 20),
            ],
        );
        s.rows.insert("movies".into(), vec![
            json!({"rated_at": "2026-01-01T00:00:00Z", "rating": 5, "type": "movie", "movie": {"ids": {"tmdb": 1}}}),
            json!({"rated_at": "2026-01-02T00:00:00Z", "rating": 6, "type": "movie", "movie": {"ids": {"tmdb": 1}}}),
            json!({"rating": 2, "type": "movie", "movie": {"ids": {"tmdb": 2}}}),
            json!({"rated_at": "bad", "rating": 3, "type": "movie", "movie": {"ids": {"tmdb": 2}}}),
        ]);
    });
    let mut env = remote.env(Options::default());
    take_lines();
    let entries = Ratings::default().build_index(&mut env.ctx()).unwrap();
    let got: Vec<(&str, Option<f64>)> = entries.iter().map(|(k, it)| (k.as_str(), it.rating)).collect();
    // Movie 2: neither time parses, so the later row wins (as CrossWatch's >=).
    assert_eq!(got, vec![("tmdb:1", Some(6.0)), ("tmdb:1396#s01e01", Some(7.0)), ("tmdb:2", Some(3.0))]);
    let lines = take_lines();
    assert_eq!(
        lines.iter().filter(|l| l.contains("WARN index_row_skipped reason=invalid_rating")).count(),
        3,
        "{lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains("WARN index_reconcile reason=key_collision")).count(), 3);
}

#[test]
fn malformed_rows_fail_the_index() {
    let remote = Remote::new(no_posts);
    remote.set(|s| {
        s.rows.insert("shows".into(), vec![json!({"rating": 5, "type": "show"})]);
    });
    let mut env = remote.env(Options::default());
    let err = Ratings::default().build_index(&mut env.ctx()).unwrap_err();
    assert!(matches!(&err, AdapterError::Protocol(m) if m.contains("/sync/ratings/shows: row 0")), "{err:?}");
    assert_eq!(env.mem.text(RATINGS_INDEX), None);

    // Rows are numbered in their listing, skipped ones too.
    remote.set(|s| {
        let show = json!({"rating": 5, "type": "show", "show": {"title": "S", "year": 2001, "ids": {"trakt": 1}}});
        let odd = json!({"rating": 5, "type": "person", "person": {"name": "P"}});
        s.rows.insert("shows".into(), vec![show, odd, json!({"rating": 5, "type": "show"})]);
    });
    let mut env = remote.env(Options::default());
    take_lines();
    let err = Ratings::default().build_index(&mut env.ctx()).unwrap_err();
    assert!(
        matches!(&err, AdapterError::Protocol(m) if m.contains("/sync/ratings/shows: row 2 is malformed")),
        "{err:?}"
    );
    assert!(take_lines().iter().any(|l| l.contains("WARN index_row_skipped reason=unsupported_type type=person")));
}

#[test]
fn upsert_bodies_carry_rating_and_rated_at_per_entry() {
    let remote = Remote::new(|req| {
        assert_eq!(route_of(&req.url), "/sync/ratings");
        Ok(resp(
            201,
            &[],
            &json!({"added": {"movies": 1, "shows": 1, "seasons": 1, "episodes": 2}, "not_found": {}}).to_string(),
        ))
    });
    let mut env = remote.env(Options::default());
    let bb = raw(&[("tmdb", "1396"), ("tvdb", "81189"), ("slug", "breaking-bad")]);
    let items = vec![
        Item {
            rated_at: Some(" 2026-04-30T19:02:00.000Z ".into()),
            ..rated("movie", &[("tmdb", "603"), ("imdb", "tt0133093"), ("slug", "the-matrix")], Some(8.0))
        },
        rated("show", &[("tvdb", "81189"), ("trakt", "1")], Some(10.0)),
        Item { show_ids: bb.clone(), season: Some(2), ..rated("season", &[], Some(7.0)) },
        Item {
            show_ids: bb.clone(),
            season: Some(0),
            episode: Some(3),
            rated_at: Some("2026-04-12T08:00:00Z".into()),
            ..rated("episode", &[], Some(9.0))
        },
        Item {
            show_ids: bb.clone(),
            season: Some(4),
            episode: Some(8),
            ..rated("episode", &[("tvdb", "4127161"), ("tmdb", "1396")], Some(1.0))
        },
    ];
    let r = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(
        r.confirmed,
        vec!["tmdb:603", "tvdb:81189", "tmdb:1396#season:2", "tmdb:1396#s00e03", "tmdb:1396#s04e08"]
    );
    let req = &env.fakes.requests()[0];
    assert_eq!(
        String::from_utf8(req.body.clone()).unwrap(),
        concat!(
            r#"{"episodes":[{"ids":{"tvdb":4127161},"rating":1}],"#,
            r#""movies":[{"ids":{"imdb":"tt0133093","tmdb":603},"rated_at":"2026-04-30T19:02:00.000Z","rating":8}],"#,
            r#""shows":[{"ids":{"trakt":1,"tvdb":81189},"rating":10},"#,
            r#"{"ids":{"slug":"breaking-bad","tmdb":1396,"tvdb":81189},"seasons":[{"number":2,"rating":7},"#,
            r#"{"episodes":[{"number":3,"rated_at":"2026-04-12T08:00:00Z","rating":9}],"number":0}]}]}"#
        )
    );
    assert_eq!(env.sent(), vec!["POST /sync/ratings"], "an upsert needs no reads");
}

#[test]
fn invalid_ratings_and_dates_are_never_sent_or_confirmed() {
    let remote = Remote::new(|req| {
        let body = body_of(req);
        assert_eq!(body, json!({"movies": [{"ids": {"tmdb": 8}, "rating": 8}]}));
        Ok(resp(201, &[], &json!({"added": {"movies": 1}}).to_string()))
    });
    let mut env = remote.env(Options::default());
    let items = vec![
        rated("movie", &[("tmdb", "1")], Some(8.5)),
        rated("movie", &[("tmdb", "2")], Some(f64::NAN)),
        rated("movie", &[("tmdb", "3")], Some(0.0)),
        rated("movie", &[("tmdb", "4")], Some(11.0)),
        rated("movie", &[("tmdb", "5")], None),
        rated("movie", &[("tmdb", "6")], Some(f64::INFINITY)),
        Item { rated_at: Some("30/04/2026".into()), ..rated("movie", &[("tmdb", "7")], Some(5.0)) },
        Item { rated_at: Some("   ".into()), ..rated("movie", &[("tmdb", "8")], Some(8.0)) },
        rated("person", &[("tmdb", "9")], Some(5.0)),
        rated("movie", &[("slug", "x")], Some(5.0)),
        Item { show_ids: raw(&[("tmdb", "1396")]), ..rated("episode", &[], Some(5.0)) },
        rated("movie", &[("tmdb", "10")], Some(-3.0)),
    ];
    let r = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:8"]);
    assert_eq!(
        unresolved(&r),
        vec![
            ("tmdb:1", Hint::InvalidRating),
            ("tmdb:2", Hint::InvalidRating),
            ("tmdb:3", Hint::InvalidRating),
            ("tmdb:4", Hint::InvalidRating),
            ("tmdb:5", Hint::InvalidRating),
            ("tmdb:6", Hint::InvalidRating),
            ("tmdb:7", Hint::InvalidRatedAt),
            ("tmdb:9", Hint::UnsupportedType),
            ("slug:x", Hint::MissingIds),
            ("", Hint::MissingScope),
            ("tmdb:10", Hint::InvalidRating),
        ]
    );
    assert_eq!(env.fakes.requests().len(), 1);

    // Nothing valid: nothing sent at all.
    let mut env = Remote::new(no_posts).env(Options::default());
    let r = Ratings::default().write(Op::Add, &items[..6], false, &mut env.ctx()).unwrap();
    assert_eq!((r.confirmed.len(), r.unresolved.len()), (0, 6));
    assert!(env.fakes.requests().is_empty());
    // The journal records them for the user to see.
    let doc = env.mem.json(RATINGS_UNRESOLVED).unwrap();
    assert_eq!(doc["items"]["tmdb:1"]["reasons"], json!(["invalid rating"]));
    assert_eq!(doc["items"]["tmdb:1"]["item"]["rating"], json!(8.5));
}

#[test]
fn not_found_is_matched_back_flat_and_nested() {
    let remote = Remote::new(|_| {
        Ok(resp(201, &[], &json!({
            "added": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 1},
            "not_found": {
                "movies": [{"ids": {"imdb": "tt0000111"}, "rating": 10}],
                "shows": [{"ids": {"tvdb": 999}, "seasons": [{"number": 1, "episodes": [{"number": 2, "rating": 6}]}, {"number": 3, "rating": 5}]}],
                "seasons": [], "episodes": [{"ids": {"trakt": 999999999}, "rating": 4}]
            }
        }).to_string()))
    });
    let mut env = remote.env(Options::default());
    let show = raw(&[("tvdb", "999")]);
    let items = vec![
        rated("movie", &[("imdb", "tt0000111")], Some(10.0)),
        rated("movie", &[("tmdb", "603")], Some(9.0)),
        Item { show_ids: show.clone(), season: Some(1), episode: Some(1), ..rated("episode", &[], Some(7.0)) },
        Item { show_ids: show.clone(), season: Some(1), episode: Some(2), ..rated("episode", &[], Some(6.0)) },
        Item { show_ids: show.clone(), season: Some(3), ..rated("season", &[], Some(5.0)) },
        rated("episode", &[("trakt", "999999999")], Some(4.0)),
    ];
    let r = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(r.confirmed, vec!["tmdb:603", "tvdb:999#s01e01"]);
    assert_eq!(
        unresolved(&r),
        vec![
            ("imdb:tt0000111", Hint::NotFound),
            ("tvdb:999#s01e02", Hint::NotFound),
            ("tvdb:999#season:3", Hint::NotFound),
            ("trakt:999999999", Hint::NotFound),
        ]
    );
}

#[test]
fn fewer_added_than_sent_is_unconfirmed() {
    let remote =
        Remote::new(|_| Ok(resp(201, &[], &json!({"added": {"movies": 1}, "not_found": {"movies": []}}).to_string())));
    let mut env = remote.env(Options::default());
    take_lines();
    let r = Ratings::default()
        .write(
            Op::Add,
            &[rated("movie", &[("tmdb", "1")], Some(5.0)), rated("movie", &[("tmdb", "2")], Some(6.0))],
            false,
            &mut env.ctx(),
        )
        .unwrap();
    assert!(r.confirmed.is_empty());
    assert_eq!(unresolved(&r), vec![("tmdb:1", Hint::Unconfirmed), ("tmdb:2", Hint::Unconfirmed)]);
    assert!(take_lines().iter().any(|l| l.contains("WARN write_unconfirmed type=movies sent=2 counted=1")));
}

#[test]
fn with_an_index_same_ratings_are_skipped_and_duplicates_resolved() {
    let remote = Remote::new(|req| {
        assert_eq!(
            body_of(req),
            json!({"movies": [
                {"ids": {"tmdb": 272}, "rated_at": "2026-05-01T00:00:00Z", "rating": 9},
                {"ids": {"tmdb": 5}, "rated_at": "2026-05-02T00:00:00Z", "rating": 4}
            ]})
        );
        Ok(resp(201, &[], &json!({"added": {"movies": 2}}).to_string()))
    })
    .with_sample();
    let mut env = remote.env(Options::default());
    let mut r = Ratings::default();
    r.build_index(&mut env.ctx()).unwrap();
    let items = vec![
        // Already 10 on Trakt (found by the show's tvdb id), no date given: nothing to do.
        rated("show", &[("tvdb", "81189")], Some(10.0)),
        // Same rating and the same instant, written differently: nothing to do.
        Item {
            rated_at: Some("2026-04-12T10:00:00+02:00".into()),
            show_ids: raw(&[("tmdb", "1396")]),
            season: Some(4),
            episode: Some(8),
            ..rated("episode", &[], Some(10.0))
        },
        // Same rating, a new date: sent.
        Item { rated_at: Some("2026-05-01T00:00:00Z".into()), ..rated("movie", &[("tmdb", "272")], Some(9.0)) },
        // The same key twice with different values: the newer date wins.
        Item { rated_at: Some("2026-05-02T00:00:00Z".into()), ..rated("movie", &[("tmdb", "5")], Some(4.0)) },
        Item { rated_at: Some("2026-04-02T00:00:00Z".into()), ..rated("movie", &[("tmdb", "5")], Some(2.0)) },
    ];
    let rep = r.write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(rep.skipped, vec!["tvdb:81189", "tmdb:1396#s04e08"]);
    assert_eq!(rep.confirmed, vec!["tmdb:272", "tmdb:5"]);
    assert_eq!(unresolved(&rep), vec![("tmdb:5", Hint::DuplicateKey)]);
    // This run's index and the cache file are upserted; the watermarks stay.
    let ix = r.index.as_ref().unwrap();
    assert_eq!((ix["tmdb:5"].rating, ix["tmdb:272"].rated_at.as_deref()), (Some(4.0), Some("2026-05-01T00:00:00Z")));
    let doc = env.mem.text_cache_doc(RATINGS_INDEX).unwrap();
    assert_eq!(doc["items"]["tmdb:5"]["rating"], 4);
    assert_eq!(doc["items"]["tmdb:272"]["rated_at"], "2026-05-01T00:00:00Z");
    assert_eq!(doc["wm"]["movies"], WM[0].1);
}

#[test]
fn unrate() {
    let remote = Remote::new(|req| {
        assert_eq!(route_of(&req.url), REMOVE_PATH);
        let body = body_of(req);
        assert_eq!(
            body,
            json!({
                "episodes": [{"ids": {"trakt": 56}}],
                "movies": [{"ids": {"tmdb": 272}}, {"ids": {"tmdb": 603}}],
                "shows": [{"ids": {"slug": "breaking-bad", "tmdb": 1396}, "seasons": [{"number": 1}]}]
            }),
            "ids only, no rating"
        );
        Ok(resp(
            200,
            &[],
            &json!({"deleted": {"movies": 1, "shows": 0, "seasons": 1, "episodes": 1},
                                  "not_found": {"movies": [], "shows": [], "seasons": [], "episodes": []}})
            .to_string(),
        ))
    })
    .with_sample();
    let mut env = remote.env(Options::default());
    let mut r = Ratings::default();
    r.build_index(&mut env.ctx()).unwrap();
    let bb = raw(&[("tmdb", "1396"), ("slug", "breaking-bad")]);
    let items = vec![
        rated("movie", &[("tmdb", "272")], Some(9.0)),
        rated("movie", &[("tmdb", "603")], None),
        Item { show_ids: bb.clone(), season: Some(1), ..rated("season", &[], None) },
        Item { show_ids: bb, season: Some(4), episode: Some(8), ..rated("episode", &[("trakt", "56")], None) },
    ];
    let rep = r.write(Op::Remove, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(rep.confirmed, vec!["tmdb:272", "tmdb:1396#season:1", "tmdb:1396#s04e08"]);
    assert_eq!(rep.skipped, vec!["tmdb:603"], "it had no rating");
    assert_eq!(r.index.as_ref().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1396#show"]);
    let doc = env.mem.text_cache_doc(RATINGS_INDEX).unwrap();
    assert_eq!(doc["items"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["tmdb:1396#show"]);
    assert_eq!(doc["wm"]["episodes"], WM[3].1);

    // A new run: the index comes first (here from the cache, one GET), then the split.
    let remote = Remote::new(|_| Ok(resp(200, &[], &json!({"deleted": {"movies": 1}}).to_string()))).with_sample();
    let mut env = remote.env(Options::default());
    Ratings::default().build_index(&mut env.ctx()).unwrap();
    let n = env.fakes.requests().len();
    let rep = Ratings::default()
        .write(
            Op::Remove,
            &[rated("movie", &[("imdb", "tt0372784")], None), rated("movie", &[("tmdb", "949")], None)],
            false,
            &mut env.ctx(),
        )
        .unwrap();
    assert_eq!((rep.confirmed, rep.skipped), (vec!["imdb:tt0372784".to_string()], vec!["tmdb:949".to_string()]));
    assert_eq!(env.sent()[n..], ["GET /sync/last_activities".to_string(), "POST /sync/ratings/remove".to_string()]);
    assert!(
        env.mem.text_cache_doc(RATINGS_INDEX).unwrap()["items"].get("tmdb:272").is_none(),
        "found by imdb, removed by its index key"
    );
}

#[test]
fn an_unknown_write_outcome_deletes_the_cache() {
    let remote = Remote::new(|_| Ok(resp(502, &[], ""))).with_sample();
    let mut env = remote.env(Options::default());
    let mut r = Ratings::default();
    r.build_index(&mut env.ctx()).unwrap();
    assert!(env.mem.text(RATINGS_INDEX).is_some());
    let rep = r.write(Op::Add, &[rated("movie", &[("tmdb", "1")], Some(5.0))], false, &mut env.ctx()).unwrap();
    assert_eq!(unresolved(&rep), vec![("tmdb:1", Hint::Http(502))]);
    assert_eq!(env.mem.text(RATINGS_INDEX), None);
    assert!(r.index.is_none());

    // A 4xx was refused as a whole: the cache stays.
    let remote = Remote::new(|_| Ok(resp(422, &[], "{}"))).with_sample();
    let mut env = remote.env(Options::default());
    Ratings::default().build_index(&mut env.ctx()).unwrap();
    let saved = env.mem.text(RATINGS_INDEX).unwrap();
    Ratings::default().write(Op::Add, &[rated("movie", &[("tmdb", "1")], Some(5.0))], false, &mut env.ctx()).unwrap();
    assert_eq!(env.mem.text(RATINGS_INDEX).unwrap(), saved);
}

#[test]
fn chunks_and_dry_run() {
    let remote = Remote::new(|req| {
        let n = body_of(req)["movies"].as_array().unwrap().len() as u64;
        Ok(resp(201, &[], &json!({"added": {"movies": n}}).to_string()))
    });
    let mut env = remote.env(Options { ratings_chunk_size: 2, ..Options::default() });
    let items: Vec<Item> = (1..=5).map(|n| rated("movie", &[("tmdb", &n.to_string())], Some(n as f64))).collect();
    let rep = Ratings::default().write(Op::Add, &items, false, &mut env.ctx()).unwrap();
    assert_eq!(rep.confirmed.len(), 5);
    assert_eq!(env.sent(), vec!["POST /sync/ratings"; 3]);
    assert_eq!(env.fakes.sleeps(), vec![1000, 1000], "writes paced 1 s apart");

    let mut env = Remote::new(no_posts).env(Options { ratings_chunk_size: 4, ..Options::default() });
    let rep = Ratings::default().write(Op::Remove, &items, true, &mut env.ctx()).unwrap();
    assert_eq!(rep.planned.len(), 2);
    assert_eq!(rep.planned[1].body, r#"{"movies":[{"ids":{"tmdb":5}}]}"#);
    assert_eq!(rep.planned[0].path, "/sync/ratings/remove");
    assert!(env.fakes.requests().is_empty() && env.mem.names().is_empty());
}

#[test]
fn valid_rating_table() {
    let cases: [(Option<f64>, Option<i64>); 9] = [
        (Some(8.0), Some(8)),
        (Some(1.0), Some(1)),
        (Some(10.0), Some(10)),
        (Some(8.5), None),
        (Some(0.0), None),
        (Some(11.0), None),
        (Some(f64::NAN), None),
        (Some(-0.0), None),
        (None, None),
    ];
    for (r, want) in cases {
        assert_eq!(valid_rating(r), want, "{r:?}");
    }
    for (v, want) in [
        (json!(7), Some(7)),
        (json!(7.0), Some(7)),
        (json!("7"), Some(7)),
        (json!(" 10 "), Some(10)),
        (json!(7.5), None),
        (json!("7.5"), None),
        (json!(0), None),
        (json!(true), None),
    ] {
        assert_eq!(row_rating(Some(&v)), want, "{v}");
    }
}
