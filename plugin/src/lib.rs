//! CrossWatch Trakt sync adapter, a WASI 0.2 component.
//!
//! This file is only the binding glue: it converts WIT records to the internal model and back
//! and calls the features. The instance keeps one `Session` (options, the Trakt client with
//! its pacing state, per-feature caches) for the life of the run.

wit_bindgen::generate!({
    world: "trakt-adapter",
    path: "../wit",
    with: {
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
    },
});

mod client;
mod config;
mod error;
mod features;
mod health;
mod log;
mod model;
mod payload;
mod state;
#[cfg(test)]
mod testkit;
mod time;

use std::cell::RefCell;

use client::transport::host::{HostAuth, HostClock, HostTransport};
use client::Client;
use config::Options;
use crosswatch::sync::types as wit;
use error::AdapterError;
use exports::crosswatch::sync::sync_adapter::Guest;
use features::{Ctx, Feature, Features, Op};
use state::host::HostStore;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Session {
    opts: Options,
    client: Client,
    features: Features,
    state: HostStore,
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
impl Session {
    fn new() -> Session {
        let opts = Options::default();
        let client = Client::new(Box::new(HostTransport), Box::new(HostClock), Box::new(HostAuth), &opts);
        Session { opts, client, features: Features::default(), state: HostStore }
    }

    fn ctx(&mut self) -> (&mut Features, Ctx<'_>) {
        (&mut self.features, Ctx { client: &mut self.client, opts: &self.opts, state: &mut self.state })
    }
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
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
            features: features::SUPPORT
                .iter()
                .map(|s| wit::FeatureSupport {
                    feature: feature_to_wit(s.feature),
                    supported: s.supported,
                    index: s.index,
                    add: s.add,
                    remove: s.remove,
                    media_types: s.media_types.iter().map(|m| m.to_string()).collect(),
                    note: s.note.into(),
                })
                .collect(),
            id_namespaces: ["trakt", "imdb", "tmdb", "tvdb", "slug"].iter().map(|s| s.to_string()).collect(),
            index_semantics: "present".into(),
            key_scheme: model::KEY_SCHEME.into(),
        }
    }

    fn configure(options_json: String) -> Result<(), wit::AdapterError> {
        let opts = Options::parse(&options_json).map_err(error_to_wit)?;
        with_session(|s| {
            s.client.apply_options(&opts);
            s.opts = opts;
        });
        Ok(())
    }

    fn health() -> wit::HealthReport {
        let r = with_session(|s| {
            s.client.reset_ledger();
            health::probe(&mut s.client)
        });
        wit::HealthReport {
            status: r.status,
            latency_ms: r.latency_ms,
            api_status: r.api_status,
            rate_limit_remaining: r.rate_limit_remaining,
            retry_after_secs: r.retry_after_secs,
            features: r
                .features
                .into_iter()
                .map(|f| wit::FeatureHealth { feature: feature_to_wit(f.feature), available: f.available, reason: f.reason })
                .collect(),
            message: r.message,
        }
    }

    fn build_index(feature: wit::Feature) -> Result<Vec<wit::IndexEntry>, wit::AdapterError> {
        let entries = with_session(|s| {
            s.client.reset_ledger();
            let (features, mut ctx) = s.ctx();
            features.build_index(feature_from_wit(feature), &mut ctx)
        })
        .map_err(error_to_wit)?;
        Ok(entries.into_iter().map(|(key, item)| wit::IndexEntry { key, item: item_to_wit(item) }).collect())
    }

    fn build_index_json(feature: wit::Feature) -> Result<String, wit::AdapterError> {
        let entries = with_session(|s| {
            s.client.reset_ledger();
            let (features, mut ctx) = s.ctx();
            features.build_index(feature_from_wit(feature), &mut ctx)
        })
        .map_err(error_to_wit)?;
        let mut index = serde_json::Map::with_capacity(entries.len());
        for (key, item) in &entries {
            index.insert(key.clone(), model::json::item_to_json(item));
        }
        serde_json::to_string(&index).map_err(|e| wit::AdapterError::Internal(format!("index to JSON: {e}")))
    }

    fn add(feature: wit::Feature, items: Vec<wit::Item>, dry_run: bool) -> Result<wit::WriteReport, wit::AdapterError> {
        write(feature, Op::Add, items, dry_run)
    }

    fn remove(feature: wit::Feature, items: Vec<wit::Item>, dry_run: bool) -> Result<wit::WriteReport, wit::AdapterError> {
        write(feature, Op::Remove, items, dry_run)
    }

    fn last_ledger() -> Vec<wit::LedgerEntry> {
        with_session(|s| s.client.ledger_entries())
            .into_iter()
            .map(|e| wit::LedgerEntry {
                method: e.method,
                path: e.path,
                status: e.status,
                attempts: e.attempts,
                waited_ms: e.waited_ms,
                elapsed_ms: e.elapsed_ms,
                bytes_sent: e.bytes_sent,
                bytes_received: e.bytes_received,
                rate_limit: e.rate_limit,
                error: e.error,
            })
            .collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn write(feature: wit::Feature, op: Op, items: Vec<wit::Item>, dry_run: bool) -> Result<wit::WriteReport, wit::AdapterError> {
    let items: Vec<model::Item> = items.into_iter().map(item_from_wit).collect();
    let r = with_session(|s| {
        s.client.reset_ledger();
        let (features, mut ctx) = s.ctx();
        features.write(feature_from_wit(feature), op, &items, dry_run, &mut ctx)
    })
    .map_err(error_to_wit)?;
    Ok(wit::WriteReport {
        confirmed: r.confirmed,
        skipped: r.skipped,
        unresolved: r
            .unresolved
            .into_iter()
            .map(|u| wit::Unresolved { key: u.key, item: item_to_wit(u.item), hint: u.hint.to_string() })
            .collect(),
        planned: r
            .planned
            .into_iter()
            .map(|p| wit::PlannedRequest { method: p.method, path: p.path, body: p.body })
            .collect(),
        outcomes: r
            .outcomes
            .into_iter()
            .map(|o| wit::ItemOutcome {
                key: o.key,
                status: match o.outcome {
                    features::Outcome::Confirmed => wit::ItemStatus::Confirmed,
                    features::Outcome::Skipped => wit::ItemStatus::Skipped,
                    features::Outcome::Unresolved(hint) => wit::ItemStatus::Unresolved(hint.to_string()),
                },
            })
            .collect(),
    })
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn feature_from_wit(f: wit::Feature) -> Feature {
    match f {
        wit::Feature::Watchlist => Feature::Watchlist,
        wit::Feature::Ratings => Feature::Ratings,
        wit::Feature::History => Feature::History,
        wit::Feature::Playlists => Feature::Playlists,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn feature_to_wit(f: Feature) -> wit::Feature {
    match f {
        Feature::Watchlist => wit::Feature::Watchlist,
        Feature::Ratings => wit::Feature::Ratings,
        Feature::History => wit::Feature::History,
        Feature::Playlists => wit::Feature::Playlists,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn ids_from_wit(ids: Vec<wit::Id>) -> Vec<(String, String)> {
    ids.into_iter().map(|i| (i.namespace, i.value)).collect()
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn ids_to_wit(ids: Vec<(String, String)>) -> Vec<wit::Id> {
    ids.into_iter().map(|(namespace, value)| wit::Id { namespace, value }).collect()
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn item_from_wit(i: wit::Item) -> model::Item {
    model::Item {
        kind: i.kind,
        title: i.title,
        year: i.year,
        ids: ids_from_wit(i.ids),
        show_ids: ids_from_wit(i.show_ids),
        season: i.season,
        episode: i.episode,
        series_title: i.series_title,
        rating: i.rating,
        rated_at: i.rated_at,
        watched_at: i.watched_at,
        listed_at: i.listed_at,
        history_id: i.history_id,
        extra: i.extra,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn item_to_wit(i: model::Item) -> wit::Item {
    wit::Item {
        kind: i.kind,
        title: i.title,
        year: i.year,
        ids: ids_to_wit(i.ids),
        show_ids: ids_to_wit(i.show_ids),
        season: i.season,
        episode: i.episode,
        series_title: i.series_title,
        rating: i.rating,
        rated_at: i.rated_at,
        watched_at: i.watched_at,
        listed_at: i.listed_at,
        history_id: i.history_id,
        extra: i.extra,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn error_to_wit(e: AdapterError) -> wit::AdapterError {
    use wit::AdapterError as W;
    match e {
        AdapterError::Unsupported(m) => W::Unsupported(m),
        AdapterError::InvalidInput(m) => W::InvalidInput(m),
        AdapterError::Config(m) => W::Config(m),
        AdapterError::Auth(m) => W::Auth(m),
        AdapterError::Forbidden(m) => W::Forbidden(m),
        AdapterError::AccountLimit { limit, vip, upgrade_url, message } => {
            W::AccountLimit(wit::AccountLimit { limit, vip, upgrade_url, message })
        }
        AdapterError::Locked(m) => W::Locked(m),
        AdapterError::VipOnly(m) => W::VipOnly(m),
        AdapterError::RateLimited { retry_after_secs, message } => {
            W::RateLimited(wit::RateLimited { retry_after_secs, message })
        }
        AdapterError::Http { status, message } => W::Http(wit::HttpFailure { status, message }),
        AdapterError::Transport(m) => W::Transport(m),
        AdapterError::Protocol(m) => W::Protocol(m),
        AdapterError::State(m) => W::State(m),
        AdapterError::Internal(m) => W::Internal(m),
    }
}

#[cfg(target_arch = "wasm32")]
export!(Component);
