//! CrossWatch Trakt sync adapter, a WASI 0.2 component.
//!
//! This file is only the export glue: it calls the features with the internal model, the
//! conversions from and to the WIT records living in `exports.rs`. The instance keeps one
//! `Session` (options, the Trakt client with its pacing state, per-feature caches) for the
//! life of the run.

/// The generated WIT bindings (in a module of their own so `exports.rs` can be ours).
mod bindings {
    wit_bindgen::generate!({
        world: "trakt-adapter-streaming",
        path: "../wit",
        with: {
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
        },
    });
}

mod client;
mod config;
mod error;
mod exports;
mod features;
mod health;
mod log;
mod model;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub mod native;
mod payload;
mod sort;
mod state;
#[cfg(test)]
mod testkit;
mod time;

use std::cell::RefCell;

use bindings::crosswatch::sync::types as wit;
use bindings::exports::crosswatch::sync::sync_adapter::Guest;
use client::transport::host::{HostAuth, HostClock, HostTransport};
use client::Client;
use config::Options;
use features::{Ctx, Features, Op};
use state::host::HostStore;
use state::Store;

/// One run's adapter: over the component's imports in the component, over the embedder's
/// implementations of the same traits natively (`native`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Session<S: Store = HostStore> {
    opts: Options,
    client: Client,
    features: Features,
    state: S,
    /// The index text `open-index-json` made ready, until its last part is read or another
    /// call comes.
    opened: Option<features::stream::Opened>,
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
impl Session {
    fn new() -> Session {
        Session::with_host(Box::new(HostTransport), Box::new(HostClock), Box::new(HostAuth), HostStore)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
impl<S: Store> Session<S> {
    fn with_host(
        transport: Box<dyn client::transport::Transport>,
        clock: Box<dyn client::transport::Clock>,
        auth: Box<dyn client::transport::Auth>,
        state: S,
    ) -> Session<S> {
        let opts = Options::default();
        let client = Client::new(transport, clock, auth, &opts);
        Session { opts, client, features: Features::default(), state, opened: None }
    }

    fn ctx(&mut self) -> (&mut Features, Ctx<'_>) {
        (&mut self.features, Ctx { client: &mut self.client, opts: &self.opts, state: &mut self.state })
    }

    fn configure(&mut self, opts: Options) {
        self.client.apply_options(&opts);
        self.opts = opts;
    }

    fn build_index_json(&mut self, feature: features::Feature) -> Result<String, error::AdapterError> {
        self.client.reset_ledger();
        let (features, mut ctx) = self.ctx();
        features.build_index_json(feature, &mut ctx)
    }

    fn open_index_json(&mut self, feature: features::Feature) -> Result<(), error::AdapterError> {
        self.opened = None;
        self.client.reset_ledger();
        let (features, mut ctx) = self.ctx();
        let opened = features.open_index_json(feature, &mut ctx)?;
        self.opened = Some(opened);
        Ok(())
    }

    /// The next part of the opened text; the requests of reading it (none) do not reset the
    /// ledger, which stays the open call's.
    fn next_index_json_part(&mut self) -> Result<Option<String>, error::AdapterError> {
        let Some(mut opened) = self.opened.take() else { return Ok(None) };
        let (features, mut ctx) = self.ctx();
        let part = features.next_index_json(&mut opened, &mut ctx)?;
        if part.is_some() {
            self.opened = Some(opened);
        }
        Ok(part)
    }
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// The run's session for an export other than `next-index-json-part`: an index text opened
/// and not read to its end is dropped (wit/adapter.wit, `index-stream`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    with_open_session(|s| {
        s.opened = None;
        f(s)
    })
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn with_open_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    SESSION.with(|cell| {
        let mut slot = cell.borrow_mut();
        f(slot.get_or_insert_with(Session::new))
    })
}

// Natively (unit tests) the export glue is type-checked but not exported: the export
// symbol names (`crosswatch:sync/...#add`) are not valid in a native linker script.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

impl Guest for Component {
    fn manifest() -> wit::AdapterManifest {
        wit::AdapterManifest {
            name: "TRAKT".into(),
            label: "Trakt".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            api_version: "0.1.0".into(),
            features: features::SUPPORT.iter().map(Into::into).collect(),
            id_namespaces: ["trakt", "imdb", "tmdb", "tvdb", "slug"].iter().map(|s| s.to_string()).collect(),
            index_semantics: "present".into(),
            key_scheme: model::KEY_SCHEME.into(),
        }
    }

    fn configure(options_json: String) -> Result<(), wit::AdapterError> {
        let opts = Options::parse(&options_json)?;
        with_session(|s| s.configure(opts));
        Ok(())
    }

    fn health() -> wit::HealthReport {
        with_session(|s| {
            s.client.reset_ledger();
            health::probe(&mut s.client)
        })
        .into()
    }

    fn build_index(feature: wit::Feature) -> Result<Vec<wit::IndexEntry>, wit::AdapterError> {
        let entries = with_session(|s| {
            s.client.reset_ledger();
            let (features, mut ctx) = s.ctx();
            features.build_index(feature.into(), &mut ctx)
        })?;
        Ok(entries.into_iter().map(|(key, item)| wit::IndexEntry { key, item: item.into() }).collect())
    }

    fn build_index_json(feature: wit::Feature) -> Result<String, wit::AdapterError> {
        Ok(with_session(|s| s.build_index_json(feature.into()))?)
    }

    fn add(feature: wit::Feature, items: Vec<wit::Item>, dry_run: bool) -> Result<wit::WriteReport, wit::AdapterError> {
        write(feature, Op::Add, items, dry_run)
    }

    fn remove(
        feature: wit::Feature,
        items: Vec<wit::Item>,
        dry_run: bool,
    ) -> Result<wit::WriteReport, wit::AdapterError> {
        write(feature, Op::Remove, items, dry_run)
    }

    fn last_ledger() -> Vec<wit::LedgerEntry> {
        with_session(|s| s.client.ledger_entries()).into_iter().map(Into::into).collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn write(
    feature: wit::Feature,
    op: Op,
    items: Vec<wit::Item>,
    dry_run: bool,
) -> Result<wit::WriteReport, wit::AdapterError> {
    let items: Vec<model::Item> = items.into_iter().map(Into::into).collect();
    let report = with_session(|s| {
        s.client.reset_ledger();
        let (features, mut ctx) = s.ctx();
        features.write(feature.into(), op, &items, dry_run, &mut ctx)
    })?;
    Ok(report.into())
}

impl bindings::exports::crosswatch::sync::index_stream::Guest for Component {
    fn open_index_json(feature: wit::Feature) -> Result<(), wit::AdapterError> {
        Ok(with_session(|s| s.open_index_json(feature.into()))?)
    }

    fn next_index_json_part() -> Result<Option<String>, wit::AdapterError> {
        Ok(with_open_session(|s| s.next_index_json_part())?)
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);
