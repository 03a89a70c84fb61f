//! The capacity pre-check of a watchlist add.
//!
//! The limit is `watchlist_limit`, else `GET /users/settings` `limits.watchlist.item_count`,
//! else 250 when the user is not VIP (`user.vip`, `vip_og`, `vip_ep` all false or missing),
//! else none. With a limit the current count is the complete index (this run's, or built now:
//! one conditional GET when the shadow is current). Items already on the list are `skipped`
//! without being sent and use no capacity; of the rest, those beyond the free room are
//! unresolved `trakt_limit` and not sent. If `/users/settings` fails with a non-session error
//! there is no pre-check and a 420 still stops the writes.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Watchlist, FEATURE};
use crate::client::Call;
use crate::error::AdapterError;
use crate::features::presence::Presence;
use crate::features::{is_session_wide, Ctx, Outcome};
use crate::log::{self, Level};
use crate::model::{Hint, Item};
use crate::payload::Entry;

const SETTINGS_PATH: &str = "/users/settings";
/// Trakt's 2026 watchlist limit of a free account, used when `/users/settings` names none.
pub const FREE_LIMIT: u64 = 250;

/// How many items the watchlist may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    Items(u64),
    Unlimited,
    /// `/users/settings` could not be read: no pre-check.
    Unknown,
}

impl Watchlist {
    /// Capacity pre-check of an add: returns the entries to send.
    pub(super) fn plan_add(
        &mut self,
        accepted: Vec<Entry>,
        items: &[Item],
        keys: &[String],
        outcome: &mut [Option<Outcome>],
        ctx: &mut Ctx,
    ) -> Result<Vec<Entry>, AdapterError> {
        let limit = self.limit(ctx)?;
        if matches!(limit, Limit::Items(_)) && self.index.is_none() {
            self.build_index(ctx)?;
        }
        let presence = self.index.as_ref().map(Presence::new);
        let count = self.index.as_ref().map_or(0, |ix| ix.len() as u64);
        let mut room = match limit {
            Limit::Items(n) => Some(n.saturating_sub(count)),
            Limit::Unlimited | Limit::Unknown => None,
        };
        let mut scheduled: BTreeSet<&str> = BTreeSet::new();
        let mut send = Vec::with_capacity(accepted.len());
        let (mut present, mut over) = (0usize, 0usize);
        for e in accepted {
            let i = e.input;
            if presence.as_ref().is_some_and(|p| p.find(&items[i], &keys[i]).is_some()) {
                outcome[i] = Some(Outcome::Skipped);
                present += 1;
                continue;
            }
            if let Some(r) = room.as_mut() {
                if !scheduled.contains(keys[i].as_str()) {
                    if *r == 0 {
                        outcome[i] = Some(Outcome::Unresolved(Hint::TraktLimit));
                        over += 1;
                        continue;
                    }
                    *r -= 1;
                    scheduled.insert(keys[i].as_str());
                }
            }
            send.push(e);
        }
        let limit_text = match limit {
            Limit::Items(n) => n.to_string(),
            Limit::Unlimited => "none".into(),
            Limit::Unknown => "unknown".into(),
        };
        log::event(
            if over > 0 { Level::Warn } else { Level::Debug },
            FEATURE,
            "capacity",
            &[
                ("limit", limit_text),
                ("count", if self.index.is_some() { count.to_string() } else { "unknown".into() }),
                ("present", present.to_string()),
                ("to_send", send.len().to_string()),
                ("over_limit", over.to_string()),
            ],
        );
        Ok(send)
    }

    fn limit(&mut self, ctx: &mut Ctx) -> Result<Limit, AdapterError> {
        if let Some(n) = ctx.opts.watchlist_limit {
            return Ok(Limit::Items(u64::from(n)));
        }
        if let Some(l) = self.settings {
            return Ok(l);
        }
        match ctx.client.execute(&Call::get(SETTINGS_PATH)) {
            Ok(resp) => {
                let l = limit_from_settings(&resp.body);
                self.settings = Some(l);
                Ok(l)
            }
            Err(e) if is_session_wide(&e) => Err(e),
            Err(e) => {
                log::event(Level::Warn, FEATURE, "limits_unknown", &[("error", e.to_string())]);
                Ok(Limit::Unknown)
            }
        }
    }
}

/// The watchlist limit a `/users/settings` answer implies.
pub(super) fn limit_from_settings(body: &[u8]) -> Limit {
    let Ok(v) = crate::model::json::from_bytes::<Value>(body) else {
        log::event(Level::Warn, FEATURE, "limits_unknown", &[("error", "unreadable /users/settings".into())]);
        return Limit::Unknown;
    };
    if let Some(n) = v.pointer("/limits/watchlist/item_count").and_then(Value::as_u64) {
        return Limit::Items(n);
    }
    let vip = ["vip", "vip_og", "vip_ep"]
        .iter()
        .any(|k| v.get("user").and_then(|u| u.get(*k)).and_then(Value::as_bool) == Some(true));
    if vip {
        Limit::Unlimited
    } else {
        Limit::Items(FREE_LIMIT)
    }
}
