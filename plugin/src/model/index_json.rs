//! An index as the text of one JSON object (`build-index-json`), written entry by entry
//! straight from the features' data: no JSON tree and no copy of the items.
//!
//! Each item is written the way hosts print an index entry's WIT item (trakt-host's
//! `items::item_to_json`, host-harness/host/src/items.rs): `type`, `title`, `year`, `ids`
//! always, the other fields when set, a rating as an integer when it is one (non-finite
//! ratings left out), then the fields of `extra` that do not clash, in their order. So a host
//! that prints this text prints what it printed from the records.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use super::item::Item;
use super::json::{IdsJson, NumText};

/// One index item; `play` replaces the item's `watched_at` and history id (a history play
/// of a title item, which has neither).
pub struct EntryJson<'a> {
    pub item: &'a Item,
    pub play: Option<(&'a str, Option<u64>)>,
}

/// The fields of an `extra` object text in their order (a repeated name keeps its first
/// place and its last value, as an ordered JSON map does); `None` when it is not an object.
fn extra_fields(text: &str) -> Option<Vec<(String, &RawValue)>> {
    struct Fields<'a>(Option<Vec<(String, &'a RawValue)>>);
    impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Fields<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Fields<'de>, A::Error> {
                    let mut out: Vec<(String, &'de RawValue)> = Vec::new();
                    while let Some(k) = a.next_key::<String>()? {
                        let v: &'de RawValue = a.next_value()?;
                        match out.iter_mut().find(|(n, _)| *n == k) {
                            Some(slot) => slot.1 = v,
                            None => out.push((k, v)),
                        }
                    }
                    Ok(Fields(Some(out)))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Fields>(text).ok().and_then(|f| f.0)
}

impl Serialize for EntryJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let it = self.item;
        let (watched_at, history_id) = match self.play {
            Some((at, id)) => (Some(at), id),
            None => (it.watched_at.as_deref(), None),
        };
        let mut written: Vec<&str> = vec!["type", "title", "year", "ids"];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &it.kind)?;
        m.serialize_entry("title", &it.title)?;
        m.serialize_entry("year", &it.year)?;
        m.serialize_entry("ids", &IdsJson(&it.ids))?;
        if !it.show_ids.is_empty() {
            m.serialize_entry("show_ids", &IdsJson(&it.show_ids))?;
            written.push("show_ids");
        }
        if let Some(v) = it.season {
            m.serialize_entry("season", &v)?;
            written.push("season");
        }
        if let Some(v) = it.episode {
            m.serialize_entry("episode", &v)?;
            written.push("episode");
        }
        if let Some(v) = &it.series_title {
            m.serialize_entry("series_title", v)?;
            written.push("series_title");
        }
        match it.rating {
            Some(r) if r.fract() == 0.0 && r.is_finite() => m.serialize_entry("rating", &(r as i64))?,
            Some(r) if r.is_finite() => m.serialize_entry("rating", &r)?,
            _ => {}
        }
        if it.rating.is_some_and(f64::is_finite) {
            written.push("rating");
        }
        for (k, v) in
            [("rated_at", it.rated_at.as_deref()), ("watched_at", watched_at), ("listed_at", it.listed_at.as_deref())]
        {
            if let Some(v) = v {
                m.serialize_entry(k, v)?;
                written.push(k);
            }
        }
        match (self.play, &it.history_id) {
            (Some(_), _) => {
                if let Some(id) = history_id {
                    m.serialize_entry("_trakt_history_id", &NumText(id))?;
                    written.push("_trakt_history_id");
                }
            }
            (None, Some(id)) => {
                m.serialize_entry("_trakt_history_id", id)?;
                written.push("_trakt_history_id");
            }
            (None, None) => {}
        }
        if let Some(fields) = it.extra.as_deref().and_then(extra_fields) {
            for (k, v) in fields {
                if !written.contains(&k.as_str()) {
                    m.serialize_entry(&k, v)?;
                }
            }
        }
        m.end()
    }
}

/// The text of the index object of `entries` (key, item), in their order, indented as hosts
/// print an index (serde_json's pretty form, two spaces: `to_string_pretty` of the same
/// object gives these bytes), so a host can print the text as it is instead of re-indenting
/// it. Written by `write_entry` (one pass, few small copies: a serde serializer's many small
/// writes are what this costs in WebAssembly) into a buffer sized from the first entries (a
/// buffer that doubles as it grows would take up to twice the text in the component's
/// memory, which never shrinks); `spare` more bytes are reserved for what the caller appends
/// (the history cache's trailer).
pub fn index_text<'a>(
    entries: impl Iterator<Item = (&'a str, EntryJson<'a>)> + Clone,
    len: usize,
    spare: usize,
) -> Result<String, String> {
    const SAMPLE: usize = 64;
    let mut sample = String::with_capacity(SAMPLE * 640);
    for (k, v) in entries.clone().take(SAMPLE) {
        write_entry(&mut sample, k, &v, true)?;
    }
    let per = sample.len() / len.clamp(1, SAMPLE);
    // The average of the first entries for all, an eighth more for longer titles.
    let mut text = TextParts::whole(len.saturating_mul(per + per / 8).saturating_add(spare + 16));
    for (k, v) in entries {
        text.entry(k, &v)?;
    }
    Ok(text.take(true))
}

/// The text of an index object written entry by entry and taken in parts (`index-stream`,
/// the history cache's part files): the parts joined are `index_text`'s text of the same
/// entries. Each part ends after a whole entry, so every part is UTF-8 on its own.
pub struct TextParts {
    out: String,
    first: bool,
    capacity: usize,
}

impl TextParts {
    /// A writer whose parts hold about `capacity` bytes (a part ends with the first entry
    /// past it).
    pub fn new(capacity: usize) -> TextParts {
        TextParts::with_buffer(capacity + capacity / 8, capacity)
    }

    /// A writer of one part, the whole text, into a buffer of `buffer` bytes to start with.
    fn whole(buffer: usize) -> TextParts {
        TextParts::with_buffer(buffer, usize::MAX)
    }

    fn with_buffer(buffer: usize, capacity: usize) -> TextParts {
        let mut out = String::with_capacity(buffer);
        out.push('{');
        TextParts { out, first: true, capacity }
    }

    /// Append one entry.
    pub fn entry(&mut self, key: &str, e: &EntryJson) -> Result<(), String> {
        write_entry(&mut self.out, key, e, self.first)?;
        self.first = false;
        Ok(())
    }

    /// Append one history play of a title whose `item_head` is `head` (written by
    /// `TitleHead`), the same text `entry` writes for it.
    pub fn play(&mut self, key: &str, head: &TitleHead, watched_at: &str, id: Option<u64>) {
        self.out.push_str(if self.first { "\n  " } else { ",\n  " });
        string(&mut self.out, key);
        self.out.push_str(": ");
        self.out.push_str(&head.text);
        item_tail(&mut self.out, Some(watched_at), head.listed_at.as_deref(), HistoryId::Play(id));
        self.first = false;
    }

    /// Whether the part being written is full.
    pub fn full(&self) -> bool {
        self.out.len() >= self.capacity
    }

    /// The text written since the last part (the last part when `end`: the object closed).
    pub fn take(&mut self, end: bool) -> String {
        if end {
            self.out.push_str(if self.first { "}" } else { "\n}" });
        }
        let next = if end { String::new() } else { String::with_capacity(self.capacity + self.capacity / 8) };
        std::mem::replace(&mut self.out, next)
    }
}

/// The shared head of a history title's plays (`TextParts::play`): written once for the
/// title and reused for each of its plays, which follow one another in key order.
#[derive(Default)]
pub struct TitleHead {
    /// The title the head was written for (its position in the index).
    of: Option<u32>,
    text: String,
    /// The item's field after the head (`listed_at`).
    listed_at: Option<String>,
}

impl TitleHead {
    /// Write the head of `item` for title `of` unless it is the one held; `false` when the
    /// item cannot be written this way (it has `extra`: `TextParts::entry` writes it).
    pub fn take(&mut self, of: u32, item: &Item) -> Result<bool, String> {
        if item.extra.is_some() {
            return Ok(false);
        }
        if self.of != Some(of) {
            self.text.clear();
            item_head(&mut self.text, item)?;
            self.listed_at.clone_from(&item.listed_at);
            self.of = Some(of);
        }
        Ok(true)
    }
}

/// `compact` (serde_json's compact text) as serde_json's pretty form with two-space indents,
/// one level deeper (an entry of the index object): `{` and `[` open a level, `,` starts a
/// line, `:` is followed by a space, and an empty object or array stays `{}` or `[]`. Strings
/// are copied as they are; a number other than a plain integer is written as serde_json
/// writes it once read (`2.50` -> `2.5`, `1e2` -> `100.0`), as the pretty serializer did.
/// Tokens, not a parse and a second serializer: that was ~3 KB of the component (serde-transcode
/// and a pretty writer) for an entry that index items never have today.
fn reindent(compact: &str, out: &mut String) {
    let bytes = compact.as_bytes();
    let line = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..=depth {
            out.push_str("  ");
        }
    };
    let (mut depth, mut from, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            // To the closing quote, past escaped characters.
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if matches!(b, b'-' | b'0'..=b'9') {
            let end = bytes[i..].iter().position(|c| matches!(c, b',' | b'}' | b']')).map_or(bytes.len(), |n| i + n);
            let number = &compact[i..end];
            // An integer serde_json reads as i64 or u64 is written back as it is; any other
            // number (a fraction, an exponent, -0, beyond 64 bits) as serde_json writes it.
            if number == "-0" || number.parse::<i64>().is_err() && number.parse::<u64>().is_err() {
                if let Ok(n) = serde_json::from_str::<serde_json::Value>(number) {
                    out.push_str(&compact[from..i]);
                    out.push_str(&n.to_string());
                    from = end;
                }
            }
            i = end;
            continue;
        }
        if !matches!(b, b'{' | b'[' | b'}' | b']' | b',' | b':') {
            i += 1;
            continue;
        }
        out.push_str(&compact[from..i]);
        match b {
            b'{' | b'[' if matches!(bytes.get(i + 1), Some(b'}' | b']')) => {
                out.push_str(&compact[i..i + 2]);
                i += 1;
            }
            b'{' | b'[' => {
                out.push(b as char);
                depth += 1;
                line(out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                line(out, depth);
                out.push(b as char);
            }
            b',' => {
                out.push(',');
                line(out, depth);
            }
            _ => out.push_str(": "),
        }
        i += 1;
        from = i;
    }
    out.push_str(&compact[from.min(compact.len())..]);
}

/// One entry of the index object, `"key": {item}` at the first level of indentation, after a
/// comma unless it is the `first`.
fn write_entry(out: &mut String, key: &str, e: &EntryJson, first: bool) -> Result<(), String> {
    out.push_str(if first { "\n  " } else { ",\n  " });
    string(out, key);
    out.push_str(": ");
    if e.item.extra.is_some() {
        // Rare (index items carry no caller fields today): the serializer's compact text,
        // re-indented token by token as a host would print it.
        let compact = serde_json::to_string(e).map_err(|x| x.to_string())?;
        reindent(&compact, out);
        return Ok(());
    }
    let it = e.item;
    let watched_at = match e.play {
        Some((at, _)) => Some(at),
        None => it.watched_at.as_deref(),
    };
    item_head(out, it)?;
    let ids = match e.play {
        Some((_, id)) => HistoryId::Play(id),
        None => HistoryId::Text(it.history_id.as_deref()),
    };
    item_tail(out, watched_at, it.listed_at.as_deref(), ids);
    Ok(())
}

/// The fields of an item without `extra` up to `watched_at`: its kind, title, year, ids,
/// numbers, series title, rating and `rated_at` (the part every play of a history title
/// shares).
fn item_head(out: &mut String, it: &Item) -> Result<(), String> {
    out.push_str("{\n    \"type\": ");
    string(out, &it.kind);
    out.push_str(",\n    \"title\": ");
    match &it.title {
        Some(t) => string(out, t),
        None => out.push_str("null"),
    }
    out.push_str(",\n    \"year\": ");
    match it.year {
        Some(y) => out.push_str(itoa::Buffer::new().format(y)),
        None => out.push_str("null"),
    }
    out.push_str(",\n    \"ids\": ");
    ids(out, &it.ids);
    if !it.show_ids.is_empty() {
        out.push_str(",\n    \"show_ids\": ");
        ids(out, &it.show_ids);
    }
    for (name, v) in [("season", it.season), ("episode", it.episode)] {
        if let Some(v) = v {
            field(out, name);
            out.push_str(itoa::Buffer::new().format(v));
        }
    }
    if let Some(v) = &it.series_title {
        field(out, "series_title");
        string(out, v);
    }
    match it.rating {
        Some(r) if r.fract() == 0.0 && r.is_finite() => {
            field(out, "rating");
            out.push_str(itoa::Buffer::new().format(r as i64));
        }
        Some(r) if r.is_finite() => {
            field(out, "rating");
            out.push_str(&serde_json::to_string(&r).map_err(|x| x.to_string())?);
        }
        _ => {}
    }
    if let Some(v) = it.rated_at.as_deref() {
        field(out, "rated_at");
        string(out, v);
    }
    Ok(())
}

/// The history id of an entry: a play's (a number), or the item's own text.
#[derive(Clone, Copy)]
enum HistoryId<'a> {
    Play(Option<u64>),
    Text(Option<&'a str>),
}

/// The rest of an item after `item_head`: `watched_at`, `listed_at`, the history id and the
/// closing brace.
fn item_tail(out: &mut String, watched_at: Option<&str>, listed_at: Option<&str>, id: HistoryId) {
    for (name, v) in [("watched_at", watched_at), ("listed_at", listed_at)] {
        if let Some(v) = v {
            field(out, name);
            string(out, v);
        }
    }
    match id {
        HistoryId::Play(Some(id)) => {
            field(out, "_trakt_history_id");
            out.push('"');
            out.push_str(itoa::Buffer::new().format(id));
            out.push('"');
        }
        HistoryId::Text(Some(id)) => {
            field(out, "_trakt_history_id");
            string(out, id);
        }
        HistoryId::Play(None) | HistoryId::Text(None) => {}
    }
    out.push_str("\n  }");
}

/// `,\n    "name": ` (an item field after the first).
fn field(out: &mut String, name: &str) {
    out.push_str(",\n    \"");
    out.push_str(name);
    out.push_str("\": ");
}

/// Ids as `IdsJson` writes them (the first value of a namespace kept), at the second level.
fn ids(out: &mut String, ids: &[(String, String)]) {
    let mut any = false;
    for (i, (k, v)) in ids.iter().enumerate() {
        if ids[..i].iter().any(|(p, _)| p == k) {
            continue;
        }
        out.push_str(if any { ",\n      " } else { "{\n      " });
        string(out, k);
        out.push_str(": ");
        string(out, v);
        any = true;
    }
    out.push_str(if any { "\n    }" } else { "{}" });
}

/// A JSON string as serde_json writes it: escaped only where JSON requires (control
/// characters, quote, backslash), copied whole when nothing needs escaping.
fn string(out: &mut String, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Writing a string cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// Whether JSON needs any of these bytes escaped (a control character, `"` or `\\`), eight
/// at a time: every title, id and time of an index goes through here.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `v` is zero: the high bit of that byte in `(v - ONES) & !v & HIGH`, exact
    // for "any" (http://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Below 0x20 (bytes of 0x80 and more never count: `!w` clears their high bit).
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        if control | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_escape_finds_every_byte_json_escapes_at_every_place() {
        let slow = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        for len in 0..20 {
            let base: Vec<u8> = (0..len).map(|i| b"aZ~ \x7f\xc3\xa9!"[i % 8]).collect();
            assert_eq!(needs_escape(&base), slow(&base), "{base:?}");
            for at in 0..len {
                for bad in [0u8, 0x1f, b'"', b'\\', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
                    let mut v = base.clone();
                    v[at] = bad;
                    assert_eq!(needs_escape(&v), slow(&v), "{v:?}");
                }
            }
        }
    }

    #[test]
    fn reindent_is_the_pretty_serializer_one_level_deeper() {
        let docs = [
            r#"{"a":1,"b":[1,2,{"c":"x,y:{}[]"}],"d":{},"e":[],"f":{"g":[[]]}}"#,
            r#"{"s":"quote \" backslash \\ brace { colon : comma ,","t":"\u0001é—","n":-1.5e-7,"z":null}"#,
            r#"[]"#,
            r#"{}"#,
            r#"[true,false,null,0,"\\"]"#,
            r#"{"n":[2.50,1e2,-0,0,-7,18446744073709551615,18446744073709551616,-9223372036854775809,1E-2,0.1]}"#,
        ];
        for doc in docs {
            let mut pretty = Vec::new();
            let mut de = serde_json::Deserializer::from_str(doc);
            let mut ser = serde_json::Serializer::with_formatter(
                &mut pretty,
                serde_json::ser::PrettyFormatter::with_indent(b"  "),
            );
            serde_transcode::transcode(&mut de, &mut ser).unwrap();
            let expected = String::from_utf8(pretty).unwrap().replace('\n', "\n  ");
            let mut out = String::new();
            reindent(doc, &mut out);
            assert_eq!(out, expected, "{doc}");
        }
    }

    /// What a host printed before: the serializer's compact text, re-indented token by token.
    fn reference(entries: &[(&str, EntryJson)]) -> String {
        let mut compact = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut compact);
        let mut m = ser.serialize_map(Some(entries.len())).unwrap();
        for (k, v) in entries {
            m.serialize_entry(k, v).unwrap();
        }
        SerializeMap::end(m).unwrap();
        let mut pretty = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(&compact);
        let mut ser = serde_json::Serializer::with_formatter(&mut pretty, serde_json::ser::PrettyFormatter::new());
        serde_transcode::transcode(&mut de, &mut ser).unwrap();
        String::from_utf8(pretty).unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_hand_written_text_is_what_hosts_printed() {
        let movie = Item {
            kind: "movie".into(),
            title: Some("Say \"hi\" \\ \u{1} — é".into()),
            year: Some(1999),
            ids: pairs(&[("tmdb", "603"), ("imdb", "tt0133093"), ("tmdb", "604")]),
            rating: Some(8.0),
            rated_at: Some("2026-01-01T00:00:00.000Z".into()),
            ..Item::default()
        };
        let episode = Item {
            kind: "episode".into(),
            title: None,
            year: None,
            ids: Vec::new(),
            show_ids: pairs(&[("tvdb", "81189")]),
            season: Some(-1),
            episode: Some(0),
            series_title: Some("Show".into()),
            rating: Some(7.5),
            watched_at: Some("unused for a play".into()),
            listed_at: Some("2026-01-02T00:00:00.000Z".into()),
            history_id: Some("77".into()),
            ..Item::default()
        };
        let odd = Item {
            kind: "show".into(),
            rating: Some(f64::NAN),
            history_id: Some("12".into()),
            watched_at: Some("2026-01-03T00:00:00.000Z".into()),
            extra: Some(r#"{"title":"clash","plex":{"guid":"x","n":[1,2.50,{}],"e":[]},"z":1e2}"#.into()),
            ..Item::default()
        };
        let entries = [
            ("a\"key", EntryJson { item: &movie, play: None }),
            ("b", EntryJson { item: &episode, play: Some(("2026-05-01T00:00:00.000Z", Some(5_000_000_001))) }),
            ("c", EntryJson { item: &episode, play: Some(("2026-05-01T00:00:00.000Z", None)) }),
            ("d", EntryJson { item: &odd, play: None }),
        ];
        let text =
            index_text(entries.iter().map(|(k, v)| (*k, EntryJson { item: v.item, play: v.play })), 4, 0).unwrap();
        assert_eq!(text, reference(&entries));
        assert_eq!(index_text(std::iter::empty(), 0, 0).unwrap(), reference(&[]));
    }

    #[test]
    fn a_play_written_with_its_titles_head_is_the_entry_written_whole() {
        let title = Item {
            kind: "episode".into(),
            title: Some("Pilot \"1\"".into()),
            year: Some(2008),
            ids: pairs(&[("tmdb", "62085"), ("trakt", "73482")]),
            show_ids: pairs(&[("tvdb", "81189")]),
            season: Some(1),
            episode: Some(1),
            series_title: Some("Breaking Bad".into()),
            rating: Some(7.5),
            rated_at: Some("2026-01-01T00:00:00.000Z".into()),
            listed_at: Some("2026-01-02T00:00:00.000Z".into()),
            ..Item::default()
        };
        let other = Item { kind: "movie".into(), ids: pairs(&[("tmdb", "603")]), ..Item::default() };
        let plays: [(u32, &Item, &str, &str, Option<u64>); 4] = [
            (0, &title, "k1", "2026-05-01T00:00:00.000Z", Some(5_000_000_001)),
            (0, &title, "k2", "2026-05-02T00:00:00.000Z", None),
            (1, &other, "k\"3", "2026-05-03T00:00:00.000Z", Some(7)),
            (0, &title, "k4", "x", Some(8)),
        ];
        let mut whole = TextParts::new(1 << 20);
        let mut headed = TextParts::new(1 << 20);
        let mut head = TitleHead::default();
        for (t, item, key, at, id) in plays {
            whole.entry(key, &EntryJson { item, play: Some((at, id)) }).unwrap();
            assert!(head.take(t, item).unwrap());
            headed.play(key, &head, at, id);
        }
        assert_eq!(headed.take(true), whole.take(true));
        let extra = Item { extra: Some("{}".into()), ..other };
        assert!(!head.take(2, &extra).unwrap(), "an item with extra is written whole");
    }
}
