//! Catalogue lookups: finding catalogue media from a request object's ids (request bodies are
//! walked in `resolve`), release dates, and the minimal media objects Trakt puts in response rows
//! (`title`, `year` and `ids`; "Standard Media Objects" in Trakt's API docs,
//! <https://trakt.docs.apiary.io/>).
//!
//! Matching rules, as Trakt's sync POSTs apply them: ids are tried in the order `trakt, imdb, tmdb,
//! tvdb, slug`, each only for the types Trakt's contract accepts it for (movies:
//! trakt|slug|imdb|tmdb; shows: trakt|slug|imdb|tmdb|tvdb; seasons: trakt|tmdb|tvdb; episodes:
//! trakt|tvdb); the first id that matches wins. Movies and shows without a matching id fall back to
//! `title` + `year`, then to `title` alone (most recent year). Seasons and episodes nested in a
//! show are found by `number`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use chrono::NaiveDate;

use crate::library::{Catalog, Episode, MediaRef, MediaType, Movie, Season, Show};
use crate::timestamp::Timestamp;

/// Position maps over a [`Catalog`]; rebuilt whenever the catalogue changes.
#[derive(Debug, Default)]
pub(crate) struct CatalogIndex {
    movie_pos: HashMap<u64, usize>,
    movie_slug: HashMap<String, u64>,
    movie_imdb: HashMap<String, u64>,
    movie_tmdb: HashMap<u64, u64>,
    show_pos: HashMap<u64, usize>,
    show_slug: HashMap<String, u64>,
    show_imdb: HashMap<String, u64>,
    show_tmdb: HashMap<u64, u64>,
    show_tvdb: HashMap<u64, u64>,
    season_pos: HashMap<u64, (usize, usize)>,
    season_tvdb: HashMap<u64, u64>,
    season_tmdb: HashMap<u64, u64>,
    episode_pos: HashMap<u64, (usize, usize, usize)>,
    episode_tvdb: HashMap<u64, u64>,
}

fn unique<K: std::hash::Hash + Eq + std::fmt::Display + Clone, V>(
    map: &mut HashMap<K, V>,
    key: K,
    value: V,
    what: &str,
) -> Result<(), String> {
    if map.contains_key(&key) {
        return Err(format!("catalog: {what} {key} is used twice"));
    }
    map.insert(key, value);
    Ok(())
}

impl CatalogIndex {
    /// Indexes the catalogue; fails on duplicate ids (per type) or duplicate season/episode numbers.
    pub(crate) fn build(cat: &Catalog) -> Result<CatalogIndex, String> {
        let mut ix = CatalogIndex::default();
        for (i, m) in cat.movies.iter().enumerate() {
            let t = m.ids.trakt;
            unique(&mut ix.movie_pos, t, i, "movie trakt id")?;
            unique(&mut ix.movie_slug, m.ids.slug.clone(), t, "movie slug")?;
            if let Some(imdb) = &m.ids.imdb {
                unique(&mut ix.movie_imdb, imdb.clone(), t, "movie imdb id")?;
            }
            if let Some(tmdb) = m.ids.tmdb {
                unique(&mut ix.movie_tmdb, tmdb, t, "movie tmdb id")?;
            }
        }
        for (si, s) in cat.shows.iter().enumerate() {
            let t = s.ids.trakt;
            unique(&mut ix.show_pos, t, si, "show trakt id")?;
            unique(&mut ix.show_slug, s.ids.slug.clone(), t, "show slug")?;
            if let Some(imdb) = &s.ids.imdb {
                unique(&mut ix.show_imdb, imdb.clone(), t, "show imdb id")?;
            }
            if let Some(tmdb) = s.ids.tmdb {
                unique(&mut ix.show_tmdb, tmdb, t, "show tmdb id")?;
            }
            if let Some(tvdb) = s.ids.tvdb {
                unique(&mut ix.show_tvdb, tvdb, t, "show tvdb id")?;
            }
            let mut numbers = HashMap::new();
            for (ni, season) in s.seasons.iter().enumerate() {
                unique(&mut numbers, season.number, (), &format!("show {t}: season number"))?;
                let st = season.ids.trakt;
                unique(&mut ix.season_pos, st, (si, ni), "season trakt id")?;
                if let Some(tvdb) = season.ids.tvdb {
                    unique(&mut ix.season_tvdb, tvdb, st, "season tvdb id")?;
                }
                if let Some(tmdb) = season.ids.tmdb {
                    unique(&mut ix.season_tmdb, tmdb, st, "season tmdb id")?;
                }
                let mut ep_numbers = HashMap::new();
                for (ei, ep) in season.episodes.iter().enumerate() {
                    unique(&mut ep_numbers, ep.number, (), &format!("season {st}: episode number"))?;
                    unique(&mut ix.episode_pos, ep.ids.trakt, (si, ni, ei), "episode trakt id")?;
                    if let Some(tvdb) = ep.ids.tvdb {
                        unique(&mut ix.episode_tvdb, tvdb, ep.ids.trakt, "episode tvdb id")?;
                    }
                }
            }
        }
        Ok(ix)
    }

    pub(crate) fn contains(&self, m: MediaRef) -> bool {
        match m.kind {
            MediaType::Movie => self.movie_pos.contains_key(&m.trakt),
            MediaType::Show => self.show_pos.contains_key(&m.trakt),
            MediaType::Season => self.season_pos.contains_key(&m.trakt),
            MediaType::Episode => self.episode_pos.contains_key(&m.trakt),
        }
    }
}

/// An id value from a request: numbers may come as JSON numbers or numeric strings.
pub(crate) fn id_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn id_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Read access to the catalogue through its index.
#[derive(Clone, Copy)]
pub(crate) struct Lookup<'a> {
    pub cat: &'a Catalog,
    pub ix: &'a CatalogIndex,
}

impl<'a> Lookup<'a> {
    pub(crate) fn new(cat: &'a Catalog, ix: &'a CatalogIndex) -> Lookup<'a> {
        Lookup { cat, ix }
    }

    pub(crate) fn movie(&self, trakt: u64) -> Option<&'a Movie> {
        self.ix.movie_pos.get(&trakt).map(|&i| &self.cat.movies[i])
    }

    pub(crate) fn show(&self, trakt: u64) -> Option<&'a Show> {
        self.ix.show_pos.get(&trakt).map(|&i| &self.cat.shows[i])
    }

    /// A season with its show.
    pub(crate) fn season(&self, trakt: u64) -> Option<(&'a Show, &'a Season)> {
        self.ix.season_pos.get(&trakt).map(|&(s, n)| {
            let show = &self.cat.shows[s];
            (show, &show.seasons[n])
        })
    }

    /// An episode with its show and season.
    pub(crate) fn episode(&self, trakt: u64) -> Option<(&'a Show, &'a Season, &'a Episode)> {
        self.ix.episode_pos.get(&trakt).map(|&(s, n, e)| {
            let show = &self.cat.shows[s];
            let season = &show.seasons[n];
            (show, season, &season.episodes[e])
        })
    }

    /// Finds a movie from a request object (`ids`, else `title`/`year`).
    pub(crate) fn find_movie(&self, obj: &Value) -> Option<u64> {
        let ids = obj.get("ids");
        let by = |key: &str| ids.and_then(|i| i.get(key)).filter(|v| !v.is_null());
        if let Some(t) = by("trakt").and_then(id_u64).filter(|t| self.ix.movie_pos.contains_key(t)) {
            return Some(t);
        }
        if let Some(t) = by("imdb").and_then(id_str).and_then(|v| self.ix.movie_imdb.get(&v)) {
            return Some(*t);
        }
        if let Some(t) = by("tmdb").and_then(id_u64).and_then(|v| self.ix.movie_tmdb.get(&v)) {
            return Some(*t);
        }
        if let Some(t) = by("slug").and_then(id_str).and_then(|v| self.ix.movie_slug.get(&v)) {
            return Some(*t);
        }
        title_match(obj, self.cat.movies.iter().map(|m| (m.title.as_str(), m.year, m.ids.trakt)))
    }

    /// Finds a show from a request object (`ids`, else `title`/`year`).
    pub(crate) fn find_show(&self, obj: &Value) -> Option<u64> {
        let ids = obj.get("ids");
        let by = |key: &str| ids.and_then(|i| i.get(key)).filter(|v| !v.is_null());
        if let Some(t) = by("trakt").and_then(id_u64).filter(|t| self.ix.show_pos.contains_key(t)) {
            return Some(t);
        }
        if let Some(t) = by("imdb").and_then(id_str).and_then(|v| self.ix.show_imdb.get(&v)) {
            return Some(*t);
        }
        if let Some(t) = by("tmdb").and_then(id_u64).and_then(|v| self.ix.show_tmdb.get(&v)) {
            return Some(*t);
        }
        if let Some(t) = by("tvdb").and_then(id_u64).and_then(|v| self.ix.show_tvdb.get(&v)) {
            return Some(*t);
        }
        if let Some(t) = by("slug").and_then(id_str).and_then(|v| self.ix.show_slug.get(&v)) {
            return Some(*t);
        }
        title_match(obj, self.cat.shows.iter().map(|s| (s.title.as_str(), s.year, s.ids.trakt)))
    }

    /// Finds a season by its own ids (`trakt`, `tmdb`, `tvdb`).
    pub(crate) fn find_season(&self, obj: &Value) -> Option<u64> {
        let ids = obj.get("ids");
        let by = |key: &str| ids.and_then(|i| i.get(key)).filter(|v| !v.is_null());
        if let Some(t) = by("trakt").and_then(id_u64).filter(|t| self.ix.season_pos.contains_key(t)) {
            return Some(t);
        }
        if let Some(t) = by("tmdb").and_then(id_u64).and_then(|v| self.ix.season_tmdb.get(&v)) {
            return Some(*t);
        }
        by("tvdb").and_then(id_u64).and_then(|v| self.ix.season_tvdb.get(&v)).copied()
    }

    /// Finds an episode by its own ids (`trakt`, `tvdb`).
    pub(crate) fn find_episode(&self, obj: &Value) -> Option<u64> {
        let ids = obj.get("ids");
        let by = |key: &str| ids.and_then(|i| i.get(key)).filter(|v| !v.is_null());
        if let Some(t) = by("trakt").and_then(id_u64).filter(|t| self.ix.episode_pos.contains_key(t)) {
            return Some(t);
        }
        by("tvdb").and_then(id_u64).and_then(|v| self.ix.episode_tvdb.get(&v)).copied()
    }

    /// Season `number` of a show (trakt id of the season).
    pub(crate) fn season_by_number(&self, show: u64, number: u64) -> Option<u64> {
        self.show(show)?.seasons.iter().find(|s| u64::from(s.number) == number).map(|s| s.ids.trakt)
    }

    /// Episode `number` of a season (trakt id of the episode).
    pub(crate) fn episode_by_number(&self, season: u64, number: u64) -> Option<u64> {
        let (_, s) = self.season(season)?;
        s.episodes.iter().find(|e| u64::from(e.number) == number).map(|e| e.ids.trakt)
    }

    /// The movies and episodes a resolved object stands for when it means "everything below"
    /// (history, collection): a movie or an episode is itself, a season is its episodes, a show
    /// is every episode of every season (specials included), in catalogue order.
    pub(crate) fn expand(&self, m: MediaRef) -> Vec<MediaRef> {
        let ep = |e: &Episode| MediaRef { kind: MediaType::Episode, trakt: e.ids.trakt };
        match m.kind {
            MediaType::Movie | MediaType::Episode => vec![m],
            MediaType::Season => {
                self.season(m.trakt).map(|(_, s)| s.episodes.iter().map(ep).collect()).unwrap_or_default()
            }
            MediaType::Show => self
                .show(m.trakt)
                .map(|s| s.seasons.iter().flat_map(|season| season.episodes.iter().map(ep)).collect())
                .unwrap_or_default(),
        }
    }

    /// When a movie or an episode was released: a movie's `released` date (00:00 UTC), an
    /// episode's `first_aired`; without them a fixed time derived from the item (movie: 1 January
    /// of its year, or of 2000; episode: 1 January 20:00 UTC of its show's year, or of 2000, plus
    /// `365 * season + 7 * (number - 1)` days). Also returns the runtime in minutes (0 unknown).
    pub(crate) fn release(&self, m: MediaRef) -> (Timestamp, u32) {
        match m.kind {
            MediaType::Movie => match self.movie(m.trakt) {
                Some(movie) => {
                    let at = movie
                        .released
                        .as_deref()
                        .and_then(|d| date_start(d).ok())
                        .unwrap_or_else(|| year_start(movie.year.unwrap_or(2000)));
                    (at, movie.runtime.unwrap_or(0))
                }
                None => (Timestamp(0), 0),
            },
            MediaType::Episode => match self.episode(m.trakt) {
                Some((show, season, ep)) => {
                    let at = ep.first_aired.unwrap_or_else(|| {
                        let days = 365 * i64::from(season.number) + 7 * (i64::from(ep.number) - 1).max(0);
                        Timestamp(year_start(show.year.unwrap_or(2000)).0 + 20 * 3600 + days * 86_400)
                    });
                    (at, ep.runtime.unwrap_or(0))
                }
                None => (Timestamp(0), 0),
            },
            MediaType::Show | MediaType::Season => (Timestamp(0), 0),
        }
    }

    /// The media objects of a response row: `{"movie": ..}`, `{"show": ..}`,
    /// `{"season": .., "show": ..}` or `{"episode": .., "show": ..}` (minimal objects).
    pub(crate) fn media_objects(&self, m: MediaRef) -> Map<String, Value> {
        let mut out = Map::new();
        match m.kind {
            MediaType::Movie => {
                if let Some(movie) = self.movie(m.trakt) {
                    out.insert("movie".into(), movie_json(movie));
                }
            }
            MediaType::Show => {
                if let Some(show) = self.show(m.trakt) {
                    out.insert("show".into(), show_json(show));
                }
            }
            MediaType::Season => {
                if let Some((show, season)) = self.season(m.trakt) {
                    out.insert("season".into(), season_json(season));
                    out.insert("show".into(), show_json(show));
                }
            }
            MediaType::Episode => {
                if let Some((show, season, ep)) = self.episode(m.trakt) {
                    out.insert("episode".into(), episode_json(season, ep));
                    out.insert("show".into(), show_json(show));
                }
            }
        }
        out
    }

    /// Title used for sorting (movie/show title; seasons and episodes sort by their show).
    pub(crate) fn sort_title(&self, m: MediaRef) -> String {
        let t = match m.kind {
            MediaType::Movie => self.movie(m.trakt).map(|x| x.title.clone()),
            MediaType::Show => self.show(m.trakt).map(|x| x.title.clone()),
            MediaType::Season => self.season(m.trakt).map(|(s, _)| s.title.clone()),
            MediaType::Episode => self.episode(m.trakt).map(|(s, _, _)| s.title.clone()),
        };
        t.unwrap_or_default().to_lowercase()
    }

    /// Year used for sorting by release.
    pub(crate) fn sort_year(&self, m: MediaRef) -> i32 {
        let y = match m.kind {
            MediaType::Movie => self.movie(m.trakt).and_then(|x| x.year),
            MediaType::Show => self.show(m.trakt).and_then(|x| x.year),
            MediaType::Season => self.season(m.trakt).and_then(|(s, _)| s.year),
            MediaType::Episode => self.episode(m.trakt).and_then(|(s, _, _)| s.year),
        };
        y.unwrap_or(0)
    }
}

/// 00:00 UTC on 1 January of `year`.
pub(crate) fn year_start(year: i32) -> Timestamp {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(Timestamp(0), |t| Timestamp(t.and_utc().timestamp()))
}

/// 00:00 UTC of a `YYYY-MM-DD` date.
pub(crate) fn date_start(date: &str) -> Result<Timestamp, String> {
    NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Timestamp(t.and_utc().timestamp()))
        .ok_or_else(|| format!("invalid date {date:?}; expected YYYY-MM-DD"))
}

fn title_match<'x>(obj: &Value, items: impl Iterator<Item = (&'x str, Option<i32>, u64)>) -> Option<u64> {
    let title = obj.get("title").and_then(Value::as_str)?.trim().to_lowercase();
    if title.is_empty() {
        return None;
    }
    let year = obj.get("year").and_then(Value::as_i64);
    let mut best: Option<(Option<i32>, u64)> = None;
    for (t, y, trakt) in items {
        if t.to_lowercase() != title {
            continue;
        }
        if let Some(want) = year {
            if y.map(i64::from) == Some(want) {
                return Some(trakt);
            }
            continue;
        }
        if best.is_none_or(|(by, _)| y > by) {
            best = Some((y, trakt));
        }
    }
    best.map(|(_, t)| t)
}

pub(crate) fn movie_json(m: &Movie) -> Value {
    json!({ "title": m.title, "year": m.year,
            "ids": { "trakt": m.ids.trakt, "slug": m.ids.slug, "imdb": m.ids.imdb, "tmdb": m.ids.tmdb } })
}

pub(crate) fn show_json(s: &Show) -> Value {
    json!({ "title": s.title, "year": s.year,
            "ids": { "trakt": s.ids.trakt, "slug": s.ids.slug, "tvdb": s.ids.tvdb, "imdb": s.ids.imdb, "tmdb": s.ids.tmdb } })
}

pub(crate) fn season_json(s: &Season) -> Value {
    json!({ "number": s.number, "ids": { "trakt": s.ids.trakt, "tvdb": s.ids.tvdb, "tmdb": s.ids.tmdb } })
}

pub(crate) fn episode_json(season: &Season, e: &Episode) -> Value {
    json!({ "season": season.number, "number": e.number, "title": e.title,
            "ids": { "trakt": e.ids.trakt, "tvdb": e.ids.tvdb, "imdb": e.ids.imdb, "tmdb": e.ids.tmdb } })
}
