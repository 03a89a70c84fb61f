//! Several Trakt accounts (users) on one origin: the seed's `accounts` array, and which account
//! serves a request.
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
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::library::{json_kind, Auth, Library, User, LIBRARY_KEYS};
use super::server::{Shared, State};
use super::timestamp::Timestamp;

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
        let others = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
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
        std::iter::once((Pick::Primary, &*self.primary)).chain(
            self.others
                .iter()
                .enumerate()
                .map(|(i, s)| (Pick::Other(i), s)),
        )
    }

    fn find(&self, wanted: impl Fn(&Auth) -> bool) -> Option<Pick> {
        self.all()
            .find(|(_, s)| wanted(&s.library.auth))
            .map(|(p, _)| p)
    }

    pub(crate) fn by_username(&self, username: &str) -> Option<Pick> {
        self.all()
            .find(|(_, s)| s.library.user.username == username)
            .map(|(p, _)| p)
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
        let field = |k: &str| {
            body.and_then(|b| b.get(k))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        match (path, field("grant_type")) {
            ("/oauth/token", Some("refresh_token")) => field("refresh_token")
                .and_then(|t| self.find(|a| a.refresh_token == t))
                .or_else(|| field("client_id").and_then(|c| self.find(|a| a.client_id == c))),
            ("/oauth/revoke", _) => field("token")
                .and_then(|t| self.find(|a| a.access_token == t || a.refresh_token == t)),
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

/// The seed's `accounts` value (`catalog`: the primary's, for entries without one). Errors name
/// the entry and the field: `accounts[1].auth.access_token: invalid type: ...`.
pub(crate) fn parse_seed(value: &Value, catalog: Option<&Value>) -> Result<Vec<Library>, String> {
    let Value::Array(entries) = value else {
        return Err(format!(
            "accounts: expected an array of accounts, found {}",
            json_kind(value)
        ));
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| parse_entry(&format!("accounts[{i}]"), entry, catalog))
        .collect()
}

fn parse_entry(at: &str, entry: &Value, catalog: Option<&Value>) -> Result<Library, String> {
    let obj = entry.as_object().ok_or_else(|| {
        format!(
            "{at}: expected an object (auth, user, watchlist, ...), found {}",
            json_kind(entry)
        )
    })?;
    let mut fields = Map::new();
    for (key, v) in obj {
        if key == "accounts" {
            if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            return Err(format!("{at}.accounts: accounts cannot be nested"));
        }
        if !LIBRARY_KEYS.contains(&key.as_str()) {
            let expected: Vec<&str> = LIBRARY_KEYS
                .iter()
                .copied()
                .filter(|k| *k != "accounts")
                .collect();
            return Err(format!(
                "{at}: unknown field `{key}` (expected one of: {})",
                expected.join(", ")
            ));
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
pub(crate) fn prepare(
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
    let all: Vec<(Option<usize>, &Library)> = std::iter::once((None, primary))
        .chain(accounts.iter().enumerate().map(|(i, a)| (Some(i), a)))
        .collect();
    for (n, (i, a)) in all.iter().enumerate().skip(1) {
        let at = name(*i);
        if a.user.username.is_empty() {
            return Err(format!("{at}.user.username: must not be empty"));
        }
        for (j, b) in &all[..n] {
            let clash = |what: &str, field: &str| {
                Err(format!(
                    "{at}.{field}: the same {what} as {} (every account needs its own)",
                    name(*j)
                ))
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
