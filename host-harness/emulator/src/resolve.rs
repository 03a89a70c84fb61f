//! Resolving sync request bodies (`movies`, `shows`, `seasons`, `episodes`) to catalogue media,
//! and echoing what does not resolve in `not_found`, as Trakt's sync POSTs do.

use serde_json::{json, Value};

use crate::catalog::{id_u64, Lookup};
use crate::library::{MediaRef, MediaType};

/// A resolved request object.
#[derive(Debug)]
pub(crate) struct Found<'b> {
    pub media: MediaRef,
    /// The innermost request object (movie, show, season or episode object as sent).
    pub item: &'b Value,
    /// The enclosing show object when found through `shows[].seasons[]...`.
    pub show: Option<&'b Value>,
    /// The enclosing season object when found through `...seasons[].episodes[]`.
    pub season: Option<&'b Value>,
    /// `false` for container objects (a show with `seasons`, a season with `episodes`), which
    /// only [`Lookup::resolve_tree`] returns.
    pub leaf: bool,
}

impl Found<'_> {
    /// The value of `key` on the object itself, else on its season object, else on its show
    /// object (how `watched_at`, `collected_at` and metadata are inherited); `null` counts as
    /// absent.
    pub(crate) fn inherited(&self, key: &str) -> Option<&Value> {
        [Some(self.item), self.season, self.show]
            .into_iter()
            .flatten()
            .find_map(|o| o.get(key).filter(|v| !v.is_null()))
    }

    /// The top-level body key this object came from and the object to echo in `not_found` when
    /// it is rejected (bad rating): the object as sent, inside copies of its enclosing objects
    /// cut down to this one path (a container is echoed without its nested array).
    pub(crate) fn echo(&self) -> (MediaType, Value) {
        let mut item = self.item.clone();
        if !self.leaf {
            if let Value::Object(map) = &mut item {
                map.remove("seasons");
                map.remove("episodes");
            }
        }
        let item = match (self.media.kind, self.season) {
            (MediaType::Episode, Some(season)) => {
                let mut s = season.clone();
                s["episodes"] = Value::Array(vec![item]);
                s
            }
            _ => item,
        };
        match self.show {
            Some(show) => {
                let mut s = show.clone();
                s["seasons"] = Value::Array(vec![item]);
                (MediaType::Show, s)
            }
            None if self.season.is_some() => (MediaType::Season, item),
            None => (self.media.kind, item),
        }
    }
}

/// Request objects that could not be resolved, echoed as sent, grouped by top-level key.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct NotFound {
    pub movies: Vec<Value>,
    pub shows: Vec<Value>,
    pub seasons: Vec<Value>,
    pub episodes: Vec<Value>,
}

impl NotFound {
    /// Appends an echoed object under the key of `kind`.
    pub(crate) fn push(&mut self, kind: MediaType, v: Value) {
        match kind {
            MediaType::Movie => self.movies.push(v),
            MediaType::Show => self.shows.push(v),
            MediaType::Season => self.seasons.push(v),
            MediaType::Episode => self.episodes.push(v),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({ "movies": self.movies, "shows": self.shows, "seasons": self.seasons, "episodes": self.episodes })
    }
}

/// The outcome of resolving a sync request body.
#[derive(Debug, Default)]
pub(crate) struct Resolution<'b> {
    pub found: Vec<Found<'b>>,
    pub not_found: NotFound,
}

impl<'a> Lookup<'a> {
    /// Resolves a sync body (`movies`, `shows`, `seasons`, `episodes` arrays; other keys are
    /// ignored) to the most specific media each object names, as the watchlist and ratings do:
    /// a bare show (no or empty `seasons`) is the show; `shows[].seasons[{number}]` are seasons;
    /// `shows[].seasons[{number, episodes[{number}]}]` are episodes; `seasons[]` entries with
    /// `episodes[{number}]` are those episodes. Callers that need other scopes (history: a show
    /// means all its episodes) expand the result themselves.
    ///
    /// Unresolved objects go to `not_found` as sent. For nested objects the show object is echoed
    /// with `seasons` cut down to the unresolved seasons, and each such season's `episodes` cut
    /// down to the unresolved episodes (an unresolved season is echoed whole).
    pub(crate) fn resolve_body<'b>(&self, body: &'b Value) -> Result<Resolution<'b>, String> {
        let mut out = self.resolve_tree(body)?;
        out.found.retain(|f| f.leaf);
        Ok(out)
    }

    /// Like [`resolve_body`](Self::resolve_body), but `found` also holds the resolved container
    /// objects (a show object with `seasons`, a season object with `episodes`; `leaf: false`),
    /// each before the objects nested in it. Ratings use this: every level may carry a `rating`.
    pub(crate) fn resolve_tree<'b>(&self, body: &'b Value) -> Result<Resolution<'b>, String> {
        if !body.is_object() {
            return Err("request body must be a JSON object".into());
        }
        let list = |key: &str| -> Result<&'b [Value], String> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(_) => Err(format!("`{key}` must be an array")),
            }
        };
        let node = |kind: MediaType,
                    trakt: u64,
                    item: &'b Value,
                    show: Option<&'b Value>,
                    season: Option<&'b Value>,
                    leaf: bool| Found { media: MediaRef { kind, trakt }, item, show, season, leaf };
        let nested_episodes = |v: &'b Value| match v.get("episodes") {
            Some(Value::Array(eps)) if !eps.is_empty() => Some(eps.as_slice()),
            _ => None,
        };
        let mut out = Resolution::default();
        for m in list("movies")? {
            match self.find_movie(m) {
                Some(t) => out.found.push(node(MediaType::Movie, t, m, None, None, true)),
                None => out.not_found.movies.push(m.clone()),
            }
        }
        for s in list("shows")? {
            let Some(show) = self.find_show(s) else {
                out.not_found.shows.push(s.clone());
                continue;
            };
            let seasons = match s.get("seasons") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                _ => {
                    out.found.push(node(MediaType::Show, show, s, None, None, true));
                    continue;
                }
            };
            out.found.push(node(MediaType::Show, show, s, None, None, false));
            let mut missing_seasons = Vec::new();
            for season_obj in seasons {
                let season = season_obj.get("number").and_then(id_u64).and_then(|n| self.season_by_number(show, n));
                let Some(season) = season else {
                    missing_seasons.push(season_obj.clone());
                    continue;
                };
                match nested_episodes(season_obj) {
                    Some(eps) => {
                        out.found.push(node(MediaType::Season, season, season_obj, Some(s), None, false));
                        let mut missing_eps = Vec::new();
                        for ep_obj in eps {
                            match ep_obj.get("number").and_then(id_u64).and_then(|n| self.episode_by_number(season, n))
                            {
                                Some(ep) => out.found.push(node(
                                    MediaType::Episode,
                                    ep,
                                    ep_obj,
                                    Some(s),
                                    Some(season_obj),
                                    true,
                                )),
                                None => missing_eps.push(ep_obj.clone()),
                            }
                        }
                        if !missing_eps.is_empty() {
                            let mut echo = season_obj.clone();
                            echo["episodes"] = Value::Array(missing_eps);
                            missing_seasons.push(echo);
                        }
                    }
                    None => out.found.push(node(MediaType::Season, season, season_obj, Some(s), None, true)),
                }
            }
            if !missing_seasons.is_empty() {
                let mut echo = s.clone();
                echo["seasons"] = Value::Array(missing_seasons);
                out.not_found.shows.push(echo);
            }
        }
        for season_obj in list("seasons")? {
            let Some(season) = self.find_season(season_obj) else {
                out.not_found.seasons.push(season_obj.clone());
                continue;
            };
            match nested_episodes(season_obj) {
                Some(eps) => {
                    out.found.push(node(MediaType::Season, season, season_obj, None, None, false));
                    let mut missing_eps = Vec::new();
                    for ep_obj in eps {
                        match ep_obj.get("number").and_then(id_u64).and_then(|n| self.episode_by_number(season, n)) {
                            Some(ep) => {
                                out.found.push(node(MediaType::Episode, ep, ep_obj, None, Some(season_obj), true))
                            }
                            None => missing_eps.push(ep_obj.clone()),
                        }
                    }
                    if !missing_eps.is_empty() {
                        let mut echo = season_obj.clone();
                        echo["episodes"] = Value::Array(missing_eps);
                        out.not_found.seasons.push(echo);
                    }
                }
                None => out.found.push(node(MediaType::Season, season, season_obj, None, None, true)),
            }
        }
        for e in list("episodes")? {
            match self.find_episode(e) {
                Some(t) => out.found.push(node(MediaType::Episode, t, e, None, None, true)),
                None => out.not_found.episodes.push(e.clone()),
            }
        }
        Ok(out)
    }
}
