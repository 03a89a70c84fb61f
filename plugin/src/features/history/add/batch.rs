//! One history batch: journaled, sent once (resent by the client only when it provably never
//! reached Trakt), then decided from the answer; an unknown outcome is read back and the
//! missing plays handed back to be sent again (`chunk` says in which bodies) or, on the last
//! try, unresolved.

use super::reconcile::reconcile;
use super::{Planned, Run, ADD_PATH, ADD_TIMEOUT_MS};
use serde_json::Value;

use crate::client::Call;
use crate::error::AdapterError;
use crate::features::history::index::{event_key, PlayKind};
use crate::features::history::journal::{self, Batch, JournalPlay, Pending};
use crate::features::history::FEATURE;
use crate::features::{mark, write_failure, Ctx, Failure, Op, Outcome};
use crate::log::{self, Level};
use crate::model::json::item_to_json;
use crate::model::{item_key, Hint, Item};
use crate::payload::{self, Body, Entry, Group, Scope};
use crate::time;

fn journal_play(all: &[Item], p: &Planned, keys_base: &str) -> JournalPlay {
    let item = Item { watched_at: Some(p.sent.clone()), ..all[p.input].minimal() };
    JournalPlay {
        key: match p.minute() {
            Some(m) => event_key(keys_base, m),
            None => keys_base.to_string(),
        },
        kind: match p.kind {
            PlayKind::Movie => "movie".into(),
            PlayKind::Episode => "episode".into(),
        },
        watched_at: p.sent.clone(),
        item: item_to_json(&item),
    }
}

/// How a batch ended.
pub(super) enum BatchEnd<'p> {
    /// Trakt answered (2xx with a JSON object): every play is decided.
    Answered,
    /// Trakt refused it (a 4xx): its plays are unresolved, later batches go on.
    Refused,
    /// The outcome was unknown (5xx, timeout, lost connection, unreadable answer): read back,
    /// the plays found are confirmed and these were not on Trakt, to be sent again.
    Resend(Vec<&'p Planned>),
    /// Later batches are not sent; they carry this hint.
    Stop(Hint),
}

/// Journal, send and decide one batch; `resend`: plays found missing after an unknown
/// outcome are handed back to be sent again, else they are unresolved and the call stops.
pub(super) fn send_batch<'p>(
    ctx: &mut Ctx,
    run: &mut Run,
    all: &[Item],
    plays: &[&'p Planned],
    resend: bool,
) -> Result<BatchEnd<'p>, AdapterError> {
    let inputs: Vec<usize> = plays.iter().map(|p| p.input).collect();
    let entries: Vec<Entry> = plays.iter().map(|p| p.entry()).collect();
    let body = payload::build_body(&entries);
    run.batch_seq += 1;
    let now = ctx.client.wall_unix_secs();
    let batch = Batch {
        id: format!("{now}-{}", run.batch_seq),
        created_at: time::format_utc(now),
        plays: plays.iter().map(|p| journal_play(all, p, &item_key(&all[p.input]))).collect(),
    };
    if !journal::begin(ctx.state, &batch) {
        mark(&mut run.outcome, &inputs, Outcome::Unresolved(Hint::JournalUnavailable));
        return Ok(BatchEnd::Stop(Hint::JournalUnavailable));
    }
    log::event(
        Level::Debug,
        FEATURE,
        "journal_written",
        &[("batch", batch.id.clone()), ("plays", plays.len().to_string())],
    );
    let call = Call {
        timeout_ms: Some(ctx.client.timeout_ms().max(ADD_TIMEOUT_MS)),
        ..Call::post(ADD_PATH, body.json.clone(), false)
    };
    let hint = match ctx.client.execute(&call) {
        Ok(resp) => match crate::model::json::from_bytes::<Value>(&resp.body) {
            Ok(v) if v.is_object() => {
                run.wrote_any = true;
                journal::end(ctx.state, &batch.id);
                account(ctx, run, all, plays, &body, &v);
                return Ok(BatchEnd::Answered);
            }
            _ => {
                log::event(
                    Level::Warn,
                    FEATURE,
                    "write_bad_response",
                    &[("op", "add".into()), ("status", resp.status.to_string())],
                );
                Hint::BadResponse
            }
        },
        Err(e) if refused(&e) => {
            journal::end(ctx.state, &batch.id);
            return match write_failure(FEATURE, Op::Add, e, run.wrote_any) {
                Failure::Fatal(e) => Err(e),
                Failure::Chunk { hint, stop, .. } => {
                    mark(&mut run.outcome, &inputs, Outcome::Unresolved(hint));
                    Ok(if stop { BatchEnd::Stop(hint) } else { BatchEnd::Refused })
                }
            };
        }
        Err(e) => {
            let hint = Hint::of_status(e.status());
            log::event(
                Level::Warn,
                FEATURE,
                "write_outcome_unknown",
                &[("batch", batch.id.clone()), ("plays", plays.len().to_string()), ("error", e.to_string())],
            );
            hint
        }
    };
    // Trakt may or may not have recorded the plays: read them back before anything else.
    run.wrote_any = true;
    let pending: Vec<Pending> = plays.iter().map(|p| pending_of(all, p)).collect();
    let flags = match reconcile(ctx, run, &pending) {
        Ok(f) => f,
        Err(e) => {
            log::event(Level::Error, FEATURE, "journal_kept", &[("batch", batch.id.clone()), ("error", e.to_string())]);
            run.drop_index = true;
            mark(&mut run.outcome, &inputs, Outcome::Unresolved(Hint::Unconfirmed));
            return Ok(BatchEnd::Stop(Hint::of_status(e.status())));
        }
    };
    let mut missing: Vec<&'p Planned> = Vec::new();
    for (&p, on_trakt) in plays.iter().zip(&flags) {
        if *on_trakt {
            run.outcome[p.input] = Some(Outcome::Confirmed);
            run.read_back.insert(p.input);
        } else {
            missing.push(p);
        }
    }
    log::event(
        Level::Info,
        FEATURE,
        "journal_reconcile",
        &[
            ("batches", "1".into()),
            ("landed", (plays.len() - missing.len()).to_string()),
            ("resent", if resend { missing.len() } else { 0 }.to_string()),
        ],
    );
    journal::end(ctx.state, &batch.id);
    if missing.is_empty() || resend {
        if !missing.is_empty() {
            log::event(Level::Info, FEATURE, "journal_resend", &[("plays", missing.len().to_string())]);
        }
        return Ok(BatchEnd::Resend(missing));
    }
    // The last try's outcome is unknown too and its plays are not on Trakt: stop here.
    for p in &missing {
        run.outcome[p.input] = Some(Outcome::Unresolved(hint));
    }
    Ok(BatchEnd::Stop(hint))
}

fn pending_of(all: &[Item], p: &Planned) -> Pending {
    let item = Item { watched_at: Some(p.sent.clone()), ..all[p.input].minimal() };
    Pending { key: item_key(&item), item, kind: p.kind, when: p.when }
}

/// An error answer that means Trakt did not record the batch (4xx, 420, auth, a rate limit
/// beyond the cap); anything else (5xx, no answer) leaves the outcome unknown.
fn refused(e: &AdapterError) -> bool {
    match e {
        AdapterError::Http { status, .. } => *status < 500,
        AdapterError::AccountLimit { .. }
        | AdapterError::Auth(_)
        | AdapterError::Forbidden(_)
        | AdapterError::Locked(_)
        | AdapterError::VipOnly(_)
        | AdapterError::RateLimited { .. } => true,
        _ => false,
    }
}

/// Decide a batch from Trakt's answer: `not_found` by scope, then per kind `added` against
/// the plays sent; a shortfall is read back (found: confirmed; not: `unconfirmed`).
fn account(ctx: &mut Ctx, run: &mut Run, all: &[Item], plays: &[&Planned], body: &Body, resp: &Value) {
    let nf = body.match_not_found_scoped(resp.get("not_found").unwrap_or(&Value::Null));
    if nf.unmatched > 0 {
        log::event(Level::Warn, FEATURE, "not_found_unmatched", &[("count", nf.unmatched.to_string())]);
    }
    for (i, scope) in nf.inputs {
        if !plays.iter().any(|p| p.input == i) {
            continue;
        }
        let hint = match scope {
            Scope::Flat(Group::Episodes) | Scope::Episode => Hint::TraktEpisodeNotFound,
            Scope::Parent => Hint::TraktParentNotFound,
            Scope::Flat(_) => Hint::NotFound,
        };
        run.outcome[i] = Some(Outcome::Unresolved(hint));
    }
    let added = payload::counts(resp, "added");
    for (kind, counted) in [(PlayKind::Movie, added[0]), (PlayKind::Episode, added[3])] {
        let members: Vec<&Planned> =
            plays.iter().copied().filter(|p| p.kind == kind && run.outcome[p.input].is_none()).collect();
        if members.is_empty() {
            continue;
        }
        let sent = members.len() as u64;
        if counted >= sent {
            if counted > sent {
                log::event(
                    Level::Warn,
                    FEATURE,
                    "write_overcounted",
                    &[("type", kind.plural().into()), ("sent", sent.to_string()), ("counted", counted.to_string())],
                );
            }
            for p in members {
                run.outcome[p.input] = Some(Outcome::Confirmed);
            }
            continue;
        }
        log::event(
            Level::Warn,
            FEATURE,
            "write_unconfirmed",
            &[("type", kind.plural().into()), ("sent", sent.to_string()), ("counted", counted.to_string())],
        );
        let pending: Vec<Pending> = members.iter().map(|p| pending_of(all, p)).collect();
        match reconcile(ctx, run, &pending) {
            Ok(flags) => {
                for (p, on_trakt) in members.iter().zip(flags) {
                    if on_trakt {
                        run.outcome[p.input] = Some(Outcome::Confirmed);
                        run.read_back.insert(p.input);
                    } else {
                        run.outcome[p.input] = Some(Outcome::Unresolved(Hint::Unconfirmed));
                    }
                }
            }
            Err(e) => {
                log::event(Level::Warn, FEATURE, "verify_failed", &[("error", e.to_string())]);
                run.drop_index = true;
                for p in members {
                    run.outcome[p.input] = Some(Outcome::Unresolved(Hint::Unconfirmed));
                }
            }
        }
    }
}
