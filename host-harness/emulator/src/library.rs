//! The emulator's data: one Trakt user with their credentials, settings, a media catalogue and the
//! user's lists. [`Library`] is both the seed format (`EmulatorConfig::seed`, [`Library::from_json`])
//! and the dump format (`Emulator::dump`, `GET /_emulator/state`): a dump fed back as a seed
//! reproduces the same state.
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
//!   Usernames, access tokens and refresh tokens must differ between accounts. See `accounts`.

use std::collections::{BTreeMap, HashSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::activities::LastActivities;
use super::catalog::CatalogIndex;
use super::timestamp::Timestamp;

/// The complete emulator state. See the [module documentation](self) for the JSON shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Library {
    /// App and token credentials.
    pub auth: Auth,
    /// The account behind the token.
    pub user: User,
    /// Account limits as returned by `GET /users/settings`.
    pub limits: Limits,
    /// Known movies and shows (with seasons and episodes).
    pub catalog: Catalog,
    /// The user's watchlist, ordered by `rank`.
    pub watchlist: Vec<WatchlistEntry>,
    /// The user's ratings, newest `rated_at` first (ties: type, then trakt id).
    pub ratings: Vec<Rating>,
    /// Watched history (plays), newest `watched_at` first (ties: higher history id first).
    pub history: Vec<Play>,
    /// The collection ("library"): collected movies and episodes, in the order they were added.
    pub collection: Vec<CollectionEntry>,
    /// `GET /sync/last_activities` timestamps.
    pub last_activities: LastActivities,
    /// Further Trakt accounts on the same emulator, each Library-shaped (see `accounts`); their
    /// own `accounts` must be empty. Always dumped (`[]` for one account).
    pub accounts: Vec<Library>,
}

/// Top-level keys of the seed JSON.
pub const LIBRARY_KEYS: &[&str] = &[
    "auth",
    "user",
    "limits",
    "catalog",
    "watchlist",
    "ratings",
    "history",
    "collection",
    "last_activities",
    "accounts",
];

/// History ids the emulator hands out are above this (and above every seeded id), so they need
/// more than 32 bits: a client that truncates them to `i32`/`u32` breaks visibly.
pub const HISTORY_ID_BASE: u64 = 5_000_000_000;

/// The app's OAuth client and the user's tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Auth {
    pub client_id: String,
    pub client_secret: String,
    /// The only access token the API accepts (until it expires or is rotated).
    pub access_token: String,
    /// The only refresh token `/oauth/token` accepts; single use.
    pub refresh_token: String,
    /// Unix seconds at which `access_token` expires. `None` in a seed: start time + TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Set by `POST /oauth/revoke`: neither token is accepted any more.
    #[serde(skip_serializing_if = "is_false")]
    pub revoked: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for Auth {
    fn default() -> Auth {
        Auth {
            client_id: "emulator-client-id".into(),
            client_secret: "emulator-client-secret".into(),
            access_token: "emulator-access-token".into(),
            refresh_token: "emulator-refresh-token".into(),
            expires_at: None,
            revoked: false,
        }
    }
}

/// The user as shown in `GET /users/settings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    pub username: String,
    pub name: Option<String>,
    pub vip: bool,
    pub private: bool,
    pub joined_at: Timestamp,
}

impl Default for User {
    fn default() -> User {
        User {
            username: "emulator".into(),
            name: Some("Trakt Emulator".into()),
            vip: false,
            private: false,
            joined_at: Timestamp(1_577_836_800), // 2020-01-01T00:00:00Z
        }
    }
}

/// `limits` of `GET /users/settings`, plus the 2026 account limits Trakt does not put there
/// (`ratings`, `collection`, `history`: seed/dump only, enforced with `420`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub list: ListLimits,
    pub watchlist: ItemCount,
    pub favorites: ItemCount,
    pub recommendations: ItemCount,
    /// Ratings per user (10,000 free / 20,000 VIP).
    #[serde(default = "free_ratings")]
    pub ratings: ItemCount,
    /// Collection ("library") items, movies + episodes (1,000 free / 100,000 VIP).
    #[serde(default = "free_collection")]
    pub collection: ItemCount,
    /// Watched-history plays (100,000 for everyone).
    #[serde(default = "all_history")]
    pub history: ItemCount,
}

fn free_ratings() -> ItemCount {
    ItemCount { item_count: 10_000 }
}

fn free_collection() -> ItemCount {
    ItemCount { item_count: 1_000 }
}

fn all_history() -> ItemCount {
    ItemCount {
        item_count: 100_000,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListLimits {
    pub count: u64,
    pub item_count: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCount {
    pub item_count: u64,
}

impl Limits {
    /// Trakt's 2026 limits ("Updating Trakt limits for 2026") for a free or a VIP account.
    pub fn for_vip(vip: bool) -> Limits {
        if vip {
            Limits {
                list: ListLimits {
                    count: 100,
                    item_count: 5000,
                },
                watchlist: ItemCount { item_count: 5000 },
                favorites: ItemCount { item_count: 50 },
                recommendations: ItemCount { item_count: 50 },
                ratings: ItemCount { item_count: 20_000 },
                collection: ItemCount {
                    item_count: 100_000,
                },
                history: all_history(),
            }
        } else {
            Limits {
                list: ListLimits {
                    count: 5,
                    item_count: 250,
                },
                watchlist: ItemCount { item_count: 250 },
                favorites: ItemCount { item_count: 50 },
                recommendations: ItemCount { item_count: 50 },
                ratings: free_ratings(),
                collection: free_collection(),
                history: all_history(),
            }
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::for_vip(false)
    }
}

/// Media Trakt knows about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Catalog {
    pub movies: Vec<Movie>,
    pub shows: Vec<Show>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movie {
    pub title: String,
    #[serde(default)]
    pub year: Option<i32>,
    pub ids: MovieIds,
    /// Release date `YYYY-MM-DD` (used for `watched_at: "released"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    /// Minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovieIds {
    pub trakt: u64,
    /// Empty in a seed: derived from title and year.
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub imdb: Option<String>,
    #[serde(default)]
    pub tmdb: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Show {
    pub title: String,
    #[serde(default)]
    pub year: Option<i32>,
    pub ids: ShowIds,
    #[serde(default)]
    pub seasons: Vec<Season>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowIds {
    pub trakt: u64,
    /// Empty in a seed: derived from the title.
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub tvdb: Option<u64>,
    #[serde(default)]
    pub imdb: Option<String>,
    #[serde(default)]
    pub tmdb: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Season {
    /// Season number; `0` = specials.
    pub number: u32,
    pub ids: SeasonIds,
    #[serde(default)]
    pub episodes: Vec<Episode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeasonIds {
    pub trakt: u64,
    #[serde(default)]
    pub tvdb: Option<u64>,
    #[serde(default)]
    pub tmdb: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    /// Episode number within its season.
    pub number: u32,
    #[serde(default)]
    pub title: Option<String>,
    pub ids: EpisodeIds,
    /// First air date-time (used for `watched_at: "released"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_aired: Option<Timestamp>,
    /// Minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeIds {
    pub trakt: u64,
    #[serde(default)]
    pub tvdb: Option<u64>,
    #[serde(default)]
    pub imdb: Option<String>,
    #[serde(default)]
    pub tmdb: Option<u64>,
}

/// The four media types of Trakt's sync API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Movie,
    Show,
    Season,
    Episode,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [
        MediaType::Movie,
        MediaType::Show,
        MediaType::Season,
        MediaType::Episode,
    ];

    /// `movie`, `show`, `season`, `episode`.
    pub fn singular(self) -> &'static str {
        match self {
            MediaType::Movie => "movie",
            MediaType::Show => "show",
            MediaType::Season => "season",
            MediaType::Episode => "episode",
        }
    }

    /// `movies`, `shows`, `seasons`, `episodes` (request body keys, path segments, activity groups).
    pub fn plural(self) -> &'static str {
        match self {
            MediaType::Movie => "movies",
            MediaType::Show => "shows",
            MediaType::Season => "seasons",
            MediaType::Episode => "episodes",
        }
    }

    pub fn from_plural(s: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|t| t.plural() == s)
    }
}

/// A reference to one catalogue entry: its type and that type's trakt id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaRef {
    pub kind: MediaType,
    pub trakt: u64,
}

/// One watchlist entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchlistEntry {
    /// 1-based position.
    pub rank: u32,
    /// List item id (not a media id).
    pub id: u64,
    pub listed_at: Timestamp,
    #[serde(default)]
    pub notes: Option<String>,
    /// Which catalogue entry: `type` plus the trakt id of that movie/show/season/episode.
    #[serde(rename = "type")]
    pub kind: MediaType,
    pub trakt: u64,
}

impl WatchlistEntry {
    pub fn media(&self) -> MediaRef {
        MediaRef {
            kind: self.kind,
            trakt: self.trakt,
        }
    }
}

/// One rating: a catalogue item (any of the four types) rated 1..=10.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    #[serde(rename = "type")]
    pub kind: MediaType,
    pub trakt: u64,
    pub rating: u8,
    pub rated_at: Timestamp,
}

impl Rating {
    pub fn media(&self) -> MediaRef {
        MediaRef {
            kind: self.kind,
            trakt: self.trakt,
        }
    }
}

/// How a play was recorded (`action` of `GET /sync/history`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlayAction {
    Scrobble,
    Checkin,
    /// Added through `POST /sync/history`.
    #[default]
    Watch,
}

impl PlayAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayAction::Scrobble => "scrobble",
            PlayAction::Checkin => "checkin",
            PlayAction::Watch => "watch",
        }
    }
}

/// One play of a movie or an episode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Play {
    /// History id (64-bit).
    pub id: u64,
    /// `movie` or `episode`.
    #[serde(rename = "type")]
    pub kind: MediaType,
    pub trakt: u64,
    /// Whole minutes (Trakt stores plays to the minute); the epoch for "unknown".
    pub watched_at: Timestamp,
    #[serde(default)]
    pub action: PlayAction,
}

impl Play {
    pub fn media(&self) -> MediaRef {
        MediaRef {
            kind: self.kind,
            trakt: self.trakt,
        }
    }

    /// The history order: newest `watched_at` first, then higher id first.
    pub fn newest_first(a: &Play, b: &Play) -> std::cmp::Ordering {
        (b.watched_at, b.id).cmp(&(a.watched_at, a.id))
    }
}

/// Collection metadata (section 3.9); absent values are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_channels: Option<String>,
    #[serde(rename = "3d", default, skip_serializing_if = "Option::is_none")]
    pub three_d: Option<bool>,
}

/// One collected movie or episode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionEntry {
    /// `movie` or `episode`.
    #[serde(rename = "type")]
    pub kind: MediaType,
    pub trakt: u64,
    pub collected_at: Timestamp,
    /// Last change of the entry (add or update).
    pub updated_at: Timestamp,
    #[serde(flatten)]
    pub metadata: CollectionMetadata,
}

impl CollectionEntry {
    pub fn media(&self) -> MediaRef {
        MediaRef {
            kind: self.kind,
            trakt: self.trakt,
        }
    }
}

/// A URL slug: lowercase ASCII letters and digits separated by single dashes.
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

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
        Some(other) => Err(format!(
            "{path}: expected an array, found {}",
            json_kind(other)
        )),
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
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
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("seed is not valid JSON: {e}"))?;
        let obj = root
            .as_object()
            .ok_or_else(|| format!("seed: expected a JSON object, found {}", json_kind(&root)))?;
        for key in obj.keys() {
            if !LIBRARY_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "unknown top-level field `{key}` (expected one of: {})",
                    LIBRARY_KEYS.join(", ")
                ));
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
        let mut limits =
            serde_json::to_value(Limits::for_vip(lib.user.vip)).expect("limits serialize");
        if let Some(v) = present("limits") {
            if !v.is_object() {
                return Err(format!(
                    "limits: expected an object, found {}",
                    json_kind(v)
                ));
            }
            merge_json(&mut limits, v);
        }
        lib.limits = parse_at(&limits, "limits")?;

        if let Some(cat) = present("catalog") {
            if !cat.is_object() {
                return Err(format!(
                    "catalog: expected an object, found {}",
                    json_kind(cat)
                ));
            }
            for (i, m) in array_at(cat.get("movies"), "catalog.movies")?
                .iter()
                .enumerate()
            {
                lib.catalog.movies.push(parse_media::<Movie, MovieIds>(
                    m,
                    &format!("catalog.movies[{i}]"),
                    None,
                )?);
            }
            let check_episode = |v: &Value, path: &str| {
                parse_media::<Episode, EpisodeIds>(v, path, None).map(|_| ())
            };
            let check_season = |v: &Value, path: &str| {
                parse_media::<Season, SeasonIds>(v, path, Some(("episodes", &check_episode)))
                    .map(|_| ())
            };
            for (i, s) in array_at(cat.get("shows"), "catalog.shows")?
                .iter()
                .enumerate()
            {
                let path = format!("catalog.shows[{i}]");
                lib.catalog.shows.push(parse_media::<Show, ShowIds>(
                    s,
                    &path,
                    Some(("seasons", &check_season)),
                )?);
            }
        }

        // Watchlist: fill optional fields in JSON, then parse strictly.
        let entries = array_at(obj.get("watchlist"), "watchlist")?;
        let now = Timestamp::now();
        let mut max_id = entries
            .iter()
            .filter_map(|e| e.get("id").and_then(Value::as_u64))
            .max()
            .unwrap_or(0);
        let mut max_rank = entries
            .iter()
            .filter_map(|e| e.get("rank").and_then(Value::as_u64))
            .max()
            .unwrap_or(0);
        for (i, e) in entries.iter().enumerate() {
            let path = format!("watchlist[{i}]");
            let kind = json_kind(e);
            let mut e = e.clone();
            let map = e
                .as_object_mut()
                .ok_or_else(|| format!("{path}: expected an object, found {kind}"))?;
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
                    let map = e
                        .as_object_mut()
                        .ok_or_else(|| format!("{key}[{i}]: expected an object, found {kind}"))?;
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
        for (i, e) in fill("ratings", &[("rated_at", now_json.clone())])?
            .iter()
            .enumerate()
        {
            lib.ratings.push(parse_at(e, &format!("ratings[{i}]"))?);
        }
        for (i, e) in fill(
            "history",
            &[("id", 0.into()), ("watched_at", now_json.clone())],
        )?
        .iter()
        .enumerate()
        {
            lib.history.push(parse_at(e, &format!("history[{i}]"))?);
        }
        for (i, mut e) in fill("collection", &[("collected_at", now_json)])?
            .into_iter()
            .enumerate()
        {
            if e.get("updated_at").is_none_or(Value::is_null) {
                e["updated_at"] = e["collected_at"].clone();
            }
            lib.collection
                .push(parse_at(&e, &format!("collection[{i}]"))?);
        }

        if let Some(v) = present("last_activities") {
            lib.last_activities = parse_at(v, "last_activities")?;
        }
        lib.normalize(now)?;
        if let Some(v) = present("accounts") {
            lib.accounts = super::accounts::parse_seed(v, present("catalog"))?;
            super::accounts::check_distinct(&lib, &lib.accounts)?;
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
                super::catalog::date_start(d)
                    .map_err(|e| format!("catalog: movie {}: released: {e}", m.ids.trakt))?;
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
                return Err(format!(
                    "watchlist: {} with trakt id {} is listed twice",
                    e.kind.singular(),
                    e.trakt
                ));
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
        let mut max_id = self
            .history
            .iter()
            .map(|p| p.id)
            .max()
            .unwrap_or(0)
            .max(HISTORY_ID_BASE);
        let mut seen = HashSet::with_capacity(self.history.len());
        for p in &mut self.history {
            if !matches!(p.kind, MediaType::Movie | MediaType::Episode) {
                return Err(format!(
                    "history: a play must be of a movie or an episode, not a {}",
                    p.kind.singular()
                ));
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
            let what = format!(
                "collection: {} with trakt id {}",
                c.kind.singular(),
                c.trakt
            );
            if !matches!(c.kind, MediaType::Movie | MediaType::Episode) {
                return Err(format!(
                    "collection: an entry must be a movie or an episode, not a {}",
                    c.kind.singular()
                ));
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

    /// Restores the ratings order (newest `rated_at` first, then type, then trakt id).
    pub(crate) fn sort_ratings(&mut self) {
        let key = |r: &Rating| (std::cmp::Reverse(r.rated_at), r.kind, r.trakt);
        if !self.ratings.is_sorted_by_key(key) {
            self.ratings.sort_by_key(key);
        }
    }

    /// Restores the history order ([`Play::newest_first`]); cheap when nearly sorted.
    pub(crate) fn sort_history(&mut self) {
        if !self
            .history
            .is_sorted_by(|a, b| Play::newest_first(a, b).is_le())
        {
            self.history.sort_by(Play::newest_first);
        }
    }

    /// The catalogue of [`sample`](Self::sample) (see there).
    fn sample_catalog(movies: usize, shows: usize) -> Catalog {
        let mut cat = Catalog::default();
        for i in 1..=movies as u64 {
            let year = 1990 + (i % 35) as i32;
            cat.movies.push(Movie {
                title: format!("Sample Movie {i}"),
                year: Some(year),
                ids: MovieIds {
                    trakt: i,
                    slug: format!("sample-movie-{i}-{year}"),
                    imdb: Some(format!("tt{}", 1_000_000 + i)),
                    tmdb: Some(100_000 + i),
                },
                released: None,
                runtime: None,
            });
        }
        for j in 1..=shows as u64 {
            let seasons = (0..=2u64)
                .map(|s| {
                    let count = if s == 0 { 1 } else { 3 };
                    Season {
                        number: s as u32,
                        ids: SeasonIds {
                            trakt: 10_000 + 10 * j + s,
                            tvdb: Some(400_000 + 10 * j + s),
                            tmdb: Some(410_000 + 10 * j + s),
                        },
                        episodes: (1..=count)
                            .map(|e| {
                                let k = 100 * j + 10 * s + e;
                                Episode {
                                    number: e as u32,
                                    title: Some(if s == 0 {
                                        "Special".into()
                                    } else {
                                        format!("Episode {e}")
                                    }),
                                    ids: EpisodeIds {
                                        trakt: 100_000 + k,
                                        tvdb: Some(500_000 + k),
                                        imdb: Some(format!("tt{}", 3_000_000 + k)),
                                        tmdb: Some(600_000 + k),
                                    },
                                    first_aired: None,
                                    runtime: None,
                                }
                            })
                            .collect(),
                    }
                })
                .collect();
            cat.shows.push(Show {
                title: format!("Sample Show {j}"),
                year: Some(2000 + (j % 25) as i32),
                ids: ShowIds {
                    trakt: j,
                    slug: format!("sample-show-{j}"),
                    tvdb: Some(300_000 + j),
                    imdb: Some(format!("tt{}", 2_000_000 + j)),
                    tmdb: Some(200_000 + j),
                },
                seasons,
            });
        }
        cat
    }

    /// A deterministic catalogue and watchlist for tests and demos.
    ///
    /// * Movies `i = 1..=movies`: "Sample Movie i", year `1990 + i % 35`, ids trakt `i`,
    ///   slug `sample-movie-i-YEAR`, imdb `tt{1000000+i}`, tmdb `100000+i`.
    /// * Shows `j = 1..=shows`: "Sample Show j", year `2000 + j % 25`, ids trakt `j`,
    ///   slug `sample-show-j`, imdb `tt{2000000+j}`, tmdb `200000+j`, tvdb `300000+j`; seasons 0
    ///   (one special, "Special"), 1 and 2 (three episodes each, "Episode e"). Season `s` of
    ///   show `j`: trakt `10000+10j+s`, tvdb `400000+10j+s`, tmdb `410000+10j+s`. Episode `e`:
    ///   `k = 100j+10s+e`, trakt `100000+k`, tvdb `500000+k`, tmdb `600000+k`, imdb `tt{3000000+k}`.
    /// * Watchlist: every movie, then every show, then (with at least one show) season 1 of
    ///   show 1, season 2 of the last show, episode S01E01 of show 1 and S02E03 of the last
    ///   show. Ranks 1..n, list item ids `10000+rank`, `listed_at` 2026-01-01T00:00:00Z plus
    ///   `rank` minutes.
    /// * Ratings (all in December 2025): movies 1, 2, 3 rated 10, 8, 6 (`rated_at`
    ///   2025-12-01 13:00, 14:00, 15:00 UTC); show 1 rated 9 (12-02 12:00); season 1 of show 1
    ///   (trakt 10011) rated 7 (12-03 12:00); S01E01 and S01E02 of show 1 (trakt 100111, 100112)
    ///   rated 8 and 5 (12-04 21:00, 22:00). Items that do not exist (fewer movies or no show)
    ///   are left out.
    /// * History (action `watch`): movie 1 watched 2025-12-10 20:00 and 2025-12-20 20:00,
    ///   movie 2 2025-12-15 21:30, S01E01 of show 1 2025-12-11 21:00, S01E02 2025-12-12 21:00;
    ///   history ids `5000000001..` in `watched_at` order (oldest lowest).
    /// * Empty collection.
    /// * Default user (free account, watchlist limit 250), default credentials; all
    ///   last_activities 2026-01-01T00:00:00Z except the watchlist ones, which are the last
    ///   `listed_at`.
    pub fn sample(movies: usize, shows: usize) -> Library {
        let base = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
        let mut lib = Library {
            catalog: Library::sample_catalog(movies, shows),
            ..Library::default()
        };
        let mut refs: Vec<MediaRef> = Vec::new();
        refs.extend((1..=movies as u64).map(|t| MediaRef {
            kind: MediaType::Movie,
            trakt: t,
        }));
        refs.extend((1..=shows as u64).map(|t| MediaRef {
            kind: MediaType::Show,
            trakt: t,
        }));
        if shows > 0 {
            let last = shows as u64;
            let season = |j: u64, s: u64| MediaRef {
                kind: MediaType::Season,
                trakt: 10_000 + 10 * j + s,
            };
            let episode = |j: u64, s: u64, e: u64| MediaRef {
                kind: MediaType::Episode,
                trakt: 100_000 + 100 * j + 10 * s + e,
            };
            refs.push(season(1, 1));
            refs.push(season(last, 2));
            refs.push(episode(1, 1, 1));
            refs.push(episode(last, 2, 3));
        }
        for (i, r) in refs.iter().enumerate() {
            let rank = i as u32 + 1;
            lib.watchlist.push(WatchlistEntry {
                rank,
                id: 10_000 + rank as u64,
                listed_at: Timestamp(base.0 + 60 * rank as i64),
                notes: None,
                kind: r.kind,
                trakt: r.trakt,
            });
        }
        // 2025-12-DD HH:MM UTC.
        let dec = |day: i64, h: i64, m: i64| {
            Timestamp(1_764_547_200 + (day - 1) * 86_400 + h * 3600 + m * 60)
        };
        let movie = |i: u64| MediaRef {
            kind: MediaType::Movie,
            trakt: i,
        };
        let s1e = |e: u64| MediaRef {
            kind: MediaType::Episode,
            trakt: 100_110 + e,
        };
        let mut ratings: Vec<(MediaRef, u8, Timestamp)> = Vec::new();
        for (i, rating) in [(1u64, 10u8), (2, 8), (3, 6)] {
            if i <= movies as u64 {
                ratings.push((movie(i), rating, dec(1, 12 + i as i64, 0)));
            }
        }
        let mut plays: Vec<(MediaRef, Timestamp)> = Vec::new();
        if movies >= 1 {
            plays.push((movie(1), dec(10, 20, 0)));
            plays.push((movie(1), dec(20, 20, 0)));
        }
        if movies >= 2 {
            plays.push((movie(2), dec(15, 21, 30)));
        }
        if shows > 0 {
            let show = MediaRef {
                kind: MediaType::Show,
                trakt: 1,
            };
            let season = MediaRef {
                kind: MediaType::Season,
                trakt: 10_011,
            };
            ratings.push((show, 9, dec(2, 12, 0)));
            ratings.push((season, 7, dec(3, 12, 0)));
            ratings.push((s1e(1), 8, dec(4, 21, 0)));
            ratings.push((s1e(2), 5, dec(4, 22, 0)));
            plays.push((s1e(1), dec(11, 21, 0)));
            plays.push((s1e(2), dec(12, 21, 0)));
        }
        lib.ratings = ratings
            .into_iter()
            .map(|(m, rating, rated_at)| Rating {
                kind: m.kind,
                trakt: m.trakt,
                rating,
                rated_at,
            })
            .collect();
        plays.sort_by_key(|(_, t)| *t);
        lib.history = plays
            .into_iter()
            .enumerate()
            .map(|(i, (m, watched_at))| Play {
                id: HISTORY_ID_BASE + 1 + i as u64,
                kind: m.kind,
                trakt: m.trakt,
                watched_at,
                action: PlayAction::Watch,
            })
            .collect();

        lib.last_activities.fill_missing(base);
        let last_listed = Timestamp(base.0 + 60 * refs.len() as i64);
        for t in MediaType::ALL {
            lib.last_activities
                .set(t.plural(), "watchlisted_at", last_listed);
        }
        lib.last_activities
            .set("watchlist", "updated_at", last_listed);
        lib.normalize(base).expect("sample library is consistent");
        lib
    }

    /// A large watched history for benchmarks: `plays` plays (newest first) over a catalogue
    /// of [`sample`](Self::sample)'s shape with `max(1, ceil(plays / 6))` movies and
    /// `max(1, ceil(plays / 42))` shows (7 episodes each), so every movie and episode has about
    /// three plays. Play `k = 0..plays` (0 = newest) is of a movie when `k` is even (movie
    /// `k/2 % movies + 1`) and of an episode when odd (the `(k/2 % episodes)`-th episode in
    /// catalogue order); `watched_at` = 2026-01-01T00:00:00Z minus `k + 1` minutes (all distinct);
    /// history id `5000000000 + plays - k` (newer plays have higher ids, all above 2^32).
    /// No watchlist, ratings or collection; last_activities all 2026-01-01T00:00:00Z.
    pub fn history_sample(plays: usize) -> Library {
        let base = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
        let movies = plays.div_ceil(6).max(1);
        let shows = plays.div_ceil(42).max(1);
        let mut lib = Library {
            catalog: Library::sample_catalog(movies, shows),
            ..Library::default()
        };
        let episodes: Vec<u64> = lib
            .catalog
            .shows
            .iter()
            .flat_map(|s| s.seasons.iter())
            .flat_map(|s| s.episodes.iter().map(|e| e.ids.trakt))
            .collect();
        lib.history = (0..plays)
            .map(|k| {
                let (kind, trakt) = if k % 2 == 0 {
                    (MediaType::Movie, ((k / 2) % movies) as u64 + 1)
                } else {
                    (MediaType::Episode, episodes[(k / 2) % episodes.len()])
                };
                Play {
                    id: HISTORY_ID_BASE + (plays - k) as u64,
                    kind,
                    trakt,
                    watched_at: Timestamp(base.0 - 60 * (k as i64 + 1)),
                    action: PlayAction::Watch,
                }
            })
            .collect();
        lib.last_activities.fill_missing(base);
        lib.normalize(base)
            .expect("history sample library is consistent");
        lib
    }

    /// Counts of watchlist entries per type (helper for tests and reports).
    pub fn watchlist_counts(&self) -> BTreeMap<MediaType, usize> {
        let mut out = BTreeMap::new();
        for e in &self.watchlist {
            *out.entry(e.kind).or_insert(0) += 1;
        }
        out
    }
}
