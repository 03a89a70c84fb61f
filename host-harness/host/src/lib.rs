//! The embeddable host of the CrossWatch Trakt adapter component: loads a component under a
//! sandbox policy (`engine`, `runtime`) after checking what it is and needs (`preflight`), provides its imports (`imports/`: http, state, auth,
//! log, progress), reads CrossWatch's config (`config`, `config_secrets`), performs OAuth
//! (`oauth`) and converts items and reports to CrossWatch's JSON (`items`). It carries no
//! component of its own (the `cw-host` CLI embeds one) and no HTTP server or emulator.

pub mod alloc_tuning;
pub mod config;
pub mod config_secrets;
pub mod engine;
pub mod fsutil;
pub mod imports;
pub mod index_text;
pub mod items;
pub mod json_check;
pub mod oauth;
pub mod policy;
pub mod preflight;
pub mod runtime;
pub mod signature;
pub mod state_scope;
