//! The request log: one [`LoggedRequest`] per API or OAuth request the emulator answered, read
//! with `Emulator::requests` or `GET /_emulator/requests`.

use serde::{Deserialize, Serialize};

/// One request the emulator answered (control endpoints excluded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string, `""` if none.
    pub query: String,
    /// Status code of the answer.
    pub status: u16,
    /// Request headers, names lowercased; `authorization` values are redacted to
    /// `Bearer <redacted:LAST4>`.
    pub headers: Vec<(String, String)>,
    /// The request body parsed as JSON, if there was one and it parsed.
    pub body: Option<serde_json::Value>,
    /// Arrival time in milliseconds since the emulator started (monotonic).
    pub at_ms: u64,
    /// The injected fault that hit this request
    /// ([`FaultAction::label`](crate::FaultAction::label), e.g. `"status:503"`,
    /// `"drop_connection"`), `None` if none. Dropped connections are logged with `status` 0.
    #[serde(default)]
    pub fault: Option<String>,
    /// `user.username` of the account whose valid access token signed the request (for a
    /// refresh-token grant: whose refresh token was accepted); `None` when none did.
    #[serde(default)]
    pub account: Option<String>,
}

impl LoggedRequest {
    /// First value of a (lowercase) header name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}
