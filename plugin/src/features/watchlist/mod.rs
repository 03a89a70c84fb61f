//! The Trakt watchlist: index (`GET /sync/watchlist`, paged, ETag shadow) and add/remove
//! (`POST /sync/watchlist[/remove]`) with a capacity pre-check; reference crosswatch.md 3.2
//! and trakt-api.md 3.2, 3.3, 3.10, 7.
//!
//! Jobs: `shadow` reads the index (paged, or confirmed by a 304 against the ETag shadow) and
//! keeps the shadow; `capacity` is the add pre-check; this module sends the writes and
//! accounts for each item.
//!
//! ## Remove
//!
//! Everything accepted is sent (so items Trakt does not know come back `not_found`). A real
//! remove first makes sure this run has the index (one conditional GET when the shadow is
//! current): Trakt counts only what it deleted, and the index tells which of the others
//! were not listed (`skipped`).
//!
//! ## Hints
//!
//! Acceptance (`payload::target_for`): `missing ids`, `missing scope`, `unsupported type`;
//! `invalid extra` (`extra` is not the text of a JSON object); `not_found`; `trakt_limit`;
//! and the chunk-level ones of `features::send_chunks`.

mod capacity;
mod shadow;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

use self::capacity::Limit;
use self::shadow::Found;
use super::presence::Presence;
use super::stored::index_json;
use super::{finish, mark_not_found, send_chunks, unresolved, Ctx, Op, Outcome, WriteReport};
use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::{item_key, Hint, Item};
use crate::payload::{self, Body, Entry, Group};
use crate::state::WATCHLIST_UNRESOLVED;
use crate::time;

const FEATURE: &str = "watchlist";
const PATH: &str = "/sync/watchlist";
const REMOVE_PATH: &str = "/sync/watchlist/remove";

#[derive(Default)]
pub struct Watchlist {
    /// This run's complete index (key -> item), kept current after real writes; `None` when
    /// not read yet or when a write's outcome is unknown.
    index: Option<BTreeMap<String, Item>>,
    /// The limit from `/users/settings`, read at most once per run.
    settings: Option<Limit>,
}

impl Watchlist {
    /// Forget this run's index (another feature's write may have changed the list).
    pub fn forget_index(&mut self) {
        self.index = None;
    }

    /// The list, in key order.
    pub fn build_index(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        match self.read(ctx, false)? {
            Found::Live(entries, _) => {
                self.index = Some(crate::features::entry_map(entries.to_vec()));
                Ok(entries)
            }
            Found::Items(items) => Ok(self.index.insert(items).iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            Found::Text(_) => Err(AdapterError::Internal("watchlist index: text where items were asked".into())),
        }
    }

    /// `build_index` as the text of one JSON object (`model::index_json`, in key order): the
    /// shadow's own text when Trakt confirms it (this run then has no index: a write reads
    /// it when it needs it), else the text the shadow was saved with.
    pub fn build_index_json(&mut self, ctx: &mut Ctx) -> Result<String, AdapterError> {
        match self.read(ctx, true)? {
            Found::Live(entries, text) => {
                self.index = Some(crate::features::entry_map(entries));
                Ok(text)
            }
            Found::Text(text) => {
                self.index = None;
                Ok(text)
            }
            Found::Items(items) => {
                let text = index_json(items.iter().map(|(k, it)| (k.as_str(), it)), 0)?;
                self.index = Some(items);
                Ok(text)
            }
        }
    }

    pub fn write(&mut self, op: Op, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        let keys: Vec<String> = items.iter().map(item_key).collect();
        let mut outcome: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut accepted: Vec<Entry> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if !item.extra_is_valid() {
                outcome[i] = Some(Outcome::Unresolved(Hint::InvalidExtra));
                continue;
            }
            match payload::target_for(item) {
                Ok(t) => accepted.push(Entry::bare(i, t)),
                Err(hint) => outcome[i] = Some(Outcome::Unresolved(hint)),
            }
        }
        if op == Op::Add && !accepted.is_empty() {
            accepted = self.plan_add(accepted, items, &keys, &mut outcome, ctx)?;
        }
        if op == Op::Remove && !dry_run && !accepted.is_empty() && self.index.is_none() {
            // Trakt counts only what it deleted: the index tells which of the rest were not
            // listed (skipped). Everything is still sent, so unknown items come back not_found.
            self.build_index(ctx)?;
        }

        let path = match op {
            Op::Add => PATH,
            Op::Remove => REMOVE_PATH,
        };
        let presence = self.index.as_ref().map(Presence::new);
        let mut list_count: Option<u64> = None;
        let mut planned = Vec::new();
        let sent = send_chunks(
            ctx.client,
            FEATURE,
            op,
            path,
            &accepted,
            ctx.opts.watchlist_batch_size,
            dry_run,
            &mut outcome,
            &mut planned,
            |resp, body, inputs, outcome| {
                if let Some(n) = resp.pointer("/list/item_count").and_then(Value::as_u64) {
                    list_count = Some(n);
                }
                account(op, resp, body, inputs, items, &keys, presence.as_ref(), outcome);
            },
        )?;
        if !dry_run {
            self.after_write(op, items, &keys, &outcome, sent.ambiguous, list_count, ctx);
            let now = time::format_utc(ctx.client.wall_unix_secs());
            unresolved::update(ctx.state, FEATURE, WATCHLIST_UNRESOLVED, op, &now, items, &keys, &outcome);
        }
        Ok(finish(FEATURE, op, items, &keys, outcome, planned, dry_run))
    }

    /// Keep this run's index and the shadow right after a real write.
    #[allow(clippy::too_many_arguments)]
    fn after_write(
        &mut self,
        op: Op,
        items: &[Item],
        keys: &[String],
        outcome: &[Option<Outcome>],
        ambiguous: bool,
        list_count: Option<u64>,
        ctx: &mut Ctx,
    ) {
        let changed = outcome.iter().any(|o| matches!(o, Some(Outcome::Confirmed)));
        if !changed && !ambiguous {
            return;
        }
        if ambiguous {
            self.index = None;
        }
        if let Some(ix) = self.index.as_mut() {
            let presence = Presence::new(&*ix);
            let mut inserts = Vec::new();
            let mut removals = Vec::new();
            for (i, o) in outcome.iter().enumerate() {
                if !matches!(o, Some(Outcome::Confirmed | Outcome::Skipped)) {
                    continue;
                }
                let found = presence.find(&items[i], &keys[i]).map(str::to_string);
                match (op, found) {
                    (Op::Add, None) => inserts.push((keys[i].clone(), items[i].minimal())),
                    (Op::Remove, Some(k)) => removals.push(k),
                    _ => {}
                }
            }
            for (k, it) in inserts {
                ix.entry(k).or_insert(it);
            }
            for k in removals {
                ix.remove(&k);
            }
            if let Some(n) = list_count {
                if n != ix.len() as u64 {
                    log::event(
                        Level::Warn,
                        FEATURE,
                        "index_drift",
                        &[("trakt_count", n.to_string()), ("index_count", ix.len().to_string())],
                    );
                    self.index = None;
                }
            }
        }
        self.store_shadow_after_write(ctx);
    }
}

/// Decide each item of a chunk from Trakt's answer.
///
/// `not_found` entries are matched back to their items. Then per group: add counts
/// `added` / `existing` (no existing: all confirmed; nothing added: all skipped; mixed:
/// items already in this run's index are skipped, the rest confirmed, or all confirmed
/// without an index); remove counts `deleted` (nothing deleted: all skipped as already
/// gone; all deleted: confirmed; mixed: items in the index confirmed, the rest skipped, or
/// all confirmed without an index: either way they are gone now).
#[allow(clippy::too_many_arguments)]
fn account(
    op: Op,
    resp: &Value,
    body: &Body,
    inputs: &[usize],
    items: &[Item],
    keys: &[String],
    presence: Option<&Presence>,
    outcome: &mut [Option<Outcome>],
) {
    mark_not_found(FEATURE, resp, body, inputs, outcome);
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
            let in_index = presence.map(|p| p.find(&items[i], &keys[i]).is_some());
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
