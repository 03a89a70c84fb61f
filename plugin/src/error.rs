//! The adapter's internal error type, a mirror of the WIT `adapter-error` variant.
//!
//! Why a mirror: the features and the client stay free of generated bindings, so they compile
//! and unit-test natively; `exports.rs` converts at the boundary.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
#[allow(dead_code)] // the full contract: some cases are only produced by later features
pub enum AdapterError {
    Unsupported(String),
    InvalidInput(String),
    Config(String),
    Auth(String),
    Forbidden(String),
    AccountLimit { limit: Option<u32>, vip: Option<bool>, upgrade_url: Option<String>, message: String },
    Locked(String),
    VipOnly(String),
    RateLimited { retry_after_secs: u32, message: String },
    Http { status: u16, message: String },
    Transport(String),
    Protocol(String),
    State(String),
    Internal(String),
}

impl AdapterError {
    /// The HTTP status behind an error, when one is known (used for `http:<status>` hints).
    pub fn status(&self) -> Option<u16> {
        match self {
            AdapterError::Auth(_) => Some(401),
            AdapterError::Forbidden(_) => Some(403),
            AdapterError::AccountLimit { .. } => Some(420),
            AdapterError::Locked(_) => Some(423),
            AdapterError::VipOnly(_) => Some(426),
            AdapterError::RateLimited { .. } => Some(429),
            AdapterError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterError::Unsupported(m) => write!(f, "unsupported: {m}"),
            AdapterError::InvalidInput(m) => write!(f, "invalid input: {m}"),
            AdapterError::Config(m) => write!(f, "config: {m}"),
            AdapterError::Auth(m) => write!(f, "auth: {m}"),
            AdapterError::Forbidden(m) => write!(f, "forbidden: {m}"),
            AdapterError::AccountLimit { message, .. } => write!(f, "account limit: {message}"),
            AdapterError::Locked(m) => write!(f, "locked: {m}"),
            AdapterError::VipOnly(m) => write!(f, "vip only: {m}"),
            AdapterError::RateLimited { message, .. } => write!(f, "rate limited: {message}"),
            AdapterError::Http { status, message } => write!(f, "http {status}: {message}"),
            AdapterError::Transport(m) => write!(f, "transport: {m}"),
            AdapterError::Protocol(m) => write!(f, "protocol: {m}"),
            AdapterError::State(m) => write!(f, "state: {m}"),
            AdapterError::Internal(m) => write!(f, "internal: {m}"),
        }
    }
}
