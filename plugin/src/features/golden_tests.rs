//! Golden test of key compatibility: the Trakt rows of `tests/fixtures/golden_keys.json`
//! go through the real index code and the exact CrossWatch keys (written by hand from
//! crosswatch.md 2.2) must come out.

use serde_json::Value;

use super::ratings::Ratings;
use super::rows::row_to_item;
use super::watchlist::Watchlist;
use crate::client::transport::Method;
use crate::config::Options;
use crate::model::item_key;
use crate::testkit::{paged, resp, route_of, Env, Fakes};

const GOLDEN: &str = include_str!("../../tests/fixtures/golden_keys.json");

fn golden() -> Value {
    serde_json::from_str(GOLDEN).expect("golden fixture is JSON")
}

/// (case, row, expected key or None) of a fixture list.
fn cases(list: &Value) -> Vec<(String, Value, Option<String>)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| (c["case"].as_str().unwrap().to_string(), c["row"].clone(), c["key"].as_str().map(str::to_string)))
        .collect()
}

#[test]
fn every_watchlist_row_maps_to_its_key() {
    let g = golden();
    let all = cases(&g["watchlist"]);
    assert_eq!(all.len(), 17);
    for (case, row, want) in &all {
        let got = row_to_item(row).unwrap().map(|it| item_key(&it));
        assert_eq!(&got, want, "{case}");
    }

    // Through the index: the same keys, in key order, each item keyed as its key says.
    let rows: Vec<Value> = all.iter().map(|(_, r, _)| r.clone()).collect();
    let f = Fakes::new(move |req| Ok(paged(req, &rows, None)));
    let mut env = Env::new(f, Options::default());
    let entries = Watchlist::default().build_index(&mut env.ctx()).unwrap();
    let got: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let mut want: Vec<&str> = all.iter().filter_map(|(_, _, k)| k.as_deref()).collect();
    want.sort();
    assert_eq!(got, want);
    for (k, item) in &entries {
        assert_eq!(&item_key(item), k, "an index item re-keys to its own key");
    }
}

#[test]
fn every_rating_row_maps_to_its_key() {
    let g = golden();
    let types = ["movies", "shows", "seasons", "episodes"];
    let mut want: Vec<String> = Vec::new();
    for t in types {
        want.extend(cases(&g["ratings"][t]).into_iter().filter_map(|(_, _, k)| k));
    }
    assert_eq!(want.len(), 11);
    // The index is in key order.
    want.sort();
    let fixture = g.clone();
    let f = Fakes::new(move |req| {
        let route = route_of(&req.url);
        if req.method == Method::Get && route == "/sync/last_activities" {
            return Ok(resp(200, &[], "{}"));
        }
        let t = route.strip_prefix("/sync/ratings/").expect("a ratings path");
        let rows: Vec<Value> = fixture["ratings"][t].as_array().unwrap().iter().map(|c| c["row"].clone()).collect();
        Ok(paged(req, &rows, None))
    });
    let mut env = Env::new(f, Options::default());
    let entries = Ratings::default().build_index(&mut env.ctx()).unwrap();
    let got: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(got, want);
    for (k, item) in &entries {
        assert_eq!(&item_key(item), k);
        let r = item.rating.unwrap();
        assert!((1.0..=10.0).contains(&r) && r.fract() == 0.0, "{k}: {r}");
    }
}
