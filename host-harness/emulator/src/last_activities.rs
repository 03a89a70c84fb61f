//! The timestamps behind `GET /sync/last_activities` (served by `routes::activities`).
//!
//! Every mutation bumps the timestamps of what it changed plus `all` through
//! [`LastActivities::bump`]. Bumps are strictly increasing: a change gets
//! `max(now, all + 1 s)`, so two writes within the same second still move every timestamp a
//! client watches (Trakt renders whole seconds here, and a cached value that did not move would
//! hide a change).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::timestamp::Timestamp;

/// The groups and keys of the `last_activities` payload as Trakt serves it in 2026 (the
/// documented groups plus the newer `favorites`, `collaborations`, `saved_filters` and `notes`).
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "movies",
        &[
            "watched_at",
            "collected_at",
            "rated_at",
            "watchlisted_at",
            "favorited_at",
            "commented_at",
            "paused_at",
            "hidden_at",
        ],
    ),
    ("episodes", &["watched_at", "collected_at", "rated_at", "watchlisted_at", "commented_at", "paused_at"]),
    ("shows", &["rated_at", "watchlisted_at", "favorited_at", "commented_at", "hidden_at", "dropped_at"]),
    ("seasons", &["rated_at", "watchlisted_at", "commented_at", "hidden_at"]),
    ("comments", &["liked_at", "reacted_at", "blocked_at"]),
    ("lists", &["liked_at", "reacted_at", "updated_at", "commented_at"]),
    ("watchlist", &["updated_at"]),
    ("favorites", &["updated_at"]),
    ("collaborations", &["updated_at"]),
    ("account", &["settings_at", "followed_at", "following_at", "pending_at", "requested_at"]),
    ("saved_filters", &["updated_at"]),
    ("notes", &["updated_at"]),
];

/// `last_activities`: `all` plus `group -> key -> timestamp`. Serializes to (and parses from)
/// exactly the API's JSON object; `all` is always emitted as the latest timestamp overall.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastActivities {
    all: Option<Timestamp>,
    groups: BTreeMap<String, BTreeMap<String, Timestamp>>,
}

impl LastActivities {
    /// The latest timestamp of all (`None` only for an empty, never-normalized value).
    pub fn all(&self) -> Option<Timestamp> {
        self.groups.values().flat_map(|g| g.values().copied()).chain(self.all).max()
    }

    pub fn get(&self, group: &str, key: &str) -> Option<Timestamp> {
        self.groups.get(group).and_then(|g| g.get(key)).copied()
    }

    /// Sets one timestamp as is (seeding; mutations use [`bump`](Self::bump)).
    pub fn set(&mut self, group: &str, key: &str, at: Timestamp) {
        self.groups.entry(group.to_string()).or_default().insert(key.to_string(), at);
    }

    /// Gives every key of the payload (every group and key Trakt serves) that has no value the
    /// timestamp `at`.
    pub fn fill_missing(&mut self, at: Timestamp) {
        for (group, keys) in GROUPS {
            let g = self.groups.entry(group.to_string()).or_default();
            for key in *keys {
                g.entry(key.to_string()).or_insert(at);
            }
        }
    }

    /// Records a change at `now` to the given `(group, key)` pairs and to `all`; returns the
    /// timestamp used (`max(now, all + 1 s)`).
    pub fn bump(&mut self, now: Timestamp, keys: &[(&str, &str)]) -> Timestamp {
        let at = match self.all() {
            Some(all) if all >= now => Timestamp(all.0 + 1),
            _ => now,
        };
        for (group, key) in keys {
            self.set(group, key, at);
        }
        self.all = Some(at);
        at
    }

    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(all) = self.all() {
            out.insert("all".into(), all.to_trakt().into());
        }
        for (group, keys) in &self.groups {
            let g: Map<String, Value> = keys.iter().map(|(k, t)| (k.clone(), t.to_trakt().into())).collect();
            out.insert(group.clone(), Value::Object(g));
        }
        Value::Object(out)
    }
}

impl Serialize for LastActivities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for LastActivities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LastActivities, D::Error> {
        use serde::de::Error;
        let raw = BTreeMap::<String, Value>::deserialize(d)?;
        let mut out = LastActivities::default();
        for (group, value) in raw {
            match value {
                Value::Null => {}
                Value::String(_) | Value::Number(_) if group == "all" => {
                    out.all = Some(Timestamp::deserialize(value).map_err(|e| D::Error::custom(format!("all: {e}")))?);
                }
                Value::Object(keys) => {
                    for (key, v) in keys {
                        if v.is_null() {
                            continue;
                        }
                        let t =
                            Timestamp::deserialize(v).map_err(|e| D::Error::custom(format!("{group}.{key}: {e}")))?;
                        out.set(&group, &key, t);
                    }
                }
                other => {
                    return Err(D::Error::custom(format!("{group}: expected an object of timestamps, found {other}")));
                }
            }
        }
        Ok(out)
    }
}
