//! Host implementations of the component's imports, each under the sandbox policy.

pub mod auth;
pub mod http;
pub mod log;
pub mod progress;
pub mod resolve;
pub mod state;
