//! The emulator's data model: one Trakt user with their credentials, settings, a media catalogue
//! and the user's lists. [`Library`] is both the seed format (`EmulatorConfig::seed`,
//! `Library::from_json`, see `seed` for the JSON) and the dump format (`Emulator::dump`,
//! `GET /_emulator/state`): a dump fed back as a seed reproduces the same state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::last_activities::LastActivities;
use crate::timestamp::Timestamp;

/// The complete state of one account (and, in `accounts`, of the others). See `seed` for the JSON
/// shape.
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
    /// Further Trakt accounts on the same emulator, each Library-shaped (see `seed`); their
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
    ItemCount { item_count: 100_000 }
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
                list: ListLimits { count: 100, item_count: 5000 },
                watchlist: ItemCount { item_count: 5000 },
                favorites: ItemCount { item_count: 50 },
                recommendations: ItemCount { item_count: 50 },
                ratings: ItemCount { item_count: 20_000 },
                collection: ItemCount { item_count: 100_000 },
                history: all_history(),
            }
        } else {
            Limits {
                list: ListLimits { count: 5, item_count: 250 },
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
    pub const ALL: [MediaType; 4] = [MediaType::Movie, MediaType::Show, MediaType::Season, MediaType::Episode];

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
        MediaRef { kind: self.kind, trakt: self.trakt }
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
        MediaRef { kind: self.kind, trakt: self.trakt }
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
        MediaRef { kind: self.kind, trakt: self.trakt }
    }

    /// The history order: newest `watched_at` first, then higher id first.
    pub fn newest_first(a: &Play, b: &Play) -> std::cmp::Ordering {
        (b.watched_at, b.id).cmp(&(a.watched_at, a.id))
    }
}

/// Collection metadata: the optional keys of a collected item in `POST /sync/collection` and in
/// `GET /sync/collection?extended=metadata`; absent values are `None`.
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
        MediaRef { kind: self.kind, trakt: self.trakt }
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

impl Library {
    /// Restores the ratings order (newest `rated_at` first, then type, then trakt id).
    pub(crate) fn sort_ratings(&mut self) {
        let key = |r: &Rating| (std::cmp::Reverse(r.rated_at), r.kind, r.trakt);
        if !self.ratings.is_sorted_by_key(key) {
            self.ratings.sort_by_key(key);
        }
    }

    /// Restores the history order ([`Play::newest_first`]); cheap when nearly sorted.
    pub(crate) fn sort_history(&mut self) {
        if !self.history.is_sorted_by(|a, b| Play::newest_first(a, b).is_le()) {
            self.history.sort_by(Play::newest_first);
        }
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
