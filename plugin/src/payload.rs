//! Trakt request bodies for sync writes, and the mapping of Trakt's `not_found` echo back to
//! the input items that produced it.
//!
//! Shapes follow CrossWatch's `_common.py` helpers (reference crosswatch.md 3.1) and Trakt's
//! body rules (trakt-api.md 3.3, 8.2, 8.3): flat `{ids}` entries where the item's own ids are
//! usable, otherwise `shows -> seasons -> episodes` numbers under the show's ids.
//!
//! JSON objects are built with keys inserted in alphabetical order, so the body text is the
//! same whether or not serde_json's `preserve_order` feature is on somewhere in the build.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::model::{Hint, Ids, Item, Kind};

/// The four top-level arrays of a sync body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Movies,
    Shows,
    Seasons,
    Episodes,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Movies, Group::Shows, Group::Seasons, Group::Episodes];

    pub fn name(self) -> &'static str {
        match self {
            Group::Movies => "movies",
            Group::Shows => "shows",
            Group::Seasons => "seasons",
            Group::Episodes => "episodes",
        }
    }

    /// The group Trakt counts an item of this kind under (nested seasons and episodes are
    /// counted as seasons and episodes, not shows).
    pub fn of(kind: &Kind) -> Option<Group> {
        match kind {
            Kind::Movie => Some(Group::Movies),
            Kind::Show => Some(Group::Shows),
            Kind::Season => Some(Group::Seasons),
            Kind::Episode => Some(Group::Episodes),
            Kind::Other(_) => None,
        }
    }
}

/// How one accepted item is addressed in the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `{"ids": {...}}` in `group`.
    Flat { group: Group, ids: Map<String, Value> },
    /// `shows[{ids, seasons: [{number}]}]`.
    Season { show: Map<String, Value>, season: i32 },
    /// `shows[{ids, seasons: [{number, episodes: [{number}]}]}]`.
    Episode { show: Map<String, Value>, season: i32, episode: i32 },
}

/// The item's own ids as Trakt takes them: tmdb, imdb, tvdb, trakt only (tmdb/tvdb/trakt as
/// integers, imdb as a string). For seasons and episodes, an id equal to the same namespace in
/// `show_ids` is a copied show id and is dropped; an episode with season and episode numbers
/// but no show ids gets no ids at all unless it carries a media-server id (plex, jellyfin,
/// emby), because its "ids" are then most likely misfiled show ids.
pub fn ids_for_trakt(kind: &Kind, ids: &Ids, show_ids: &Ids, has_numbers: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let nested_kind = matches!(kind, Kind::Season | Kind::Episode);
    if *kind == Kind::Episode
        && has_numbers
        && show_ids.is_empty()
        && !["plex", "jellyfin", "emby"].iter().any(|ns| ids.get(ns).is_some())
    {
        return out;
    }
    for ns in ["imdb", "tmdb", "trakt", "tvdb"] {
        let Some(v) = ids.get(ns) else { continue };
        if nested_kind && show_ids.get(ns) == Some(v) {
            continue;
        }
        if ns == "imdb" {
            out.insert(ns.into(), Value::String(v.to_string()));
        } else if let Ok(n) = v.parse::<u64>() {
            out.insert(ns.into(), Value::from(n));
        }
    }
    out
}

/// Show ids for nested entries: trakt, tmdb, imdb, tvdb and slug.
pub fn show_scope_ids(show_ids: &Ids) -> Map<String, Value> {
    let mut out = Map::new();
    for ns in ["imdb", "slug", "tmdb", "trakt", "tvdb"] {
        let Some(v) = show_ids.get(ns) else { continue };
        if ns == "imdb" || ns == "slug" {
            out.insert(ns.into(), Value::String(v.to_string()));
        } else if let Ok(n) = v.parse::<u64>() {
            out.insert(ns.into(), Value::from(n));
        }
    }
    out
}

/// Decide how an item goes out, or why it cannot (the unresolved hint).
///
/// Movies and shows need ids. Seasons go flat with their own ids, else nested under show ids
/// with a season number. Episodes go flat with a strong id (trakt or tvdb), else nested under
/// show ids with season and episode numbers, else flat with weak ids. Otherwise the hint is
/// "missing ids" without show ids and "missing scope" with them.
pub fn target_for(item: &Item) -> Result<Target, Hint> {
    let kind = item.kind();
    let Some(group) = Group::of(&kind) else { return Err(Hint::UnsupportedType) };
    let season = item.season.filter(|s| *s >= 0);
    let episode = item.episode.filter(|e| *e >= 0);
    let ids = item.ids();
    let show_ids = item.show_ids();
    let own = ids_for_trakt(&kind, &ids, &show_ids, season.is_some() && episode.is_some());
    let scope = show_scope_ids(&show_ids);
    let missing = if scope.is_empty() { Hint::MissingIds } else { Hint::MissingScope };
    match kind {
        Kind::Movie | Kind::Show if own.is_empty() => Err(Hint::MissingIds),
        Kind::Movie | Kind::Show => Ok(Target::Flat { group, ids: own }),
        Kind::Season => match (own.is_empty(), scope.is_empty(), season) {
            (false, _, _) => Ok(Target::Flat { group, ids: own }),
            (true, false, Some(s)) => Ok(Target::Season { show: scope, season: s }),
            _ => Err(missing),
        },
        Kind::Episode => {
            let strong = own.contains_key("trakt") || own.contains_key("tvdb");
            match (season, episode) {
                _ if strong => Ok(Target::Flat { group, ids: own }),
                (Some(s), Some(e)) if !scope.is_empty() => Ok(Target::Episode { show: scope, season: s, episode: e }),
                _ if !own.is_empty() => Ok(Target::Flat { group, ids: own }),
                _ => Err(missing),
            }
        }
        Kind::Other(_) => Err(Hint::UnsupportedType),
    }
}

/// Extra fields of one body entry besides its ids or number (ratings: `rating`, `rated_at`).
pub type Attrs = Map<String, Value>;

/// One accepted input: its index in the call's item list, how it is addressed, and the
/// fields that go with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub input: usize,
    pub target: Target,
    pub attrs: Attrs,
}

impl Entry {
    /// An entry with no extra fields (watchlist).
    pub fn bare(input: usize, target: Target) -> Entry {
        Entry { input, target, attrs: Attrs::new() }
    }
}

#[derive(Debug)]
struct FlatSent {
    group: Group,
    ids: Map<String, Value>,
    attrs: Attrs,
    inputs: Vec<usize>,
}

#[derive(Debug)]
struct SeasonSent {
    number: i32,
    /// Whole-season entries: (fields, inputs). One per distinct set of fields.
    whole: Vec<(Attrs, Vec<usize>)>,
    /// (episode number, fields, inputs).
    episodes: Vec<(i32, Attrs, Vec<usize>)>,
}

#[derive(Debug)]
struct ShowSent {
    ids: Map<String, Value>,
    seasons: Vec<SeasonSent>,
}

/// A built body: its exact JSON text and what was sent for which input index.
#[derive(Debug)]
pub struct Body {
    pub json: String,
    flat: Vec<FlatSent>,
    nested: Vec<ShowSent>,
}

/// Build one body. Identical entries (same address and fields) are sent once and remember
/// every input that produced them; nested entries are grouped by show ids.
pub fn build_body(entries: &[Entry]) -> Body {
    let mut flat: Vec<FlatSent> = Vec::new();
    let mut nested: Vec<ShowSent> = Vec::new();
    for Entry { input, target, attrs } in entries {
        match target {
            Target::Flat { group, ids } => {
                match flat.iter_mut().find(|f| f.group == *group && f.ids == *ids && f.attrs == *attrs) {
                    Some(f) => f.inputs.push(*input),
                    None => flat.push(FlatSent {
                        group: *group,
                        ids: ids.clone(),
                        attrs: attrs.clone(),
                        inputs: vec![*input],
                    }),
                }
            }
            Target::Season { show, season } | Target::Episode { show, season, .. } => {
                let pos = match nested.iter().position(|s| s.ids == *show) {
                    Some(p) => p,
                    None => {
                        nested.push(ShowSent { ids: show.clone(), seasons: Vec::new() });
                        nested.len() - 1
                    }
                };
                let show_sent = &mut nested[pos];
                let spos = match show_sent.seasons.iter().position(|s| s.number == *season) {
                    Some(p) => p,
                    None => {
                        show_sent.seasons.push(SeasonSent { number: *season, whole: Vec::new(), episodes: Vec::new() });
                        show_sent.seasons.len() - 1
                    }
                };
                let season_sent = &mut show_sent.seasons[spos];
                match target {
                    Target::Episode { episode, .. } => {
                        match season_sent.episodes.iter_mut().find(|(n, a, _)| n == episode && a == attrs) {
                            Some((_, _, inputs)) => inputs.push(*input),
                            None => season_sent.episodes.push((*episode, attrs.clone(), vec![*input])),
                        }
                    }
                    _ => match season_sent.whole.iter_mut().find(|(a, _)| a == attrs) {
                        Some((_, inputs)) => inputs.push(*input),
                        None => season_sent.whole.push((attrs.clone(), vec![*input])),
                    },
                }
            }
        }
    }
    let json = render(&flat, &nested);
    Body { json, flat, nested }
}

/// A JSON object with its keys inserted in alphabetical order.
fn object(mut fields: Vec<(String, Value)>) -> Value {
    crate::sort::sort_by(&mut fields, |a, b| a.0.cmp(&b.0));
    let mut object = serde_json::Map::new();
    for (k, v) in fields {
        object.insert(k, v);
    }
    Value::Object(object)
}

fn with_attrs(mut fields: Vec<(String, Value)>, attrs: &Attrs) -> Value {
    fields.extend(attrs.iter().map(|(k, v)| (k.clone(), v.clone())));
    object(fields)
}

fn render(flat: &[FlatSent], nested: &[ShowSent]) -> String {
    let mut root = Map::new();
    // alphabetical: episodes, movies, seasons, shows
    for group in [Group::Episodes, Group::Movies, Group::Seasons, Group::Shows] {
        let mut arr: Vec<Value> = flat
            .iter()
            .filter(|f| f.group == group)
            .map(|f| with_attrs(vec![("ids".into(), Value::Object(f.ids.clone()))], &f.attrs))
            .collect();
        if group == Group::Shows {
            for show in nested {
                let mut seasons = Vec::new();
                for s in &show.seasons {
                    // A season entry without episodes means the whole season, one with
                    // episodes means only those: both are sent when both were asked for.
                    for (attrs, _) in &s.whole {
                        seasons.push(with_attrs(vec![("number".into(), Value::from(s.number))], attrs));
                    }
                    if !s.episodes.is_empty() {
                        let eps = s
                            .episodes
                            .iter()
                            .map(|(n, attrs, _)| with_attrs(vec![("number".into(), Value::from(*n))], attrs))
                            .collect();
                        seasons.push(object(vec![
                            ("episodes".into(), Value::Array(eps)),
                            ("number".into(), Value::from(s.number)),
                        ]));
                    }
                }
                arr.push(object(vec![
                    ("ids".into(), Value::Object(show.ids.clone())),
                    ("seasons".into(), Value::Array(seasons)),
                ]));
            }
        }
        if !arr.is_empty() {
            root.insert(group.name().into(), Value::Array(arr));
        }
    }
    Value::Object(root).to_string()
}

/// Result of matching a `not_found` object.
#[derive(Debug, Default, PartialEq)]
pub struct NotFound {
    /// Input indexes Trakt could not resolve.
    pub inputs: BTreeSet<usize>,
    /// Echoed entries that matched nothing that was sent.
    pub unmatched: usize,
}

/// Which part of the body a `not_found` echo named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// A flat entry of this group.
    Flat(Group),
    /// A nested episode number.
    Episode,
    /// A nested show or season not found: echoed without narrower levels, or with
    /// everything that was sent under it.
    Parent,
}

/// `not_found` matched per input, with the scope of the echo that named it.
#[derive(Debug, Default, PartialEq)]
pub struct ScopedNotFound {
    /// (input index, scope), an input at most once (the widest scope that named it).
    pub inputs: Vec<(usize, Scope)>,
    pub unmatched: usize,
}

impl Body {
    /// Map Trakt's `not_found` (the sent objects echoed back, grouped by top-level key) to the
    /// input indexes that produced them. A show echoed without seasons means everything sent
    /// under it; a season echoed without episodes means the whole season, or every episode
    /// sent under it when only episodes were sent.
    pub fn match_not_found(&self, not_found: &Value) -> NotFound {
        let scoped = self.match_not_found_scoped(not_found);
        let mut inputs = BTreeSet::new();
        inputs.extend(scoped.inputs.into_iter().map(|(i, _)| i));
        NotFound { inputs, unmatched: scoped.unmatched }
    }

    /// `match_not_found` keeping the scope of each match (history tells a missing episode
    /// from a missing show or season).
    pub fn match_not_found_scoped(&self, not_found: &Value) -> ScopedNotFound {
        let mut hits: std::collections::BTreeMap<usize, Scope> = std::collections::BTreeMap::new();
        let mut unmatched = 0usize;
        let mut put = |inputs: &[usize], scope: Scope| {
            for &i in inputs {
                let e = hits.entry(i).or_insert(scope);
                if scope > *e {
                    *e = scope;
                }
            }
        };
        let Some(nf) = not_found.as_object() else { return ScopedNotFound::default() };
        for group in [Group::Movies, Group::Seasons, Group::Episodes] {
            for echo in array(nf.get(group.name())) {
                let ids = echo_ids(echo);
                let mut hit = false;
                for f in self.flat.iter().filter(|f| f.group == group && ids_agree(&f.ids, ids)) {
                    put(&f.inputs, Scope::Flat(group));
                    hit = true;
                }
                unmatched += usize::from(!hit);
            }
        }
        for echo in array(nf.get("shows")) {
            let ids = echo_ids(echo);
            let seasons = array(echo.get("seasons"));
            let mut hit = false;
            if seasons.is_empty() {
                for f in self.flat.iter().filter(|f| f.group == Group::Shows && ids_agree(&f.ids, ids)) {
                    put(&f.inputs, Scope::Flat(Group::Shows));
                    hit = true;
                }
                if !hit {
                    for show in self.nested.iter().filter(|s| ids_agree(&s.ids, ids)) {
                        for s in &show.seasons {
                            s.whole.iter().for_each(|(_, i)| put(i, Scope::Parent));
                            s.episodes.iter().for_each(|(_, _, i)| put(i, Scope::Parent));
                        }
                        hit = true;
                    }
                }
            } else {
                // Trakt echoes a show or season it cannot find with everything sent under it:
                // when every episode sent under one came back, that parent was not found
                // (indistinguishable from all of them missing; reported as the parent).
                for show in self.nested.iter().filter(|s| ids_agree(&s.ids, ids)) {
                    let mut show_hits: BTreeSet<usize> = BTreeSet::new();
                    for es in seasons {
                        let Some(number) = number_of(es) else { continue };
                        let episodes = array(es.get("episodes"));
                        for s in show.seasons.iter().filter(|s| i64::from(s.number) == number) {
                            if episodes.is_empty() {
                                if s.whole.is_empty() {
                                    s.episodes.iter().for_each(|(_, _, i)| put(i, Scope::Parent));
                                    s.episodes.iter().for_each(|(_, _, i)| show_hits.extend(i));
                                } else {
                                    s.whole.iter().for_each(|(_, i)| put(i, Scope::Parent));
                                    s.whole.iter().for_each(|(_, i)| show_hits.extend(i));
                                }
                                hit = true;
                            }
                            let mut season_hits: BTreeSet<usize> = BTreeSet::new();
                            for ee in episodes {
                                let Some(en) = number_of(ee) else { continue };
                                for (_, _, inputs) in s.episodes.iter().filter(|(n, _, _)| i64::from(*n) == en) {
                                    put(inputs, Scope::Episode);
                                    season_hits.extend(inputs);
                                    hit = true;
                                }
                            }
                            let mut sent = BTreeSet::new();
                            sent.extend(s.episodes.iter().flat_map(|(_, _, i)| i.iter().copied()));
                            if !season_hits.is_empty() && season_hits == sent {
                                put(&sent.iter().copied().collect::<Vec<_>>(), Scope::Parent);
                            }
                            show_hits.extend(season_hits);
                        }
                    }
                    let mut sent = BTreeSet::new();
                    sent.extend(
                        show.seasons
                            .iter()
                            .flat_map(|s| {
                                s.whole
                                    .iter()
                                    .flat_map(|(_, i)| i.iter())
                                    .chain(s.episodes.iter().flat_map(|(_, _, i)| i.iter()))
                            })
                            .copied(),
                    );
                    if !show_hits.is_empty() && show_hits == sent {
                        put(&sent.iter().copied().collect::<Vec<_>>(), Scope::Parent);
                    }
                }
            }
            unmatched += usize::from(!hit);
        }
        ScopedNotFound { inputs: hits.into_iter().collect(), unmatched }
    }
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn echo_ids(echo: &Value) -> Option<&Map<String, Value>> {
    echo.get("ids").and_then(Value::as_object)
}

fn number_of(v: &Value) -> Option<i64> {
    match v.get("number")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Every non-null id echoed back equals what was sent (numbers and numeric strings compare
/// equal), and at least one was echoed.
fn ids_agree(sent: &Map<String, Value>, echoed: Option<&Map<String, Value>>) -> bool {
    let Some(echoed) = echoed else { return false };
    let mut any = false;
    for (k, v) in echoed {
        let Some(e) = scalar_text(v) else { continue };
        match sent.get(k).and_then(scalar_text) {
            Some(s) if s == e => any = true,
            _ => return false,
        }
    }
    any
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Per-group counters from a write response object (`added`, `existing`, `deleted`, ...).
pub fn counts(resp: &Value, field: &str) -> [u64; 4] {
    let mut out = [0u64; 4];
    if let Some(obj) = resp.get(field).and_then(Value::as_object) {
        for (i, g) in Group::ALL.iter().enumerate() {
            out[i] = obj.get(g.name()).and_then(Value::as_u64).unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests;
