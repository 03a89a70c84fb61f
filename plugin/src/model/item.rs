//! The internal item (a mirror of the WIT `item`), media kinds and id normalisation.
//!
//! `Item` keeps what the caller gave, unchanged, so unresolved entries can hand it back as
//! is; normalised views (`kind()`, `ids()`, `show_ids()`) are computed on demand with
//! CrossWatch's rules (`cw_platform/id_map.py`, reference crosswatch.md 2.1).

/// Id namespaces CrossWatch keeps, in its output order (`ID_KEYS`). Others are dropped.
pub const ID_KEYS: [&str; 15] = [
    "tmdb", "imdb", "tvdb", "trakt", "simkl", "mal", "anilist", "kitsu", "anidb", "plex", "jellyfin", "mdblist",
    "emby", "guid", "slug",
];

/// Namespaces whose values are numbers: only their digits are kept.
const NUMERIC: [&str; 11] =
    ["tmdb", "tvdb", "trakt", "simkl", "mal", "anilist", "kitsu", "anidb", "plex", "jellyfin", "emby"];

/// `s.to_lowercase()`, without a copy when `s` is already lowercase ASCII (keys and ids
/// nearly always are).
pub fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.is_ascii() {
        return std::borrow::Cow::Owned(s.to_lowercase());
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return std::borrow::Cow::Owned(s.to_ascii_lowercase());
    }
    std::borrow::Cow::Borrowed(s)
}

/// `s.to_lowercase()` of an owned string, in place when it is ASCII.
pub fn into_lower(mut s: String) -> String {
    if s.is_ascii() {
        s.make_ascii_lowercase();
        s
    } else {
        s.to_lowercase()
    }
}

/// Whether `ns` is one of `NUMERIC` (a `match`: cheaper than comparing with each).
fn is_numeric(ns: &str) -> bool {
    let yes = matches!(
        ns,
        "tmdb" | "tvdb" | "trakt" | "simkl" | "mal" | "anilist" | "kitsu" | "anidb" | "plex" | "jellyfin" | "emby"
    );
    debug_assert_eq!(yes, NUMERIC.contains(&ns));
    yes
}

/// The place of a (lowercase, trimmed) namespace in `ID_KEYS`.
fn id_key_place(ns: &str) -> Option<usize> {
    let place = match ns {
        "tmdb" => 0,
        "imdb" => 1,
        "tvdb" => 2,
        "trakt" => 3,
        "simkl" => 4,
        "mal" => 5,
        "anilist" => 6,
        "kitsu" => 7,
        "anidb" => 8,
        "plex" => 9,
        "jellyfin" => 10,
        "mdblist" => 11,
        "emby" => 12,
        "guid" => 13,
        "slug" => 14,
        _ => return None,
    };
    debug_assert_eq!(ID_KEYS[place], ns);
    Some(place)
}

/// Values that mean "no id" in CrossWatch data.
const SENTINELS: [&str; 7] = ["none", "null", "nan", "undefined", "unknown", "0", ""];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    pub kind: String,
    pub title: Option<String>,
    pub year: Option<i32>,
    /// (namespace, value) as given.
    pub ids: Vec<(String, String)>,
    pub show_ids: Vec<(String, String)>,
    pub season: Option<i32>,
    pub episode: Option<i32>,
    pub series_title: Option<String>,
    pub rating: Option<f64>,
    pub rated_at: Option<String>,
    pub watched_at: Option<String>,
    pub listed_at: Option<String>,
    pub history_id: Option<String>,
    pub extra: Option<String>,
}

impl Item {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind)
    }
    pub fn ids(&self) -> Ids {
        Ids::from_raw(&self.ids)
    }
    pub fn show_ids(&self) -> Ids {
        Ids::from_raw(&self.show_ids)
    }
    /// The item as a feature's index would hold it after writing it: normalised kind and
    /// ids, the descriptive fields (title, year, numbers, series title), and none of the
    /// caller's per-feature or private fields (rating, dates, history id, `extra`).
    pub fn minimal(&self) -> Item {
        Item {
            kind: self.kind().as_str().to_string(),
            title: self.title.clone(),
            year: self.year,
            ids: self.ids().to_raw(),
            show_ids: self.show_ids().to_raw(),
            season: self.season,
            episode: self.episode,
            series_title: self.series_title.clone(),
            ..Item::default()
        }
    }

    /// `extra` must be the text of a JSON object (or absent).
    pub fn extra_is_valid(&self) -> bool {
        match &self.extra {
            None => true,
            Some(text) => matches!(serde_json::from_str::<serde_json::Value>(text), Ok(serde_json::Value::Object(_))),
        }
    }
}

/// A media kind after CrossWatch's type normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Movie,
    Show,
    Season,
    Episode,
    /// Anything else, lowercased (kept so it can be reported as "unsupported type").
    Other(String),
}

impl Kind {
    pub fn parse(raw: &str) -> Kind {
        let x = lower(raw.trim());
        match x.as_ref() {
            "" | "movie" | "movies" => Kind::Movie,
            // anime maps to show, as CrossWatch's keys and Trakt payloads treat it
            "show" | "shows" | "series" | "tv" | "anime" => Kind::Show,
            "season" | "seasons" => Kind::Season,
            "episode" | "episodes" => Kind::Episode,
            _ => Kind::Other(x.into_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Kind::Movie => "movie",
            Kind::Show => "show",
            Kind::Season => "season",
            Kind::Episode => "episode",
            Kind::Other(s) => s,
        }
    }
}

/// Normalise one id value the CrossWatch way; `None` drops it.
pub fn normalize_id(namespace: &str, value: &str) -> Option<String> {
    normalize_value(&lower(namespace.trim()), value)
}

/// `normalize_id` of a namespace already trimmed and lowercase (`ID_KEYS` are).
fn normalize_value(ns: &str, value: &str) -> Option<String> {
    let s = value.trim();
    // Every sentinel is empty or starts with n, u or 0: most ids are told apart at once.
    let maybe_sentinel = matches!(s.as_bytes().first(), None | Some(b'n' | b'N' | b'u' | b'U' | b'0'));
    if maybe_sentinel && SENTINELS.contains(&lower(s).as_ref()) {
        return None;
    }
    let digits_only = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if is_numeric(ns) {
        if digits_only(s) {
            return Some(s.to_string());
        }
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        return (!digits.is_empty()).then_some(digits);
    }
    match ns {
        // Already `tt` and digits (Trakt's form): itself.
        "imdb" if s.len() > 2 && s.starts_with("tt") && digits_only(&s[2..]) => Some(s.to_string()),
        "imdb" => {
            let lower = lower(s);
            if let Some(tt) = find_tt(&lower) {
                return Some(tt);
            }
            let digits: String = lower.chars().filter(char::is_ascii_digit).collect();
            (!digits.is_empty()).then(|| format!("tt{digits}"))
        }
        "slug" | "mdblist" => Some(lower(s).into_owned()),
        _ => Some(s.to_string()),
    }
}

/// First `tt\d+` in `s` (already lowercased).
fn find_tt(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(pos) = s[i..].find("tt") {
        let start = i + pos;
        let digits = b[start + 2..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            return Some(s[start..start + 2 + digits].to_string());
        }
        i = start + 1;
    }
    None
}

/// Ids parsed out of a guid (Plex agents and generic `imdb://`, `tmdb://`, `tvdb://` URIs).
fn ids_from_guid(guid: &str) -> Vec<(&'static str, String)> {
    let g = lower(guid.trim());
    let mut out = Vec::new();
    let imdb = after_any(&g, &["imdb://title/", "imdb://"], |rest| {
        let d = rest.strip_prefix("tt")?;
        let n = d.chars().take_while(char::is_ascii_digit).count();
        (n > 0).then(|| format!("tt{}", &d[..n]))
    });
    let tmdb = after_any(&g, &["com.plexapp.agents.themoviedb://"], digits_prefix)
        .or_else(|| after_any(&g, &["tmdb://movie/", "tmdb://show/", "tmdb://tv/", "tmdb://"], digits_prefix));
    let tvdb = after_any(&g, &["com.plexapp.agents.thetvdb://"], digits_prefix)
        .or_else(|| after_any(&g, &["tvdb://series/", "tvdb://show/", "tvdb://tv/", "tvdb://"], digits_prefix));
    for (ns, v) in [("imdb", imdb), ("tmdb", tmdb), ("tvdb", tvdb)] {
        if let Some(v) = v.and_then(|v| normalize_id(ns, &v)) {
            out.push((ns, v));
        }
    }
    out
}

fn digits_prefix(rest: &str) -> Option<String> {
    let n = rest.chars().take_while(char::is_ascii_digit).count();
    (n > 0).then(|| rest[..n].to_string())
}

/// Apply `f` after every occurrence of each prefix, first success wins.
fn after_any(s: &str, prefixes: &[&str], f: impl Fn(&str) -> Option<String>) -> Option<String> {
    for p in prefixes {
        let mut from = 0;
        while let Some(pos) = s[from..].find(p) {
            let at = from + pos + p.len();
            if let Some(v) = f(&s[at..]) {
                return Some(v);
            }
            from = from + pos + 1;
        }
    }
    None
}

/// The place in `ID_KEYS` of a namespace as given (trimmed, any case); `None` for the
/// namespaces CrossWatch drops.
pub fn namespace_place(ns: &str) -> Option<usize> {
    // Nearly always written as ID_KEYS writes it: then neither trimmed nor lowercased.
    id_key_place(ns).or_else(|| id_key_place(&lower(ns.trim())))
}

/// `Ids` built one raw id at a time (`Ids::from_raw`, and readers of JSON ids that
/// normalise as they read).
pub struct IdsBuilder {
    /// (place in ID_KEYS, value): namespaces compared and sorted by number.
    found: Vec<(usize, String)>,
    from_guid: Vec<(&'static str, String)>,
}

impl IdsBuilder {
    pub fn with_capacity(n: usize) -> IdsBuilder {
        IdsBuilder { found: Vec::with_capacity(n), from_guid: Vec::new() }
    }

    /// The raw `value` of the namespace at `place` (`namespace_place`); the first usable
    /// value of a namespace is kept.
    pub fn add(&mut self, place: usize, value: &str) {
        let key = ID_KEYS[place];
        let Some(v) = normalize_value(key, value) else { return };
        if key == "guid" {
            self.from_guid.extend(ids_from_guid(&v));
        }
        if !self.found.iter().any(|(k, _)| *k == place) {
            self.found.push((place, v));
        }
    }

    pub fn finish(mut self) -> Ids {
        for (k, v) in std::mem::take(&mut self.from_guid) {
            let place = id_key_place(k).expect("guid ids are of ID_KEYS");
            self.found.retain(|(fk, _)| *fk != place);
            self.found.push((place, v));
        }
        // Namespaces are unique here: sorting by their place in ID_KEYS is that order.
        crate::sort::sort_by_key(&mut self.found, |(k, _)| *k);
        Ids(self.found.into_iter().map(|(k, v)| (ID_KEYS[k], v)).collect())
    }
}

/// Normalised ids: at most one value per namespace, in `ID_KEYS` order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids(Vec<(&'static str, String)>);

impl Ids {
    /// Normalise a raw id list. Unknown namespaces and sentinel values are dropped; the first
    /// usable value of a namespace wins, except that ids parsed from a `guid` override (as in
    /// CrossWatch's `ids_from`, where guid-derived ids are merged last).
    pub fn from_raw(raw: &[(String, String)]) -> Ids {
        let mut b = IdsBuilder::with_capacity(raw.len());
        for (ns, value) in raw {
            if let Some(place) = id_key_place(&lower(ns.trim())) {
                b.add(place, value);
            }
        }
        b.finish()
    }

    /// `from_raw(raw).to_raw()`, the values moved rather than copied.
    pub fn normalized(raw: &[(String, String)]) -> Vec<(String, String)> {
        Ids::from_raw(raw).0.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Whether normalising these ids again gives them back (`from_raw(&self.to_raw())`):
    /// always, but for a numeric id of just "0" (`x0` normalises to it, and "0" means no id),
    /// so a key can be made from them as `item_key` makes it from the normalised item.
    pub fn renormalise_to_themselves(&self) -> bool {
        !self.0.iter().any(|(k, v)| v == "0" && is_numeric(k))
    }

    pub fn get(&self, namespace: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == namespace).map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `to_raw` without copying the values.
    pub fn into_raw(self) -> Vec<(String, String)> {
        self.0.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    pub fn to_raw(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_id_namespace_has_its_place() {
        for (place, ns) in ID_KEYS.iter().enumerate() {
            assert_eq!(id_key_place(ns), Some(place), "{ns}");
        }
        assert_eq!(id_key_place("tvmaze"), None);
    }

    #[test]
    fn id_normalisation_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("tmdb", " 603 ", Some("603")),
            ("tmdb", "tmdb-603x", Some("603")),
            ("tmdb", "0", None),
            ("tmdb", "abc", None),
            ("TVDB", "81189", Some("81189")),
            ("imdb", "TT0133093", Some("tt0133093")),
            ("imdb", "https://imdb.com/title/tt0133093/", Some("tt0133093")),
            ("imdb", "0133093", Some("tt0133093")),
            ("imdb", "none", None),
            ("imdb", "NULL", None),
            ("imdb", "abc", None),
            ("trakt", "undefined", None),
            ("trakt", "NaN", None),
            ("slug", " Breaking-Bad ", Some("breaking-bad")),
            ("mdblist", "ABC", Some("abc")),
            ("guid", "plex://movie/ABC", Some("plex://movie/ABC")),
            ("plex", "unknown", None),
            ("tvdb", "", None),
        ];
        for (ns, v, want) in cases {
            assert_eq!(normalize_id(ns, v).as_deref(), *want, "{ns}={v:?}");
        }
    }

    #[test]
    fn ids_keep_known_namespaces_in_order() {
        let ids = Ids::from_raw(&raw(&[
            ("slug", "The-Matrix"),
            ("imdb", "tt0133093"),
            ("foo", "1"),
            ("tmdb", "603"),
            ("tmdb", "999"),
            ("trakt", "0"),
        ]));
        assert_eq!(ids.to_raw(), raw(&[("tmdb", "603"), ("imdb", "tt0133093"), ("slug", "the-matrix")]));
    }

    #[test]
    fn normalised_ids_renormalise_to_themselves_but_for_a_numeric_zero() {
        let lists: &[&[(&str, &str)]] = &[
            &[("tmdb", " 603 "), ("IMDB", "TT0133093"), ("slug", "The-Matrix"), ("trakt", "1")],
            &[("tmdb", "x0"), ("tvdb", "81189")],
            &[("tvdb", "a0b"), ("imdb", "0")],
            &[("imdb", "https://imdb.com/title/tt0133093/"), ("guid", "com.plexapp.agents.themoviedb://603?lang=en")],
            &[("tmdb", "1"), ("guid", "tmdb://0"), ("mdblist", "ABC"), ("plex", "00")],
            &[("guid", "plex://show/5d9c"), ("jellyfin", "j0"), ("emby", "7"), ("foo", "1")],
            &[("imdb", "tt"), ("imdb", "tt12x"), ("slug", "\u{130}stanbul")],
        ];
        for l in lists {
            let ids = Ids::from_raw(&raw(l));
            let again = Ids::from_raw(&ids.to_raw());
            assert_eq!(ids.renormalise_to_themselves(), again == ids, "{l:?}: {ids:?} then {again:?}");
        }
        assert!(!Ids::from_raw(&raw(&[("tmdb", "x0")])).renormalise_to_themselves());
        // Values already in their form are kept as they are.
        assert_eq!(normalize_id("tmdb", "603").as_deref(), Some("603"));
        assert_eq!(normalize_id("imdb", "tt0133093").as_deref(), Some("tt0133093"));
        assert_eq!(normalize_id("imdb", "tt").as_deref(), None);
    }

    #[test]
    fn guid_ids_override() {
        let ids = Ids::from_raw(&raw(&[("tmdb", "1"), ("guid", "com.plexapp.agents.themoviedb://603?lang=en")]));
        assert_eq!(ids.get("tmdb"), Some("603"));
        let ids = Ids::from_raw(&raw(&[("guid", "imdb://tt0133093")]));
        assert_eq!(ids.get("imdb"), Some("tt0133093"));
        let ids = Ids::from_raw(&raw(&[("guid", "tvdb://series/81189")]));
        assert_eq!(ids.get("tvdb"), Some("81189"));
        let ids = Ids::from_raw(&raw(&[("guid", "plex://show/5d9c")]));
        assert_eq!(ids.to_raw(), raw(&[("guid", "plex://show/5d9c")]));
    }

    #[test]
    fn kind_normalisation() {
        let cases = [
            ("", Kind::Movie),
            ("Movies", Kind::Movie),
            ("series", Kind::Show),
            ("TV", Kind::Show),
            ("anime", Kind::Show),
            ("seasons", Kind::Season),
            ("Episode", Kind::Episode),
            ("Person", Kind::Other("person".into())),
        ];
        for (raw, want) in cases {
            assert_eq!(Kind::parse(raw), want, "{raw}");
        }
    }

    #[test]
    fn minimal_keeps_what_describes_the_title() {
        let it = Item {
            kind: "Series".into(),
            title: Some("Breaking Bad".into()),
            year: Some(2008),
            ids: raw(&[("slug", "Breaking-Bad"), ("tmdb", "1396"), ("tmdb", "1")]),
            rating: Some(9.0),
            rated_at: Some("2026-04-11T19:50:00Z".into()),
            listed_at: Some("x".into()),
            history_id: Some("7".into()),
            extra: Some(r#"{"a":1}"#.into()),
            ..Item::default()
        };
        assert_eq!(
            it.minimal(),
            Item {
                kind: "show".into(),
                title: Some("Breaking Bad".into()),
                year: Some(2008),
                ids: raw(&[("tmdb", "1396"), ("slug", "breaking-bad")]),
                ..Item::default()
            }
        );
    }

    #[test]
    fn extra_must_be_object_text() {
        let mut it = Item::default();
        assert!(it.extra_is_valid());
        it.extra = Some(r#"{"a":1}"#.into());
        assert!(it.extra_is_valid());
        it.extra = Some("[1]".into());
        assert!(!it.extra_is_valid());
        it.extra = Some("{".into());
        assert!(!it.extra_is_valid());
    }
}
