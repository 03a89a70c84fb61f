//! Deterministic sample libraries for tests, demos and benchmarks: [`Library::sample`] and
//! [`Library::history_sample`].

use crate::library::{
    Catalog, Episode, EpisodeIds, Library, MediaRef, MediaType, Movie, MovieIds, Play, PlayAction, Rating, Season,
    SeasonIds, Show, ShowIds, WatchlistEntry, HISTORY_ID_BASE,
};
use crate::timestamp::Timestamp;

/// The catalogue of [`Library::sample`] (see there).
fn sample_catalog(movies: usize, shows: usize) -> Catalog {
    let mut cat = Catalog::default();
    for i in 1..=movies as u64 {
        let year = 1990 + (i % 35) as i32;
        cat.movies.push(Movie {
            title: format!("Sample Movie {i}"),
            year: Some(year),
            ids: MovieIds {
                trakt: i,
                slug: format!("sample-movie-{i}-{year}"),
                imdb: Some(format!("tt{}", 1_000_000 + i)),
                tmdb: Some(100_000 + i),
            },
            released: None,
            runtime: None,
        });
    }
    for j in 1..=shows as u64 {
        let seasons = (0..=2u64)
            .map(|s| {
                let count = if s == 0 { 1 } else { 3 };
                Season {
                    number: s as u32,
                    ids: SeasonIds {
                        trakt: 10_000 + 10 * j + s,
                        tvdb: Some(400_000 + 10 * j + s),
                        tmdb: Some(410_000 + 10 * j + s),
                    },
                    episodes: (1..=count)
                        .map(|e| {
                            let k = 100 * j + 10 * s + e;
                            Episode {
                                number: e as u32,
                                title: Some(if s == 0 { "Special".into() } else { format!("Episode {e}") }),
                                ids: EpisodeIds {
                                    trakt: 100_000 + k,
                                    tvdb: Some(500_000 + k),
                                    imdb: Some(format!("tt{}", 3_000_000 + k)),
                                    tmdb: Some(600_000 + k),
                                },
                                first_aired: None,
                                runtime: None,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        cat.shows.push(Show {
            title: format!("Sample Show {j}"),
            year: Some(2000 + (j % 25) as i32),
            ids: ShowIds {
                trakt: j,
                slug: format!("sample-show-{j}"),
                tvdb: Some(300_000 + j),
                imdb: Some(format!("tt{}", 2_000_000 + j)),
                tmdb: Some(200_000 + j),
            },
            seasons,
        });
    }
    cat
}

impl Library {
    /// A deterministic catalogue and watchlist for tests and demos.
    ///
    /// * Movies `i = 1..=movies`: "Sample Movie i", year `1990 + i % 35`, ids trakt `i`,
    ///   slug `sample-movie-i-YEAR`, imdb `tt{1000000+i}`, tmdb `100000+i`.
    /// * Shows `j = 1..=shows`: "Sample Show j", year `2000 + j % 25`, ids trakt `j`,
    ///   slug `sample-show-j`, imdb `tt{2000000+j}`, tmdb `200000+j`, tvdb `300000+j`; seasons 0
    ///   (one special, "Special"), 1 and 2 (three episodes each, "Episode e"). Season `s` of
    ///   show `j`: trakt `10000+10j+s`, tvdb `400000+10j+s`, tmdb `410000+10j+s`. Episode `e`:
    ///   `k = 100j+10s+e`, trakt `100000+k`, tvdb `500000+k`, tmdb `600000+k`, imdb `tt{3000000+k}`.
    /// * Watchlist: every movie, then every show, then (with at least one show) season 1 of
    ///   show 1, season 2 of the last show, episode S01E01 of show 1 and S02E03 of the last
    ///   show. Ranks 1..n, list item ids `10000+rank`, `listed_at` 2026-01-01T00:00:00Z plus
    ///   `rank` minutes.
    /// * Ratings (all in December 2025): movies 1, 2, 3 rated 10, 8, 6 (`rated_at`
    ///   2025-12-01 13:00, 14:00, 15:00 UTC); show 1 rated 9 (12-02 12:00); season 1 of show 1
    ///   (trakt 10011) rated 7 (12-03 12:00); S01E01 and S01E02 of show 1 (trakt 100111, 100112)
    ///   rated 8 and 5 (12-04 21:00, 22:00). Items that do not exist (fewer movies or no show)
    ///   are left out.
    /// * History (action `watch`): movie 1 watched 2025-12-10 20:00 and 2025-12-20 20:00,
    ///   movie 2 2025-12-15 21:30, S01E01 of show 1 2025-12-11 21:00, S01E02 2025-12-12 21:00;
    ///   history ids `5000000001..` in `watched_at` order (oldest lowest).
    /// * Empty collection.
    /// * Default user (free account, watchlist limit 250), default credentials; all
    ///   last_activities 2026-01-01T00:00:00Z except the watchlist ones, which are the last
    ///   `listed_at`.
    pub fn sample(movies: usize, shows: usize) -> Library {
        let base = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
        let mut lib = Library { catalog: sample_catalog(movies, shows), ..Library::default() };
        let mut refs: Vec<MediaRef> = Vec::new();
        refs.extend((1..=movies as u64).map(|t| MediaRef { kind: MediaType::Movie, trakt: t }));
        refs.extend((1..=shows as u64).map(|t| MediaRef { kind: MediaType::Show, trakt: t }));
        if shows > 0 {
            let last = shows as u64;
            let season = |j: u64, s: u64| MediaRef { kind: MediaType::Season, trakt: 10_000 + 10 * j + s };
            let episode =
                |j: u64, s: u64, e: u64| MediaRef { kind: MediaType::Episode, trakt: 100_000 + 100 * j + 10 * s + e };
            refs.push(season(1, 1));
            refs.push(season(last, 2));
            refs.push(episode(1, 1, 1));
            refs.push(episode(last, 2, 3));
        }
        for (i, r) in refs.iter().enumerate() {
            let rank = i as u32 + 1;
            lib.watchlist.push(WatchlistEntry {
                rank,
                id: 10_000 + rank as u64,
                listed_at: Timestamp(base.0 + 60 * rank as i64),
                notes: None,
                kind: r.kind,
                trakt: r.trakt,
            });
        }
        // 2025-12-DD HH:MM UTC.
        let dec = |day: i64, h: i64, m: i64| Timestamp(1_764_547_200 + (day - 1) * 86_400 + h * 3600 + m * 60);
        let movie = |i: u64| MediaRef { kind: MediaType::Movie, trakt: i };
        let s1e = |e: u64| MediaRef { kind: MediaType::Episode, trakt: 100_110 + e };
        let mut ratings: Vec<(MediaRef, u8, Timestamp)> = Vec::new();
        for (i, rating) in [(1u64, 10u8), (2, 8), (3, 6)] {
            if i <= movies as u64 {
                ratings.push((movie(i), rating, dec(1, 12 + i as i64, 0)));
            }
        }
        let mut plays: Vec<(MediaRef, Timestamp)> = Vec::new();
        if movies >= 1 {
            plays.push((movie(1), dec(10, 20, 0)));
            plays.push((movie(1), dec(20, 20, 0)));
        }
        if movies >= 2 {
            plays.push((movie(2), dec(15, 21, 30)));
        }
        if shows > 0 {
            let show = MediaRef { kind: MediaType::Show, trakt: 1 };
            let season = MediaRef { kind: MediaType::Season, trakt: 10_011 };
            ratings.push((show, 9, dec(2, 12, 0)));
            ratings.push((season, 7, dec(3, 12, 0)));
            ratings.push((s1e(1), 8, dec(4, 21, 0)));
            ratings.push((s1e(2), 5, dec(4, 22, 0)));
            plays.push((s1e(1), dec(11, 21, 0)));
            plays.push((s1e(2), dec(12, 21, 0)));
        }
        lib.ratings = ratings
            .into_iter()
            .map(|(m, rating, rated_at)| Rating { kind: m.kind, trakt: m.trakt, rating, rated_at })
            .collect();
        plays.sort_by_key(|(_, t)| *t);
        lib.history = plays
            .into_iter()
            .enumerate()
            .map(|(i, (m, watched_at))| Play {
                id: HISTORY_ID_BASE + 1 + i as u64,
                kind: m.kind,
                trakt: m.trakt,
                watched_at,
                action: PlayAction::Watch,
            })
            .collect();

        lib.last_activities.fill_missing(base);
        let last_listed = Timestamp(base.0 + 60 * refs.len() as i64);
        for t in MediaType::ALL {
            lib.last_activities.set(t.plural(), "watchlisted_at", last_listed);
        }
        lib.last_activities.set("watchlist", "updated_at", last_listed);
        lib.normalize(base).expect("sample library is consistent");
        lib
    }

    /// A large watched history for benchmarks: `plays` plays (newest first) over a catalogue
    /// of [`sample`](Self::sample)'s shape with `max(1, ceil(plays / 6))` movies and
    /// `max(1, ceil(plays / 42))` shows (7 episodes each), so every movie and episode has about
    /// three plays. Play `k = 0..plays` (0 = newest) is of a movie when `k` is even (movie
    /// `k/2 % movies + 1`) and of an episode when odd (the `(k/2 % episodes)`-th episode in
    /// catalogue order); `watched_at` = 2026-01-01T00:00:00Z minus `k + 1` minutes (all distinct);
    /// history id `5000000000 + plays - k` (newer plays have higher ids, all above 2^32).
    /// No watchlist, ratings or collection; last_activities all 2026-01-01T00:00:00Z.
    pub fn history_sample(plays: usize) -> Library {
        let base = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
        let movies = plays.div_ceil(6).max(1);
        let shows = plays.div_ceil(42).max(1);
        let mut lib = Library { catalog: sample_catalog(movies, shows), ..Library::default() };
        let episodes: Vec<u64> = lib
            .catalog
            .shows
            .iter()
            .flat_map(|s| s.seasons.iter())
            .flat_map(|s| s.episodes.iter().map(|e| e.ids.trakt))
            .collect();
        lib.history = (0..plays)
            .map(|k| {
                let (kind, trakt) = if k % 2 == 0 {
                    (MediaType::Movie, ((k / 2) % movies) as u64 + 1)
                } else {
                    (MediaType::Episode, episodes[(k / 2) % episodes.len()])
                };
                Play {
                    id: HISTORY_ID_BASE + (plays - k) as u64,
                    kind,
                    trakt,
                    watched_at: Timestamp(base.0 - 60 * (k as i64 + 1)),
                    action: PlayAction::Watch,
                }
            })
            .collect();
        lib.last_activities.fill_missing(base);
        lib.normalize(base).expect("history sample library is consistent");
        lib
    }
}
