//! The `/_emulator/*` control endpoints (no auth, not logged, never faulted) and the device-flow
//! test hooks behind them.

use serde_json::{json, Value};

use crate::device::DeviceStatus;
use crate::encoding::{parse_urlencoded, percent_decode};
use crate::faults::OneOrMany;
use crate::reply::Reply;

use super::accounts::account_value;
use super::request::Incoming;
use super::shared::Shared;

impl Shared {
    /// `/_emulator/*`: test control, no auth, not logged.
    pub(crate) fn control(&self, req: &Incoming) -> Reply {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/_emulator/state") => self.state_of(req),
            ("GET", "/_emulator/requests") => {
                let log = self.log();
                Reply::json(200, serde_json::to_value(&*log).unwrap_or(Value::Null))
            }
            ("DELETE", "/_emulator/requests") => {
                self.log().clear();
                Reply::empty(204)
            }
            ("GET", "/_emulator/faults") => {
                Reply::json(200, serde_json::to_value(self.faults().list()).unwrap_or(Value::Null))
            }
            ("POST", "/_emulator/faults") => match serde_json::from_slice::<OneOrMany>(&req.body) {
                Ok(f) => {
                    let faults = f.into_vec();
                    let n = faults.len();
                    let mut set = self.faults();
                    for f in faults {
                        set.inject(f);
                    }
                    Reply::json(200, json!({ "injected": n }))
                }
                Err(e) => Reply::error(400, "bad_request", format!("expected a fault or an array of faults: {e}")),
            },
            ("DELETE", "/_emulator/faults") => {
                self.faults().clear();
                Reply::empty(204)
            }
            ("GET", "/_emulator/device") => Reply::json(200, json!({ "pending": self.pending_device_codes() })),
            ("POST", path) if path.starts_with("/_emulator/device/") => {
                let rest = &path["/_emulator/device/".len()..];
                let decided = match rest.rsplit_once('/') {
                    Some((code, "approve")) => Some((code, DeviceStatus::Approved)),
                    Some((code, "deny")) => Some((code, DeviceStatus::Denied)),
                    _ => None,
                };
                match decided {
                    Some((code, to)) if self.decide_device(&percent_decode(code), to) => Reply::json(
                        200,
                        json!({ "user_code": percent_decode(code), "status": if to == DeviceStatus::Approved { "approved" } else { "denied" } }),
                    ),
                    Some((code, _)) => Reply::error(
                        404,
                        "not_found",
                        format!("no pending device code with user_code {:?}", percent_decode(code)),
                    ),
                    None => {
                        Reply::error(404, "not_found", format!("unknown control endpoint {} {}", req.method, req.path))
                    }
                }
            }
            _ => Reply::error(404, "not_found", format!("unknown control endpoint {} {}", req.method, req.path)),
        }
    }

    /// User codes of the device codes that are pending and not expired.
    pub(crate) fn pending_device_codes(&self) -> Vec<String> {
        let now_ms = self.now_ms();
        self.state()
            .devices
            .iter()
            .filter(|d| d.status == DeviceStatus::Pending && now_ms < d.expires_at_ms)
            .map(|d| d.user_code.clone())
            .collect()
    }

    /// Approves or denies the pending, unexpired device code with this user code
    /// (case-insensitive, `-` ignored); `false` if there is none.
    pub(crate) fn decide_device(&self, user_code: &str, to: DeviceStatus) -> bool {
        let now_ms = self.now_ms();
        let wanted: String = user_code.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect();
        let mut st = self.state();
        match st.devices.iter_mut().find(|d| {
            d.status == DeviceStatus::Pending && now_ms < d.expires_at_ms && d.user_code.eq_ignore_ascii_case(&wanted)
        }) {
            Some(d) => {
                d.status = to;
                true
            }
            None => false,
        }
    }

    /// `GET /_emulator/state[?account=<username>]`: the primary library with the other accounts
    /// under `accounts`, or one account's own library (`404` naming an unknown username).
    fn state_of(&self, req: &Incoming) -> Reply {
        let query = parse_urlencoded(&req.query);
        let accounts = self.accounts();
        match query.iter().find(|(k, _)| k == "account") {
            None => Reply::json(200, accounts.dump()),
            Some((_, name)) => match accounts.by_username(name) {
                Some(pick) => Reply::json(200, account_value(&accounts.state(pick).library)),
                None => Reply::error(404, "not_found", format!("no account with username {name:?}")),
            },
        }
    }
}
