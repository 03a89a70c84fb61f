//! History remove: single plays by history id (given, or looked up by the play's minute),
//! every play of an item by its coordinates (see the module comment of `features::history`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::add::{input_key, target};
use super::index::{self, Index, PlayKind};
use super::{History, FEATURE};
use crate::error::AdapterError;
use crate::features::{finish, send_bodies, unresolved, Chunk, Ctx, Op, Outcome, WriteReport};
use crate::log::{self, Level};
use crate::model::{item_key, Hint, Item};
use crate::payload::{self, Entry, Target};
use crate::state::HISTORY_UNRESOLVED;
use crate::time::{self, WatchedAt};

pub const REMOVE_PATH: &str = "/sync/history/remove";

/// How one input is removed.
enum Way {
    /// That single play.
    Id(u64),
    /// The play of this item at this minute (resolved to `Id` through the index).
    Minute(PlayKind, i64),
    /// Every play of the item.
    Item(Target),
}

/// What a chunk is, for its accounting.
enum ChunkOf {
    Ids(Vec<u64>),
    Item,
}

impl History {
    pub(super) fn remove(&mut self, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        let keys: Vec<String> = items.iter().map(input_key).collect();
        let mut outcome: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut ways: Vec<Option<Way>> = items.iter().map(|_| None).collect();
        for (i, item) in items.iter().enumerate() {
            match way(item) {
                Ok(w) => ways[i] = Some(w),
                Err(hint) => outcome[i] = Some(Outcome::Unresolved(hint)),
            }
        }
        if ways.iter().any(|w| matches!(w, Some(Way::Minute(..)))) && self.index.is_none() {
            self.index = Some(index::refresh(ctx)?);
        }
        self.resolve_minutes(items, &keys, &mut ways, &mut outcome, ctx)?;

        // Chunks: history ids `history_chunk_size` at a time (inputs naming the same id go
        // together), then one POST per item removed by coordinates (so `deleted` is its own).
        let size = ctx.opts.history_chunk_size.max(1) as usize;
        let mut by_id: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut kinds: Vec<ChunkOf> = Vec::new();
        for (i, w) in ways.iter().enumerate() {
            if let (Some(Way::Id(id)), None) = (w, &outcome[i]) {
                by_id.entry(*id).or_default().push(i);
            }
        }
        let ids: Vec<(u64, Vec<usize>)> = by_id.into_iter().collect();
        for part in ids.chunks(size) {
            let list: Vec<u64> = part.iter().map(|(id, _)| *id).collect();
            chunks.push(Chunk {
                inputs: part.iter().flat_map(|(_, ins)| ins.iter().copied()).collect(),
                body: ids_body(&list),
            });
            kinds.push(ChunkOf::Ids(list));
        }
        let mut bodies: Vec<Option<payload::Body>> = kinds.iter().map(|_| None).collect();
        for (i, w) in ways.iter().enumerate() {
            if let (Some(Way::Item(t)), None) = (w, &outcome[i]) {
                let body = payload::build_body(&[Entry::bare(i, t.clone())]);
                chunks.push(Chunk { inputs: vec![i], body: body.json.clone() });
                kinds.push(ChunkOf::Item);
                bodies.push(Some(body));
            }
        }

        let mut planned = Vec::new();
        let sent = send_bodies(
            ctx.client,
            FEATURE,
            Op::Remove,
            REMOVE_PATH,
            &chunks,
            dry_run,
            &mut outcome,
            &mut planned,
            |resp, n, inputs, outcome| match (&kinds[n], &bodies[n]) {
                (ChunkOf::Ids(list), _) => account_ids(resp, list, inputs, &ways, outcome),
                (ChunkOf::Item, Some(body)) => account_item(resp, body, inputs, outcome),
                (ChunkOf::Item, None) => {}
            },
        )?;
        if !dry_run {
            self.after_remove(items, &keys, &ways, &outcome, sent.ambiguous, ctx);
            let now = time::format_utc(ctx.client.wall_unix_secs());
            unresolved::update(ctx.state, FEATURE, HISTORY_UNRESOLVED, Op::Remove, &now, items, &keys, &outcome);
        }
        Ok(finish(FEATURE, Op::Remove, items, &keys, outcome, planned, dry_run))
    }

    /// Turn `Way::Minute` into the history id of the play keyed `<base>@<minute>` (the
    /// smallest id of that minute); a play this adapter added and has not read back is looked
    /// up with a one-minute window read. No such play: `skipped` (already gone).
    fn resolve_minutes(
        &mut self,
        items: &[Item],
        keys: &[String],
        ways: &mut [Option<Way>],
        outcome: &mut [Option<Outcome>],
        ctx: &mut Ctx,
    ) -> Result<(), AdapterError> {
        let Some(ix) = self.index.as_ref() else { return Ok(()) };
        let lookup = ix.lookup();
        let mut unread: Vec<(usize, PlayKind, i64)> = Vec::new();
        for i in 0..items.len() {
            let Some(Way::Minute(kind, m)) = ways[i] else { continue };
            let base = item_key(&items[i]);
            match lookup.find_at(&items[i], &base, m).first().map(|p| p.id) {
                Some(Some(id)) => ways[i] = Some(Way::Id(id)),
                Some(None) => unread.push((i, kind, m)),
                None => outcome[i] = Some(Outcome::Skipped),
            }
        }
        let mut windows: BTreeMap<(PlayKind, i64), Index> = BTreeMap::new();
        for &(_, kind, m) in &unread {
            if let std::collections::btree_map::Entry::Vacant(v) = windows.entry((kind, m)) {
                let mut rows = Index::default();
                let query = [("start_at", time::format_utc_millis(m)), ("end_at", time::format_utc_millis(m + 59))];
                index::read_into(ctx, kind.path(), &query, &mut rows)?;
                v.insert(rows);
            }
        }
        for (i, kind, m) in unread {
            let rows = &windows[&(kind, m)];
            let found = rows.lookup().find_at(&items[i], &item_key(&items[i]), m).first().and_then(|p| p.id);
            match found {
                Some(id) => ways[i] = Some(Way::Id(id)),
                None => outcome[i] = Some(Outcome::Skipped),
            }
            log::event(
                Level::Debug,
                FEATURE,
                "remove_lookup",
                &[("key", keys[i].clone()), ("found", found.is_some().to_string())],
            );
        }
        Ok(())
    }

    /// Drop removed plays from this run's index and the cache file; when a chunk's outcome is
    /// unknown, drop both.
    fn after_remove(
        &mut self,
        items: &[Item],
        keys: &[String],
        ways: &[Option<Way>],
        outcome: &[Option<Outcome>],
        ambiguous: bool,
        ctx: &mut Ctx,
    ) {
        if ambiguous {
            self.index = None;
            index::drop_cache(ctx.state, "write_outcome_unknown");
            return;
        }
        let mut gone_ids: BTreeSet<u64> = BTreeSet::new();
        let mut gone_items: Vec<usize> = Vec::new();
        for (i, w) in ways.iter().enumerate() {
            let done = matches!(outcome[i], Some(Outcome::Confirmed | Outcome::Skipped));
            match w {
                Some(Way::Id(id)) if done => {
                    gone_ids.insert(*id);
                }
                Some(Way::Item(_)) if matches!(outcome[i], Some(Outcome::Confirmed)) => gone_items.push(i),
                _ => {}
            }
        }
        if gone_ids.is_empty() && gone_items.is_empty() {
            return;
        }
        let apply = |ix: &mut Index| {
            let mut bases = BTreeSet::new();
            {
                let lookup = ix.lookup();
                bases.extend(
                    gone_items
                        .iter()
                        .filter_map(|&i| lookup.base_of(&items[i], &item_key(&items[i])).map(str::to_string)),
                );
            }
            let before = ix.plays.len();
            ix.retain(|p, t| !p.id.is_some_and(|id| gone_ids.contains(&id)) && !bases.contains(&t.base));
            before - ix.plays.len()
        };
        let dropped = match self.index.as_mut() {
            Some(ix) => {
                let n = apply(ix);
                index::save_cache(ctx.state, ix);
                n
            }
            None => match index::load_cache(ctx.state) {
                Some(mut cache) => {
                    let n = apply(&mut cache);
                    index::save_cache(ctx.state, &cache);
                    n
                }
                None => 0,
            },
        };
        log::event(
            Level::Debug,
            FEATURE,
            "index_pruned",
            &[("plays", dropped.to_string()), ("inputs", keys.len().to_string())],
        );
    }
}

/// How an input is removed, or its hint: a history id (decimal, 64-bit) wins; else a
/// `watched_at` (a minute; `released` cannot be looked up); else the whole item.
fn way(item: &Item) -> Result<Way, Hint> {
    if !item.extra_is_valid() {
        return Err(Hint::InvalidExtra);
    }
    let kind = PlayKind::of(&item.kind()).ok_or(Hint::UnsupportedType)?;
    if let Some(h) = item.history_id.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        return h.parse::<u64>().map(Way::Id).map_err(|_| Hint::InvalidHistoryId);
    }
    match item.watched_at.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => match time::parse_watched_at(w) {
            Some(WatchedAt::Minute(m)) => Ok(Way::Minute(kind, m)),
            Some(WatchedAt::Unknown) => Ok(Way::Minute(kind, 0)),
            _ => Err(Hint::InvalidWatchedAt),
        },
        None => target(item, true).map(Way::Item),
    }
}

/// The integers of `not_found.ids` (numbers or numeric strings).
fn not_found_ids(resp: &Value) -> BTreeSet<u64> {
    let mut ids = BTreeSet::new();
    if let Some(a) = resp.pointer("/not_found/ids").and_then(Value::as_array) {
        ids.extend(a.iter().filter_map(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }));
    }
    ids
}

/// A chunk of history ids: ids in `not_found.ids` are `skipped` (already gone); the rest are
/// `confirmed` only when `deleted` (all types) is exactly their number, else `unconfirmed`.
fn account_ids(resp: &Value, list: &[u64], inputs: &[usize], ways: &[Option<Way>], outcome: &mut [Option<Outcome>]) {
    let gone = not_found_ids(resp);
    let deleted: u64 = payload::counts(resp, "deleted").iter().sum();
    let expected = list.iter().filter(|id| !gone.contains(id)).count() as u64;
    if deleted != expected {
        log::event(
            Level::Warn,
            FEATURE,
            "remove_unconfirmed",
            &[
                ("sent", list.len().to_string()),
                ("not_found", gone.len().to_string()),
                ("deleted", deleted.to_string()),
            ],
        );
    }
    for &i in inputs {
        let Some(Way::Id(id)) = ways[i] else { continue };
        outcome[i] = Some(if gone.contains(&id) {
            Outcome::Skipped
        } else if deleted == expected {
            Outcome::Confirmed
        } else {
            Outcome::Unresolved(Hint::Unconfirmed)
        });
    }
}

/// One item removed by coordinates: `not_found` -> unresolved `not_found`; else `deleted`
/// above 0 -> `confirmed` (every play went), 0 -> `skipped` (it had none).
fn account_item(resp: &Value, body: &payload::Body, inputs: &[usize], outcome: &mut [Option<Outcome>]) {
    let nf = body.match_not_found(resp.get("not_found").unwrap_or(&Value::Null));
    let deleted: u64 = payload::counts(resp, "deleted").iter().sum();
    for &i in inputs {
        outcome[i] = Some(if nf.inputs.contains(&i) {
            Outcome::Unresolved(Hint::NotFound)
        } else if deleted > 0 {
            Outcome::Confirmed
        } else {
            Outcome::Skipped
        });
    }
}

/// `{"ids":[1,2,...]}`, the body that removes plays by history id.
fn ids_body(ids: &[u64]) -> String {
    let mut body = String::from(r#"{"ids":["#);
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(itoa::Buffer::new().format(*id));
    }
    body.push_str("]}");
    body
}
