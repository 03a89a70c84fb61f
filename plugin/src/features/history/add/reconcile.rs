//! Unknown outcomes: the batches an earlier run left in the journal, settled before
//! anything is sent, and the read-back of plays whose answer did not account for them.

use super::{Run, Settled};
use std::collections::BTreeSet;

use crate::error::AdapterError;
use crate::features::history::index::{self, Index};
use crate::features::history::journal::{self, Batch, JournalPlay, Pending};
use crate::features::history::FEATURE;
use crate::features::{Ctx, Outcome};
use crate::log::{self, Level};
use crate::time;

/// A hint that will not change by trying again later as is: the journal need not carry it.
pub(super) fn settled_for_good(o: Option<&Outcome>) -> bool {
    match o {
        None => false,
        Some(Outcome::Confirmed | Outcome::Skipped) => true,
        Some(Outcome::Unresolved(h)) => !h.may_change(),
    }
}

/// Reconcile the batches an earlier run left in the journal before anything is sent.
pub(super) fn settle(ctx: &mut Ctx, run: &mut Run) -> Result<Settled, AdapterError> {
    let batches = journal::pending(ctx.state);
    if batches.is_empty() {
        return Ok(Settled::default());
    }
    let mut plays: Vec<Pending> = Vec::new();
    let mut raw: Vec<JournalPlay> = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for p in batches.iter().flat_map(|b| &b.plays) {
        if !seen.insert((p.key.clone(), p.watched_at.clone())) {
            continue;
        }
        match Pending::of(p) {
            Some(x) => {
                plays.push(x);
                raw.push(p.clone());
            }
            None => log::event(Level::Warn, FEATURE, "journal_play_ignored", &[("key", p.key.clone())]),
        }
    }
    let flags = reconcile(ctx, run, &plays)?;
    let mut landed = Index::default();
    let mut absent = Vec::new();
    for ((p, r), on_trakt) in plays.iter().zip(raw).zip(&flags) {
        if *on_trakt {
            if let Some(m) = p.minute() {
                landed.push(&p.item, p.kind, m, None, r.watched_at.clone());
            }
        } else {
            absent.push(r);
        }
    }
    let ids: Vec<&str> = batches.iter().map(|b| b.id.as_str()).collect();
    let carry = (!absent.is_empty()).then(|| format!("carry-{}", ctx.client.wall_unix_secs()));
    let keep = carry.clone().map(|id| Batch {
        id,
        created_at: time::format_utc(ctx.client.wall_unix_secs()),
        plays: absent.clone(),
    });
    journal::replace(ctx.state, &ids, keep);
    log::event(
        Level::Info,
        FEATURE,
        "journal_reconcile",
        &[
            ("batches", batches.len().to_string()),
            ("landed", (plays.len() - absent.len()).to_string()),
            ("resent", absent.len().to_string()),
        ],
    );
    Ok(Settled { landed, absent, carry })
}

/// Which of `plays` are on Trakt now (window reads; a full index for `released` plays). The
/// rows read go into this run's index, or into the cache file when this run has none.
pub(super) fn reconcile(ctx: &mut Ctx, run: &mut Run, plays: &[Pending]) -> Result<Vec<bool>, AdapterError> {
    let (flags, rows) = journal::landed(ctx, plays)?;
    match run.index.as_mut() {
        Some(ix) => {
            if ix.absorb(&rows) > 0 {
                run.changed = true;
            }
        }
        None => {
            if let Some(mut cache) = index::load_cache(ctx.state) {
                if cache.absorb(&rows) > 0 {
                    index::save_cache(ctx.state, &cache);
                }
            }
        }
    }
    if flags.iter().all(Option::is_some) {
        return Ok(flags.into_iter().map(|f| f.unwrap_or(false)).collect());
    }
    // `released` plays: the item has a play now (such a play is only sent for an item
    // without plays).
    let fresh = index::refresh(ctx)?;
    let out = {
        let lookup = fresh.lookup();
        flags
            .iter()
            .zip(plays)
            .map(|(f, p)| {
                f.unwrap_or_else(|| lookup.base_of(&p.item, &p.key).is_some_and(|b| lookup.plays(b).next().is_some()))
            })
            .collect()
    };
    if run.index.is_some() {
        run.index = Some(fresh);
        run.changed = true;
    }
    Ok(out)
}
