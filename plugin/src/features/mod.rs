//! Sync features: what each supports, their shared report types, the chunked write loop,
//! and dispatch.

#[cfg(test)]
mod golden_tests;
pub mod history;
pub mod presence;
pub mod ratings;
pub mod rows;
pub mod stored;
pub mod stream;
pub mod unresolved;
pub mod watchlist;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::{Call, Client};
use crate::config::Options;
use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::index_json::{index_text, EntryJson};
use crate::model::json::item_from_json;
use crate::model::keys::UNKNOWN_KEY;
use crate::model::{item_key, Hint, Item};
use crate::payload::{self, Body, Entry};
use crate::state::{self, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Watchlist,
    Ratings,
    History,
    Playlists,
}

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Watchlist => "watchlist",
            Feature::Ratings => "ratings",
            Feature::History => "history",
            Feature::Playlists => "playlists",
        }
    }
}

/// What this adapter version can do per feature (the manifest's table).
pub struct Support {
    pub feature: Feature,
    pub supported: bool,
    pub index: bool,
    pub add: bool,
    pub remove: bool,
    pub media_types: &'static [&'static str],
    pub note: &'static str,
}

const ALL_MEDIA: &[&str] = &["movie", "show", "season", "episode"];

pub const SUPPORT: [Support; 4] = [
    Support {
        feature: Feature::Watchlist,
        supported: true,
        index: true,
        add: true,
        remove: true,
        media_types: ALL_MEDIA,
        note: "",
    },
    Support {
        feature: Feature::Ratings,
        supported: true,
        index: true,
        add: true,
        remove: true,
        media_types: ALL_MEDIA,
        note: "add upserts integer ratings 1..10; remove unrates",
    },
    Support {
        feature: Feature::History,
        supported: true,
        index: true,
        add: true,
        remove: true,
        media_types: &["movie", "episode"],
        note: "one entry per play (event keys <key>@<minute>); adds never duplicate a play and are journaled",
    },
    Support {
        feature: Feature::Playlists,
        supported: false,
        index: false,
        add: false,
        remove: false,
        media_types: &[],
        note: "playlists are out of scope for this adapter",
    },
];

pub fn unsupported(feature: Feature) -> AdapterError {
    AdapterError::Unsupported(format!("{} is not implemented in this adapter version; see manifest", feature.name()))
}

/// A write's direction; also how unresolved files record it (`"add"` / `"remove"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    /// Canonical key, "" when the item has no usable id or title.
    pub key: String,
    /// The input item unchanged.
    pub item: Item,
    pub hint: Hint,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub method: String,
    pub path: String,
    pub body: String,
}

/// Mirror of the WIT `write-report`: every input item is in exactly one of the first three,
/// and has its entry in `outcomes` at its input position.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteReport {
    pub confirmed: Vec<String>,
    pub skipped: Vec<String>,
    pub unresolved: Vec<Unresolved>,
    pub planned: Vec<PlannedRequest>,
    /// One per input item, in input order (WIT `item-outcome`).
    pub outcomes: Vec<ItemOutcome>,
}

/// What happened to the input item at this position, under the adapter's key for it (the
/// key as listed in `confirmed`, `skipped` or `unresolved`).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOutcome {
    pub key: String,
    pub outcome: Outcome,
}

/// What happened to one input item.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Confirmed,
    Skipped,
    Unresolved(Hint),
}

/// Mark the inputs of a chunk that Trakt echoed in `not_found` as unresolved `not_found`
/// (the watchlist and ratings answers share this shape); unmatched echoes are logged.
pub fn mark_not_found(feature: &str, resp: &Value, body: &Body, inputs: &[usize], outcome: &mut [Option<Outcome>]) {
    let nf = body.match_not_found(resp.get("not_found").unwrap_or(&Value::Null));
    if nf.unmatched > 0 {
        log::event(Level::Warn, feature, "not_found_unmatched", &[("count", nf.unmatched.to_string())]);
    }
    for i in nf.inputs.iter().filter(|i| inputs.contains(i)) {
        outcome[*i] = Some(Outcome::Unresolved(Hint::NotFound));
    }
}

/// Everything a feature call works with.
pub struct Ctx<'a> {
    pub client: &'a mut Client,
    pub opts: &'a Options,
    pub state: &'a mut dyn Store,
}

/// Per-instance feature state (this run's indexes and lookups).
#[derive(Default)]
pub struct Features {
    pub watchlist: watchlist::Watchlist,
    pub ratings: ratings::Ratings,
    pub history: history::History,
}

impl Features {
    pub fn build_index(&mut self, feature: Feature, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        match feature {
            Feature::Watchlist => self.watchlist.build_index(ctx),
            Feature::Ratings => self.ratings.build_index(ctx),
            Feature::History => self.history.build_index(ctx),
            other => Err(unsupported(other)),
        }
    }

    /// `build_index` as the text of one JSON object (`model::index_json`).
    pub fn build_index_json(&mut self, feature: Feature, ctx: &mut Ctx) -> Result<String, AdapterError> {
        let text = match feature {
            Feature::History => return self.history.build_index_json(ctx),
            Feature::Watchlist => return self.watchlist.build_index_json(ctx),
            Feature::Ratings => return self.ratings.build_index_json(ctx),
            other => {
                let entries = self.build_index(other, ctx)?;
                let json = entries.iter().map(|(k, item)| (k.as_str(), EntryJson { item, play: None }));
                index_text(json, entries.len(), 0)
            }
        };
        text.map_err(stream::text_error)
    }

    /// `build_index_json` to be read in parts (`index-stream`).
    pub fn open_index_json(&mut self, feature: Feature, ctx: &mut Ctx) -> Result<stream::Opened, AdapterError> {
        match feature {
            Feature::History => Ok(stream::Opened::History(self.history.open_index_json(ctx)?)),
            other => Ok(stream::Opened::text(self.build_index_json(other, ctx)?)),
        }
    }

    /// The next part of an opened text (`None` after the last).
    pub fn next_index_json(
        &mut self,
        opened: &mut stream::Opened,
        ctx: &mut Ctx,
    ) -> Result<Option<String>, AdapterError> {
        match opened {
            stream::Opened::Text { text, at } => Ok(stream::next_slice(text, at)),
            stream::Opened::History(text) => self.history.next_index_json(text, ctx),
        }
    }

    pub fn write(
        &mut self,
        feature: Feature,
        op: Op,
        items: &[Item],
        dry_run: bool,
        ctx: &mut Ctx,
    ) -> Result<WriteReport, AdapterError> {
        match feature {
            Feature::Watchlist => self.watchlist.write(op, items, dry_run, ctx),
            Feature::Ratings => self.ratings.write(op, items, dry_run, ctx),
            Feature::History => {
                let report = self.history.write(op, items, dry_run, ctx)?;
                if op == Op::Add && !dry_run && !report.confirmed.is_empty() {
                    // Trakt takes a watched item (and an episode's season and show) off the
                    // watchlist: this run's watchlist index may be out of date.
                    self.watchlist.forget_index();
                }
                Ok(report)
            }
            other => Err(unsupported(other)),
        }
    }
}

/// Errors that concern the whole session rather than one request (credentials, account,
/// rate limit beyond the cap, no connection): continuing with other requests is pointless.
pub fn is_session_wide(e: &AdapterError) -> bool {
    !matches!(e, AdapterError::Http { .. } | AdapterError::Protocol(_))
}

pub fn mark(outcome: &mut [Option<Outcome>], inputs: &[usize], o: Outcome) {
    for &i in inputs {
        outcome[i] = Some(o.clone());
    }
}

/// What the chunk loop did.
#[derive(Debug, Default)]
pub struct Sent {
    /// Some chunk's outcome is unknown (an error answer after retries, no answer, or an
    /// unreadable 2xx body): Trakt may or may not have applied it.
    pub ambiguous: bool,
}

/// One prepared write request: its exact body and the inputs it carries.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub inputs: Vec<usize>,
    pub body: String,
}

/// Send `entries` to `path` in chunks of `batch`, paced and retried by the client
/// (idempotent writes). `account` decides the items of a chunk from Trakt's JSON object
/// answer and the chunk's body; see `send_bodies` for everything else.
#[allow(clippy::too_many_arguments)]
pub fn send_chunks(
    client: &mut Client,
    feature: &str,
    op: Op,
    path: &str,
    entries: &[Entry],
    batch: u32,
    dry_run: bool,
    outcome: &mut [Option<Outcome>],
    planned: &mut Vec<PlannedRequest>,
    mut account: impl FnMut(&Value, &Body, &[usize], &mut [Option<Outcome>]),
) -> Result<Sent, AdapterError> {
    let bodies: Vec<Body> = entries.chunks(batch.max(1) as usize).map(payload::build_body).collect();
    let chunks: Vec<Chunk> = entries
        .chunks(batch.max(1) as usize)
        .zip(&bodies)
        .map(|(c, b)| Chunk { inputs: c.iter().map(|e| e.input).collect(), body: b.json.clone() })
        .collect();
    send_bodies(client, feature, op, path, &chunks, dry_run, outcome, planned, |resp, n, inputs, outcome| {
        account(resp, &bodies[n], inputs, outcome)
    })
}

/// Send prepared `chunks` to `path` in order, as idempotent writes.
///
/// `account` decides the items of chunk `n` from Trakt's JSON object answer. Unresolved
/// hints set here: `trakt_limit` (a 420 answered this chunk or an earlier one: later chunks
/// are not sent); `http:<status>` (Trakt answered this status for the chunk after retries;
/// for a session-wide status, later chunks are not sent and carry the same hint); `transport`
/// (no answer: later chunks are not sent); `bad_response` (a 2xx whose body is not a JSON
/// object). A session-wide failure of the first chunk, before anything was written, fails the
/// whole call with the typed error instead (nothing changed, and the error says what to do).
/// With `dry_run` nothing is sent: each chunk is planned and its items counted as confirmed.
#[allow(clippy::too_many_arguments)]
pub fn send_bodies(
    client: &mut Client,
    feature: &str,
    op: Op,
    path: &str,
    chunks: &[Chunk],
    dry_run: bool,
    outcome: &mut [Option<Outcome>],
    planned: &mut Vec<PlannedRequest>,
    mut account: impl FnMut(&Value, usize, &[usize], &mut [Option<Outcome>]),
) -> Result<Sent, AdapterError> {
    let mut sent = Sent::default();
    let mut wrote_any = false;
    let mut stop_hint: Option<Hint> = None;
    let mut done = 0u64;
    let total: u64 = chunks.iter().map(|c| c.inputs.len() as u64).sum();
    for (n, chunk) in chunks.iter().enumerate() {
        let inputs = &chunk.inputs;
        done += inputs.len() as u64;
        if let Some(hint) = stop_hint {
            mark(outcome, inputs, Outcome::Unresolved(hint));
            continue;
        }
        if dry_run {
            planned.push(PlannedRequest { method: "POST".into(), path: path.into(), body: chunk.body.clone() });
            mark(outcome, inputs, Outcome::Confirmed);
            continue;
        }
        match client.execute(&Call::post(path, chunk.body.clone(), true)) {
            Ok(resp) => {
                wrote_any = true;
                match crate::model::json::from_bytes::<Value>(&resp.body) {
                    Ok(v) if v.is_object() => account(&v, n, inputs, outcome),
                    _ => {
                        log::event(
                            Level::Warn,
                            feature,
                            "write_bad_response",
                            &[("op", op.name().into()), ("status", resp.status.to_string())],
                        );
                        sent.ambiguous = true;
                        mark(outcome, inputs, Outcome::Unresolved(Hint::BadResponse));
                    }
                }
            }
            Err(e) => match write_failure(feature, op, e, wrote_any) {
                Failure::Fatal(e) => return Err(e),
                Failure::Chunk { hint, stop, ambiguous } => {
                    sent.ambiguous |= ambiguous;
                    mark(outcome, inputs, Outcome::Unresolved(hint));
                    if stop {
                        stop_hint = Some(hint);
                    }
                }
            },
        }
        log::progress(feature, op.name(), done, Some(total));
    }
    Ok(sent)
}

/// What a failed write means for its chunk and the call.
pub enum Failure {
    /// Fail the whole call (a session-wide problem before anything was written).
    Fatal(AdapterError),
    /// Unresolve the chunk with `hint`; `stop`: do not send later chunks (they get the same
    /// hint); `ambiguous`: Trakt may have applied it.
    Chunk { hint: Hint, stop: bool, ambiguous: bool },
}

/// Classify (and log) the error of a write request.
pub fn write_failure(feature: &str, op: Op, e: AdapterError, wrote_any: bool) -> Failure {
    match e {
        AdapterError::AccountLimit { limit, vip, upgrade_url, message } => {
            log::event(
                Level::Warn,
                feature,
                "rate_limit",
                &[
                    ("status", "420".into()),
                    ("limit", limit.map(|l| l.to_string()).unwrap_or_default()),
                    ("vip", vip.map(|v| v.to_string()).unwrap_or_default()),
                    ("upgrade_url", upgrade_url.unwrap_or_default()),
                    ("message", message),
                ],
            );
            Failure::Chunk { hint: Hint::TraktLimit, stop: true, ambiguous: false }
        }
        AdapterError::Http { status, message } => {
            log::event(
                Level::Warn,
                feature,
                "write_chunk_failed",
                &[("op", op.name().into()), ("status", status.to_string()), ("message", message)],
            );
            // A 4xx was refused as a whole; after a 5xx the write may have been applied.
            Failure::Chunk { hint: Hint::Http(status), stop: false, ambiguous: status >= 500 }
        }
        e if !wrote_any => Failure::Fatal(e),
        e => {
            let hint = Hint::of_status(e.status());
            log::event(
                Level::Error,
                feature,
                "write_stopped",
                &[("op", op.name().into()), ("hint", hint.to_string()), ("error", e.to_string())],
            );
            Failure::Chunk { hint, stop: true, ambiguous: true }
        }
    }
}

/// The report of a call from its outcomes, one per input item in input order (an item with
/// no outcome is an adapter bug and is reported as such rather than lost).
pub fn finish(
    feature: &str,
    op: Op,
    items: &[Item],
    keys: &[String],
    outcome: Vec<Option<Outcome>>,
    planned: Vec<PlannedRequest>,
    dry_run: bool,
) -> WriteReport {
    let mut report = WriteReport { planned, outcomes: Vec::with_capacity(outcome.len()), ..WriteReport::default() };
    for (i, o) in outcome.into_iter().enumerate() {
        let o = o.unwrap_or(Outcome::Unresolved(Hint::NotAccounted));
        // The outcome carries the key exactly as the grouped list shows it.
        let key = match &o {
            Outcome::Confirmed => {
                report.confirmed.push(keys[i].clone());
                keys[i].clone()
            }
            Outcome::Skipped => {
                report.skipped.push(keys[i].clone());
                keys[i].clone()
            }
            Outcome::Unresolved(hint) => {
                let key = public_key(&keys[i]);
                report.unresolved.push(Unresolved { key: key.clone(), item: items[i].clone(), hint: *hint });
                key
            }
        };
        report.outcomes.push(ItemOutcome { key, outcome: o });
    }
    log::event(
        Level::Info,
        feature,
        "write_done",
        &[
            ("op", op.name().into()),
            ("confirmed", report.confirmed.len().to_string()),
            ("skipped", report.skipped.len().to_string()),
            ("unresolved", report.unresolved.len().to_string()),
            ("dry_run", dry_run.to_string()),
        ],
    );
    report
}

/// The items of a state file as stored by key, or `None` (logged `state_ignored`, reason
/// `bad_item`) at the first that is not an item, is not stored under its own key, or is not
/// `valid`: a file that is wrong anywhere is not trusted at all.
pub fn stored_items(
    feature: &str,
    file: &str,
    stored: BTreeMap<String, Value>,
    valid: impl Fn(&Item) -> bool,
) -> Option<BTreeMap<String, Item>> {
    let mut items = BTreeMap::new();
    for (key, v) in stored {
        match item_from_json(&v) {
            Some(item) if item_key(&item) == key && valid(&item) => {
                items.insert(key, item);
            }
            _ => {
                state::ignored(feature, file, "bad_item", key);
                return None;
            }
        }
    }
    Some(items)
}

/// Entries in key order (keys unique) as a map: one function for every feature's map, since
/// each `collect` from another iterator type is another copy of the standard sort (see
/// `crate::sort`). `collect` builds the tree from the sorted entries in one pass; inserting
/// them one by one saved that sort's 5.8 KB of wasm but cost 20% more instructions on a cold
/// watchlist or ratings index (fuel: 206 M against 172 M for 5,000 watchlist items).
pub fn entry_map(entries: Vec<(String, Item)>) -> BTreeMap<String, Item> {
    entries.into_iter().collect()
}

/// The key as reported: "" for an item without any usable id or title.
pub fn public_key(key: &str) -> String {
    if key == UNKNOWN_KEY {
        String::new()
    } else {
        key.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reports_one_outcome_per_input_in_input_order() {
        let items: Vec<Item> = (0..4).map(|i| Item { title: Some(format!("t{i}")), ..Item::default() }).collect();
        let keys: Vec<String> = ["tmdb:1", "tmdb:2", UNKNOWN_KEY, "tmdb:4"].iter().map(|k| k.to_string()).collect();
        let outcome =
            vec![Some(Outcome::Skipped), Some(Outcome::Confirmed), Some(Outcome::Unresolved(Hint::MissingIds)), None];
        let r = finish("watchlist", Op::Add, &items, &keys, outcome, Vec::new(), false);
        let got: Vec<(&str, &Outcome)> = r.outcomes.iter().map(|o| (o.key.as_str(), &o.outcome)).collect();
        assert_eq!(
            got,
            [
                ("tmdb:1", &Outcome::Skipped),
                ("tmdb:2", &Outcome::Confirmed),
                ("", &Outcome::Unresolved(Hint::MissingIds)),
                ("tmdb:4", &Outcome::Unresolved(Hint::NotAccounted)),
            ]
        );
        // The grouped lists say the same, keyed alike.
        assert_eq!(r.confirmed, ["tmdb:2"]);
        assert_eq!(r.skipped, ["tmdb:1"]);
        let unresolved: Vec<(&str, Hint)> = r.unresolved.iter().map(|u| (u.key.as_str(), u.hint)).collect();
        assert_eq!(unresolved, [("", Hint::MissingIds), ("tmdb:4", Hint::NotAccounted)]);
    }
}
