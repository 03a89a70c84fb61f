//! The Trakt API routes, one module per feature; each exposes `routes()` and is listed once in
//! [`all`]. Routes see the server only through `route` (`Ctx`, `Reply`, `RouteDef`).

mod activities;
mod collection;
pub(crate) mod common;
mod history;
mod oauth;
mod ratings;
mod users;
mod watchlist;

use crate::route::RouteDef;

/// Every route the emulator serves, in matching order (first match wins).
pub(crate) fn all() -> Vec<RouteDef> {
    let mut r = Vec::new();
    r.extend(oauth::routes());
    r.extend(activities::routes());
    r.extend(users::routes());
    r.extend(watchlist::routes());
    r.extend(ratings::routes());
    r.extend(history::routes());
    r.extend(collection::routes());
    r
}
