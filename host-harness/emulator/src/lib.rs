//! A Trakt API (trakt.tv) emulator: a real HTTP/1.1 server on 127.0.0.1 for end-to-end tests
//! and demos of the Trakt sync adapter. It serves the API and the OAuth endpoints on one origin
//! and behaves as Trakt's API does in 2026 (<https://trakt.docs.apiary.io/>, plus what the live
//! API answers where those docs are silent or out of date). The `trakt-emulator` binary (and
//! `cw-host emulator`) serves it from the command line: [`serve`] prints the [`banner`].
//!
//! ```no_run
//! use trakt_emulator::{Emulator, EmulatorConfig, Library};
//! let emu = Emulator::start(EmulatorConfig { seed: Library::sample(3, 2), ..Default::default() }).unwrap();
//! let base = emu.url(); // http://127.0.0.1:PORT
//! let token = emu.credentials().access_token;
//! # let _ = (base, token);
//! ```
//!
//! Served:
//! * `POST /oauth/token` (refresh_token / authorization_code grants, rotating tokens),
//!   `POST /oauth/revoke`, `GET /oauth/authorize`, the device flow `POST /oauth/device/code` and
//!   `POST /oauth/device/token` (approve or deny with [`Emulator::approve_device`] /
//!   [`Emulator::deny_device`]);
//! * `GET /sync/last_activities`, `GET /users/settings`;
//! * `GET /sync/watchlist[/{type}[/{sort_by}[/{sort_how}]]]`, `POST /sync/watchlist`,
//!   `POST /sync/watchlist/remove`;
//! * `GET /sync/ratings[/{type}[/{rating}]]`, `POST /sync/ratings`, `POST /sync/ratings/remove`
//!   (see `routes::ratings` for the choices where Trakt's docs are silent);
//! * `GET /sync/history[/{type}[/{id}]]` (`start_at`/`end_at`), `POST /sync/history`,
//!   `POST /sync/history/remove` (see `routes::history`);
//! * `GET /sync/collection/{movies|shows}`, `POST /sync/collection`,
//!   `POST /sync/collection/remove` (see `routes::collection`);
//! * control endpoints (no auth, not logged, never faulted): `GET /_emulator/state`
//!   (= [`Emulator::dump`]), `GET /_emulator/state?account=<username>` (= [`Emulator::dump_account`];
//!   `404` naming an unknown username), `GET /_emulator/requests` (= [`Emulator::requests`]),
//!   `DELETE /_emulator/requests`, `GET|POST|DELETE /_emulator/faults` (list / inject one fault
//!   or an array, answers `{"injected": n}` / clear; see [`faults`](Fault)),
//!   `GET /_emulator/device` (`{"pending": [user codes]}`),
//!   `POST /_emulator/device/{user_code}/approve` and `.../deny` (`200`, or `404` when no such
//!   pending code).
//!
//! Accounts: the seed's `accounts` array adds further Trakt users on the same origin, each with
//! its own library, tokens and rate-limit buckets. An API request is served by the account whose
//! current access token it carries (else by the first whose `client_id` is its `trakt-api-key`,
//! else by the primary, which answers `401` as before); a refresh-token grant by the account whose
//! refresh token it presents; the device flow and the authorization code by the primary. Each
//! [`LoggedRequest::account`] names the account whose valid token signed it; see
//! [`Emulator::usernames`], [`Emulator::credentials_of`], [`Emulator::with_account`].
//!
//! Time: the emulator clock is the wall clock at start plus monotonic elapsed time (millisecond
//! precision) plus [`Emulator::advance_clock`]; token expiry, device-code expiry and polling
//! interval, and rate-limit windows all use it, so tests can jump instead of sleeping.
//!
//! Every GET above is paginated (`page`, `limit` clamped to 1..=250, default 100, four
//! `X-Pagination-*` headers) and has an `ETag` (`If-None-Match` -> `304`); faults and rate limits
//! apply to every route. Account limits (`420` with `X-Upgrade-URL`, `X-VIP-User`,
//! `X-Account-Limit`): watchlist, ratings, collection and history plays, from [`Limits`].
//!
//! Module map (each module depends only on those above it, never back):
//! * data: `timestamp`, `last_activities`, `library` (the data model), `catalog` (id lookups,
//!   release dates, media objects), `resolve` (request bodies to media), `user_index`, `seed`
//!   (seed JSON, dumps, validation), `samples`;
//! * serving: `encoding`, `reply`, `ratelimit`, `faults`, `device`, `render`, `state` (one
//!   account's state), `route` (what routes see: `Ctx`, `Reply`, `RouteDef`), `paging`;
//! * `routes` (one module per feature: `oauth`, `activities`, `users`, `watchlist`, `ratings`,
//!   `history`, `collection`, `common`), `request_log`;
//! * `server` (shared state and clock, accounts, control endpoints, dispatch, checks, ETags, the
//!   axum glue), then `emulator` (the [`Emulator`] handle) and `banner`.

mod banner;
mod catalog;
mod device;
mod emulator;
mod encoding;
mod faults;
mod last_activities;
mod library;
mod paging;
mod ratelimit;
mod render;
mod reply;
mod request_log;
mod resolve;
mod route;
mod routes;
mod samples;
mod seed;
mod server;
mod state;
mod timestamp;
mod user_index;

pub use banner::{banner, load_seed, serve, trakt_block};
pub use emulator::{Credentials, Emulator, EmulatorConfig};
pub use faults::{body_items, Fault, FaultAction, FaultWhen};
pub use last_activities::LastActivities;
pub use library::{
    slugify, Auth, Catalog, CollectionEntry, CollectionMetadata, Episode, EpisodeIds, ItemCount, Library, Limits,
    ListLimits, MediaRef, MediaType, Movie, MovieIds, Play, PlayAction, Rating, Season, SeasonIds, Show, ShowIds, User,
    WatchlistEntry, HISTORY_ID_BASE, LIBRARY_KEYS,
};
pub use paging::{DEFAULT_LIMIT, MAX_LIMIT};
pub use ratelimit::RateLimitConfig;
pub use request_log::LoggedRequest;
pub use routes::common::UPGRADE_URL;
pub use timestamp::Timestamp;
