//! The WIT records and the adapter's own types, converted field by field. The WIT types are
//! generated and change with `wit/`; the features work on the mirror types so they can be
//! unit-tested natively, without the bindings.

use crate::bindings::crosswatch::sync::types as wit;
use crate::client::ledger::LedgerEntry;
use crate::error::AdapterError;
use crate::features::{self, Feature, Outcome, PlannedRequest, Support, Unresolved, WriteReport};
use crate::health::{FeatureHealth, HealthReport};
use crate::model::Item;

impl From<wit::Feature> for Feature {
    fn from(f: wit::Feature) -> Feature {
        match f {
            wit::Feature::Watchlist => Feature::Watchlist,
            wit::Feature::Ratings => Feature::Ratings,
            wit::Feature::History => Feature::History,
            wit::Feature::Playlists => Feature::Playlists,
        }
    }
}

impl From<Feature> for wit::Feature {
    fn from(f: Feature) -> wit::Feature {
        match f {
            Feature::Watchlist => wit::Feature::Watchlist,
            Feature::Ratings => wit::Feature::Ratings,
            Feature::History => wit::Feature::History,
            Feature::Playlists => wit::Feature::Playlists,
        }
    }
}

impl From<&Support> for wit::FeatureSupport {
    fn from(s: &Support) -> wit::FeatureSupport {
        wit::FeatureSupport {
            feature: s.feature.into(),
            supported: s.supported,
            index: s.index,
            add: s.add,
            remove: s.remove,
            media_types: s.media_types.iter().map(|m| m.to_string()).collect(),
            note: s.note.into(),
        }
    }
}

fn ids_from_wit(ids: Vec<wit::Id>) -> Vec<(String, String)> {
    ids.into_iter().map(|i| (i.namespace, i.value)).collect()
}

fn ids_to_wit(ids: Vec<(String, String)>) -> Vec<wit::Id> {
    ids.into_iter().map(|(namespace, value)| wit::Id { namespace, value }).collect()
}

impl From<wit::Item> for Item {
    fn from(i: wit::Item) -> Item {
        Item {
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
}

impl From<Item> for wit::Item {
    fn from(i: Item) -> wit::Item {
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
}

impl From<Unresolved> for wit::Unresolved {
    fn from(u: Unresolved) -> wit::Unresolved {
        wit::Unresolved { key: u.key, item: u.item.into(), hint: u.hint.to_string() }
    }
}

impl From<PlannedRequest> for wit::PlannedRequest {
    fn from(p: PlannedRequest) -> wit::PlannedRequest {
        wit::PlannedRequest { method: p.method, path: p.path, body: p.body }
    }
}

impl From<features::ItemOutcome> for wit::ItemOutcome {
    fn from(o: features::ItemOutcome) -> wit::ItemOutcome {
        let status = match o.outcome {
            Outcome::Confirmed => wit::ItemStatus::Confirmed,
            Outcome::Skipped => wit::ItemStatus::Skipped,
            Outcome::Unresolved(hint) => wit::ItemStatus::Unresolved(hint.to_string()),
        };
        wit::ItemOutcome { key: o.key, status }
    }
}

impl From<WriteReport> for wit::WriteReport {
    fn from(r: WriteReport) -> wit::WriteReport {
        wit::WriteReport {
            confirmed: r.confirmed,
            skipped: r.skipped,
            unresolved: r.unresolved.into_iter().map(Into::into).collect(),
            planned: r.planned.into_iter().map(Into::into).collect(),
            outcomes: r.outcomes.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<FeatureHealth> for wit::FeatureHealth {
    fn from(f: FeatureHealth) -> wit::FeatureHealth {
        wit::FeatureHealth { feature: f.feature.into(), available: f.available, reason: f.reason }
    }
}

impl From<HealthReport> for wit::HealthReport {
    fn from(r: HealthReport) -> wit::HealthReport {
        wit::HealthReport {
            status: r.status.as_wire().into(),
            latency_ms: r.latency_ms,
            api_status: r.api_status,
            rate_limit_remaining: r.rate_limit_remaining,
            retry_after_secs: r.retry_after_secs,
            features: r.features.into_iter().map(Into::into).collect(),
            message: r.message,
        }
    }
}

impl From<LedgerEntry> for wit::LedgerEntry {
    fn from(e: LedgerEntry) -> wit::LedgerEntry {
        wit::LedgerEntry {
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
        }
    }
}

impl From<AdapterError> for wit::AdapterError {
    fn from(e: AdapterError) -> wit::AdapterError {
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
}
