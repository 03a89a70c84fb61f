//! The HTTP server: the shared state and its clock (`shared`), which account serves a request
//! (`accounts`), the `/_emulator/*` control endpoints (`control`), how a request is answered
//! (`dispatch`: faults, routing, `checks`, `etag`, the request `log`, `canned` replies) and the
//! axum glue (`http`, `request`).

pub(crate) mod accounts;
mod canned;
mod checks;
mod control;
mod dispatch;
mod etag;
pub(crate) mod http;
mod log;
mod request;
pub(crate) mod shared;
