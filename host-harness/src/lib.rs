//! Reference host for the CrossWatch Trakt adapter component: loads the component under a
//! sandbox policy, provides its imports, drives it from the `cw-host` command line, and
//! carries a Trakt API emulator for tests and the demo.

pub mod cli;
pub mod config;
pub mod config_secrets;
pub mod emulator;
pub mod engine;
pub mod fsutil;
pub mod imports;
pub mod items;
pub mod oauth;
pub mod policy;
pub mod runtime;
pub mod state_scope;
