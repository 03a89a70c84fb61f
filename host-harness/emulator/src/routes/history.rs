//! Watched history: `GET /sync/history[/{type}[/{id}]]`, `POST /sync/history` and `POST
//! /sync/history/remove`.
//!
//! * Reads: `type` ∈ `movies|shows|seasons|episodes` (`shows`, `seasons` and `episodes` all list
//!   episode plays), anything else `404`; `id` is the trakt id of an item of that type
//!   (`/sync/history/shows/1` = plays of show 1's episodes); an id that is not a number or not in
//!   the catalogue is `404`, a known item without plays `200 []`. Rows (`id`, `watched_at`,
//!   `action`, `type` and the media objects) newest `watched_at` first, ties higher history id
//!   first. `start_at` / `end_at` filter on `watched_at`, both inclusive; they take a date-time or
//!   `YYYY-MM-DD` (start of that day / its last second); anything else is `400`. Paginated like the
//!   watchlist (default 100, clamp 1..=250). A page costs O(log n + page) (the library keeps the
//!   history sorted and the server keeps per-type position lists), plus O(n) only when filtering by
//!   `id`.
//! * Add: a show without `seasons` = all its episodes (specials included), a season (by ids, or
//!   `shows[].seasons[{number}]`) = its episodes, nested episode numbers = those episodes.
//!   `watched_at` on an object applies to everything below it unless overridden: a date-time
//!   (truncated to the minute), `"released"` (the movie's `released` date / the episode's
//!   `first_aired`, plus its `runtime`; catalogue items without them get a fixed date, see
//!   `Lookup::release`), `"unknown"` (the Unix epoch), or nothing (now, to the minute). Any
//!   other value makes the whole request `400` (nothing is stored). Every resolved movie/
//!   episode becomes a new play (no dedupe) with a new 64-bit history id and action `watch`.
//!   Plays beyond `limits.history.item_count` make the whole request `420`. Each play removes
//!   the item from the watchlist (an episode also its season and its show). `201` with
//!   `added{movies,episodes}`, `updated{movies:0,episodes:0}` and `not_found`.
//! * Remove: media remove **all** plays of the matched items (show/season: of their episodes)
//!   and `ids` single plays; `deleted` counts removed plays; `ids` that match no play (or are
//!   not integers) are echoed in `not_found.ids`. `200`.
//! * last_activities: `movies.watched_at` / `episodes.watched_at` move when plays of that type
//!   are added or removed; an auto-removal from the watchlist also moves `watchlist.updated_at`
//!   and `<type>.watchlisted_at` of the removed types.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::common::{account_limit, bad_request, parse_when, query_time, Counts, When};
use crate::catalog::Lookup;
use crate::library::{MediaRef, MediaType, Play, PlayAction};
use crate::paging::{paged_text, Paging, DEFAULT_LIMIT};
use crate::render::{num_field, plain_field, time_field, Fragments, Rows};
use crate::route::{Access, Ctx, Reply, RouteDef, State};
use crate::timestamp::Timestamp;

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::new("GET", "/sync/history", Access::User, get),
        RouteDef::new("GET", "/sync/history/:type", Access::User, get),
        RouteDef::new("GET", "/sync/history/:type/:id", Access::User, get),
        RouteDef::new("POST", "/sync/history", Access::User, add),
        RouteDef::new("POST", "/sync/history/remove", Access::User, remove),
    ]
}

fn get(ctx: &mut Ctx<'_>) -> Reply {
    let kind = match ctx.param("type") {
        None => None,
        Some(t) => match MediaType::from_plural(t) {
            Some(k) => Some(k),
            None => {
                return Reply::error(
                    404,
                    "not_found",
                    format!("unknown history type {t:?} (movies, shows, seasons or episodes)"),
                )
            }
        },
    };
    let item = match (kind, ctx.param("id")) {
        (Some(kind), Some(id)) => {
            let media = id.trim().parse::<u64>().ok().map(|trakt| MediaRef { kind, trakt });
            match media.filter(|m| ctx.state.index.contains(*m)) {
                Some(m) => Some(m),
                None => return Reply::error(404, "not_found", format!("no {} with trakt id {id:?}", kind.singular())),
            }
        }
        _ => None,
    };
    let start = match query_time(ctx, "start_at", false) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let end = match query_time(ctx, "end_at", true) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let paging = Paging::from_query(ctx, DEFAULT_LIMIT);
    let State { library, index, user, fragments, .. } = &mut *ctx.state;
    let hist = &library.history;
    let lookup = Lookup::new(&library.catalog, index);
    // History is newest first: plays after `end` come first, plays before `start` last.
    let after_end = |p: &Play| end.is_some_and(|e| p.watched_at > e);
    let not_before_start = |p: &Play| start.is_none_or(|s| p.watched_at >= s);

    let positions: &[u32] = match kind {
        None => {
            let lo = hist.partition_point(after_end);
            let hi = hist.partition_point(not_before_start).max(lo);
            return paged_text(paging, hi - lo, |range| {
                rows(lookup, fragments, hist[lo + range.start..lo + range.end].iter())
            });
        }
        Some(MediaType::Movie) => &user.movie_plays,
        Some(_) => &user.episode_plays,
    };
    let lo = positions.partition_point(|&i| after_end(&hist[i as usize]));
    let hi = positions.partition_point(|&i| not_before_start(&hist[i as usize])).max(lo);
    let positions = &positions[lo..hi];
    let Some(item) = item else {
        return paged_text(paging, positions.len(), |range| {
            rows(lookup, fragments, positions[range].iter().map(|&i| &hist[i as usize]))
        });
    };
    let episodes: HashSet<u64> = match item.kind {
        MediaType::Show | MediaType::Season => lookup.expand(item).into_iter().map(|m| m.trakt).collect(),
        _ => HashSet::new(),
    };
    let selected: Vec<u32> = positions
        .iter()
        .copied()
        .filter(|&i| {
            let t = hist[i as usize].trakt;
            match item.kind {
                MediaType::Movie | MediaType::Episode => t == item.trakt,
                _ => episodes.contains(&t),
            }
        })
        .collect();
    paged_text(paging, selected.len(), |range| {
        rows(lookup, fragments, selected[range].iter().map(|&i| &hist[i as usize]))
    })
}

/// History rows (`id`, `watched_at`, `action`, `type`, then the media objects) as a JSON array.
fn rows<'p>(lookup: Lookup<'_>, fragments: &mut Fragments, plays: impl ExactSizeIterator<Item = &'p Play>) -> String {
    let mut out = Rows::new(lookup, fragments, plays.len());
    for p in plays {
        let row = out.open();
        num_field(row, "id", p.id);
        time_field(row, "watched_at", p.watched_at);
        plain_field(row, "action", p.action.as_str());
        plain_field(row, "type", p.kind.singular());
        out.close(p.media());
    }
    out.finish()
}

/// Bumps the `(group, key)` pairs, all to the same new timestamp.
fn touch(ctx: &mut Ctx<'_>, keys: &[(&'static str, &'static str)]) {
    if !keys.is_empty() {
        ctx.state.library.last_activities.bump(ctx.now, keys);
    }
}

/// `POST /sync/history`.
fn add(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_request("request body must be a JSON object");
    };
    let now = ctx.now;
    let (plays, not_found, unlist) = {
        let lookup = ctx.state.lookup();
        let resolution = match lookup.resolve_body(body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let mut plays: Vec<(MediaRef, Timestamp)> = Vec::new();
        for f in &resolution.found {
            let when = match parse_when(f.inherited("watched_at"), "watched_at", &["released", "unknown"]) {
                Ok(w) => w,
                Err(e) => return bad_request(e),
            };
            for m in lookup.expand(f.media) {
                let at = match when {
                    When::Now => now,
                    When::At(t) => t,
                    When::Released => {
                        let (released, runtime) = lookup.release(m);
                        Timestamp(released.0 + 60 * i64::from(runtime))
                    }
                    When::Unknown => Timestamp(0),
                };
                plays.push((m, at.floor_minute()));
            }
        }
        // What the new plays take off the watchlist.
        let mut unlist: HashSet<MediaRef> = HashSet::new();
        for (m, _) in &plays {
            unlist.insert(*m);
            if m.kind == MediaType::Episode {
                if let Some((show, season, _)) = lookup.episode(m.trakt) {
                    unlist.insert(MediaRef { kind: MediaType::Season, trakt: season.ids.trakt });
                    unlist.insert(MediaRef { kind: MediaType::Show, trakt: show.ids.trakt });
                }
            }
        }
        (plays, resolution.not_found, unlist)
    };

    let state = &mut *ctx.state;
    let limit = state.library.limits.history.item_count;
    let count = state.library.history.len();
    if !plays.is_empty() && (count + plays.len()) as u64 > limit {
        return account_limit(state.library.user.vip, "History", limit, count, plays.len());
    }

    let mut added = Counts::default();
    let mut keys: Vec<(&'static str, &'static str)> = Vec::new();
    if !plays.is_empty() {
        let mut id = state.user.next_history_id;
        state.library.history.reserve(plays.len());
        for (m, watched_at) in plays {
            added.bump(m.kind);
            state.library.history.push(Play {
                id,
                kind: m.kind,
                trakt: m.trakt,
                watched_at,
                action: PlayAction::Watch,
            });
            id += 1;
        }
        state.user.next_history_id = id;
        state.library.sort_history();
        state.user.rebuild_history(&state.library);
        for t in [MediaType::Movie, MediaType::Episode] {
            if added.get(t) > 0 {
                keys.push((t.plural(), "watched_at"));
            }
        }
        // Auto-removal from the watchlist.
        let mut unlisted = HashSet::new();
        state.library.watchlist.retain(|e| {
            if unlist.contains(&e.media()) {
                unlisted.insert(e.kind);
                false
            } else {
                true
            }
        });
        if !unlisted.is_empty() {
            for (i, e) in state.library.watchlist.iter_mut().enumerate() {
                e.rank = i as u32 + 1;
            }
            keys.push(("watchlist", "updated_at"));
            for t in MediaType::ALL {
                if unlisted.contains(&t) {
                    keys.push((t.plural(), "watchlisted_at"));
                }
            }
        }
    }
    touch(ctx, &keys);
    Reply::json(
        201,
        json!({
            "added": added.me_json(),
            "updated": Counts::default().me_json(),
            "not_found": not_found.to_json(),
        }),
    )
}

/// A history id from `ids`: a JSON integer or a numeric string.
fn history_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `POST /sync/history/remove`.
fn remove(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_request("request body must be a JSON object");
    };
    let ids: &[Value] = match body.get("ids") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return bad_request("`ids` must be an array of history ids"),
    };
    let (targets, not_found) = {
        let lookup = ctx.state.lookup();
        match lookup.resolve_body(body) {
            Ok(r) => (r.found.iter().flat_map(|f| lookup.expand(f.media)).collect::<HashSet<_>>(), r.not_found),
            Err(e) => return bad_request(e),
        }
    };
    let wanted: HashSet<u64> = ids.iter().filter_map(history_id).collect();
    let mut matched: HashSet<u64> = HashSet::new();
    let mut deleted = Counts::default();
    if !targets.is_empty() || !wanted.is_empty() {
        ctx.state.library.history.retain(|p| {
            let by_id = wanted.contains(&p.id);
            if by_id {
                matched.insert(p.id);
            }
            if by_id || targets.contains(&p.media()) {
                deleted.bump(p.kind);
                false
            } else {
                true
            }
        });
    }
    let mut keys = Vec::new();
    for t in [MediaType::Movie, MediaType::Episode] {
        if deleted.get(t) > 0 {
            keys.push((t.plural(), "watched_at"));
        }
    }
    if !keys.is_empty() {
        ctx.state.user.rebuild_history(&ctx.state.library);
        touch(ctx, &keys);
    }
    let unknown_ids: Vec<Value> =
        ids.iter().filter(|v| history_id(v).is_none_or(|id| !matched.contains(&id))).cloned().collect();
    let mut not_found = not_found.to_json();
    not_found["ids"] = Value::Array(unknown_ids);
    Reply::json(200, json!({ "deleted": deleted.me_json(), "not_found": not_found }))
}
