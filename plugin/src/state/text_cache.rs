//! State files that hold an index's own text, what `build-index-json` returns, followed by
//! one line, the trailer: `<index text>\n{<what the text is>,"items_bytes":N,"items_xxh3":"<16 hex>"}`.
//!
//! An unchanged re-index answers with the text as it is, checked by its length and XXH3 hash
//! (https://xxhash.com): no parse, no item built, no text written. A write reads the text
//! back as a `{key: item}` map (`features::stored::StoredMap`). Used by the ratings cache and
//! the watchlist shadow (the history cache, `features::history::index::cache`, has the same
//! form with its own trailer). The index text is serde_json's pretty form, so it holds no
//! line break outside its indentation: the last line break of the file is the trailer's.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::state::{self, Store};

/// Room for the trailer, reserved after the index text so appending it does not move it.
pub const TRAILER_SPARE: usize = 512;

/// What a file read as.
pub enum Read<T> {
    /// The index text and what the trailer says of it (`T`: the feature's fields).
    Text { text: String, meta: T },
    /// Not a file of this form (a document of an older schema): its bytes, for the old reader.
    Other(Vec<u8>),
}

#[derive(Serialize)]
struct TrailerOut<'a, T> {
    #[serde(flatten)]
    meta: &'a T,
    items_bytes: u64,
    items_xxh3: String,
}

/// The trailer's own fields. The feature's fields are read from the same line as their own
/// struct (each ignores the other's fields): `#[serde(flatten)]` reads through a buffer of
/// every field, about 5 KB of code per feature.
#[derive(Deserialize)]
struct TrailerIn {
    items_bytes: u64,
    items_xxh3: String,
}

/// The hash a trailer (or the history cache's manifest) gives of a text: XXH3-64, 16 hex digits.
pub fn digest(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// A trailer's fields, which carry the file's schema number.
pub trait Schema {
    fn schema(&self) -> u32;
}

/// The file `name`: `None` when absent, unreadable or not UTF-8, or (warn logged,
/// `state_ignored`) when its text is not the length and hash its trailer gives (reason
/// `corrupt`) or the trailer names another schema than `schema` (reason `schema`).
pub fn read_schema<T: DeserializeOwned + Schema>(
    store: &mut dyn Store,
    feature: &str,
    name: &str,
    schema: u32,
) -> Option<Read<T>> {
    parse_schema(state::read_text(store, feature, name)?, feature, name, schema)
}

/// `read_schema` of a file's text already read.
pub fn parse_schema<T: DeserializeOwned + Schema>(
    text: String,
    feature: &str,
    name: &str,
    schema: u32,
) -> Option<Read<T>> {
    match parse::<T>(text, feature, name)? {
        Read::Text { meta, .. } if meta.schema() != schema => {
            state::ignored(feature, name, "schema", format!("schema {}, expected {schema}", meta.schema()));
            None
        }
        read => Some(read),
    }
}

/// The text of a file already read, checked by its trailer's length and hash.
fn parse<T: DeserializeOwned>(mut text: String, feature: &str, name: &str) -> Option<Read<T>> {
    let Some(cut) = text.rfind('\n') else { return Some(Read::Other(text.into_bytes())) };
    let line = &text[cut + 1..];
    let (Ok(trailer), Ok(meta)) = (serde_json::from_str::<TrailerIn>(line), serde_json::from_str::<T>(line)) else {
        return Some(Read::Other(text.into_bytes()));
    };
    text.truncate(cut);
    if text.len() as u64 != trailer.items_bytes || digest(&text) != trailer.items_xxh3 {
        let detail = format!("{} bytes of index text do not match the trailer's length and hash", text.len());
        state::ignored(feature, name, "corrupt", detail);
        return None;
    }
    Some(Read::Text { text, meta })
}

/// Save `text` (best written with `TRAILER_SPARE` reserved) and its trailer as `name`, or
/// delete the file when that fails. The trailer is appended for the write and taken off
/// again: `text` is the index text again afterwards.
pub fn write<T: Serialize>(store: &mut dyn Store, feature: &str, name: &str, text: &mut String, meta: &T) -> bool {
    let trailer = TrailerOut { meta, items_bytes: text.len() as u64, items_xxh3: digest(text) };
    let trailer = match serde_json::to_string(&trailer) {
        Ok(t) => t,
        Err(e) => {
            crate::log::event(
                crate::log::Level::Error,
                feature,
                "state_write_failed",
                &[("file", name.to_string()), ("error", e.to_string())],
            );
            state::delete(store, feature, name);
            return false;
        }
    };
    let len = text.len();
    text.push('\n');
    text.push_str(&trailer);
    let saved = state::save_bytes_or_delete(store, feature, name, text.as_bytes());
    text.truncate(len);
    saved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::MemStore;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Meta {
        schema: u32,
        count: u64,
    }

    impl Schema for Meta {
        fn schema(&self) -> u32 {
            self.schema
        }
    }

    #[test]
    fn text_and_trailer_round_trip_and_damage_is_refused() {
        let mem = MemStore::new();
        let mut store = mem.store();
        let store = &mut *store;
        let mut text = "{\n  \"a\": {\n    \"x\": 1\n  }\n}".to_string();
        assert!(write(store, "f", "n.json", &mut text, &Meta { schema: 2, count: 1 }));
        assert_eq!(text, "{\n  \"a\": {\n    \"x\": 1\n  }\n}", "the text is given back as it was");
        let file = mem.text("n.json").unwrap();
        assert!(file.starts_with(&text) && file.ends_with("}"), "{file}");
        // The trailer line, byte for byte: the feature's fields, then the trailer's.
        let line = file.rsplit('\n').next().unwrap();
        assert_eq!(
            line,
            format!(r#"{{"schema":2,"count":1,"items_bytes":{},"items_xxh3":"{}"}}"#, text.len(), digest(&text))
        );
        match read_schema::<Meta>(store, "f", "n.json", 2) {
            Some(Read::Text { text: t, meta }) => assert_eq!((t, meta), (text.clone(), Meta { schema: 2, count: 1 })),
            _ => panic!("not read back"),
        }

        // Another schema: refused, and said why.
        let mut other = text.clone();
        assert!(write(store, "f", "o.json", &mut other, &Meta { schema: 3, count: 1 }));
        crate::log::take_lines();
        assert!(read_schema::<Meta>(store, "f", "o.json", 2).is_none());
        assert!(crate::log::take_lines().iter().any(|l| l.contains("reason=schema detail=schema 3, expected 2")));

        // One byte of the text changed: refused, and said why.
        crate::log::take_lines();
        mem.put("n.json", &file.replacen("1", "2", 1));
        assert!(read_schema::<Meta>(store, "f", "n.json", 2).is_none());
        assert!(crate::log::take_lines().iter().any(|l| l.contains("state_ignored") && l.contains("reason=corrupt")));

        // A one-line document (an older schema) is handed back for its own reader.
        mem.put("n.json", r#"{"schema":1,"items":{}}"#);
        assert!(
            matches!(read_schema::<Meta>(store, "f", "n.json", 2), Some(Read::Other(b)) if b.starts_with(b"{\"schema\":1"))
        );
    }
}
