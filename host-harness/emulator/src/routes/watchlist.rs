//! The watchlist: `GET /sync/watchlist[/{type}[/{sort_by}[/{sort_how}]]]`,
//! `POST /sync/watchlist` and `POST /sync/watchlist/remove`.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::library::{MediaRef, MediaType, WatchlistEntry};
use crate::paging::{Paging, DEFAULT_LIMIT};
use crate::route::{Access, Ctx, Reply, RouteDef, State};

use super::common::UPGRADE_URL;

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::new("GET", "/sync/watchlist", Access::User, get),
        RouteDef::new("GET", "/sync/watchlist/:type", Access::User, get),
        RouteDef::new("GET", "/sync/watchlist/:type/:sort_by", Access::User, get),
        RouteDef::new("GET", "/sync/watchlist/:type/:sort_by/:sort_how", Access::User, get),
        RouteDef::new("POST", "/sync/watchlist", Access::User, add),
        RouteDef::new("POST", "/sync/watchlist/remove", Access::User, remove),
    ]
}

/// Sort orders the emulator applies; any other `sort_by` falls back to `rank`.
const SORTS: &[&str] = &["rank", "added", "title", "released"];

/// `GET /sync/watchlist…`: one page of list items, by rank unless a sort is requested.
fn get(ctx: &mut Ctx<'_>) -> Reply {
    let kind = match ctx.param("type") {
        None => None,
        Some(t) => match MediaType::from_plural(t) {
            Some(k) => Some(k),
            None => {
                return Reply::error(
                    404,
                    "not_found",
                    format!("unknown watchlist type {t:?} (movies, shows, seasons or episodes)"),
                );
            }
        },
    };
    let sort_by = ctx.param("sort_by").map(str::to_string);
    let (by, how) = match sort_by.as_deref() {
        None => ("rank", "asc"),
        Some(requested) => {
            let by = SORTS.iter().copied().find(|s| *s == requested).unwrap_or("rank");
            let how = match ctx.param("sort_how") {
                Some("desc") => "desc",
                Some(_) => "asc",
                // Legacy `/sync/watchlist/{type}/{sort}`: newest first for `added`.
                None if by == "added" => "desc",
                None => "asc",
            };
            (by, how)
        }
    };
    let paging = Paging::from_query(ctx, DEFAULT_LIMIT);
    let lookup = ctx.state.lookup();
    let mut entries: Vec<&WatchlistEntry> =
        ctx.state.library.watchlist.iter().filter(|e| kind.is_none_or(|k| e.kind == k)).collect();
    let key_cmp = |a: &&WatchlistEntry, b: &&WatchlistEntry| -> Ordering {
        match by {
            "added" => a.listed_at.cmp(&b.listed_at),
            "title" => lookup.sort_title(a.media()).cmp(&lookup.sort_title(b.media())),
            "released" => lookup.sort_year(a.media()).cmp(&lookup.sort_year(b.media())),
            _ => a.rank.cmp(&b.rank),
        }
    };
    entries.sort_by(|a, b| {
        let o = key_cmp(a, b);
        let o = if how == "desc" { o.reverse() } else { o };
        o.then(a.rank.cmp(&b.rank))
    });
    let (page, headers) = paging.apply(entries);
    let rows: Vec<Value> = page
        .into_iter()
        .map(|e| {
            let mut row = Map::new();
            row.insert("rank".into(), e.rank.into());
            row.insert("id".into(), e.id.into());
            row.insert("listed_at".into(), e.listed_at.to_trakt().into());
            row.insert("notes".into(), e.notes.clone().into());
            row.insert("type".into(), e.kind.singular().into());
            row.extend(lookup.media_objects(e.media()));
            Value::Object(row)
        })
        .collect();
    let mut reply = Reply::json(200, Value::Array(rows));
    reply.headers.extend(headers);
    reply
        .header("x-sort-by", "rank")
        .header("x-sort-how", "asc")
        .header("x-applied-sort-by", by)
        .header("x-applied-sort-how", how)
}

/// Per-type counters rendered as `{"movies": n, "shows": n, "seasons": n, "episodes": n}`.
#[derive(Default)]
struct Counts([u64; 4]);

impl Counts {
    fn bump(&mut self, t: MediaType) {
        self.0[t as usize] += 1;
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for t in MediaType::ALL {
            m.insert(t.plural().into(), self.0[t as usize].into());
        }
        Value::Object(m)
    }
}

fn list_json(state: &State) -> Value {
    let lib = &state.library;
    json!({
        "updated_at": lib.last_activities.get("watchlist", "updated_at").unwrap_or_default().to_trakt(),
        "item_count": lib.watchlist.len(),
    })
}

fn bad_body(e: impl std::fmt::Display) -> Reply {
    Reply::error(400, "bad_request", e.to_string())
}

/// Bumps `watchlist.updated_at` and `<type>.watchlisted_at` for the given types.
fn touch(state: &mut State, now: crate::timestamp::Timestamp, types: &HashSet<MediaType>) {
    let mut keys = vec![("watchlist", "updated_at")];
    for t in MediaType::ALL {
        if types.contains(&t) {
            keys.push((t.plural(), "watchlisted_at"));
        }
    }
    state.library.last_activities.bump(now, &keys);
}

/// `POST /sync/watchlist`.
fn add(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_body("request body must be a JSON object");
    };
    let resolution = match ctx.state.lookup().resolve_body(body) {
        Ok(r) => r,
        Err(e) => return bad_body(e),
    };
    let vip = ctx.state.library.user.vip;
    let mut present: HashSet<MediaRef> = ctx.state.library.watchlist.iter().map(WatchlistEntry::media).collect();
    let (mut added, mut existing) = (Counts::default(), Counts::default());
    let mut new_items: Vec<(MediaRef, Option<String>)> = Vec::new();
    for f in &resolution.found {
        if present.insert(f.media) {
            added.bump(f.media.kind);
            // Notes are a VIP feature; free accounts' notes are dropped.
            let notes = if vip {
                f.item.get("notes").and_then(Value::as_str).map(|n| n.chars().take(500).collect())
            } else {
                None
            };
            new_items.push((f.media, notes));
        } else {
            existing.bump(f.media.kind);
        }
    }

    let limit = ctx.state.library.limits.watchlist.item_count;
    let count = ctx.state.library.watchlist.len();
    if !new_items.is_empty() && (count + new_items.len()) as u64 > limit {
        return Reply::error(
            420,
            "account_limit_exceeded",
            format!("Watchlist limit of {limit} items exceeded: {count} listed, {} more requested", new_items.len()),
        )
        .header("x-upgrade-url", UPGRADE_URL)
        .header("x-vip-user", vip.to_string())
        .header("x-account-limit", limit.to_string());
    }

    if !new_items.is_empty() {
        let types: HashSet<MediaType> = new_items.iter().map(|(m, _)| m.kind).collect();
        touch(ctx.state, ctx.now, &types);
        for (media, notes) in new_items {
            let id = ctx.state.next_list_item_id;
            ctx.state.next_list_item_id += 1;
            let rank = ctx.state.library.watchlist.len() as u32 + 1;
            ctx.state.library.watchlist.push(WatchlistEntry {
                rank,
                id,
                listed_at: ctx.now,
                notes,
                kind: media.kind,
                trakt: media.trakt,
            });
        }
    }
    Reply::json(
        201,
        json!({
            "added": added.to_json(),
            "existing": existing.to_json(),
            "not_found": resolution.not_found.to_json(),
            "list": list_json(ctx.state),
        }),
    )
}

/// `POST /sync/watchlist/remove`. Catalogue media that are not on the watchlist are neither
/// counted nor reported in `not_found`.
fn remove(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_body("request body must be a JSON object");
    };
    let resolution = match ctx.state.lookup().resolve_body(body) {
        Ok(r) => r,
        Err(e) => return bad_body(e),
    };
    let targets: HashSet<MediaRef> = resolution.found.iter().map(|f| f.media).collect();
    let mut deleted = Counts::default();
    let mut types = HashSet::new();
    ctx.state.library.watchlist.retain(|e| {
        if targets.contains(&e.media()) {
            deleted.bump(e.kind);
            types.insert(e.kind);
            false
        } else {
            true
        }
    });
    if !types.is_empty() {
        for (i, e) in ctx.state.library.watchlist.iter_mut().enumerate() {
            e.rank = i as u32 + 1;
        }
        touch(ctx.state, ctx.now, &types);
    }
    Reply::json(
        200,
        json!({
            "deleted": deleted.to_json(),
            "not_found": resolution.not_found.to_json(),
            "list": list_json(ctx.state),
        }),
    )
}
