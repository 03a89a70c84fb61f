//! Which plays an input item has: the index's titles by key and strong id (`Presence`) and
//! its plays by base key, for the checks of adds and removes.

use std::collections::BTreeMap;

use super::{Index, Play};
use crate::features::presence::Presence;
use crate::model::Item;

impl Index {
    pub fn lookup(&self) -> Lookup<'_> {
        let mut presence = Presence::default();
        let mut by_base: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for t in &self.titles {
            presence.insert(&t.base, &t.item);
        }
        for (i, p) in self.plays.iter().enumerate() {
            by_base.entry(self.title(p).base.as_str()).or_default().push(i);
        }
        for v in by_base.values_mut() {
            crate::sort::sort_by_key(v, |i| (self.plays[*i].minute, self.plays[*i].id.is_none(), self.plays[*i].id));
        }
        Lookup { index: self, presence, by_base }
    }
}

/// Which plays an input item has.
pub struct Lookup<'a> {
    index: &'a Index,
    presence: Presence,
    by_base: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> Lookup<'a> {
    /// The base key under which the index holds `item` (canonical key `key`): by key or by
    /// any strong id of the same kind.
    pub fn base_of(&self, item: &Item, key: &str) -> Option<&str> {
        self.presence.find(item, key)
    }

    /// Plays of `base`, oldest first (the smallest history id first within a minute).
    pub fn plays(&self, base: &str) -> impl Iterator<Item = &'a Play> + '_ {
        self.by_base.get(base).into_iter().flatten().map(|i| &self.index.plays[*i])
    }

    /// Plays of `base` in `minute`, the one keyed `<base>@<minute>` first.
    pub fn plays_at(&self, base: &str, minute: i64) -> Vec<&'a Play> {
        self.plays(base).filter(|p| p.minute == minute).collect()
    }

    /// Plays of the input `item` in `minute` (none when the index does not know the item).
    pub fn find_at(&self, item: &Item, key: &str, minute: i64) -> Vec<&'a Play> {
        self.base_of(item, key).map(|b| self.plays_at(b, minute)).unwrap_or_default()
    }
}
