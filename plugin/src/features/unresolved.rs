//! The unresolved file: `trakt_<feature>.unresolved.json` (not to be confused with the
//! history crash journal, `features::history::journal`).
//!
//! ```json
//! {"schema": 1, "items": {"tmdb:603": {"item": {...}, "action": "add",
//!   "reasons": ["not_found"], "first_seen": "2026-05-02T18:41:00Z",
//!   "last_attempt": "2026-05-03T18:41:00Z", "attempts": 2}}}
//! ```
//!
//! One entry per canonical key of an item a real (not dry-run) write could not apply: the
//! input item as given, the action, the sorted unique hints seen, when it was first and last
//! tried (ISO UTC, wall clock) and how many calls tried it. An entry is cleared when the key
//! is later written successfully (confirmed or skipped, either action). A new action for
//! the key starts a new entry. The journal only informs: nothing reads it to skip items
//! (CrossWatch's old freeze files blocked retries forever, PR #387).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{public_key, Op, Outcome};
use crate::model::json::item_to_json;
use crate::model::Item;
use crate::state::{self, Store};

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub item: Value,
    pub action: Op,
    pub reasons: Vec<String>,
    pub first_seen: String,
    pub last_attempt: String,
    pub attempts: u32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Doc {
    pub schema: u32,
    pub items: BTreeMap<String, Entry>,
}

/// Fold one call's outcomes into the journal `file`. Nothing is written when nothing
/// changed; an empty journal is deleted.
#[allow(clippy::too_many_arguments)]
pub fn update(
    store: &mut dyn Store,
    feature: &str,
    file: &str,
    op: Op,
    now_iso: &str,
    items: &[Item],
    keys: &[String],
    outcome: &[Option<Outcome>],
) {
    // Per key (in key order): the item of its last failed input and every hint of this call as
    // the file words it (sorted, unique), or no item when it succeeded. Vectors sorted by
    // `crate::sort` rather than maps and sets: each map or set type is another copy of the
    // B-tree code.
    let mut inputs: Vec<usize> = (0..outcome.len()).filter(|&i| !public_key(&keys[i]).is_empty()).collect();
    crate::sort::sort_by(&mut inputs, |a, b| keys[*a].cmp(&keys[*b]));
    let mut calls: Vec<(&str, Option<&Item>, Vec<String>)> = Vec::new();
    for i in inputs {
        let key = keys[i].as_str();
        if calls.last().is_none_or(|(k, _, _)| *k != key) {
            calls.push((key, None, Vec::new()));
        }
        let slot = calls.last_mut().expect("pushed above");
        if let Some(Outcome::Unresolved(hint)) = &outcome[i] {
            slot.1 = Some(&items[i]);
            slot.2.push(hint.to_string());
        }
    }
    let has_failures = calls.iter().any(|(_, item, _)| item.is_some());
    let loaded: Option<Doc> = state::load(store, feature, file, SCHEMA);
    if loaded.is_none() && !has_failures {
        return;
    }
    let mut doc = loaded.unwrap_or(Doc { schema: SCHEMA, items: BTreeMap::new() });
    // A failure always changes its entry (attempts, last attempt); a success changes the file
    // only when it clears an entry. (Cheaper than a copy of the file to compare with.)
    let mut changed = has_failures;
    for (key, item, mut hints) in calls {
        let Some(item) = item else {
            changed |= doc.items.remove(key).is_some();
            continue;
        };
        match doc.items.get_mut(key) {
            Some(e) if e.action == op => {
                e.reasons.append(&mut hints);
                sorted_unique(&mut e.reasons);
                e.item = item_to_json(item);
                e.last_attempt = now_iso.to_string();
                e.attempts = e.attempts.saturating_add(1);
            }
            _ => {
                doc.items.insert(
                    key.to_string(),
                    Entry {
                        item: item_to_json(item),
                        action: op,
                        reasons: {
                            sorted_unique(&mut hints);
                            hints
                        },
                        first_seen: now_iso.to_string(),
                        last_attempt: now_iso.to_string(),
                        attempts: 1,
                    },
                );
            }
        }
    }
    if !changed {
        return;
    }
    if doc.items.is_empty() {
        state::delete(store, feature, file);
    } else {
        state::save_or_delete(store, feature, file, &doc);
    }
}

/// The file's form of an entry's reasons: sorted, each once.
fn sorted_unique(reasons: &mut Vec<String>) {
    crate::sort::sort(reasons);
    reasons.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Hint;
    use crate::testkit::MemStore;

    fn item(n: u32) -> Item {
        Item { kind: "movie".into(), ids: vec![("tmdb".into(), n.to_string())], ..Item::default() }
    }

    #[test]
    fn written_only_when_an_entry_changes() {
        let mem = MemStore::new();
        let mut store = mem.store();
        let (items, keys) = (vec![item(1), item(2)], vec!["tmdb:1".to_string(), "tmdb:2".to_string()]);
        let writes = || mem.ops().iter().filter(|o| o.starts_with("write") || o.starts_with("delete")).count();
        let fold = |store: &mut dyn Store, now: &str, outcome: &[Option<Outcome>]| {
            update(store, "watchlist", "u.json", Op::Add, now, &items, &keys, outcome)
        };
        // Successes with no file: nothing read back, nothing written.
        fold(&mut *store, "t1", &[Some(Outcome::Confirmed), Some(Outcome::Skipped)]);
        assert_eq!((writes(), mem.text("u.json")), (0, None));
        // A failure: its entry is written.
        fold(&mut *store, "t1", &[Some(Outcome::Unresolved(Hint::NotFound)), Some(Outcome::Confirmed)]);
        assert_eq!(writes(), 1);
        let doc: Doc = serde_json::from_str(&mem.text("u.json").unwrap()).unwrap();
        assert_eq!(doc.items.keys().collect::<Vec<_>>(), ["tmdb:1"]);
        assert_eq!(
            (doc.items["tmdb:1"].attempts, doc.items["tmdb:1"].reasons.as_slice()),
            (1, &["not_found".to_string()][..])
        );
        // A call whose only key has no entry, and succeeds, changes nothing: not written again.
        update(&mut *store, "watchlist", "u.json", Op::Add, "t2", &items[1..], &keys[1..], &[Some(Outcome::Confirmed)]);
        assert_eq!(writes(), 1);
        // The same failure again: attempts and last attempt move, so it is written.
        fold(&mut *store, "t3", &[Some(Outcome::Unresolved(Hint::NotFound)), None]);
        assert_eq!(writes(), 2);
        let doc: Doc = serde_json::from_str(&mem.text("u.json").unwrap()).unwrap();
        assert_eq!((doc.items["tmdb:1"].attempts, doc.items["tmdb:1"].last_attempt.as_str()), (2, "t3"));
        // One call, several inputs of one key failing: their hints, sorted and unique, join
        // the entry's; the item kept is the last failed input's.
        let twice = vec!["tmdb:1".to_string(), "tmdb:1".to_string(), "tmdb:1".to_string()];
        let three = vec![item(1), item(7), item(8)];
        let hints = [Hint::Transport, Hint::BadResponse, Hint::Transport].map(|h| Some(Outcome::Unresolved(h)));
        update(&mut *store, "watchlist", "u.json", Op::Add, "t3b", &three, &twice, &hints);
        let doc: Doc = serde_json::from_str(&mem.text("u.json").unwrap()).unwrap();
        let e = &doc.items["tmdb:1"];
        assert_eq!(e.reasons, ["bad_response", "not_found", "transport"]);
        assert_eq!((e.attempts, e.item["ids"]["tmdb"].as_str()), (3, Some("8")));
        assert_eq!(writes(), 3);
        // Its success clears the entry: the file, now empty, is deleted.
        fold(&mut *store, "t4", &[Some(Outcome::Confirmed), None]);
        assert_eq!((writes(), mem.text("u.json")), (4, None));
    }
}
