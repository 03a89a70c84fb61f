//! History unit tests over the in-memory Trakt of `fake`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::fake::{Fault, Trakt, FIRST_ID, NOW};
use super::History;
use crate::client::transport::Method;
use crate::config::Options;
use crate::features::{Op, WriteReport};
use crate::log::take_lines;
use crate::model::{Hint, Item};
use crate::state::{HISTORY_INDEX, HISTORY_JOURNAL, HISTORY_UNRESOLVED};
use crate::testkit::{resp, route_of, Env, Fakes};
use crate::time;

mod add;
mod chunks;
mod index;
mod journal;
mod remove;

/// The history cache file as one JSON document: its trailer's fields, and `items`, the
/// index text before it (`index::cache`).
fn cache_doc(mem: &crate::testkit::MemStore) -> Value {
    mem.text_cache_doc(HISTORY_INDEX).expect("the history cache exists")
}

fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn at(item: Item, watched_at: &str) -> Item {
    Item { watched_at: Some(watched_at.into()), ..item }
}

fn movie(tmdb: &str) -> Item {
    Item { kind: "movie".into(), ids: raw(&[("tmdb", tmdb)]), ..Item::default() }
}

/// An episode of Breaking Bad by the show's tvdb id and numbers.
fn bb(season: i32, episode: i32) -> Item {
    Item {
        kind: "episode".into(),
        show_ids: raw(&[("tvdb", "81189")]),
        season: Some(season),
        episode: Some(episode),
        ..Item::default()
    }
}

fn episode_ids(ids: &[(&str, &str)]) -> Item {
    Item { kind: "episode".into(), ids: raw(ids), ..Item::default() }
}

/// Minute-floored Unix seconds of an ISO time.
fn m(iso: &str) -> i64 {
    time::floor_minute(time::parse_secs(iso).unwrap())
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    sorted(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn unresolved(r: &WriteReport) -> Vec<(String, Hint)> {
    r.unresolved.iter().map(|u| (u.key.clone(), u.hint)).collect()
}

/// Bodies of the requests to `path`, in order.
fn posts(env: &Env, path: &str) -> Vec<Value> {
    env.fakes
        .requests()
        .iter()
        .filter(|r| r.method == Method::Post && route_of(&r.url) == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn keys_of(entries: &[(String, Item)]) -> Vec<String> {
    sorted(&entries.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>())
}

fn iso(secs: i64) -> String {
    time::format_utc_millis(secs)
}

fn quiet() -> Options {
    Options { rate_limit: crate::config::RateLimit { enabled: false, ..Default::default() }, ..Options::default() }
}
