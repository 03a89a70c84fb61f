//! The Trakt watchlist: index (`GET /sync/watchlist`, paged) and add/remove
//! (`POST /sync/watchlist[/remove]`), reference crosswatch.md 3.2 and trakt-api.md 3.2-3.3.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Op, PlannedRequest, Unresolved, WriteReport};
use crate::client::{paging, Call, Client};
use crate::config::Options;
use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::keys::UNKNOWN_KEY;
use crate::model::{item_key, Ids, Item};
use crate::payload::{self, Group, Target};

const FEATURE: &str = "watchlist";
const PATH: &str = "/sync/watchlist";
const REMOVE_PATH: &str = "/sync/watchlist/remove";

/// Unresolved hints used here besides the acceptance ones ("missing ids", ...):
/// - `not_found`: Trakt could not match the item;
/// - `trakt_limit`: a 420 (account limit) answered this chunk or an earlier one, so it was
///   not sent;
/// - `http:<status>`: Trakt answered this status for the chunk after retries; for a
///   session-wide status (401 after refresh, 403, 423, 426, 429 beyond the cap) later chunks
///   are not sent and carry the same hint;
/// - `transport`: no answer came for the chunk (after retries where safe), so it is unknown
///   whether Trakt applied it; later chunks are not sent and carry the same hint;
/// - `bad_response`: Trakt answered 2xx with a body that is not a JSON object, so the
///   outcome per item is unknown;
/// - `invalid extra`: the item's `extra` is not the text of a JSON object.
///
/// A session-wide failure of the first chunk, before anything was written, fails the whole
/// call with the typed error instead (nothing changed, and the error says what to do).
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Confirmed,
    Skipped,
    Unresolved(String),
}

#[derive(Default)]
pub struct Watchlist {
    /// The last index built in this run (key -> item), kept current after real writes.
    /// Used to split "added" from "existing" when Trakt's counters are mixed.
    index: Option<BTreeMap<String, Item>>,
}

impl Watchlist {
    pub fn build_index(&mut self, client: &mut Client, opts: &Options) -> Result<Vec<(String, Item)>, AdapterError> {
        let listing = paging::fetch_all(client, FEATURE, PATH, opts.page_limit)?;
        let mut entries: Vec<(String, Item)> = Vec::with_capacity(listing.rows.len());
        let mut index: BTreeMap<String, Item> = BTreeMap::new();
        for (n, row) in listing.rows.iter().enumerate() {
            let item = match row_to_item(row) {
                Ok(Some(item)) => item,
                Ok(None) => {
                    let kind = row.get("type").and_then(Value::as_str).unwrap_or("").to_string();
                    log::event(Level::Warn, FEATURE, "index_row_skipped", &[
                        ("reason", "unsupported_type".into()),
                        ("type", kind),
                    ]);
                    continue;
                }
                Err(why) => {
                    return Err(AdapterError::Protocol(format!("{PATH}: row {n} is malformed: {why}")));
                }
            };
            let key = item_key(&item);
            if index.contains_key(&key) {
                log::event(Level::Warn, FEATURE, "index_reconcile", &[
                    ("reason", "key_collision".into()),
                    ("key", key),
                ]);
                continue;
            }
            index.insert(key.clone(), item.clone());
            entries.push((key, item));
        }
        log::event(Level::Info, FEATURE, "index_done", &[
            ("count", entries.len().to_string()),
            ("source", "live".into()),
            ("pages", listing.pages.to_string()),
        ]);
        self.index = Some(index);
        Ok(entries)
    }

    pub fn write(
        &mut self,
        op: Op,
        items: &[Item],
        dry_run: bool,
        client: &mut Client,
        opts: &Options,
    ) -> Result<WriteReport, AdapterError> {
        let keys: Vec<String> = items.iter().map(item_key).collect();
        let mut outcome: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut accepted: Vec<(usize, Target)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if !item.extra_is_valid() {
                outcome[i] = Some(Outcome::Unresolved("invalid extra".into()));
                continue;
            }
            match payload::target_for(item) {
                Ok(t) => accepted.push((i, t)),
                Err(hint) => outcome[i] = Some(Outcome::Unresolved(hint.into())),
            }
        }

        let path = match op {
            Op::Add => PATH,
            Op::Remove => REMOVE_PATH,
        };
        let batch = (opts.watchlist_batch_size.max(1)) as usize;
        let mut planned = Vec::new();
        let mut wrote_any = false;
        let mut stop_hint: Option<String> = None;
        let mut done = 0u64;
        for chunk in accepted.chunks(batch) {
            let inputs: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
            done += inputs.len() as u64;
            if let Some(hint) = &stop_hint {
                mark(&mut outcome, &inputs, Outcome::Unresolved(hint.clone()));
                continue;
            }
            let body = payload::build_body(chunk);
            if dry_run {
                planned.push(PlannedRequest { method: "POST".into(), path: path.into(), body: body.json });
                mark(&mut outcome, &inputs, Outcome::Confirmed);
                continue;
            }
            match client.execute(&Call::post(path, body.json.clone(), true)) {
                Ok(resp) => {
                    wrote_any = true;
                    match serde_json::from_slice::<Value>(&resp.body) {
                        Ok(v) if v.is_object() => {
                            self.account(op, &v, &body, &inputs, items, &keys, &mut outcome);
                            self.update_index(op, &inputs, items, &keys, &outcome);
                        }
                        _ => {
                            log::event(Level::Warn, FEATURE, "write_bad_response", &[
                                ("op", op.name().into()),
                                ("status", resp.status.to_string()),
                            ]);
                            mark(&mut outcome, &inputs, Outcome::Unresolved("bad_response".into()));
                        }
                    }
                }
                Err(AdapterError::AccountLimit { limit, vip, upgrade_url, message }) => {
                    log::event(Level::Warn, FEATURE, "rate_limit", &[
                        ("status", "420".into()),
                        ("limit", limit.map(|l| l.to_string()).unwrap_or_default()),
                        ("vip", vip.map(|v| v.to_string()).unwrap_or_default()),
                        ("upgrade_url", upgrade_url.unwrap_or_default()),
                        ("message", message),
                    ]);
                    mark(&mut outcome, &inputs, Outcome::Unresolved("trakt_limit".into()));
                    stop_hint = Some("trakt_limit".into());
                }
                Err(AdapterError::Http { status, message }) => {
                    log::event(Level::Warn, FEATURE, "write_chunk_failed", &[
                        ("op", op.name().into()),
                        ("status", status.to_string()),
                        ("message", message),
                    ]);
                    mark(&mut outcome, &inputs, Outcome::Unresolved(format!("http:{status}")));
                }
                Err(e) if !wrote_any => return Err(e),
                Err(e) => {
                    let hint = e.status().map(|s| format!("http:{s}")).unwrap_or_else(|| "transport".into());
                    log::event(Level::Error, FEATURE, "write_stopped", &[
                        ("op", op.name().into()),
                        ("hint", hint.clone()),
                        ("error", e.to_string()),
                    ]);
                    mark(&mut outcome, &inputs, Outcome::Unresolved(hint.clone()));
                    stop_hint = Some(hint);
                }
            }
            log::progress(FEATURE, op.name(), done, Some(accepted.len() as u64));
        }

        let mut report = WriteReport { planned, ..WriteReport::default() };
        for (i, o) in outcome.into_iter().enumerate() {
            match o.unwrap_or_else(|| Outcome::Unresolved("internal: item not accounted".into())) {
                Outcome::Confirmed => report.confirmed.push(keys[i].clone()),
                Outcome::Skipped => report.skipped.push(keys[i].clone()),
                Outcome::Unresolved(hint) => {
                    let key = if keys[i] == UNKNOWN_KEY { String::new() } else { keys[i].clone() };
                    report.unresolved.push(Unresolved { key, item: items[i].clone(), hint });
                }
            }
        }
        log::event(Level::Info, FEATURE, "write_done", &[
            ("op", op.name().into()),
            ("confirmed", report.confirmed.len().to_string()),
            ("skipped", report.skipped.len().to_string()),
            ("unresolved", report.unresolved.len().to_string()),
            ("dry_run", dry_run.to_string()),
        ]);
        Ok(report)
    }

    /// Decide each item of a chunk from Trakt's answer.
    ///
    /// `not_found` entries are matched back to their items. Then per group: add counts
    /// `added` / `existing` (no existing: all confirmed; nothing added: all skipped; mixed:
    /// items already in this run's index are skipped, the rest confirmed, or all confirmed
    /// without an index); remove counts `deleted` (nothing deleted: all skipped as already
    /// gone; all deleted: confirmed; mixed: items in the index confirmed, the rest skipped).
    #[allow(clippy::too_many_arguments)]
    fn account(
        &self,
        op: Op,
        resp: &Value,
        body: &payload::Body,
        inputs: &[usize],
        items: &[Item],
        keys: &[String],
        outcome: &mut [Option<Outcome>],
    ) {
        let nf = body.match_not_found(resp.get("not_found").unwrap_or(&Value::Null));
        if nf.unmatched > 0 {
            log::event(Level::Warn, FEATURE, "not_found_unmatched", &[("count", nf.unmatched.to_string())]);
        }
        for i in nf.inputs.iter().filter(|i| inputs.contains(i)) {
            outcome[*i] = Some(Outcome::Unresolved("not_found".into()));
        }
        let (done, other) = match op {
            Op::Add => (payload::counts(resp, "added"), payload::counts(resp, "existing")),
            Op::Remove => {
                let deleted = if resp.get("deleted").is_some() { "deleted" } else { "removed" };
                (payload::counts(resp, deleted), [0; 4])
            }
        };
        for (g, group) in Group::ALL.iter().enumerate() {
            let members: Vec<usize> = inputs
                .iter()
                .copied()
                .filter(|i| outcome[*i].is_none() && Group::of(&items[*i].kind()) == Some(*group))
                .collect();
            if members.is_empty() {
                continue;
            }
            for i in members.iter().copied() {
                let in_index = self.index.as_ref().map(|ix| ix.contains_key(&keys[i]));
                outcome[i] = Some(match op {
                    Op::Add if other[g] == 0 => Outcome::Confirmed,
                    Op::Add if done[g] == 0 => Outcome::Skipped,
                    Op::Add => match in_index {
                        Some(true) => Outcome::Skipped,
                        _ => Outcome::Confirmed,
                    },
                    Op::Remove if done[g] == 0 => Outcome::Skipped,
                    Op::Remove if done[g] as usize >= members.len() => Outcome::Confirmed,
                    Op::Remove => match in_index {
                        Some(false) => Outcome::Skipped,
                        _ => Outcome::Confirmed,
                    },
                });
            }
        }
    }

    /// Keep this run's index true after a real write: present after add, absent after remove.
    fn update_index(&mut self, op: Op, inputs: &[usize], items: &[Item], keys: &[String], outcome: &[Option<Outcome>]) {
        let Some(index) = self.index.as_mut() else { return };
        for &i in inputs {
            if !matches!(outcome[i], Some(Outcome::Confirmed) | Some(Outcome::Skipped)) {
                continue;
            }
            match op {
                Op::Add => {
                    index.entry(keys[i].clone()).or_insert_with(|| items[i].normalized());
                }
                Op::Remove => {
                    index.remove(&keys[i]);
                }
            }
        }
    }
}

fn mark(outcome: &mut [Option<Outcome>], inputs: &[usize], o: Outcome) {
    for &i in inputs {
        outcome[i] = Some(o.clone());
    }
}

/// One watchlist row as an item; `Ok(None)` for a row type the watchlist does not handle.
fn row_to_item(row: &Value) -> Result<Option<Item>, String> {
    let kind = row.get("type").and_then(Value::as_str).ok_or("no type")?;
    let obj = |name: &str| row.get(name).filter(|v| v.is_object()).ok_or(format!("no {name} object"));
    let listed_at = row.get("listed_at").and_then(Value::as_str).map(str::to_string);
    let item = match kind {
        "movie" | "show" => {
            let m = obj(kind)?;
            Item {
                kind: kind.to_string(),
                title: text(m, "title"),
                year: int(m, "year"),
                ids: ids_of(m),
                ..Item::default()
            }
        }
        "season" => {
            let s = obj("season")?;
            let show = obj("show")?;
            let show_title = text(show, "title");
            Item {
                kind: "season".into(),
                title: show_title.clone(),
                year: int(show, "year"),
                ids: ids_of(s),
                show_ids: ids_of(show),
                season: int(s, "number"),
                series_title: show_title,
                ..Item::default()
            }
        }
        "episode" => {
            let e = obj("episode")?;
            let show = obj("show")?;
            let show_title = text(show, "title");
            Item {
                kind: "episode".into(),
                title: text(e, "title").or_else(|| show_title.clone()),
                year: int(show, "year"),
                ids: ids_of(e),
                show_ids: ids_of(show),
                season: int(e, "season"),
                episode: int(e, "number"),
                series_title: show_title,
                ..Item::default()
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Item { listed_at, ..item }))
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

fn int(v: &Value, field: &str) -> Option<i32> {
    v.get(field).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

/// Normalised ids of a Trakt media object; non-scalar ids (e.g. `plex: {guid, slug}`) dropped.
fn ids_of(v: &Value) -> Vec<(String, String)> {
    let Some(ids) = v.get("ids").and_then(Value::as_object) else { return Vec::new() };
    let raw: Vec<(String, String)> = ids
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            _ => None,
        })
        .collect();
    Ids::from_raw(&raw).to_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::{Method, Request, TransportError};
    use crate::testkit::{resp, Fakes};
    use serde_json::json;

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

    fn index_fakes(rows: Value, then: impl FnMut(&Request) -> Result<crate::client::transport::Response, TransportError> + 'static) -> Fakes {
        let body = rows.to_string();
        let n = rows.as_array().map(Vec::len).unwrap_or(0).to_string();
        let mut then = then;
        Fakes::new(move |req| {
            if req.method == Method::Get {
                Ok(resp(200, &[("x-pagination-page", "1"), ("x-pagination-page-count", "1"),
                              ("x-pagination-limit", "250"), ("x-pagination-item-count", &n)], &body))
            } else {
                then(req)
            }
        })
    }

    #[test]
    fn index_maps_rows_and_keeps_first_of_a_collision() {
        let f = index_fakes(sample_rows(), |_| panic!("no writes"));
        let mut c = f.client(&Options::default());
        let mut w = Watchlist::default();
        crate::log::take_lines();
        let entries = w.build_index(&mut c, &Options::default()).unwrap();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["tmdb:272", "tmdb:1396#show", "tmdb:1402#season:3", "tmdb:1396#s04e01"]);

        let movie = &entries[0].1;
        assert_eq!(movie.kind, "movie");
        assert_eq!(movie.title.as_deref(), Some("Batman Begins"));
        assert_eq!(movie.year, Some(2005));
        assert_eq!(movie.listed_at.as_deref(), Some("2026-04-01T09:10:00.000Z"));
        let raw = |p: &[(&str, &str)]| -> Vec<(String, String)> { p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        assert_eq!(movie.ids, raw(&[("tmdb", "272"), ("imdb", "tt0372784"), ("trakt", "1"), ("slug", "batman-begins-2005")]));

        let show = &entries[1].1;
        assert!(show.ids.iter().all(|(k, _)| k != "plex"), "non-scalar plex id dropped");

        let season = &entries[2].1;
        assert_eq!(season.kind, "season");
        assert_eq!(season.season, Some(3));
        assert_eq!(season.title.as_deref(), Some("The Walking Dead"));
        assert_eq!(season.series_title.as_deref(), Some("The Walking Dead"));
        assert_eq!(season.ids, raw(&[("tmdb", "3626"), ("tvdb", "171641"), ("trakt", "3958")]));
        assert_eq!(season.show_ids[0], ("tmdb".to_string(), "1402".to_string()));

        let ep = &entries[3].1;
        assert_eq!((ep.season, ep.episode), (Some(4), Some(1)));
        assert_eq!(ep.title.as_deref(), Some("Breaking Bad"), "null episode title falls back to the show's");
        assert_eq!(ep.series_title.as_deref(), Some("Breaking Bad"));

        let lines = crate::log::take_lines();
        assert!(lines.iter().any(|l| l.contains("WARN index_reconcile reason=key_collision key=tmdb:272")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("INFO index_done count=4 source=live pages=1")), "{lines:?}");
    }

    #[test]
    fn malformed_row_fails_the_index() {
        let f = index_fakes(json!([{"type": "movie"}]), |_| panic!("no writes"));
        let mut c = f.client(&Options::default());
        let err = Watchlist::default().build_index(&mut c, &Options::default()).unwrap_err();
        assert!(matches!(err, AdapterError::Protocol(_)), "{err:?}");
    }

    #[test]
    fn add_mixed_existing_uses_the_index_and_not_found() {
        let rows = json!([{"type": "movie", "listed_at": "x", "movie": {"title": "A", "year": 1, "ids": {"tmdb": 1}}}]);
        let f = index_fakes(rows, |req| {
            assert_eq!(req.url, "https://api.trakt.tv/sync/watchlist");
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            assert_eq!(body, json!({"movies": [{"ids": {"tmdb": 1}}, {"ids": {"tmdb": 2}}, {"ids": {"tmdb": 3}}]}));
            Ok(resp(201, &[], &json!({
                "added": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 0},
                "existing": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 0},
                "not_found": {"movies": [{"ids": {"tmdb": 3}}], "shows": [], "seasons": [], "episodes": []}
            }).to_string()))
        });
        let opts = Options::default();
        let mut c = f.client(&opts);
        let mut w = Watchlist::default();
        w.build_index(&mut c, &opts).unwrap();
        let items = vec![movie(1), movie(2), movie(3), item("movie", &[("slug", "only-a-slug")]), item("person", &[("tmdb", "9")])];
        let r = w.write(Op::Add, &items, false, &mut c, &opts).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert_eq!(r.skipped, vec!["tmdb:1"]);
        let un: Vec<(&str, &str)> = r.unresolved.iter().map(|u| (u.key.as_str(), u.hint.as_str())).collect();
        assert_eq!(un, vec![("tmdb:3", "not_found"), ("slug:only-a-slug", "missing ids"), ("tmdb:9", "unsupported type")]);
        assert_eq!(r.unresolved[0].item, items[2], "the input item comes back unchanged");
        assert!(r.planned.is_empty());
        assert!(w.index.as_ref().unwrap().contains_key("tmdb:2"), "index updated after the write");
    }

    #[test]
    fn add_counts_without_index() {
        // existing == 0 -> all confirmed; added == 0 -> all skipped; mixed without index -> confirmed.
        let answers = [
            json!({"added": {"movies": 2}, "existing": {"movies": 0}}),
            json!({"added": {"movies": 0}, "existing": {"movies": 2}}),
            json!({"added": {"movies": 1}, "existing": {"movies": 1}}),
        ];
        for (answer, want_confirmed, want_skipped) in [(0, 2, 0), (1, 0, 2), (2, 2, 0)] {
            let body = answers[answer].to_string();
            let f = Fakes::new(move |_| Ok(resp(201, &[], &body)));
            let opts = Options::default();
            let mut c = f.client(&opts);
            let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2)], false, &mut c, &opts).unwrap();
            assert_eq!((r.confirmed.len(), r.skipped.len(), r.unresolved.len()), (want_confirmed, want_skipped, 0), "answer {answer}");
        }
    }

    #[test]
    fn add_nested_not_found() {
        let bb = [("tmdb", "1396"), ("tvdb", "81189")];
        let mut e1 = item("episode", &[]);
        e1.show_ids = bb.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        e1.season = Some(1);
        e1.episode = Some(1);
        let mut e2 = e1.clone();
        e2.episode = Some(2);
        let f = Fakes::new(|_| {
            Ok(resp(201, &[], &json!({
                "added": {"episodes": 1}, "existing": {"episodes": 0},
                "not_found": {"shows": [{"ids": {"tmdb": 1396, "tvdb": 81189},
                                         "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}]}
            }).to_string()))
        });
        let opts = Options::default();
        let mut c = f.client(&opts);
        let r = Watchlist::default().write(Op::Add, &[e1, e2], false, &mut c, &opts).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1396#s01e01"]);
        assert_eq!(r.unresolved.len(), 1);
        assert_eq!((r.unresolved[0].key.as_str(), r.unresolved[0].hint.as_str()), ("tmdb:1396#s01e02", "not_found"));
    }

    #[test]
    fn account_limit_on_chunk_two_stops_and_marks_the_rest() {
        let mut n = 0;
        let f = Fakes::new(move |_| {
            n += 1;
            Ok(match n {
                1 => resp(201, &[], &json!({"added": {"movies": 2}, "existing": {"movies": 0}}).to_string()),
                _ => resp(420, &[("x-account-limit", "250"), ("x-vip-user", "false"), ("x-upgrade-url", "https://trakt.tv/vip")], ""),
            })
        });
        let opts = Options { watchlist_batch_size: 2, ..Options::default() };
        let mut c = f.client(&opts);
        let items: Vec<Item> = (1..=6).map(movie).collect();
        let r = Watchlist::default().write(Op::Add, &items, false, &mut c, &opts).unwrap();
        assert_eq!(f.requests().len(), 2, "no chunk is sent after the 420");
        assert_eq!(r.confirmed, vec!["tmdb:1", "tmdb:2"]);
        let un: Vec<(&str, &str)> = r.unresolved.iter().map(|u| (u.key.as_str(), u.hint.as_str())).collect();
        assert_eq!(un, vec![("tmdb:3", "trakt_limit"), ("tmdb:4", "trakt_limit"), ("tmdb:5", "trakt_limit"), ("tmdb:6", "trakt_limit")]);
        assert!(f.sleeps().contains(&1000), "the second write waited for the 1 s spacing: {:?}", f.sleeps());
    }

    #[test]
    fn http_failure_marks_only_its_chunk() {
        let mut n = 0;
        let f = Fakes::new(move |_| {
            n += 1;
            Ok(match n {
                1 => resp(400, &[], "bad"),
                _ => resp(201, &[], &json!({"added": {"movies": 1}}).to_string()),
            })
        });
        let opts = Options { watchlist_batch_size: 1, ..Options::default() };
        let mut c = f.client(&opts);
        let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2)], false, &mut c, &opts).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:2"]);
        assert_eq!(r.unresolved[0].hint, "http:400");
    }

    #[test]
    fn session_failures() {
        // Before anything was written: the call fails with the typed error.
        let f = Fakes::new(|_| Ok(resp(401, &[], "")));
        let opts = Options::default();
        let mut c = f.client(&opts);
        let err = Watchlist::default().write(Op::Add, &[movie(1)], false, &mut c, &opts).unwrap_err();
        assert!(matches!(err, AdapterError::Auth(_)), "{err:?}");

        // After a successful chunk: the rest is reported, nothing more is sent.
        let mut n = 0;
        let f = Fakes::new(move |_| {
            n += 1;
            match n {
                1 => Ok(resp(201, &[], &json!({"added": {"movies": 1}}).to_string())),
                _ => Err(TransportError::Denied("origin".into())),
            }
        });
        let opts = Options { watchlist_batch_size: 1, ..Options::default() };
        let mut c = f.client(&opts);
        let r = Watchlist::default().write(Op::Add, &[movie(1), movie(2), movie(3)], false, &mut c, &opts).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1"]);
        assert_eq!(r.unresolved.iter().map(|u| u.hint.as_str()).collect::<Vec<_>>(), vec!["transport", "transport"]);
        assert_eq!(f.requests().len(), 2);
    }

    #[test]
    fn remove_accounting() {
        let rows = json!([{"type": "movie", "movie": {"ids": {"tmdb": 1}}}]);
        let f = index_fakes(rows, |req| {
            assert!(req.url.ends_with("/sync/watchlist/remove"));
            Ok(resp(200, &[], &json!({"deleted": {"movies": 1}, "not_found": {"movies": []}}).to_string()))
        });
        let opts = Options::default();
        let mut c = f.client(&opts);
        let mut w = Watchlist::default();
        w.build_index(&mut c, &opts).unwrap();
        let r = w.write(Op::Remove, &[movie(1), movie(2)], false, &mut c, &opts).unwrap();
        assert_eq!(r.confirmed, vec!["tmdb:1"]);
        assert_eq!(r.skipped, vec!["tmdb:2"]);
        assert!(!w.index.as_ref().unwrap().contains_key("tmdb:1"), "removed from the index");

        let f = Fakes::new(|_| Ok(resp(200, &[], &json!({"deleted": {"movies": 0}}).to_string())));
        let mut c = f.client(&opts);
        let r = Watchlist::default().write(Op::Remove, &[movie(1)], false, &mut c, &opts).unwrap();
        assert_eq!(r.skipped, vec!["tmdb:1"], "already gone");
    }

    #[test]
    fn dry_run_sends_nothing_and_plans_each_chunk() {
        let f = Fakes::new(|req| panic!("dry run sent {}", req.url));
        let opts = Options { watchlist_batch_size: 2, ..Options::default() };
        let mut c = f.client(&opts);
        let mut bad = movie(4);
        bad.extra = Some("not json".into());
        let items = vec![movie(1), movie(2), movie(3), bad, item("movie", &[])];
        let r = Watchlist::default().write(Op::Remove, &items, true, &mut c, &opts).unwrap();
        assert!(f.requests().is_empty());
        assert_eq!(r.confirmed, vec!["tmdb:1", "tmdb:2", "tmdb:3"]);
        assert_eq!(r.planned, vec![
            PlannedRequest { method: "POST".into(), path: "/sync/watchlist/remove".into(),
                             body: r#"{"movies":[{"ids":{"tmdb":1}},{"ids":{"tmdb":2}}]}"#.into() },
            PlannedRequest { method: "POST".into(), path: "/sync/watchlist/remove".into(),
                             body: r#"{"movies":[{"ids":{"tmdb":3}}]}"#.into() },
        ]);
        let un: Vec<(&str, &str)> = r.unresolved.iter().map(|u| (u.key.as_str(), u.hint.as_str())).collect();
        assert_eq!(un, vec![("tmdb:4", "invalid extra"), ("", "missing ids")]);
    }

    #[test]
    fn empty_input_sends_nothing() {
        let f = Fakes::new(|req| panic!("sent {}", req.url));
        let opts = Options::default();
        let mut c = f.client(&opts);
        let r = Watchlist::default().write(Op::Add, &[], false, &mut c, &opts).unwrap();
        assert_eq!(r, WriteReport::default());
    }
}
