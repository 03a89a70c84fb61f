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
//!   `POST /sync/watchlist` (420).
//! * `catalog`: everything Trakt "knows". Writes naming media outside the catalogue answer
//!   `not_found`. Trakt ids are unique per type (a movie and a show may both have trakt id 1);
//!   `slug` defaults to a slug of title and year; other ids are optional (`null`).
//!   Shows carry `seasons` (season `0` = specials), seasons carry `episodes`; season and episode
//!   `number`s must be unique within their parent.
//! * `watchlist`: entries reference catalogue media by `type` (`movie|show|season|episode`) and
//!   that type's `trakt` id. `rank` (1-based order), `id` (list item id), `listed_at` and `notes`
//!   are optional in a seed: missing ranks follow the entries' order, missing ids are numbered
//!   after the largest given id, missing `listed_at` is the load time. Ranks are renumbered
//!   1..n in rank order when loaded.
//! * `last_activities`: the `GET /sync/last_activities` object; missing timestamps are the load
//!   time, `all` is always recomputed as the latest of all of them.
//!
//! Later data sets (ratings, history plays, collection) get their own top-level keys here, with
//! entries referencing catalogue media the same way (`type` + `trakt`).

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
    /// `GET /sync/last_activities` timestamps.
    pub last_activities: LastActivities,
}

/// Top-level keys of the seed JSON.
pub const LIBRARY_KEYS: &[&str] = &[
    "auth",
    "user",
    "limits",
    "catalog",
    "watchlist",
    "last_activities",
];

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

/// `limits` of `GET /users/settings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub list: ListLimits,
    pub watchlist: ItemCount,
    pub favorites: ItemCount,
    pub recommendations: ItemCount,
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

        if let Some(v) = present("last_activities") {
            lib.last_activities = parse_at(v, "last_activities")?;
        }
        lib.normalize(now)?;
        Ok(lib)
    }

    /// Completes and checks the library: derives missing slugs, orders the watchlist by rank and
    /// renumbers it 1..n, gives entries without an id (0) a fresh one, fills missing
    /// `last_activities` with `now`, and verifies that ids are unique and every watchlist entry
    /// references catalogue media (once).
    pub fn normalize(&mut self, now: Timestamp) -> Result<(), String> {
        for m in &mut self.catalog.movies {
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
        self.last_activities.fill_missing(now);
        Ok(())
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
    /// * Default user (free account, watchlist limit 250), default credentials; all
    ///   last_activities 2026-01-01T00:00:00Z except the watchlist ones, which are the last
    ///   `listed_at`.
    pub fn sample(movies: usize, shows: usize) -> Library {
        let base = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
        let mut lib = Library::default();
        for i in 1..=movies as u64 {
            let year = 1990 + (i % 35) as i32;
            lib.catalog.movies.push(Movie {
                title: format!("Sample Movie {i}"),
                year: Some(year),
                ids: MovieIds {
                    trakt: i,
                    slug: format!("sample-movie-{i}-{year}"),
                    imdb: Some(format!("tt{}", 1_000_000 + i)),
                    tmdb: Some(100_000 + i),
                },
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
                                }
                            })
                            .collect(),
                    }
                })
                .collect();
            lib.catalog.shows.push(Show {
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

    /// Counts of watchlist entries per type (helper for tests and reports).
    pub fn watchlist_counts(&self) -> BTreeMap<MediaType, usize> {
        let mut out = BTreeMap::new();
        for e in &self.watchlist {
            *out.entry(e.kind).or_insert(0) += 1;
        }
        out
    }
}
