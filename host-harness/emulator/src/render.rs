//! Fast rendering of large pages (history, ratings) straight to JSON text.
//!
//! A row's media objects (`"movie": {...}` or `"episode": {...}, "show": {...}`) are serialized
//! once per item and cached in the server state (`State::fragments`, cleared when the catalogue
//! changes); a row is then a few numbers and timestamps plus that cached text, so a 250-row page
//! costs no `serde_json::Value` trees (which dominate in unoptimized test builds). The media
//! objects are written by hand here, byte-identical to `serde_json`'s rendering of
//! `Lookup::media_objects` (a unit test checks).

use std::collections::HashMap;
use std::fmt::Write;

use crate::catalog::Lookup;
use crate::library::{Episode, MediaRef, MediaType, Movie, Season, Show};

/// Cached media-object text per item (without the enclosing braces).
pub(crate) type Fragments = HashMap<MediaRef, Box<str>>;

/// A JSON array being written row by row.
pub(crate) struct Rows<'a> {
    lookup: Lookup<'a>,
    cache: &'a mut Fragments,
    out: String,
    empty: bool,
}

impl<'a> Rows<'a> {
    pub(crate) fn new(lookup: Lookup<'a>, cache: &'a mut Fragments, rows: usize) -> Rows<'a> {
        let mut out = String::with_capacity(2 + rows * 320);
        out.push('[');
        Rows { lookup, cache, out, empty: true }
    }

    /// Opens a row (`{`) and returns the text to append its leading fields to, each followed
    /// by a `,` (e.g. `"id":1,`).
    pub(crate) fn open(&mut self) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('{');
        &mut self.out
    }

    /// Closes the row with the media objects of `m`.
    pub(crate) fn close(&mut self, m: MediaRef) {
        let lookup = self.lookup;
        let fragment = self.cache.entry(m).or_insert_with(|| media_fragment(lookup, m).into());
        if fragment.is_empty() {
            // Only the leading fields: drop their trailing comma.
            if self.out.ends_with(',') {
                self.out.pop();
            }
        } else {
            self.out.push_str(fragment);
        }
        self.out.push('}');
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push(']');
        self.out
    }
}

/// Appends `"key":<number>,`.
pub(crate) fn num_field(out: &mut String, key: &str, n: u64) {
    let _ = write!(out, "\"{key}\":{n},");
}

/// Appends `"key":"<text>",` for text that needs no escaping (type names, actions).
pub(crate) fn plain_field(out: &mut String, key: &str, text: &str) {
    let _ = write!(out, "\"{key}\":\"{text}\",");
}

/// Appends `"key":"YYYY-MM-DDTHH:MM:SS.000Z",`.
pub(crate) fn time_field(out: &mut String, key: &str, t: crate::timestamp::Timestamp) {
    let _ = write!(out, "\"{key}\":\"");
    t.write_trakt(out);
    out.push_str("\",");
}

/// The media objects of a row (`"movie":{...}`, `"show":{...}`, `"season":{...},"show":{...}` or
/// `"episode":{...},"show":{...}`), as `serde_json` renders `Lookup::media_objects` without the
/// enclosing braces; empty for media not in the catalogue.
pub(crate) fn media_fragment(lookup: Lookup<'_>, m: MediaRef) -> String {
    let mut out = String::with_capacity(320);
    match m.kind {
        MediaType::Movie => {
            if let Some(movie) = lookup.movie(m.trakt) {
                out.push_str("\"movie\":");
                movie_text(&mut out, movie);
            }
        }
        MediaType::Show => {
            if let Some(show) = lookup.show(m.trakt) {
                out.push_str("\"show\":");
                show_text(&mut out, show);
            }
        }
        MediaType::Season => {
            if let Some((show, season)) = lookup.season(m.trakt) {
                out.push_str("\"season\":");
                season_text(&mut out, season);
                out.push_str(",\"show\":");
                show_text(&mut out, show);
            }
        }
        MediaType::Episode => {
            if let Some((show, season, ep)) = lookup.episode(m.trakt) {
                out.push_str("\"episode\":");
                episode_text(&mut out, season, ep);
                out.push_str(",\"show\":");
                show_text(&mut out, show);
            }
        }
    }
    out
}

/// A JSON string literal, escaped as `serde_json` does.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn opt_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.push_str("null"),
    }
}

fn opt_num<N: std::fmt::Display>(out: &mut String, n: Option<N>) {
    match n {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

fn movie_text(out: &mut String, m: &Movie) {
    out.push_str("{\"title\":");
    string(out, &m.title);
    out.push_str(",\"year\":");
    opt_num(out, m.year);
    let _ = write!(out, ",\"ids\":{{\"trakt\":{},\"slug\":", m.ids.trakt);
    string(out, &m.ids.slug);
    out.push_str(",\"imdb\":");
    opt_string(out, m.ids.imdb.as_deref());
    out.push_str(",\"tmdb\":");
    opt_num(out, m.ids.tmdb);
    out.push_str("}}");
}

fn show_text(out: &mut String, s: &Show) {
    out.push_str("{\"title\":");
    string(out, &s.title);
    out.push_str(",\"year\":");
    opt_num(out, s.year);
    let _ = write!(out, ",\"ids\":{{\"trakt\":{},\"slug\":", s.ids.trakt);
    string(out, &s.ids.slug);
    out.push_str(",\"tvdb\":");
    opt_num(out, s.ids.tvdb);
    out.push_str(",\"imdb\":");
    opt_string(out, s.ids.imdb.as_deref());
    out.push_str(",\"tmdb\":");
    opt_num(out, s.ids.tmdb);
    out.push_str("}}");
}

fn season_text(out: &mut String, s: &Season) {
    let _ = write!(out, "{{\"number\":{},\"ids\":{{\"trakt\":{},\"tvdb\":", s.number, s.ids.trakt);
    opt_num(out, s.ids.tvdb);
    out.push_str(",\"tmdb\":");
    opt_num(out, s.ids.tmdb);
    out.push_str("}}");
}

fn episode_text(out: &mut String, season: &Season, e: &Episode) {
    let _ = write!(out, "{{\"season\":{},\"number\":{},\"title\":", season.number, e.number);
    opt_string(out, e.title.as_deref());
    let _ = write!(out, ",\"ids\":{{\"trakt\":{},\"tvdb\":", e.ids.trakt);
    opt_num(out, e.ids.tvdb);
    out.push_str(",\"imdb\":");
    opt_string(out, e.ids.imdb.as_deref());
    out.push_str(",\"tmdb\":");
    opt_num(out, e.ids.tmdb);
    out.push_str("}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogIndex;
    use crate::library::Library;
    use serde_json::Value;

    #[test]
    fn fragments_match_serde_json() {
        let mut lib = Library::sample(3, 2);
        lib.catalog.movies[0].title = "Quote \" back\\slash \n\t\r\u{8}\u{c}\u{1} é ✓ \u{7f}".into();
        lib.catalog.movies[1].ids.imdb = None;
        lib.catalog.movies[1].year = None;
        lib.catalog.shows[0].title = "Tab\there".into();
        lib.catalog.shows[0].ids.tvdb = None;
        lib.catalog.shows[0].seasons[1].episodes[0].title = None;
        lib.catalog.shows[0].seasons[1].episodes[1].ids.imdb = None;
        lib.catalog.shows[0].seasons[0].ids.tmdb = None;
        let ix = CatalogIndex::build(&lib.catalog).unwrap();
        let lookup = Lookup::new(&lib.catalog, &ix);
        let mut refs = vec![MediaRef { kind: MediaType::Movie, trakt: 42 }];
        for m in &lib.catalog.movies {
            refs.push(MediaRef { kind: MediaType::Movie, trakt: m.ids.trakt });
        }
        for s in &lib.catalog.shows {
            refs.push(MediaRef { kind: MediaType::Show, trakt: s.ids.trakt });
            for season in &s.seasons {
                refs.push(MediaRef { kind: MediaType::Season, trakt: season.ids.trakt });
                for e in &season.episodes {
                    refs.push(MediaRef { kind: MediaType::Episode, trakt: e.ids.trakt });
                }
            }
        }
        for m in refs {
            let expected = Value::Object(lookup.media_objects(m)).to_string();
            assert_eq!(format!("{{{}}}", media_fragment(lookup, m)), expected, "{m:?}");
        }
    }
}
