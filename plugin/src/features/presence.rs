//! "Is this input item already in the index?" by key or by any strong id.
//!
//! Keys alone are not enough: an input keyed `imdb:tt0372784` (it has only an imdb id) is the
//! index entry `tmdb:272` when Trakt knows both ids. Tokens are typed (`movie|tmdb:603` is not
//! `show|tmdb:603`: TMDB's movie and TV ids collide). Season and episode tokens use their own
//! ids (copied show ids excluded) and the show's ids with their numbers.

use std::collections::BTreeMap;

use crate::model::keys::UNKNOWN_KEY;
use crate::model::{Item, Kind};

const OWN: [&str; 4] = ["trakt", "imdb", "tmdb", "tvdb"];
const SCOPE: [&str; 5] = ["trakt", "imdb", "tmdb", "tvdb", "slug"];

fn tokens(item: &Item, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let kind = item.kind();
    let name = match &kind {
        Kind::Other(_) => return out,
        k => k.as_str().to_string(),
    };
    if key != UNKNOWN_KEY && !key.is_empty() {
        out.push(format!("{name}|key|{key}"));
    }
    let ids = item.ids();
    let show_ids = item.show_ids();
    let nested = matches!(kind, Kind::Season | Kind::Episode);
    for ns in OWN {
        if let Some(v) = ids.get(ns) {
            if nested && show_ids.get(ns) == Some(v) {
                continue;
            }
            out.push(format!("{name}|{ns}:{v}"));
        }
    }
    let fragment = match (&kind, item.season, item.episode) {
        (Kind::Season, Some(s), _) => Some(format!("#{s}")),
        (Kind::Episode, Some(s), Some(e)) => Some(format!("#{s}x{e}")),
        _ => None,
    };
    if let Some(fragment) = fragment {
        for ns in SCOPE {
            if let Some(v) = show_ids.get(ns) {
                out.push(format!("{name}|{ns}:{v}{fragment}"));
            }
        }
    }
    out
}

/// Token -> index key, over an index.
#[derive(Debug, Default)]
pub struct Presence {
    tokens: BTreeMap<String, String>,
}

impl Presence {
    pub fn new<'a>(index: impl IntoIterator<Item = (&'a String, &'a Item)>) -> Presence {
        let mut p = Presence::default();
        for (key, item) in index {
            p.insert(key, item);
        }
        p
    }

    /// Add one entry (an earlier entry keeps a token both have).
    pub fn insert(&mut self, key: &str, item: &Item) {
        for t in tokens(item, key) {
            self.tokens.entry(t).or_insert_with(|| key.to_string());
        }
    }

    /// The index key of the entry `item` (with canonical key `key`) is, when it is there.
    pub fn find(&self, item: &Item, key: &str) -> Option<&str> {
        tokens(item, key).iter().find_map(|t| self.tokens.get(t)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::item_key;

    fn item(kind: &str, ids: &[(&str, &str)], show_ids: &[(&str, &str)], s: Option<i32>, e: Option<i32>) -> Item {
        let raw = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Item { kind: kind.into(), ids: raw(ids), show_ids: raw(show_ids), season: s, episode: e, ..Item::default() }
    }

    #[test]
    fn finds_by_key_or_any_strong_id_of_the_same_kind() {
        let bb = [("tmdb", "1396"), ("tvdb", "81189"), ("trakt", "1"), ("slug", "breaking-bad")];
        let index: Vec<Item> = vec![
            item("movie", &[("tmdb", "272"), ("imdb", "tt0372784"), ("trakt", "1")], &[], None, None),
            item("show", &bb, &[], None, None),
            item("season", &[("tmdb", "3572"), ("tvdb", "30272")], &bb, Some(1), None),
            item("episode", &[("trakt", "56"), ("tvdb", "4127161")], &bb, Some(4), Some(8)),
        ];
        let map: BTreeMap<String, Item> = index.iter().map(|i| (item_key(i), i.clone())).collect();
        let p = Presence::new(&map);
        let find = |it: Item| p.find(&it, &item_key(&it)).map(str::to_string);

        assert_eq!(find(item("movie", &[("imdb", "tt0372784")], &[], None, None)).as_deref(), Some("tmdb:272"));
        assert_eq!(find(item("movie", &[("trakt", "1")], &[], None, None)).as_deref(), Some("tmdb:272"));
        assert_eq!(find(item("show", &[("trakt", "1")], &[], None, None)).as_deref(), Some("tmdb:1396#show"));
        // The movie with the show's tmdb id is another title.
        assert_eq!(find(item("movie", &[("tmdb", "1396")], &[], None, None)), None);
        assert_eq!(
            find(item("season", &[], &[("slug", "breaking-bad")], Some(1), None)).as_deref(),
            Some("tmdb:1396#season:1")
        );
        assert_eq!(find(item("season", &[], &[("tvdb", "81189")], Some(2), None)), None);
        assert_eq!(find(item("episode", &[("tvdb", "4127161")], &[], None, None)).as_deref(), Some("tmdb:1396#s04e08"));
        assert_eq!(
            find(item("episode", &[], &[("tvdb", "81189")], Some(4), Some(8))).as_deref(),
            Some("tmdb:1396#s04e08")
        );
        // Show ids copied onto an episode are not the episode's ids.
        assert_eq!(find(item("episode", &[("tmdb", "1396")], &[("tmdb", "1396")], Some(9), Some(9))), None);
        assert_eq!(find(item("person", &[("tmdb", "272")], &[], None, None)), None);
    }
}
