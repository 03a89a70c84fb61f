//! The collection (the "library" on trakt.tv): `GET /sync/collection/{movies|shows}`,
//! `POST /sync/collection` and `POST /sync/collection/remove`.
//!
//! * Add: movies and episodes; a show without `seasons` = all its episodes (specials
//!   included), a season = its episodes. `collected_at` and the metadata keys (`media_type`,
//!   `resolution`, `hdr`, `audio`, `audio_channels`, `3d`) on an object apply to everything below
//!   it unless overridden. `collected_at` is a date-time or `"released"` (the item's release, see
//!   `Lookup::release`); any other value makes the whole request `400`. A new item is `added`
//!   (`collected_at` default now). An item already collected is `updated` when the request
//!   changes its `collected_at` or a metadata value it names (the values given overwrite, those
//!   not given are kept; `updated_at` = now), else `existing`. New items beyond
//!   `limits.collection.item_count` (movies + episodes) make the whole request `420`.
//! * Remove: the same scopes; `deleted` counts removed movies/episodes; items not collected are
//!   neither counted nor in `not_found`.
//! * Reads (paginated, default 100, clamp 1..=250): movies `{collected_at, updated_at, movie}`,
//!   newest `collected_at` first (ties: trakt id); shows `{last_collected_at, last_updated_at,
//!   show, seasons: [{number, episodes: [{number, collected_at}]}]}`, newest
//!   `last_collected_at` first. `?extended=metadata` adds `metadata` to movies and episodes.
//!   Other types are `404`. Reads sort per request (O(n log n)).
//! * last_activities: `movies.collected_at` / `episodes.collected_at` move when items of that
//!   type are added, updated or removed.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use super::common::{account_limit, bad_request, parse_when, Counts, When};
use crate::catalog::{movie_json, show_json};
use crate::library::{CollectionEntry, CollectionMetadata, MediaRef, MediaType};
use crate::paging::{paged, Paging, DEFAULT_LIMIT};
use crate::resolve::Found;
use crate::route::{Access, Ctx, Reply, RouteDef};
use crate::timestamp::Timestamp;

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::new("GET", "/sync/collection/:type", Access::User, get),
        RouteDef::new("POST", "/sync/collection", Access::User, add),
        RouteDef::new("POST", "/sync/collection/remove", Access::User, remove),
    ]
}

fn metadata_json(m: &CollectionMetadata) -> Value {
    json!({
        "media_type": m.media_type, "resolution": m.resolution, "hdr": m.hdr,
        "audio": m.audio, "audio_channels": m.audio_channels, "3d": m.three_d.unwrap_or(false),
    })
}

fn get(ctx: &mut Ctx<'_>) -> Reply {
    let kind = ctx.param("type").unwrap_or_default().to_string();
    let with_meta = ctx.query("extended").is_some_and(|e| e.split(',').any(|x| x.trim() == "metadata"));
    let paging = Paging::from_query(ctx, DEFAULT_LIMIT);
    let state = &*ctx.state;
    let lookup = state.lookup();
    let entries = &state.library.collection;
    match kind.as_str() {
        "movies" => {
            let mut movies: Vec<&CollectionEntry> = entries.iter().filter(|e| e.kind == MediaType::Movie).collect();
            movies.sort_by_key(|e| (std::cmp::Reverse(e.collected_at), e.trakt));
            paged(paging, movies.len(), |range| {
                movies[range]
                    .iter()
                    .map(|e| {
                        let mut row = Map::new();
                        row.insert("collected_at".into(), e.collected_at.to_trakt().into());
                        row.insert("updated_at".into(), e.updated_at.to_trakt().into());
                        if let Some(m) = lookup.movie(e.trakt) {
                            row.insert("movie".into(), movie_json(m));
                        }
                        if with_meta {
                            row.insert("metadata".into(), metadata_json(&e.metadata));
                        }
                        Value::Object(row)
                    })
                    .collect()
            })
        }
        "shows" => {
            // show trakt id -> (last collected, last updated, [(season, episode, entry)])
            type Group<'e> = (Timestamp, Timestamp, Vec<(u32, u32, &'e CollectionEntry)>);
            let mut shows: BTreeMap<u64, Group<'_>> = BTreeMap::new();
            for e in entries.iter().filter(|e| e.kind == MediaType::Episode) {
                let Some((show, season, ep)) = lookup.episode(e.trakt) else {
                    continue;
                };
                let g = shows.entry(show.ids.trakt).or_insert((Timestamp(i64::MIN), Timestamp(i64::MIN), Vec::new()));
                g.0 = g.0.max(e.collected_at);
                g.1 = g.1.max(e.updated_at);
                g.2.push((season.number, ep.number, e));
            }
            let mut shows: Vec<(u64, Group<'_>)> = shows.into_iter().collect();
            shows.sort_by_key(|(t, g)| (std::cmp::Reverse(g.0), *t));
            paged(paging, shows.len(), |range| {
                shows[range]
                    .iter_mut()
                    .map(|(trakt, (last_collected, last_updated, eps))| {
                        eps.sort_by_key(|(s, e, _)| (*s, *e));
                        let mut seasons: Vec<Value> = Vec::new();
                        let mut current: Option<(u32, Vec<Value>)> = None;
                        for (s, n, e) in eps.iter() {
                            if current.as_ref().is_some_and(|(cs, _)| cs != s) {
                                let (cs, list) = current.take().unwrap_or_default();
                                seasons.push(json!({ "number": cs, "episodes": list }));
                            }
                            let mut ep = Map::new();
                            ep.insert("number".into(), (*n).into());
                            ep.insert("collected_at".into(), e.collected_at.to_trakt().into());
                            if with_meta {
                                ep.insert("metadata".into(), metadata_json(&e.metadata));
                            }
                            current.get_or_insert_with(|| (*s, Vec::new())).1.push(Value::Object(ep));
                        }
                        if let Some((cs, list)) = current {
                            seasons.push(json!({ "number": cs, "episodes": list }));
                        }
                        let mut row = Map::new();
                        row.insert("last_collected_at".into(), last_collected.to_trakt().into());
                        row.insert("last_updated_at".into(), last_updated.to_trakt().into());
                        if let Some(s) = lookup.show(*trakt) {
                            row.insert("show".into(), show_json(s));
                        }
                        row.insert("seasons".into(), Value::Array(seasons));
                        Value::Object(row)
                    })
                    .collect()
            })
        }
        other => Reply::error(404, "not_found", format!("unknown collection type {other:?} (movies or shows)")),
    }
}

/// The metadata values an object (or its enclosing objects) names.
fn metadata_patch(f: &Found<'_>) -> CollectionMetadata {
    let text = |key: &str| {
        f.inherited(key).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    CollectionMetadata {
        media_type: text("media_type"),
        resolution: text("resolution"),
        hdr: text("hdr"),
        audio: text("audio"),
        audio_channels: text("audio_channels"),
        three_d: f.inherited("3d").and_then(|v| match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => Some(n.as_f64().is_some_and(|x| x != 0.0)),
            _ => None,
        }),
    }
}

/// Overwrites the values `patch` names.
fn apply_patch(m: &mut CollectionMetadata, patch: &CollectionMetadata) {
    fn set<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
        if let Some(v) = src {
            *dst = Some(v.clone());
        }
    }
    set(&mut m.media_type, &patch.media_type);
    set(&mut m.resolution, &patch.resolution);
    set(&mut m.hdr, &patch.hdr);
    set(&mut m.audio, &patch.audio);
    set(&mut m.audio_channels, &patch.audio_channels);
    set(&mut m.three_d, &patch.three_d);
}

fn touch(ctx: &mut Ctx<'_>, changed: &HashSet<MediaType>) {
    let keys: Vec<(&str, &str)> = [MediaType::Movie, MediaType::Episode]
        .into_iter()
        .filter(|t| changed.contains(t))
        .map(|t| (t.plural(), "collected_at"))
        .collect();
    if !keys.is_empty() {
        ctx.state.library.last_activities.bump(ctx.now, &keys);
    }
}

/// `POST /sync/collection`.
fn add(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_request("request body must be a JSON object");
    };
    let now = ctx.now;
    let (ops, not_found) = {
        let lookup = ctx.state.lookup();
        let resolution = match lookup.resolve_body(body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let mut ops: Vec<(MediaRef, Option<Timestamp>, CollectionMetadata)> = Vec::new();
        for f in &resolution.found {
            let when = match parse_when(f.inherited("collected_at"), "collected_at", &["released"]) {
                Ok(w) => w,
                Err(e) => return bad_request(e),
            };
            let patch = metadata_patch(f);
            for m in lookup.expand(f.media) {
                let at = match when {
                    When::At(t) => Some(t),
                    When::Released => Some(lookup.release(m).0),
                    When::Now | When::Unknown => None,
                };
                ops.push((m, at, patch.clone()));
            }
        }
        (ops, resolution.not_found)
    };

    let state = &mut *ctx.state;
    let new: HashSet<MediaRef> =
        ops.iter().map(|(m, _, _)| *m).filter(|m| !state.user.collection_pos.contains_key(m)).collect();
    let limit = state.library.limits.collection.item_count;
    let count = state.library.collection.len();
    if !new.is_empty() && (count + new.len()) as u64 > limit {
        return account_limit(state.library.user.vip, "Collection", limit, count, new.len());
    }

    let (mut added, mut updated, mut existing) = (Counts::default(), Counts::default(), Counts::default());
    let mut changed = HashSet::new();
    for (media, at, patch) in ops {
        match state.user.collection_pos.get(&media) {
            Some(&i) => {
                let entry = &mut state.library.collection[i];
                let mut next = entry.clone();
                if let Some(t) = at {
                    next.collected_at = t;
                }
                apply_patch(&mut next.metadata, &patch);
                if next != *entry {
                    next.updated_at = now;
                    *entry = next;
                    updated.bump(media.kind);
                    changed.insert(media.kind);
                } else {
                    existing.bump(media.kind);
                }
            }
            None => {
                state.library.collection.push(CollectionEntry {
                    kind: media.kind,
                    trakt: media.trakt,
                    collected_at: at.unwrap_or(now),
                    updated_at: now,
                    metadata: patch,
                });
                state.user.collection_pos.insert(media, state.library.collection.len() - 1);
                added.bump(media.kind);
                changed.insert(media.kind);
            }
        }
    }
    touch(ctx, &changed);
    Reply::json(
        201,
        json!({
            "added": added.me_json(),
            "updated": updated.me_json(),
            "existing": existing.me_json(),
            "not_found": not_found.to_json(),
        }),
    )
}

/// `POST /sync/collection/remove`.
fn remove(ctx: &mut Ctx<'_>) -> Reply {
    let Some(body) = ctx.body else {
        return bad_request("request body must be a JSON object");
    };
    let (targets, not_found) = {
        let lookup = ctx.state.lookup();
        match lookup.resolve_body(body) {
            Ok(r) => (r.found.iter().flat_map(|f| lookup.expand(f.media)).collect::<HashSet<_>>(), r.not_found),
            Err(e) => return bad_request(e),
        }
    };
    let mut deleted = Counts::default();
    let mut changed = HashSet::new();
    ctx.state.library.collection.retain(|e| {
        if targets.contains(&e.media()) {
            deleted.bump(e.kind);
            changed.insert(e.kind);
            false
        } else {
            true
        }
    });
    if !changed.is_empty() {
        ctx.state.user.rebuild_collection(&ctx.state.library);
        touch(ctx, &changed);
    }
    Reply::json(200, json!({ "deleted": deleted.me_json(), "not_found": not_found.to_json() }))
}
