//! Trakt ratings: index (`GET /sync/ratings/{movies|shows|seasons|episodes}`, paged, cached
//! behind `/sync/last_activities`), upsert (`POST /sync/ratings`) and unrate
//! (`POST /sync/ratings/remove`); reference crosswatch.md 3.3 and trakt-api.md 3.1, 3.4, 3.5.
//!
//! Jobs: `index` reads the ratings and keeps the `last_activities` cache (also after a
//! write); this module accepts, sends and accounts for the writes.
//!
//! ## Writes
//!
//! Add upserts: `rating` must be an integer 1..10 (8.0 is 8; 8.5, NaN, 0, 11 or none are
//! unresolved `invalid rating` and never sent). `rated_at` is passed through as given when
//! it parses as an ISO 8601 timestamp; a value that does not is unresolved
//! `invalid rated_at` (sending it could make Trakt refuse the whole chunk, and dropping it
//! would silently date the rating "now"); an empty one counts as absent. Entries:
//! `{ids, rating, rated_at?}`, or nested `shows[{ids, seasons: [{number, rating, rated_at?}]}]`
//! / `seasons: [{number, episodes: [{number, rating, rated_at?}]}]`. Two inputs with the
//! same key but different values: the newer `rated_at` is sent (the later input on a tie)
//! and the other is unresolved `duplicate key`. When this run has an index, an item
//! already rated the same (same rating; same `rated_at` instant or none given) is
//! `skipped` without sending. Confirmation: `not_found` entries are unresolved `not_found`;
//! per type, `added` (+ `updated`, if Trakt ever sends it) covering every remaining key
//! confirms them, fewer leaves them unresolved `unconfirmed` (never counted as confirmed).
//! Remove: a real unrate first makes sure this run has the index (one GET on a cache hit),
//! then sends every accepted item (unknown ones come back `not_found`). Per type, nothing
//! `deleted` means none had a rating (`skipped`); all deleted, `confirmed`; a mix is split
//! by the index (rated: `confirmed`, not rated: `skipped`).

mod index;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::presence::Presence;
use super::{finish, mark_not_found, send_chunks, unresolved, Ctx, Op, Outcome, WriteReport};
use crate::error::AdapterError;
use crate::log::{self, Level};
use crate::model::{item_key, Hint, Item, Kind};
use crate::payload::{self, Attrs, Body, Entry, Group};
use crate::state::RATINGS_UNRESOLVED;
use crate::time;

const FEATURE: &str = "ratings";
const ADD_PATH: &str = "/sync/ratings";
const REMOVE_PATH: &str = "/sync/ratings/remove";

#[derive(Default)]
pub struct Ratings {
    /// This run's complete index, kept current after real writes; `None` when not read yet
    /// or when a write's outcome is unknown.
    index: Option<BTreeMap<String, Item>>,
}

/// A rating as Trakt takes it: an integer 1..10.
pub fn valid_rating(r: Option<f64>) -> Option<i64> {
    let r = r?;
    (r.is_finite() && r.fract() == 0.0 && (1.0..=10.0).contains(&r)).then_some(r as i64)
}

/// `new` is at least as recent as `cur` (instants; a parseable time beats none; two
/// unparseable or missing values count as equal).
fn not_older(new: Option<&str>, cur: Option<&str>) -> bool {
    match (new.and_then(time::parse), cur.and_then(time::parse)) {
        (Some(a), Some(b)) => a >= b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => true,
    }
}

impl Ratings {
    pub fn write(&mut self, op: Op, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        let keys: Vec<String> = items.iter().map(item_key).collect();
        let mut outcome: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut accepted: Vec<Entry> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match accept(op, item) {
                Ok(e) => accepted.push(Entry { input: i, ..e }),
                Err(hint) => outcome[i] = Some(Outcome::Unresolved(hint)),
            }
        }
        if op == Op::Add {
            accepted = self.plan_add(accepted, items, &keys, &mut outcome);
        }
        if op == Op::Remove && !dry_run && !accepted.is_empty() && self.index.is_none() {
            // Trakt counts only what it deleted: the index tells which of the rest had no
            // rating (skipped). Everything is still sent, so unknown items come back not_found.
            self.build_index(ctx)?;
        }

        let path = match op {
            Op::Add => ADD_PATH,
            Op::Remove => REMOVE_PATH,
        };
        let presence = self.index.as_ref().map(Presence::new);
        let mut planned = Vec::new();
        let sent = send_chunks(
            ctx.client,
            FEATURE,
            op,
            path,
            &accepted,
            ctx.opts.ratings_chunk_size,
            dry_run,
            &mut outcome,
            &mut planned,
            |resp, body, inputs, outcome| account(op, resp, body, inputs, items, &keys, presence.as_ref(), outcome),
        )?;
        if !dry_run {
            self.after_write(op, items, &keys, &outcome, sent.ambiguous, ctx);
            let now = time::format_utc(ctx.client.wall_unix_secs());
            unresolved::update(ctx.state, FEATURE, RATINGS_UNRESOLVED, op, &now, items, &keys, &outcome);
        }
        Ok(finish(FEATURE, op, items, &keys, outcome, planned, dry_run))
    }

    /// Conflicting duplicates and items already rated the same; returns the entries to send.
    fn plan_add(
        &self,
        accepted: Vec<Entry>,
        items: &[Item],
        keys: &[String],
        outcome: &mut [Option<Outcome>],
    ) -> Vec<Entry> {
        // Per key, the entry whose values win.
        let mut winner: BTreeMap<&str, usize> = BTreeMap::new();
        for (n, e) in accepted.iter().enumerate() {
            let key = keys[e.input].as_str();
            match winner.get(key) {
                Some(&w) if !not_older(rated_at_of(&e.attrs), rated_at_of(&accepted[w].attrs)) => {}
                _ => {
                    winner.insert(key, n);
                }
            }
        }
        let presence = self.index.as_ref().map(Presence::new);
        let mut send = Vec::with_capacity(accepted.len());
        for e in &accepted {
            let i = e.input;
            let w = &accepted[winner[keys[i].as_str()]];
            if w.attrs != e.attrs {
                outcome[i] = Some(Outcome::Unresolved(Hint::DuplicateKey));
                continue;
            }
            let same =
                presence.as_ref().zip(self.index.as_ref()).and_then(|(p, ix)| ix.get(p.find(&items[i], &keys[i])?));
            if let Some(current) = same {
                let same_rating = valid_rating(current.rating) == e.attrs.get("rating").and_then(Value::as_i64);
                let same_time = match rated_at_of(&e.attrs) {
                    None => true,
                    Some(t) => current.rated_at.as_deref().is_some_and(|c| time::same_instant(c, t)),
                };
                if same_rating && same_time {
                    outcome[i] = Some(Outcome::Skipped);
                    continue;
                }
            }
            send.push(e.clone());
        }
        send
    }
}

fn rated_at_of(attrs: &Attrs) -> Option<&str> {
    attrs.get("rated_at").and_then(Value::as_str)
}

/// How an input goes out, or its hint (the input index is set by the caller).
fn accept(op: Op, item: &Item) -> Result<Entry, Hint> {
    if !item.extra_is_valid() {
        return Err(Hint::InvalidExtra);
    }
    if let Kind::Other(_) = item.kind() {
        return Err(Hint::UnsupportedType);
    }
    let mut attrs = Map::new();
    if op == Op::Add {
        let rating = valid_rating(item.rating).ok_or(Hint::InvalidRating)?;
        attrs.insert("rating".into(), Value::from(rating));
        match item.rated_at.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(t) if time::parse(t).is_some() => {
                attrs.insert("rated_at".into(), Value::String(t.to_string()));
            }
            Some(_) => return Err(Hint::InvalidRatedAt),
        }
    }
    let target = payload::target_for(item)?;
    Ok(Entry { input: 0, target, attrs })
}

/// Decide each item of a chunk from Trakt's answer (see the module comment).
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
    let done: [u64; 4] = match op {
        Op::Add => {
            let (a, u) = (payload::counts(resp, "added"), payload::counts(resp, "updated"));
            [a[0] + u[0], a[1] + u[1], a[2] + u[2], a[3] + u[3]]
        }
        Op::Remove => payload::counts(resp, if resp.get("deleted").is_some() { "deleted" } else { "removed" }),
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
        let mut distinct = BTreeSet::new();
        distinct.extend(members.iter().map(|i| keys[*i].as_str()));
        let units = distinct.len() as u64;
        if op == Op::Add && done[g] < units {
            log::event(
                Level::Warn,
                FEATURE,
                "write_unconfirmed",
                &[("type", group.name().into()), ("sent", units.to_string()), ("counted", done[g].to_string())],
            );
        }
        for i in members.iter().copied() {
            outcome[i] = Some(match (op, done[g].cmp(&units)) {
                (Op::Add, Ordering::Less) => Outcome::Unresolved(Hint::Unconfirmed),
                (Op::Add, _) => Outcome::Confirmed,
                (Op::Remove, _) if done[g] == 0 => Outcome::Skipped,
                (Op::Remove, Ordering::Less) => match presence.map(|p| p.find(&items[i], &keys[i]).is_some()) {
                    Some(false) => Outcome::Skipped,
                    _ => Outcome::Confirmed,
                },
                (Op::Remove, _) => Outcome::Confirmed,
            });
        }
    }
}
