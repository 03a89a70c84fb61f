//! History add: plan each input as one play, never send a play that exists, journal every
//! POST, reconcile unknown outcomes, and collect confirmed plays when asked (see the module
//! comment of `features::history`).
//!
//! Jobs: this module validates and plans the plays and sends them chunk by chunk; `chunk`
//! sizes the bodies (halved after an unknown outcome, grown back after answers); `batch`
//! journals, sends and decides one batch; `reconcile` settles unknown outcomes.

mod batch;
mod chunk;
mod reconcile;

use std::collections::{BTreeSet, VecDeque};

use serde_json::Value;

use super::index::{self, event_key, Index, PlayKind};
use super::journal::{self, Batch, JournalPlay};
use super::{History, FEATURE};
use crate::client::Call;
use crate::error::AdapterError;
use crate::features::presence::Presence;
use crate::features::{finish, mark, unresolved, Ctx, Op, Outcome, PlannedRequest, WriteReport};
use crate::log::{self, Level};
use crate::model::{item_key, Hint, Item};
use crate::payload::{self, Attrs, Entry, Group, Target};
use crate::state::HISTORY_UNRESOLVED;
use crate::time::{self, WatchedAt};
use batch::{send_batch, BatchEnd};
use chunk::ChunkSize;
use reconcile::{settle, settled_for_good};

pub const ADD_PATH: &str = "/sync/history";
pub const COLLECTION_PATH: &str = "/sync/collection";
/// Least deadline of one history add: Trakt can be slow on a large batch, and a deadline
/// that passes makes the outcome unknown (a reconciliation read).
const ADD_TIMEOUT_MS: u32 = 60_000;

/// The event key of an input: `<base>@<minute>` when its `watched_at` names a minute
/// (`unknown` is minute 0), else the base key alone.
pub fn input_key(item: &Item) -> String {
    let base = item_key(item);
    match item.watched_at.as_deref().and_then(time::parse_watched_at) {
        Some(WatchedAt::Minute(m)) => event_key(&base, m),
        Some(WatchedAt::Unknown) => event_key(&base, 0),
        _ => base,
    }
}

/// The `watched_at` of an input: `missing watched_at` when absent or blank (a play is never
/// sent "now" silently), `invalid watched_at` when it does not parse.
pub fn watched(item: &Item) -> Result<WatchedAt, Hint> {
    match item.watched_at.as_deref().map(str::trim) {
        None | Some("") => Err(Hint::MissingWatchedAt),
        Some(t) => time::parse_watched_at(t).ok_or(Hint::InvalidWatchedAt),
    }
}

/// How a history play is addressed. Movies and episodes with a trakt or tvdb episode id go
/// flat by ids; other episodes with show ids and numbers go nested when `fallback` (number
/// fallback) is on, else flat with whatever other own ids they have, else `missing ids`.
pub fn target(item: &Item, fallback: bool) -> Result<Target, Hint> {
    match payload::target_for(item)? {
        Target::Episode { .. } if !fallback => {
            let own = payload::ids_for_trakt(&item.kind(), &item.ids(), &item.show_ids(), true);
            if own.is_empty() {
                Err(Hint::MissingIds)
            } else {
                Ok(Target::Flat { group: Group::Episodes, ids: own })
            }
        }
        t => Ok(t),
    }
}

/// One play to send.
#[derive(Debug, Clone)]
struct Planned {
    input: usize,
    kind: PlayKind,
    when: WatchedAt,
    /// `watched_at` as sent: minute-floored UTC, or `released` / `unknown`.
    sent: String,
    target: Target,
}

impl Planned {
    fn entry(&self) -> Entry {
        let mut attrs = Attrs::new();
        attrs.insert("watched_at".into(), Value::String(self.sent.clone()));
        Entry { input: self.input, target: self.target.clone(), attrs }
    }

    fn minute(&self) -> Option<i64> {
        minute_of(self.when)
    }
}

fn minute_of(when: WatchedAt) -> Option<i64> {
    match when {
        WatchedAt::Minute(m) => Some(m),
        WatchedAt::Unknown => Some(0),
        WatchedAt::Released => None,
    }
}

fn sent_text(when: WatchedAt) -> String {
    match when {
        WatchedAt::Minute(m) => time::format_utc_millis(m),
        WatchedAt::Released => "released".into(),
        WatchedAt::Unknown => "unknown".into(),
    }
}

/// Validation of one input: its kind, time and address, or the unresolved hint.
fn accept(item: &Item, fallback: bool) -> Result<(PlayKind, WatchedAt, Target), Hint> {
    if !item.extra_is_valid() {
        return Err(Hint::InvalidExtra);
    }
    let kind = PlayKind::of(&item.kind()).ok_or(Hint::UnsupportedType)?;
    let when = watched(item)?;
    if kind == PlayKind::Movie && !matches!(when, WatchedAt::Minute(_)) {
        // `released` / `unknown` are documented for episodes only.
        return Err(Hint::InvalidWatchedAt);
    }
    Ok((kind, when, target(item, fallback)?))
}

/// What an earlier run's journal left: plays it found on Trakt, plays to send again.
#[derive(Default)]
struct Settled {
    /// Journaled plays found on Trakt.
    landed: Index,
    /// Journaled plays not on Trakt, as they were sent.
    absent: Vec<JournalPlay>,
    /// The batch now holding `absent` until they are sent.
    carry: Option<String>,
}

/// Mutable state of one add call.
struct Run {
    /// This run's index, patched as plays are confirmed.
    index: Option<Index>,
    outcome: Vec<Option<Outcome>>,
    /// Inputs whose play is in `index` with its history id (read back by a reconciliation).
    read_back: BTreeSet<usize>,
    /// A write's outcome stayed unknown, or a `released` play was confirmed: the index and
    /// the cache cannot be kept right.
    drop_index: bool,
    changed: bool,
    wrote_any: bool,
    batch_seq: u32,
}

impl History {
    pub(super) fn add(&mut self, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        let mut run = Run {
            index: self.index.take(),
            outcome: Vec::new(),
            read_back: BTreeSet::new(),
            drop_index: false,
            changed: false,
            wrote_any: false,
            batch_seq: self.batch_seq,
        };
        let settled = if dry_run {
            let left = journal::pending(ctx.state).len();
            if left > 0 {
                log::event(
                    Level::Warn,
                    FEATURE,
                    "journal_pending",
                    &[("batches", left.to_string()), ("dry_run", "true".into())],
                );
            }
            Settled::default()
        } else {
            match settle(ctx, &mut run) {
                Ok(s) => s,
                Err(e) => {
                    self.index = run.index;
                    return Err(e);
                }
            }
        };
        let result = self.add_planned(items, &settled, dry_run, &mut run, ctx);
        self.batch_seq = run.batch_seq;
        result
    }

    fn add_planned(
        &mut self,
        items: &[Item],
        settled: &Settled,
        dry_run: bool,
        run: &mut Run,
        ctx: &mut Ctx,
    ) -> Result<WriteReport, AdapterError> {
        let n = items.len();
        let mut all: Vec<Item> = items.to_vec();
        // `settle` kept only plays that read back as items, so `all[n + k]` is `absent[k]`.
        all.extend(settled.absent.iter().filter_map(JournalPlay::to_item));
        let keys: Vec<String> = all.iter().map(input_key).collect();
        run.outcome = vec![None; all.len()];
        let fallback = ctx.opts.history_number_fallback;
        let mut accepted: Vec<(usize, PlayKind, WatchedAt, Target)> = Vec::new();
        for (i, item) in all.iter().enumerate() {
            match accept(item, fallback) {
                Ok((kind, when, t)) => accepted.push((i, kind, when, t)),
                Err(hint) => run.outcome[i] = Some(Outcome::Unresolved(hint)),
            }
        }
        if !accepted.is_empty() && run.index.is_none() {
            match index::refresh(ctx) {
                Ok(ix) => run.index = Some(ix),
                Err(e) => {
                    self.index = run.index.take();
                    return Err(e);
                }
            }
        }
        let plan = match &run.index {
            Some(ix) => plan(&all, accepted, ix, &settled.landed, &mut run.outcome),
            None => Vec::new(),
        };
        let early: Vec<usize> = (0..all.len()).filter(|i| run.outcome[*i] == Some(Outcome::Confirmed)).collect();
        let mut planned_requests: Vec<PlannedRequest> = Vec::new();
        if !early.is_empty() {
            // Plays of an earlier run's batch found on Trakt: collect them now.
            let landed: Vec<Planned> = early
                .iter()
                .filter_map(|&i| {
                    let (kind, when, t) = accept(&all[i], fallback).ok()?;
                    Some(Planned { input: i, kind, when, sent: sent_text(when), target: t })
                })
                .collect();
            collect(ctx, &landed.iter().collect::<Vec<_>>(), dry_run, &mut planned_requests);
        }

        let result = send_all(ctx, run, &all, &plan, dry_run, &mut planned_requests);

        if let Some(carry) = &settled.carry {
            // Keep carrying what is neither on Trakt nor refused for good.
            let keep: Vec<JournalPlay> = settled
                .absent
                .iter()
                .enumerate()
                .filter(|(k, _)| !settled_for_good(run.outcome.get(n + k).and_then(Option::as_ref)))
                .map(|(_, p)| p.clone())
                .collect();
            if !keep.is_empty() {
                log::event(Level::Warn, FEATURE, "journal_carried", &[("plays", keep.len().to_string())]);
            }
            let batch =
                Batch { id: carry.clone(), created_at: time::format_utc(ctx.client.wall_unix_secs()), plays: keep };
            journal::replace(ctx.state, &[carry.as_str()], Some(batch));
        }
        self.finish_index(run, ctx);
        result?;

        if !dry_run {
            let now = time::format_utc(ctx.client.wall_unix_secs());
            unresolved::update(
                ctx.state,
                FEATURE,
                HISTORY_UNRESOLVED,
                Op::Add,
                &now,
                &all[..n],
                &keys[..n],
                &run.outcome[..n],
            );
        }
        if all.len() > n {
            let resent = run.outcome[n..].iter().filter(|o| matches!(o, Some(Outcome::Confirmed))).count();
            log::event(
                Level::Info,
                FEATURE,
                "journal_resent",
                &[("plays", (all.len() - n).to_string()), ("confirmed", resent.to_string())],
            );
        }
        let outcome: Vec<Option<Outcome>> = run.outcome.drain(..n).collect();
        Ok(finish(FEATURE, Op::Add, &all[..n], &keys[..n], outcome, planned_requests, dry_run))
    }

    /// Put this run's index back and bring the cache file in line with it.
    fn finish_index(&mut self, run: &mut Run, ctx: &mut Ctx) {
        if run.drop_index {
            self.index = None;
            index::drop_cache(ctx.state, "write_outcome_unknown");
            return;
        }
        self.index = run.index.take();
        if run.changed {
            if let Some(ix) = &self.index {
                index::save_cache(ctx.state, ix);
            }
        }
    }
}

/// Decide every accepted input: confirmed (an earlier run's batch landed it), skipped (on
/// Trakt already, or the same play earlier in this call), or planned.
fn plan(
    all: &[Item],
    accepted: Vec<(usize, PlayKind, WatchedAt, Target)>,
    index: &Index,
    landed: &Index,
    outcome: &mut [Option<Outcome>],
) -> Vec<Planned> {
    let lookup = index.lookup();
    let landed = landed.lookup();
    let mut seen = Presence::default();
    let mut seen_at: BTreeSet<(String, Option<i64>)> = BTreeSet::new();
    let mut out = Vec::new();
    let (mut present, mut twice) = (0usize, 0usize);
    for (i, kind, when, target) in accepted {
        let item = &all[i];
        let base = item_key(item);
        let minute = minute_of(when);
        if minute.is_some_and(|m| !landed.find_at(item, &base, m).is_empty()) {
            outcome[i] = Some(Outcome::Confirmed);
            continue;
        }
        let on_trakt = match minute {
            Some(m) => !lookup.find_at(item, &base, m).is_empty(),
            // A `released` play is only sent for an item without any play: its minute is
            // Trakt's to choose, so it cannot be told apart from a play already there.
            None => lookup.base_of(item, &base).is_some_and(|b| lookup.plays(b).next().is_some()),
        };
        if on_trakt {
            outcome[i] = Some(Outcome::Skipped);
            present += 1;
            continue;
        }
        let identity =
            lookup.base_of(item, &base).or_else(|| seen.find(item, &base)).map(str::to_string).unwrap_or(base);
        seen.insert(&identity, item);
        if !seen_at.insert((identity, minute)) {
            outcome[i] = Some(Outcome::Skipped);
            twice += 1;
            continue;
        }
        out.push(Planned { input: i, kind, when, sent: sent_text(when), target });
    }
    log::event(
        Level::Info,
        FEATURE,
        "add_plan",
        &[
            ("inputs", all.len().to_string()),
            ("present", present.to_string()),
            ("repeated", twice.to_string()),
            ("to_send", out.len().to_string()),
        ],
    );
    out
}

/// Send the planned plays in bodies of the adaptive size (`chunk`), each journaled
/// (`batch`); plays an unknown outcome left off Trakt go again at the front of what is left.
fn send_all(
    ctx: &mut Ctx,
    run: &mut Run,
    all: &[Item],
    plan: &[Planned],
    dry_run: bool,
    planned_requests: &mut Vec<PlannedRequest>,
) -> Result<(), AdapterError> {
    let total = plan.len() as u64;
    if dry_run {
        // No answers to adapt to: the bodies of the configured size.
        for chunk in plan.chunks(ctx.opts.history_chunk_size.max(1) as usize) {
            let inputs: Vec<usize> = chunk.iter().map(|p| p.input).collect();
            let entries: Vec<Entry> = chunk.iter().map(Planned::entry).collect();
            let body = payload::build_body(&entries);
            planned_requests.push(PlannedRequest { method: "POST".into(), path: ADD_PATH.into(), body: body.json });
            mark(&mut run.outcome, &inputs, Outcome::Confirmed);
            collect(ctx, &chunk.iter().collect::<Vec<_>>(), true, planned_requests);
        }
        return Ok(());
    }
    let mut size = ChunkSize::new(ctx.opts.history_chunk_size);
    let mut queue: VecDeque<&Planned> = plan.iter().collect();
    while !queue.is_empty() {
        let n = size.get().min(queue.len());
        let chunk: Vec<&Planned> = queue.drain(..n).collect();
        match send_batch(ctx, run, all, &chunk, size.resend_after(n))? {
            BatchEnd::Answered => size.answered(),
            BatchEnd::Refused => {}
            BatchEnd::Resend(missing) => {
                size.failed(n, !missing.is_empty());
                for p in missing.into_iter().rev() {
                    queue.push_front(p);
                }
            }
            BatchEnd::Stop(hint) => {
                let rest: Vec<usize> = queue.drain(..).map(|p| p.input).collect();
                mark(&mut run.outcome, &rest, Outcome::Unresolved(hint));
            }
        }
        let confirmed: Vec<&Planned> =
            chunk.iter().copied().filter(|p| run.outcome[p.input] == Some(Outcome::Confirmed)).collect();
        for p in &confirmed {
            match (p.minute(), run.read_back.contains(&p.input)) {
                (None, _) => run.drop_index = true,
                (Some(_), true) => {}
                (Some(m), false) => {
                    if let Some(ix) = run.index.as_mut() {
                        ix.push(&all[p.input], p.kind, m, None, p.sent.clone());
                        run.changed = true;
                    }
                }
            }
        }
        collect(ctx, &confirmed, false, planned_requests);
        log::progress(FEATURE, "add", total - queue.len() as u64, Some(total));
    }
    Ok(())
}

/// The collection side-write of confirmed plays (option `history_collection`): movies with
/// `collected_at` = their play time (types "movies"), episodes likewise (types "shows"), one
/// entry per title (its first play), `unknown` plays without `collected_at`. Idempotent; a
/// failure is logged (`collection_failed`) and never changes the history report.
fn collect(ctx: &mut Ctx, plays: &[&Planned], dry_run: bool, planned_requests: &mut Vec<PlannedRequest>) {
    if !ctx.opts.history_collection || plays.is_empty() {
        return;
    }
    let types = &ctx.opts.history_collection_types;
    let mut entries: Vec<Entry> = Vec::new();
    for p in plays {
        let wanted = match p.kind {
            PlayKind::Movie => types.iter().any(|t| t == "movies"),
            PlayKind::Episode => types.iter().any(|t| t == "shows"),
        };
        if !wanted || entries.iter().any(|e| e.target == p.target) {
            continue;
        }
        let mut attrs = Attrs::new();
        if p.when != WatchedAt::Unknown {
            attrs.insert("collected_at".into(), Value::String(p.sent.clone()));
        }
        entries.push(Entry { input: p.input, target: p.target.clone(), attrs });
    }
    if entries.is_empty() {
        return;
    }
    let body = payload::build_body(&entries);
    if dry_run {
        planned_requests.push(PlannedRequest { method: "POST".into(), path: COLLECTION_PATH.into(), body: body.json });
        return;
    }
    match ctx.client.execute(&Call::post(COLLECTION_PATH, body.json, true)) {
        Ok(resp) => {
            let v: Value = crate::model::json::from_bytes(&resp.body).unwrap_or(Value::Null);
            let sum = |f: &str| payload::counts(&v, f).iter().sum::<u64>().to_string();
            log::event(
                Level::Info,
                FEATURE,
                "collection_done",
                &[
                    ("items", entries.len().to_string()),
                    ("added", sum("added")),
                    ("updated", sum("updated")),
                    ("existing", sum("existing")),
                ],
            );
        }
        Err(e) => log::event(
            Level::Warn,
            FEATURE,
            "collection_failed",
            &[
                ("status", e.status().unwrap_or(0).to_string()),
                ("items", entries.len().to_string()),
                ("error", e.to_string()),
            ],
        ),
    }
}
