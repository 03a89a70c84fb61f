//! CrossWatch canonical keys: the one place that turns an item into its key.
//!
//! Keys must match the orchestrator's byte for byte, so the algorithm follows CrossWatch's
//! `canonical_key` (reference crosswatch.md 2.2) plus the newer upstream `#show` suffix.

use super::item::{into_lower, Ids, Item, Kind};

/// Version label of the key scheme, reported in the manifest.
pub const KEY_SCHEME: &str = "cw-keys/2: tmdb-first, #show for tmdb-keyed shows";

/// Namespaces tried, in order, for the "best id" of an item.
const KEY_PRIORITY: [&str; 12] =
    ["tmdb", "imdb", "tvdb", "trakt", "mal", "anilist", "kitsu", "anidb", "simkl", "plex", "guid", "slug"];

/// The key CrossWatch gives to an item with no usable id or title.
pub const UNKNOWN_KEY: &str = "unknown:";

/// `ns:value` of the first `KEY_PRIORITY` namespace present, lowercased.
fn best_id(ids: &Ids) -> Option<String> {
    // Not `format!`: a key is made for every title read, and the formatting machinery is
    // slow in wasm.
    KEY_PRIORITY.iter().find_map(|ns| {
        ids.get(ns).map(|v| {
            let mut key = String::with_capacity(ns.len() + 1 + v.len() + 12);
            key.push_str(ns);
            key.push(':');
            key.push_str(v);
            into_lower(key)
        })
    })
}

/// `n` as `format!("{n:02}")` writes it.
fn push_02(key: &mut String, n: i32) {
    if (0..10).contains(&n) {
        key.push('0');
    }
    key.push_str(itoa::Buffer::new().format(n));
}

/// The canonical key of a (normalised) media description.
///
/// - season/episode with a season number: `<show best id>#season:N` or `<show best id>#sSSeEE`
///   (show ids first, else the item's own ids; never with `#show`);
/// - else the best own id, `#show` appended for a show keyed by tmdb (TMDB's movie and TV id
///   spaces collide);
/// - else `"{type}|title:{title}|year:{year}"`; else `"unknown:"`.
pub fn canonical_key(
    kind: &Kind,
    ids: &Ids,
    show_ids: &Ids,
    season: Option<i32>,
    episode: Option<i32>,
    title: Option<&str>,
    year: Option<i32>,
) -> String {
    if matches!(kind, Kind::Season | Kind::Episode) {
        let numbered =
            matches!((kind, season, episode), (Kind::Season, Some(_), _) | (Kind::Episode, Some(_), Some(_)));
        if let Some(mut key) = numbered.then(|| best_id(show_ids).or_else(|| best_id(ids))).flatten() {
            // The fragment is lowercase already, and so is the best id.
            match (season, episode) {
                (Some(s), Some(e)) if *kind == Kind::Episode => {
                    key.push_str("#s");
                    push_02(&mut key, s);
                    key.push('e');
                    push_02(&mut key, e);
                }
                (Some(s), _) => {
                    key.push_str("#season:");
                    key.push_str(itoa::Buffer::new().format(s));
                }
                _ => {}
            }
            return key;
        }
    }
    if let Some(mut key) = best_id(ids) {
        if *kind == Kind::Show && key.starts_with("tmdb:") {
            key.push_str("#show");
        }
        return key;
    }
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => {
            let year = year.map(|y| y.to_string()).unwrap_or_default();
            format!("{}|title:{}|year:{year}", kind.as_str(), t.to_lowercase())
        }
        None => UNKNOWN_KEY.to_string(),
    }
}

/// Canonical key of an item as given (ids normalised first).
pub fn item_key(item: &Item) -> String {
    canonical_key(
        &item.kind(),
        &item.ids(),
        &item.show_ids(),
        item.season,
        item.episode,
        item.title.as_deref(),
        item.year,
    )
}

/// `item_key` of an item whose ids and show ids were normalised into `ids` and `show_ids`,
/// without normalising them again when that would give them back.
pub fn key_from_ids(item: &Item, ids: &Ids, show_ids: &Ids) -> String {
    if !(ids.renormalise_to_themselves() && show_ids.renormalise_to_themselves()) {
        return item_key(item);
    }
    canonical_key(&item.kind(), ids, show_ids, item.season, item.episode, item.title.as_deref(), item.year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, ids: &[(&str, &str)], show_ids: &[(&str, &str)], s: Option<i32>, e: Option<i32>) -> Item {
        let raw = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Item { kind: kind.into(), ids: raw(ids), show_ids: raw(show_ids), season: s, episode: e, ..Item::default() }
    }

    #[test]
    fn numbers_are_padded_as_format_pads_them() {
        for n in [i32::MIN, -123, -10, -9, -1, 0, 1, 9, 10, 99, 100, 123, i32::MAX] {
            let mut key = String::new();
            push_02(&mut key, n);
            assert_eq!(key, format!("{n:02}"));
        }
        let bb = [("tmdb", "1396")];
        assert_eq!(item_key(&item("episode", &[], &bb, Some(-1), Some(-12))), "tmdb:1396#s-1e-12");
        assert_eq!(item_key(&item("season", &[], &bb, Some(-3), None)), "tmdb:1396#season:-3");
        assert_eq!(item_key(&item("season", &[("TMDB", "12")], &[], Some(1), Some(2))), "tmdb:12#season:1");
    }

    #[test]
    fn key_table() {
        let bb = [("tmdb", "1396"), ("tvdb", "81189"), ("imdb", "tt0903747")];
        let cases: Vec<(&str, Item, &str)> = vec![
            ("movie tmdb first", item("movie", &[("imdb", "tt0133093"), ("tmdb", "603")], &[], None, None), "tmdb:603"),
            ("empty type is movie", item("", &[("tmdb", "603")], &[], None, None), "tmdb:603"),
            ("movie imdb normalised", item("movies", &[("imdb", "TT0133093")], &[], None, None), "imdb:tt0133093"),
            ("movie bare imdb digits", item("movie", &[("imdb", "0133093")], &[], None, None), "imdb:tt0133093"),
            ("show tmdb gets #show", item("show", &bb, &[], None, None), "tmdb:1396#show"),
            ("series alias", item("series", &[("tmdb", "1396")], &[], None, None), "tmdb:1396#show"),
            ("anime is a show", item("anime", &[("tmdb", "1396")], &[], None, None), "tmdb:1396#show"),
            ("show tvdb no #show", item("show", &[("tvdb", "81189")], &[], None, None), "tvdb:81189"),
            ("movie sharing the tmdb id", item("movie", &[("tmdb", "1396")], &[], None, None), "tmdb:1396"),
            (
                "season by show ids",
                item("season", &[("tmdb", "3626")], &[("tvdb", "81189")], Some(2), None),
                "tvdb:81189#season:2",
            ),
            ("season tmdb show no #show", item("season", &[], &bb, Some(2), None), "tmdb:1396#season:2"),
            ("season 0", item("season", &[], &bb, Some(0), None), "tmdb:1396#season:0"),
            ("episode", item("episode", &[("tmdb", "62085")], &bb, Some(1), Some(5)), "tmdb:1396#s01e05"),
            ("episode specials", item("episode", &[], &bb, Some(0), Some(3)), "tmdb:1396#s00e03"),
            ("episode 3 digits", item("episode", &[], &bb, Some(1), Some(123)), "tmdb:1396#s01e123"),
            ("episode with show ids copied onto it", item("episode", &bb, &bb, Some(1), Some(5)), "tmdb:1396#s01e05"),
            (
                "episode without show ids uses own ids",
                item("episode", &[("tmdb", "62085")], &[], Some(1), Some(1)),
                "tmdb:62085#s01e01",
            ),
            (
                "episode without numbers uses own id",
                item("episode", &[("tvdb", "349232")], &bb, None, None),
                "tvdb:349232",
            ),
            (
                "episode season but no episode number",
                item("episode", &[("trakt", "16")], &bb, Some(1), None),
                "trakt:16",
            ),
            (
                "sentinel ids skipped",
                item("movie", &[("tmdb", "0"), ("imdb", "none"), ("trakt", "12")], &[], None, None),
                "trakt:12",
            ),
            (
                "slug lowercased last resort",
                item("movie", &[("slug", "The-Matrix")], &[], None, None),
                "slug:the-matrix",
            ),
            (
                "show ids sentinel falls back to own",
                item("season", &[("tvdb", "171641")], &[("tmdb", "null")], Some(3), None),
                "tvdb:171641#season:3",
            ),
            ("nothing at all", item("movie", &[], &[], None, None), "unknown:"),
            (
                "imdb before tvdb for a show",
                item("show", &[("tvdb", "121361"), ("imdb", "tt0944947")], &[], None, None),
                "imdb:tt0944947",
            ),
            (
                "trakt-keyed show, no #show",
                item("show", &[("trakt", "1390"), ("slug", "game-of-thrones")], &[], None, None),
                "trakt:1390",
            ),
            (
                "anime keyed by tmdb gets #show",
                item("anime", &[("tmdb", "31910"), ("mal", "20")], &[], None, None),
                "tmdb:31910#show",
            ),
            ("mal before simkl", item("show", &[("simkl", "38636"), ("mal", "20")], &[], None, None), "mal:20"),
            (
                "anidb before simkl, kitsu before anidb",
                item("show", &[("anidb", "239"), ("kitsu", "11"), ("simkl", "1")], &[], None, None),
                "kitsu:11",
            ),
            (
                "jellyfin, emby, mdblist are not key namespaces",
                {
                    let mut it =
                        item("movie", &[("jellyfin", "abc123"), ("emby", "77"), ("mdblist", "X")], &[], None, None);
                    it.title = Some("Heat".into());
                    it.year = Some(1995);
                    it
                },
                "movie|title:heat|year:1995",
            ),
            (
                "guid kept verbatim, key lowercased",
                item("movie", &[("guid", "plex://movie/5D776BE17A53E9001E732AB9")], &[], None, None),
                "guid:plex://movie/5d776be17a53e9001e732ab9",
            ),
            (
                "guid-derived tmdb wins",
                item("movie", &[("guid", "com.plexapp.agents.themoviedb://603?lang=en")], &[], None, None),
                "tmdb:603",
            ),
            ("person keeps its id key, no #show", item("person", &[("tmdb", "17419")], &[], None, None), "tmdb:17419"),
            (
                "season: show ids without a key namespace fall back to own ids",
                item("season", &[("tvdb", "30272")], &[("jellyfin", "x")], Some(1), None),
                "tvdb:30272#season:1",
            ),
            ("episode 0 of season 0", item("episode", &[], &bb, Some(0), Some(0)), "tmdb:1396#s00e00"),
            (
                "negative season kept as Python prints it",
                item("season", &[], &bb, Some(-1), None),
                "tmdb:1396#season:-1",
            ),
            ("negative episode number", item("episode", &[], &bb, Some(1), Some(-1)), "tmdb:1396#s01e-1"),
            (
                "episode of a show keyed by slug only",
                item("episode", &[], &[("slug", "Tiny-Show")], Some(2), Some(5)),
                "slug:tiny-show#s02e05",
            ),
            (
                "movie with tmdb and a show_ids map keeps its own key",
                item("movie", &[("tmdb", "603")], &bb, Some(1), Some(1)),
                "tmdb:603",
            ),
            ("season with nothing", item("season", &[], &[], Some(1), None), "unknown:"),
        ];
        for (name, it, want) in cases {
            assert_eq!(item_key(&it), want, "{name}");
        }
    }

    #[test]
    fn title_year_fallback() {
        let mut it = item("movie", &[], &[], None, None);
        it.title = Some(" The Matrix ".into());
        it.year = Some(1999);
        assert_eq!(item_key(&it), "movie|title:the matrix|year:1999");
        it.kind = "anime".into();
        it.year = None;
        assert_eq!(item_key(&it), "show|title:the matrix|year:");
        // A season or episode without any id falls back to its own title, typed.
        let mut ep = item("episode", &[], &[], Some(1), Some(2));
        ep.title = Some("Pilot".into());
        ep.series_title = Some("Breaking Bad".into());
        ep.year = Some(2008);
        assert_eq!(item_key(&ep), "episode|title:pilot|year:2008");
        it.kind = "Documentary".into();
        it.year = Some(0);
        assert_eq!(item_key(&it), "documentary|title:the matrix|year:0");
        it.title = Some("   ".into());
        assert_eq!(item_key(&it), "unknown:");
    }
}
