//! Sync features: what each supports, their shared report types, and dispatch.

pub mod watchlist;

use crate::client::Client;
use crate::config::Options;
use crate::error::AdapterError;
use crate::model::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Watchlist,
    Ratings,
    History,
    Playlists,
}

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Watchlist => "watchlist",
            Feature::Ratings => "ratings",
            Feature::History => "history",
            Feature::Playlists => "playlists",
        }
    }
}

/// What this adapter version can do per feature (the manifest's table).
pub struct Support {
    pub feature: Feature,
    pub supported: bool,
    pub index: bool,
    pub add: bool,
    pub remove: bool,
    pub media_types: &'static [&'static str],
    pub note: &'static str,
}

const ALL_MEDIA: &[&str] = &["movie", "show", "season", "episode"];

pub const SUPPORT: [Support; 4] = [
    Support {
        feature: Feature::Watchlist,
        supported: true,
        index: true,
        add: true,
        remove: true,
        media_types: ALL_MEDIA,
        note: "",
    },
    Support {
        feature: Feature::Ratings,
        supported: false,
        index: false,
        add: false,
        remove: false,
        media_types: &[],
        note: "not implemented yet in this version",
    },
    Support {
        feature: Feature::History,
        supported: false,
        index: false,
        add: false,
        remove: false,
        media_types: &[],
        note: "not implemented yet in this version",
    },
    Support {
        feature: Feature::Playlists,
        supported: false,
        index: false,
        add: false,
        remove: false,
        media_types: &[],
        note: "playlists are out of scope for this adapter",
    },
];

pub fn unsupported(feature: Feature) -> AdapterError {
    AdapterError::Unsupported(format!(
        "{} is not implemented in this adapter version; see manifest",
        feature.name()
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    /// Canonical key, "" when the item has no usable id or title.
    pub key: String,
    /// The input item unchanged.
    pub item: Item,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub method: String,
    pub path: String,
    pub body: String,
}

/// Mirror of the WIT `write-report`: every input item is in exactly one of the first three.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteReport {
    pub confirmed: Vec<String>,
    pub skipped: Vec<String>,
    pub unresolved: Vec<Unresolved>,
    pub planned: Vec<PlannedRequest>,
}

/// Per-instance feature state (e.g. the last watchlist index of this run).
#[derive(Default)]
pub struct Features {
    pub watchlist: watchlist::Watchlist,
}

impl Features {
    pub fn build_index(
        &mut self,
        feature: Feature,
        client: &mut Client,
        opts: &Options,
    ) -> Result<Vec<(String, Item)>, AdapterError> {
        match feature {
            Feature::Watchlist => self.watchlist.build_index(client, opts),
            other => Err(unsupported(other)),
        }
    }

    pub fn write(
        &mut self,
        feature: Feature,
        op: Op,
        items: &[Item],
        dry_run: bool,
        client: &mut Client,
        opts: &Options,
    ) -> Result<WriteReport, AdapterError> {
        match feature {
            Feature::Watchlist => self.watchlist.write(op, items, dry_run, client, opts),
            other => Err(unsupported(other)),
        }
    }
}
