//! Reference host for the CrossWatch Trakt adapter component: loads the component under a
//! sandbox policy, provides its imports, and drives it from the `cw-host` command line (whose
//! `emulator` and `demo` commands serve the Trakt emulator of the `trakt-emulator` crate).

pub mod cli;
pub mod config;
pub mod config_secrets;
pub mod engine;
pub mod fsutil;
pub mod imports;
pub mod items;
pub mod oauth;
pub mod policy;
pub mod runtime;
pub mod state_scope;
