//! Several Trakt accounts (users) on one origin: which account serves a request, and the
//! accounts' state locked together (the seed's `accounts` array is read in `seed`).
//!
//! The primary account is the top-level library (`Shared::state`); every entry of the seed's
//! `accounts` is a further account with its own [`State`] (`Shared::accounts`, seed order): its own
//! library, tokens, rate-limit buckets and token nonce (so no two accounts are ever handed the
//! same token). An entry is Library-shaped (`auth`, `user`, `limits`, `watchlist`, `ratings`,
//! `history`, `collection`, `last_activities`, `catalog`); without a `catalog` it gets a copy of
//! the primary account's. Usernames, access tokens and refresh tokens must differ between
//! accounts.
//!
//! Routing ([`Accounts::for_api`], [`Accounts::for_oauth`]):
//! * API routes: the account whose current access token is the `Authorization: Bearer` token
//!   (expired or revoked included, so that account answers the `401`); else the first account
//!   (primary first) whose `client_id` is the `trakt-api-key`; else the primary. `trakt-api-key`
//!   is then checked against the chosen account's `client_id`.
//! * `POST /oauth/token` with `grant_type=refresh_token`: the account whose current refresh token
//!   is presented; else the first whose `client_id` is the body's; else the primary.
//!   `POST /oauth/revoke`: the account owning `token`, else the primary. Every other OAuth route
//!   (authorization code, device flow): the primary.
//!
//! Lock order: `Shared::state` (primary) before `Shared::accounts`, never the other way round.

use std::sync::MutexGuard;

use axum::http::HeaderMap;
use serde_json::Value;

use crate::library::{Auth, Library};
use crate::state::State;

use super::shared::{lock, Shared};

/// Which account: the primary, or `Shared::accounts[i]` (= seed `accounts[i]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    Primary,
    Other(usize),
}

/// Every account's state, locked (primary first).
pub(crate) struct Accounts<'a> {
    primary: MutexGuard<'a, State>,
    others: MutexGuard<'a, Vec<State>>,
}

impl Shared {
    /// Locks every account (in the documented order).
    pub(crate) fn accounts(&self) -> Accounts<'_> {
        let primary = self.state();
        let others = lock(&self.accounts);
        Accounts { primary, others }
    }
}

impl Accounts<'_> {
    pub(crate) fn get(&mut self, pick: Pick) -> &mut State {
        match pick {
            Pick::Primary => &mut self.primary,
            Pick::Other(i) => &mut self.others[i],
        }
    }

    pub(crate) fn state(&self, pick: Pick) -> &State {
        match pick {
            Pick::Primary => &self.primary,
            Pick::Other(i) => &self.others[i],
        }
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = (Pick, &State)> {
        std::iter::once((Pick::Primary, &*self.primary))
            .chain(self.others.iter().enumerate().map(|(i, s)| (Pick::Other(i), s)))
    }

    fn find(&self, wanted: impl Fn(&Auth) -> bool) -> Option<Pick> {
        self.all().find(|(_, s)| wanted(&s.library.auth)).map(|(p, _)| p)
    }

    pub(crate) fn by_username(&self, username: &str) -> Option<Pick> {
        self.all().find(|(_, s)| s.library.user.username == username).map(|(p, _)| p)
    }

    /// The account serving an API request (see the module docs).
    pub(crate) fn for_api(&self, token: Option<&str>, api_key: Option<&str>) -> Pick {
        token
            .filter(|t| !t.is_empty())
            .and_then(|t| self.find(|a| a.access_token == t))
            .or_else(|| api_key.and_then(|k| self.find(|a| a.client_id == k)))
            .unwrap_or(Pick::Primary)
    }

    /// The account serving an OAuth request (see the module docs).
    pub(crate) fn for_oauth(&self, path: &str, body: Option<&Value>) -> Pick {
        let field =
            |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        match (path, field("grant_type")) {
            ("/oauth/token", Some("refresh_token")) => field("refresh_token")
                .and_then(|t| self.find(|a| a.refresh_token == t))
                .or_else(|| field("client_id").and_then(|c| self.find(|a| a.client_id == c))),
            ("/oauth/revoke", _) => {
                field("token").and_then(|t| self.find(|a| a.access_token == t || a.refresh_token == t))
            }
            _ => None,
        }
        .unwrap_or(Pick::Primary)
    }

    /// `GET /_emulator/state`: the primary library, with every further account (as
    /// [`account_value`]) under `accounts`, so that it reads back as the same seed.
    pub(crate) fn dump(&self) -> Value {
        let mut v = serde_json::to_value(&self.primary.library).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            let others = self.others.iter().map(|s| account_value(&s.library));
            obj.insert("accounts".into(), Value::Array(others.collect()));
        }
        v
    }
}

/// One account's library as seed JSON, without the `accounts` key.
pub(crate) fn account_value(library: &Library) -> Value {
    let mut v = serde_json::to_value(library).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("accounts");
    }
    v
}

/// The token of `Authorization: Bearer <token>` (`""` for another scheme), `None` without the
/// header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?.trim();
    Some(match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => "",
    })
}
