//! Seeds and dumps: [`Library::from_json`] parses a seed (or a dump, which is the same format),
//! [`Library::normalize`] completes and validates a library, and the seed's `accounts` entries are
//! parsed and checked here too. A dump fed back as a seed reproduces the same state.
//!
//! # Seed JSON
//!
//! Every top-level key is optional; unknown top-level keys are an error (typos should not be
//! silently ignored). A minimal seed with one movie and one show on the watchlist:
//!
//! ```json
//! {
//!   "auth":  { "client_id": "my-id", "access_token": "tok", "refresh_token": "ref" },
//!   "user":  { "username": "alice", "vip": false },
//!   "limits": { "watchlist": { "item_count": 250 } },
//!   "catalog": {
//!     "movies": [ { "title": "Batman Begins", "year": 2005,
//!                   "ids": { "trakt": 1, "slug": "batman-begins-2005", "imdb": "tt0372784", "tmdb": 272 } } ],
//!     "shows":  [ { "title": "Breaking Bad", "year": 2008,
//!                   "ids": { "trakt": 1, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396 },
//!                   "seasons": [ { "number": 1, "ids": { "trakt": 3950, "tvdb": 30272, "tmdb": 3572 },
//!                                  "episodes": [ { "number": 1, "title": "Pilot",
//!                                                  "ids": { "trakt": 16, "tvdb": 349232, "imdb": "tt0959621", "tmdb": 62085 } } ] } ] } ]
//!   },
//!   "watchlist": [
//!     { "type": "movie", "trakt": 1 },
//!     { "type": "episode", "trakt": 16, "rank": 2, "id": 102, "listed_at": "2026-04-01T09:10:00.000Z", "notes": null }
//!   ],
//!   "ratings": [ { "type": "movie", "trakt": 1, "rating": 9, "rated_at": "2026-04-30T19:02:00.000Z" } ],
//!   "history": [ { "id": 5000000001, "type": "episode", "trakt": 16,
//!                  "watched_at": "2026-05-02T01:30:00.000Z", "action": "watch" } ],
//!   "collection": [ { "type": "movie", "trakt": 1, "collected_at": "2026-01-05T10:00:00.000Z",
//!                     "media_type": "bluray", "resolution": "hd_1080p", "audio": "dts_ma",
//!                     "audio_channels": "5.1", "3d": false } ],
//!   "last_activities": { "watchlist": { "updated_at": "2026-04-01T09:10:00.000Z" } }
//! }
//! ```
//!
//! * `auth`: the app's `client_id`/`client_secret` and the user's current `access_token`/
//!   `refresh_token` (defaults `emulator-client-id`, `emulator-client-secret`,
//!   `emulator-access-token`, `emulator-refresh-token`). `expires_at` (Unix seconds) is optional:
//!   when absent the access token expires `access_token_ttl_secs` after the emulator starts; put a
//!   past value there to start with an expired token. `revoked: true` marks both tokens revoked.
//! * `user`: `username`, `name`, `vip`, `private`, `joined_at` (as in `GET /users/settings`).
//! * `limits`: the `limits` object of `GET /users/settings` (`list`, `watchlist`, `favorites`,
//!   `recommendations`); keys left out take the 2026 defaults for the user's VIP status
//!   (watchlist 250 free / 5,000 VIP). `limits.watchlist.item_count` is enforced on
//!   `POST /sync/watchlist` (420). Three more limits live here but are not served by
//!   `/users/settings` (Trakt does not document them there): `ratings.item_count` (10,000 free /
//!   20,000 VIP), `collection.item_count` (movies + episodes; 1,000 free / 100,000 VIP) and
//!   `history.item_count` (plays; 100,000), enforced with 420 on their POSTs.
//! * `catalog`: everything Trakt "knows". Writes naming media outside the catalogue answer
//!   `not_found`. Trakt ids are unique per type (a movie and a show may both have trakt id 1);
//!   `slug` defaults to a slug of title and year; other ids are optional (`null`).
//!   Shows carry `seasons` (season `0` = specials), seasons carry `episodes`; season and episode
//!   `number`s must be unique within their parent. Optional, for `watched_at: "released"`:
//!   movies `released` (`YYYY-MM-DD`) and `runtime` (minutes), episodes `first_aired`
//!   (date-time) and `runtime`.
//! * `watchlist`: entries reference catalogue media by `type` (`movie|show|season|episode`) and
//!   that type's `trakt` id. `rank` (1-based order), `id` (list item id), `listed_at` and `notes`
//!   are optional in a seed: missing ranks follow the entries' order, missing ids are numbered
//!   after the largest given id, missing `listed_at` is the load time. Ranks are renumbered
//!   1..n in rank order when loaded.
//! * `ratings`: `type` (any of the four) + `trakt`, `rating` 1..=10, `rated_at` (default: load
//!   time). One rating per item. Kept (and dumped) newest `rated_at` first.
//! * `history`: plays of a `movie` or an `episode` (`type` + `trakt`); `id` (history id, 64-bit;
//!   missing ids are numbered after the largest given id and at least above 5,000,000,000),
//!   `watched_at` (default: load time; truncated to the minute), `action` (`watch` default,
//!   `scrobble`, `checkin`). Ids must be unique; several plays of one item are fine. Kept (and
//!   dumped) newest `watched_at` first, ties higher id first.
//! * `collection`: collected `movie`s and `episode`s (`type` + `trakt`, once each),
//!   `collected_at` (default: load time), `updated_at` (default: `collected_at`) and the
//!   optional metadata keys `media_type`, `resolution`, `hdr`, `audio`, `audio_channels` (strings)
//!   and `3d` (boolean). Kept in insertion order.
//! * `last_activities`: the `GET /sync/last_activities` object; missing timestamps are the load
//!   time, `all` is always recomputed as the latest of all of them.
//! * `accounts`: further Trakt users on the same origin, an array of objects shaped like this one
//!   (every key above; no nested `accounts`); an entry without `catalog` gets the top-level one.
//!   Usernames, access tokens and refresh tokens must differ between accounts. See
//!   `server::accounts` for which account serves a request.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::catalog::{date_start, CatalogIndex};
use crate::library::{
    slugify, Auth, Episode, EpisodeIds, Library, Limits, MediaType, Movie, MovieIds, Season, SeasonIds, Show, ShowIds,
    User, HISTORY_ID_BASE, LIBRARY_KEYS,
};
use crate::timestamp::Timestamp;

/// Checks one element of a nested array and names it by path in its error.
type ChildCheck<'f> = &'f dyn Fn(&Value, &str) -> Result<(), String>;

fn parse_at<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("{path}: {e}"))
}

/// Deserializes `value` as `T`; on failure, tries to blame a more specific child first: the
/// `ids` object (as `I`) and then each element of the array field `children` (via `child`).
fn parse_media<T: DeserializeOwned, I: DeserializeOwned>(
    value: &Value,
    path: &str,
    children: Option<(&str, ChildCheck<'_>)>,
) -> Result<T, String> {
    match serde_json::from_value::<T>(value.clone()) {
        Ok(v) => Ok(v),
        Err(e) => {
            if let Some(ids) = value.get("ids") {
                parse_at::<I>(ids, &format!("{path}.ids"))?;
            }
            if let Some((key, check)) = children {
                if let Some(items) = value.get(key).and_then(Value::as_array) {
                    for (i, item) in items.iter().enumerate() {
                        check(item, &format!("{path}.{key}[{i}]"))?;
                    }
                }
            }
            Err(format!("{path}: {e}"))
        }
    }
}

fn array_at<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a [Value], String> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("{path}: expected an array, found {}", json_kind(other))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deep-merges `patch` into `base` (objects key by key; anything else replaces).
fn merge_json(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge_json(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

impl Library {
    /// Parses a seed (or a dump) and normalizes it (see the module docs). Errors name the bad
    /// field, e.g. `catalog.shows[0].seasons[1].episodes[2].ids: missing field `trakt``.
    pub fn from_json(text: &str) -> Result<Library, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("seed is not valid JSON: {e}"))?;
        let obj =
            root.as_object().ok_or_else(|| format!("seed: expected a JSON object, found {}", json_kind(&root)))?;
        for key in obj.keys() {
            if !LIBRARY_KEYS.contains(&key.as_str()) {
                return Err(format!("unknown top-level field `{key}` (expected one of: {})", LIBRARY_KEYS.join(", ")));
            }
        }
        let present = |k: &str| obj.get(k).filter(|v| !v.is_null());
        let mut lib = Library::default();
        if let Some(v) = present("auth") {
            lib.auth = parse_at(v, "auth")?;
        }
        if let Some(v) = present("user") {
            lib.user = parse_at(v, "user")?;
        }
        let mut limits = serde_json::to_value(Limits::for_vip(lib.user.vip)).expect("limits serialize");
        if let Some(v) = present("limits") {
            if !v.is_object() {
                return Err(format!("limits: expected an object, found {}", json_kind(v)));
            }
            merge_json(&mut limits, v);
        }
        lib.limits = parse_at(&limits, "limits")?;

        if let Some(cat) = present("catalog") {
            if !cat.is_object() {
                return Err(format!("catalog: expected an object, found {}", json_kind(cat)));
            }
            for (i, m) in array_at(cat.get("movies"), "catalog.movies")?.iter().enumerate() {
                lib.catalog.movies.push(parse_media::<Movie, MovieIds>(m, &format!("catalog.movies[{i}]"), None)?);
            }
            let check_episode = |v: &Value, path: &str| parse_media::<Episode, EpisodeIds>(v, path, None).map(|_| ());
            let check_season = |v: &Value, path: &str| {
                parse_media::<Season, SeasonIds>(v, path, Some(("episodes", &check_episode))).map(|_| ())
            };
            for (i, s) in array_at(cat.get("shows"), "catalog.shows")?.iter().enumerate() {
                let path = format!("catalog.shows[{i}]");
                lib.catalog.shows.push(parse_media::<Show, ShowIds>(s, &path, Some(("seasons", &check_season)))?);
            }
        }

        // Watchlist: fill optional fields in JSON, then parse strictly.
        let entries = array_at(obj.get("watchlist"), "watchlist")?;
        let now = Timestamp::now();
        let mut max_id = entries.iter().filter_map(|e| e.get("id").and_then(Value::as_u64)).max().unwrap_or(0);
        let mut max_rank = entries.iter().filter_map(|e| e.get("rank").and_then(Value::as_u64)).max().unwrap_or(0);
        for (i, e) in entries.iter().enumerate() {
            let path = format!("watchlist[{i}]");
            let kind = json_kind(e);
            let mut e = e.clone();
            let map = e.as_object_mut().ok_or_else(|| format!("{path}: expected an object, found {kind}"))?;
            if map.get("rank").is_none_or(Value::is_null) {
                max_rank += 1;
                map.insert("rank".into(), max_rank.into());
            }
            if map.get("id").is_none_or(Value::is_null) {
                max_id += 1;
                map.insert("id".into(), max_id.into());
            }
            if map.get("listed_at").is_none_or(Value::is_null) {
                map.insert("listed_at".into(), now.to_trakt().into());
            }
            lib.watchlist.push(parse_at(&e, &path)?);
        }

        // Ratings, history, collection: fill optional fields, then parse strictly.
        let fill = |key: &str, defaults: &[(&str, Value)]| -> Result<Vec<Value>, String> {
            array_at(obj.get(key), key)?
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let kind = json_kind(e);
                    let mut e = e.clone();
                    let map =
                        e.as_object_mut().ok_or_else(|| format!("{key}[{i}]: expected an object, found {kind}"))?;
                    for (k, v) in defaults {
                        if map.get(*k).is_none_or(Value::is_null) {
                            map.insert((*k).into(), v.clone());
                        }
                    }
                    Ok(e)
                })
                .collect()
        };
        let now_json = Value::from(now.to_trakt());
        for (i, e) in fill("ratings", &[("rated_at", now_json.clone())])?.iter().enumerate() {
            lib.ratings.push(parse_at(e, &format!("ratings[{i}]"))?);
        }
        for (i, e) in fill("history", &[("id", 0.into()), ("watched_at", now_json.clone())])?.iter().enumerate() {
            lib.history.push(parse_at(e, &format!("history[{i}]"))?);
        }
        for (i, mut e) in fill("collection", &[("collected_at", now_json)])?.into_iter().enumerate() {
            if e.get("updated_at").is_none_or(Value::is_null) {
                e["updated_at"] = e["collected_at"].clone();
            }
            lib.collection.push(parse_at(&e, &format!("collection[{i}]"))?);
        }

        if let Some(v) = present("last_activities") {
            lib.last_activities = parse_at(v, "last_activities")?;
        }
        lib.normalize(now)?;
        if let Some(v) = present("accounts") {
            lib.accounts = parse_accounts(v, present("catalog"))?;
            check_distinct(&lib, &lib.accounts)?;
        }
        Ok(lib)
    }

    /// Completes and checks the library: derives missing slugs, orders the watchlist by rank and
    /// renumbers it 1..n, gives entries without an id (0) a fresh one, fills missing
    /// `last_activities` with `now`, and verifies that ids are unique and every watchlist entry
    /// references catalogue media (once).
    pub fn normalize(&mut self, now: Timestamp) -> Result<(), String> {
        for m in &mut self.catalog.movies {
            if let Some(d) = &m.released {
                date_start(d).map_err(|e| format!("catalog: movie {}: released: {e}", m.ids.trakt))?;
            }
            if m.ids.slug.is_empty() {
                m.ids.slug = match m.year {
                    Some(y) => slugify(&format!("{} {y}", m.title)),
                    None => slugify(&m.title),
                };
            }
        }
        for s in &mut self.catalog.shows {
            if s.ids.slug.is_empty() {
                s.ids.slug = slugify(&s.title);
            }
        }
        let index = CatalogIndex::build(&self.catalog)?;

        // Stable sort keeps the given order among equal ranks.
        self.watchlist.sort_by_key(|e| e.rank);
        let mut max_id = self.watchlist.iter().map(|e| e.id).max().unwrap_or(0);
        let mut seen_ids = HashSet::new();
        let mut seen_media = HashSet::new();
        for (i, e) in self.watchlist.iter_mut().enumerate() {
            e.rank = (i + 1) as u32;
            if e.id == 0 {
                max_id += 1;
                e.id = max_id;
            }
            if !seen_ids.insert(e.id) {
                return Err(format!("watchlist: list item id {} is used twice", e.id));
            }
            if !index.contains(e.media()) {
                return Err(format!(
                    "watchlist: {} with trakt id {} is not in the catalogue",
                    e.kind.singular(),
                    e.trakt
                ));
            }
            if !seen_media.insert(e.media()) {
                return Err(format!("watchlist: {} with trakt id {} is listed twice", e.kind.singular(), e.trakt));
            }
        }
        self.normalize_ratings(&index)?;
        self.normalize_history(&index)?;
        self.normalize_collection(&index)?;
        self.last_activities.fill_missing(now);
        Ok(())
    }

    fn normalize_ratings(&mut self, index: &CatalogIndex) -> Result<(), String> {
        let mut seen = HashSet::new();
        for r in &self.ratings {
            let what = format!("ratings: {} with trakt id {}", r.kind.singular(), r.trakt);
            if !index.contains(r.media()) {
                return Err(format!("{what} is not in the catalogue"));
            }
            if !(1..=10).contains(&r.rating) {
                return Err(format!("{what}: rating {} is not in 1..=10", r.rating));
            }
            if !seen.insert(r.media()) {
                return Err(format!("{what} is rated twice"));
            }
        }
        self.sort_ratings();
        Ok(())
    }

    fn normalize_history(&mut self, index: &CatalogIndex) -> Result<(), String> {
        let mut max_id = self.history.iter().map(|p| p.id).max().unwrap_or(0).max(HISTORY_ID_BASE);
        let mut seen = HashSet::with_capacity(self.history.len());
        for p in &mut self.history {
            if !matches!(p.kind, MediaType::Movie | MediaType::Episode) {
                return Err(format!("history: a play must be of a movie or an episode, not a {}", p.kind.singular()));
            }
            if !index.contains(p.media()) {
                return Err(format!(
                    "history: {} with trakt id {} is not in the catalogue",
                    p.kind.singular(),
                    p.trakt
                ));
            }
            if p.id == 0 {
                max_id += 1;
                p.id = max_id;
            }
            if !seen.insert(p.id) {
                return Err(format!("history: history id {} is used twice", p.id));
            }
            p.watched_at = p.watched_at.floor_minute();
        }
        self.sort_history();
        Ok(())
    }

    fn normalize_collection(&mut self, index: &CatalogIndex) -> Result<(), String> {
        let mut seen = HashSet::new();
        for c in &self.collection {
            let what = format!("collection: {} with trakt id {}", c.kind.singular(), c.trakt);
            if !matches!(c.kind, MediaType::Movie | MediaType::Episode) {
                return Err(format!("collection: an entry must be a movie or an episode, not a {}", c.kind.singular()));
            }
            if !index.contains(c.media()) {
                return Err(format!("{what} is not in the catalogue"));
            }
            if !seen.insert(c.media()) {
                return Err(format!("{what} is collected twice"));
            }
        }
        Ok(())
    }
}

/// The seed's `accounts` value (`catalog`: the primary's, for entries without one). Errors name
/// the entry and the field: `accounts[1].auth.access_token: invalid type: ...`.
pub(crate) fn parse_accounts(value: &Value, catalog: Option<&Value>) -> Result<Vec<Library>, String> {
    let Value::Array(entries) = value else {
        return Err(format!("accounts: expected an array of accounts, found {}", json_kind(value)));
    };
    entries.iter().enumerate().map(|(i, entry)| parse_entry(&format!("accounts[{i}]"), entry, catalog)).collect()
}

fn parse_entry(at: &str, entry: &Value, catalog: Option<&Value>) -> Result<Library, String> {
    let obj = entry
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object (auth, user, watchlist, ...), found {}", json_kind(entry)))?;
    let mut fields = Map::new();
    for (key, v) in obj {
        if key == "accounts" {
            if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            return Err(format!("{at}.accounts: accounts cannot be nested"));
        }
        if !LIBRARY_KEYS.contains(&key.as_str()) {
            let expected: Vec<&str> = LIBRARY_KEYS.iter().copied().filter(|k| *k != "accounts").collect();
            return Err(format!("{at}: unknown field `{key}` (expected one of: {})", expected.join(", ")));
        }
        fields.insert(key.clone(), v.clone());
    }
    if let Some(v) = fields.get("auth") {
        blame_field::<Auth>(v, &format!("{at}.auth"))?;
    }
    if let Some(v) = fields.get("user") {
        blame_field::<User>(v, &format!("{at}.user"))?;
    }
    if fields.get("catalog").is_none_or(Value::is_null) {
        if let Some(c) = catalog {
            fields.insert("catalog".into(), c.clone());
        }
    }
    Library::from_json(&Value::Object(fields).to_string()).map_err(|e| format!("{at}.{e}"))
}

/// When the object `value` does not parse as `T` (a struct whose fields all have defaults),
/// names the first field that does not parse on its own: `{path}.{field}: {error}`.
fn blame_field<T: DeserializeOwned>(value: &Value, path: &str) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Ok(()); // Library::from_json names the object.
    };
    if serde_json::from_value::<T>(value.clone()).is_ok() {
        return Ok(());
    }
    for (k, v) in obj {
        let one = Value::Object(Map::from_iter([(k.clone(), v.clone())]));
        if let Err(e) = serde_json::from_value::<T>(one) {
            return Err(format!("{path}.{k}: {e}"));
        }
    }
    Ok(())
}

/// Completes the further accounts of `primary` for a start: each without a catalogue gets the
/// primary's, is normalized, and gets `expires_at` (`default_expires_at`) when it has none.
/// Then [`check_distinct`].
pub(crate) fn prepare_accounts(
    primary: &Library,
    accounts: &mut [Library],
    now: Timestamp,
    default_expires_at: i64,
) -> Result<(), String> {
    for (i, a) in accounts.iter_mut().enumerate() {
        let at = format!("accounts[{i}]");
        if !a.accounts.is_empty() {
            return Err(format!("{at}.accounts: accounts cannot be nested"));
        }
        if a.catalog.movies.is_empty() && a.catalog.shows.is_empty() {
            a.catalog = primary.catalog.clone();
        }
        a.normalize(now).map_err(|e| format!("{at}.{e}"))?;
        a.auth.expires_at.get_or_insert(default_expires_at);
    }
    check_distinct(primary, accounts)
}

/// Every account needs its own (non-empty) username, access token and refresh token.
pub(crate) fn check_distinct(primary: &Library, accounts: &[Library]) -> Result<(), String> {
    let name = |i: Option<usize>| match i {
        None => "the primary account".to_string(),
        Some(j) => format!("accounts[{j}]"),
    };
    let all: Vec<(Option<usize>, &Library)> =
        std::iter::once((None, primary)).chain(accounts.iter().enumerate().map(|(i, a)| (Some(i), a))).collect();
    for (n, (i, a)) in all.iter().enumerate().skip(1) {
        let at = name(*i);
        if a.user.username.is_empty() {
            return Err(format!("{at}.user.username: must not be empty"));
        }
        for (j, b) in &all[..n] {
            let clash = |what: &str, field: &str| {
                Err(format!("{at}.{field}: the same {what} as {} (every account needs its own)", name(*j)))
            };
            if a.user.username == b.user.username {
                return clash(&format!("username {:?}", a.user.username), "user.username");
            }
            if a.auth.access_token == b.auth.access_token {
                return clash("access token", "auth.access_token");
            }
            if a.auth.refresh_token == b.auth.refresh_token {
                return clash("refresh token", "auth.refresh_token");
            }
        }
    }
    Ok(())
}
