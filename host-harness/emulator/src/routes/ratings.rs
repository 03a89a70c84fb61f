//! Ratings: `GET /sync/ratings[/{type}[/{rating}]]`, `POST /sync/ratings` and `POST
//! /sync/ratings/remove`.
//!
//! * Reads: `type` ∈ `movies|shows|seasons|episodes|all`, anything else `404`; `rating` is one
//!   value `1..10` or a comma list (`8,9,10`), anything else `400`. Rows (`rated_at`, `rating`,
//!   `type` and the media objects) newest `rated_at` first (ties: movie, show, season, episode,
//!   then trakt id), paginated like the watchlist (default 100, `limit` clamped to 1..=250, four
//!   `X-Pagination-*` headers).
//! * Add: every resolved object that carries a `rating` rates its own level — a show with
//!   `seasons` may rate the show too, a season with `episodes` the season too; the most specific
//!   objects (a bare show, a season without `episodes`, an episode, a movie) must carry one. The
//!   rating must be a JSON integer 1..=10: an object with a missing or invalid rating is rejected
//!   and echoed in `not_found` under its top-level key (inside copies of its enclosing show/
//!   season objects cut down to it) and nothing of it is stored; the request still answers
//!   `201`. `rated_at` (on the object, else inherited from its season/show object; default: now)
//!   must be a date-time, else the whole request is `400` and nothing changes. Re-rating
//!   overwrites value and `rated_at` and counts in `added`. New ratings beyond
//!   `limits.ratings.item_count` make the whole request `420`.
//! * Remove: the most specific objects (as for the watchlist); items without a rating are not
//!   counted and not in `not_found`.
//! * `{type}.rated_at` in last_activities moves on every effective change (new rating, changed
//!   value or `rated_at`, removal), per type.

use std::collections::HashSet;

use serde_json::json;

use super::common::{account_limit, bad_request, parse_when, Counts, When};
use crate::catalog::Lookup;
use crate::library::{MediaRef, MediaType, Rating};
use crate::paging::{paged_text, Paging, DEFAULT_LIMIT};
use crate::render::{num_field, plain_field, time_field, Fragments, Rows};
use crate::route::{Access, Ctx, Reply, RouteDef, State};

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::new("GET", "/sync/ratings", Access::User, get),
        RouteDef::new("GET", "/sync/ratings/:type", Access::User, get),
        RouteDef::new("GET", "/sync/ratings/:type/:rating", Access::User, get),
        RouteDef::new("POST", "/sync/ratings", Access::User, add),
        RouteDef::new("POST", "/sync/ratings/remove", Access::User, remove),
    ]
}

/// `8,9,10` -> which ratings to keep (index = rating).
fn parse_rating_filter(text: &str) -> Result<[bool; 11], String> {
    let mut keep = [false; 11];
    for part in text.split(',') {
        match part.trim().parse::<usize>() {
            Ok(r) if (1..=10).contains(&r) => keep[r] = true,
            _ => return Err(format!("invalid rating filter {text:?}: expected 1..10 or a comma list such as 8,9,10")),
        }
    }
    Ok(keep)
}

fn get(ctx: &mut Ctx<'_>) -> Reply {
    let kind = match ctx.param("type") {
        None | Some("all") => None,
        Some(t) => match MediaType::from_plural(t) {
            Some(k) => Some(k),
            None => {
                return Reply::error(
                    404,
                    "not_found",
                    format!("unknown ratings type {t:?} (movies, shows, seasons, episodes or all)"),
                )
            }
        },
    };
    let filter = match ctx.param("rating").map(parse_rating_filter) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return bad_request(e),
    };
    let paging = Paging::from_query(ctx, DEFAULT_LIMIT);
    let State { library, index, user, fragments, .. } = &mut *ctx.state;
    let ratings = &library.ratings;
    let lookup = Lookup::new(&library.catalog, index);
    let by_type = kind.map(|k| user.ratings_by_type[k as usize].as_slice());
    match (by_type, filter) {
        (None, None) => paged_text(paging, ratings.len(), |range| rows(lookup, fragments, ratings[range].iter())),
        (Some(pos), None) => paged_text(paging, pos.len(), |range| {
            rows(lookup, fragments, pos[range].iter().map(|&i| &ratings[i as usize]))
        }),
        (pos, Some(keep)) => {
            let wanted = |i: &usize| keep[usize::from(ratings[*i].rating)];
            let pos: Vec<usize> = match pos {
                Some(pos) => pos.iter().map(|&i| i as usize).filter(wanted).collect(),
                None => (0..ratings.len()).filter(wanted).collect(),
            };
            paged_text(paging, pos.len(), |range| rows(lookup, fragments, pos[range].iter().map(|&i| &ratings[i])))
        }
    }
}

/// Rating rows (`rated_at`, `rating`, `type`, then the media objects) as a JSON array.
fn rows<'r>(
    lookup: Lookup<'_>,
    fragments: &mut Fragments,
    ratings: impl ExactSizeIterator<Item = &'r Rating>,
) -> String {
    let mut out = Rows::new(lookup, fragments, ratings.len());
    for r in ratings {
        let row = out.open();
        time_field(row, "rated_at", r.rated_at);
        num_field(row, "rating", u64::from(r.rating));
        plain_field(row, "type", r.kind.singular());
        out.close(r.media());
    }
    out.finish()
}

/// Bumps `<type>.rated_at` for the changed types.
fn touch(ctx: &mut Ctx<'_>, changed: &HashSet<MediaType>) {
    if changed.is_empty() {
        return;
    }
    let keys: Vec<(&str, &str)> =
        MediaType::ALL.into_iter().filter(|t| changed.contains(t)).map(|t| (t.plural(), "rated_at")).collect();
    ctx.state.library.last_activities.bump(ctx.now, &keys);
}

/// `POST /sync/ratings`.
fn add(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_request("request body must be a JSON object");
    };
    let (ops, not_found) = {
        let resolution = match ctx.state.lookup().resolve_tree(body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let mut not_found = resolution.not_found;
        let mut ops: Vec<(MediaRef, u8, crate::timestamp::Timestamp)> = Vec::new();
        for f in &resolution.found {
            let rating = match f.item.get("rating").filter(|v| !v.is_null()) {
                None if !f.leaf => continue,
                None => None,
                Some(v) => v.as_u64().filter(|r| (1..=10).contains(r)),
            };
            let Some(rating) = rating else {
                let (key, echo) = f.echo();
                not_found.push(key, echo);
                continue;
            };
            let rated_at = match parse_when(f.inherited("rated_at"), "rated_at", &[]) {
                Ok(When::At(t)) => t,
                Ok(_) => ctx.now,
                Err(e) => return bad_request(e),
            };
            ops.push((f.media, rating as u8, rated_at));
        }
        (ops, not_found)
    };

    let state = &mut *ctx.state;
    let new: HashSet<MediaRef> =
        ops.iter().map(|(m, _, _)| *m).filter(|m| !state.user.rating_pos.contains_key(m)).collect();
    let limit = state.library.limits.ratings.item_count;
    let count = state.library.ratings.len();
    if !new.is_empty() && (count + new.len()) as u64 > limit {
        return account_limit(state.library.user.vip, "Ratings", limit, count, new.len());
    }

    let mut added = Counts::default();
    let mut changed = HashSet::new();
    for (media, rating, rated_at) in ops {
        added.bump(media.kind);
        match state.user.rating_pos.get(&media) {
            Some(&i) => {
                let r = &mut state.library.ratings[i];
                if r.rating != rating || r.rated_at != rated_at {
                    r.rating = rating;
                    r.rated_at = rated_at;
                    changed.insert(media.kind);
                }
            }
            None => {
                state.library.ratings.push(Rating { kind: media.kind, trakt: media.trakt, rating, rated_at });
                state.user.rating_pos.insert(media, state.library.ratings.len() - 1);
                changed.insert(media.kind);
            }
        }
    }
    if !changed.is_empty() {
        state.library.sort_ratings();
        state.user.rebuild_ratings(&state.library);
        touch(ctx, &changed);
    }
    Reply::json(201, json!({ "added": added.all_json(), "not_found": not_found.to_json() }))
}

/// `POST /sync/ratings/remove`.
fn remove(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_request("request body must be a JSON object");
    };
    let (targets, not_found) = match ctx.state.lookup().resolve_body(body) {
        Ok(r) => (r.found.iter().map(|f| f.media).collect::<HashSet<_>>(), r.not_found),
        Err(e) => return bad_request(e),
    };
    let mut deleted = Counts::default();
    let mut changed = HashSet::new();
    ctx.state.library.ratings.retain(|r| {
        if targets.contains(&r.media()) {
            deleted.bump(r.kind);
            changed.insert(r.kind);
            false
        } else {
            true
        }
    });
    if !changed.is_empty() {
        ctx.state.user.rebuild_ratings(&ctx.state.library);
        touch(ctx, &changed);
    }
    Reply::json(200, json!({ "deleted": deleted.all_json(), "not_found": not_found.to_json() }))
}
