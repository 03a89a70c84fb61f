//! Typed access to the host's `state` import: small versioned JSON documents.
//!
//! Every document is a JSON object with a `schema` number. Reading never fails a call: a
//! missing file is `None`; an unreadable, corrupt or other-schema file is `None` with a warn
//! log (it is rebuilt from Trakt). Writing is atomic in the host (old or new contents, never
//! a mix); a failed write is logged and returned as `false` so callers can fall back to
//! deleting the file: a cache that cannot be kept right must not stay behind.
//!
//! File names are plain (no pair scope): the host gives each pair/profile its own state
//! directory.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::log::{self, Level};

pub mod text_cache;

/// The watchlist's ETag shadow (see `features::watchlist`).
pub const WATCHLIST_SHADOW: &str = "trakt_watchlist.shadow.json";
/// Items the watchlist could not apply (see `features::unresolved`).
pub const WATCHLIST_UNRESOLVED: &str = "trakt_watchlist.unresolved.json";
/// The ratings index cache (see `features::ratings`).
pub const RATINGS_INDEX: &str = "trakt_ratings.index.json";
/// Items the ratings feature could not apply.
pub const RATINGS_UNRESOLVED: &str = "trakt_ratings.unresolved.json";
/// The history index cache (see `features::history::index`): what its parts hold.
pub const HISTORY_INDEX: &str = "trakt_history.index.json";
/// The history index cache's parts: `trakt_history.index.<n>.part`, n from 0.
pub const HISTORY_INDEX_PART: (&str, &str) = ("trakt_history.index.", ".part");

/// The name of part `n` of the history index cache.
pub fn history_index_part(n: usize) -> String {
    format!("{}{n}{}", HISTORY_INDEX_PART.0, HISTORY_INDEX_PART.1)
}
/// History add batches sent but not yet answered (see `features::history::journal`).
pub const HISTORY_JOURNAL: &str = "trakt_history.journal.json";
/// Items the history feature could not apply.
pub const HISTORY_UNRESOLVED: &str = "trakt_history.unresolved.json";

/// The host's persistent store (a mirror of the WIT `state` interface; errors as text).
pub trait Store {
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, String>;
    /// `read` as text; `Err` when the file is not UTF-8. The host's `state.read` gives a
    /// string already, so its store does not check 40 MB of cache again.
    fn read_text(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.read(name)? {
            Some(b) => String::from_utf8(b).map(Some).map_err(|e| format!("{name} is not UTF-8: {e}")),
            None => Ok(None),
        }
    }
    fn write(&mut self, name: &str, contents: &[u8]) -> Result<(), String>;
    /// `write` of text; the host's `state.write` takes a string, so its store does not check
    /// the text again.
    fn write_text(&mut self, name: &str, contents: &str) -> Result<(), String> {
        self.write(name, contents.as_bytes())
    }
    fn delete(&mut self, name: &str) -> Result<(), String>;
    /// Names of the files that exist, sorted.
    fn names(&mut self) -> Result<Vec<String>, String>;
}

/// The bytes of `name`; `None` when absent or unreadable (warn logged).
pub fn read_bytes(store: &mut dyn Store, feature: &str, name: &str) -> Option<Vec<u8>> {
    match store.read(name) {
        Ok(b) => b,
        Err(e) => {
            ignored(feature, name, "read_failed", e);
            None
        }
    }
}

/// The text of `name`; `None` when absent, unreadable or not UTF-8 (warn logged).
pub fn read_text(store: &mut dyn Store, feature: &str, name: &str) -> Option<String> {
    match store.read_text(name) {
        Ok(t) => t,
        Err(e) => {
            ignored(feature, name, "read_failed", e);
            None
        }
    }
}

/// For a large document that the caller parses straight from its bytes (a 100,000-play
/// history cache as a `Value` would take several times its size) and that did not parse as
/// a document of `schema`: is it one all the same? Checked without building a JSON tree;
/// `false` (warn logged: corrupt, or of another schema) when it is not.
pub fn probe_schema(feature: &str, name: &str, bytes: &[u8], schema: u32) -> bool {
    // `schema` as `Value::as_u64` reads it (another JSON type is no schema); only an object,
    // since serde would read an array into the struct by position.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        schema: crate::model::lenient::Uint,
    }
    let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let probed = match object {
        true => crate::model::json::from_bytes::<Probe>(bytes).map(|p| p.schema.0),
        false => crate::model::json::from_bytes::<serde::de::IgnoredAny>(bytes).map(|_| None),
    };
    let found = match probed {
        Ok(found) => found,
        Err(e) => {
            ignored(feature, name, "corrupt", e.to_string());
            return false;
        }
    };
    if found != Some(u64::from(schema)) {
        let found = found.map(|n| n.to_string()).unwrap_or_else(|| "none".into());
        ignored(feature, name, "schema", format!("schema {found}, expected {schema}"));
        return false;
    }
    true
}

/// Read `name` as a document of `schema`; `None` when absent or unusable (warn logged).
pub fn load<T: DeserializeOwned>(store: &mut dyn Store, feature: &str, name: &str, schema: u32) -> Option<T> {
    let bytes = read_bytes(store, feature, name)?;
    load_from(feature, name, &bytes, schema)
}

/// `load` of bytes already read (a caller whose fast reading of them did not apply): the
/// schema probed first, then the document read straight from the text (no JSON tree).
pub fn load_from<T: DeserializeOwned>(feature: &str, name: &str, bytes: &[u8], schema: u32) -> Option<T> {
    if !probe_schema(feature, name, bytes, schema) {
        return None;
    }
    match crate::model::json::from_bytes(bytes) {
        Ok(doc) => Some(doc),
        Err(e) => {
            ignored(feature, name, "corrupt", e.to_string());
            None
        }
    }
}

pub fn ignored(feature: &str, name: &str, reason: &str, detail: String) {
    log::event(
        Level::Warn,
        feature,
        "state_ignored",
        &[("file", name.to_string()), ("reason", reason.to_string()), ("detail", detail)],
    );
}

/// Write `doc` (which carries its own `schema` field) as compact JSON. `false` on failure.
pub fn save<T: Serialize>(store: &mut dyn Store, feature: &str, name: &str, doc: &T) -> bool {
    save_sized(store, feature, name, doc, 0)
}

/// `save` into a buffer of `capacity` bytes to start with: a large document written into a
/// growing buffer would take up to twice its size in the component's memory, which never
/// shrinks.
pub fn save_sized<T: Serialize>(store: &mut dyn Store, feature: &str, name: &str, doc: &T, capacity: usize) -> bool {
    let mut bytes = Vec::with_capacity(capacity);
    let bytes = match serde_json::to_writer(&mut bytes, doc).map(|()| bytes) {
        Ok(b) => b,
        Err(e) => {
            log::event(
                Level::Error,
                feature,
                "state_write_failed",
                &[("file", name.to_string()), ("error", e.to_string())],
            );
            return false;
        }
    };
    write_logged(store, feature, name, &bytes)
}

/// Write `bytes` as `name`, logged (`state_saved`, or `state_write_failed`: `false`).
fn write_logged(store: &mut dyn Store, feature: &str, name: &str, bytes: &[u8]) -> bool {
    logged(feature, name, bytes.len(), store.write(name, bytes))
}

/// Write `text` as `name`, logged as `write_logged` logs (`false` on failure).
pub fn save_text(store: &mut dyn Store, feature: &str, name: &str, text: &str) -> bool {
    logged(feature, name, text.len(), store.write_text(name, text))
}

fn logged(feature: &str, name: &str, len: usize, written: Result<(), String>) -> bool {
    match written {
        Ok(()) => {
            log::event(Level::Debug, feature, "state_saved", &[("file", name.to_string()), ("bytes", len.to_string())]);
            true
        }
        Err(e) => {
            log::event(Level::Warn, feature, "state_write_failed", &[("file", name.to_string()), ("error", e)]);
            false
        }
    }
}

/// After a failed write: delete the file so no outdated copy stays behind (`state_dropped`).
fn drop_after_failed_write(store: &mut dyn Store, feature: &str, name: &str) {
    if delete(store, feature, name) {
        log::event(
            Level::Warn,
            feature,
            "state_dropped",
            &[("file", name.to_string()), ("reason", "write_failed".into())],
        );
    }
}

/// Delete `name` (a missing file is fine). `false` on failure, logged as an error: a stale
/// file may then remain.
pub fn delete(store: &mut dyn Store, feature: &str, name: &str) -> bool {
    match store.delete(name) {
        Ok(()) => true,
        Err(e) => {
            log::event(Level::Error, feature, "state_delete_failed", &[("file", name.to_string()), ("error", e)]);
            false
        }
    }
}

/// Save `doc`, or when that fails delete the file so no outdated copy stays behind.
pub fn save_or_delete<T: Serialize>(store: &mut dyn Store, feature: &str, name: &str, doc: &T) -> bool {
    save_or_delete_sized(store, feature, name, doc, 0)
}

/// `save_or_delete` with `save_sized`'s starting capacity.
pub fn save_or_delete_sized<T: Serialize>(
    store: &mut dyn Store,
    feature: &str,
    name: &str,
    doc: &T,
    capacity: usize,
) -> bool {
    if save_sized(store, feature, name, doc, capacity) {
        return true;
    }
    drop_after_failed_write(store, feature, name);
    false
}

/// Write `bytes` as `name` (a document the caller wrote itself), or when that fails delete
/// the file so no outdated copy stays behind.
pub fn save_bytes_or_delete(store: &mut dyn Store, feature: &str, name: &str, bytes: &[u8]) -> bool {
    if write_logged(store, feature, name, bytes) {
        return true;
    }
    drop_after_failed_write(store, feature, name);
    false
}

/// The real store over the component's `state` import.
pub mod host {
    use super::Store;
    use crate::bindings::crosswatch::sync::state as wit_state;

    pub struct HostStore;

    fn text(e: wit_state::StateError) -> String {
        match e {
            wit_state::StateError::InvalidName(m) => format!("invalid name: {m}"),
            wit_state::StateError::QuotaExceeded(m) => format!("quota exceeded: {m}"),
            wit_state::StateError::Io(m) => format!("io: {m}"),
        }
    }

    impl Store for HostStore {
        fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, String> {
            wit_state::read(name).map(|t| t.map(String::into_bytes)).map_err(text)
        }
        fn read_text(&mut self, name: &str) -> Result<Option<String>, String> {
            wit_state::read(name).map_err(text)
        }
        fn write(&mut self, name: &str, contents: &[u8]) -> Result<(), String> {
            // State files are JSON the adapter wrote, so always UTF-8.
            let utf8 = std::str::from_utf8(contents).map_err(|e| format!("state file {name} is not UTF-8: {e}"))?;
            wit_state::write(name, utf8).map_err(text)
        }
        fn write_text(&mut self, name: &str, contents: &str) -> Result<(), String> {
            wit_state::write(name, contents).map_err(text)
        }
        fn delete(&mut self, name: &str) -> Result<(), String> {
            wit_state::delete(name).map_err(text)
        }
        fn names(&mut self) -> Result<Vec<String>, String> {
            wit_state::list_names().map_err(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::take_lines;
    use crate::testkit::MemStore;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Doc {
        schema: u32,
        n: u32,
    }

    #[test]
    fn round_trip_and_ignored_files() {
        let mem = MemStore::new();
        let mut s = mem.store();
        assert_eq!(load::<Doc>(&mut *s, "t", "a.json", 1), None);
        assert!(save(&mut *s, "t", "a.json", &Doc { schema: 1, n: 7 }));
        assert_eq!(mem.text("a.json").as_deref(), Some(r#"{"schema":1,"n":7}"#));
        assert_eq!(load::<Doc>(&mut *s, "t", "a.json", 1), Some(Doc { schema: 1, n: 7 }));
        take_lines();

        // Another schema, corrupt JSON, a wrong shape, an unreadable file: ignored with a warning.
        assert_eq!(load::<Doc>(&mut *s, "t", "a.json", 2), None);
        mem.put("b.json", "{not json");
        assert_eq!(load::<Doc>(&mut *s, "t", "b.json", 1), None);
        mem.put("c.json", r#"{"schema":1,"n":"seven"}"#);
        assert_eq!(load::<Doc>(&mut *s, "t", "c.json", 1), None);
        mem.put("d.json", r#"[1]"#);
        assert_eq!(load::<Doc>(&mut *s, "t", "d.json", 1), None);
        mem.fail_reads(true);
        assert_eq!(load::<Doc>(&mut *s, "t", "a.json", 1), None);
        let lines = take_lines();
        let reasons: Vec<&str> = lines
            .iter()
            .filter(|l| l.contains("WARN state_ignored"))
            .map(|l| l.split(" reason=").nth(1).unwrap().split(' ').next().unwrap())
            .collect();
        assert_eq!(reasons, ["schema", "corrupt", "corrupt", "schema", "read_failed"]);
    }

    #[test]
    fn a_failed_save_deletes_the_old_copy() {
        let mem = MemStore::new();
        let mut s = mem.store();
        assert!(save(&mut *s, "t", "a.json", &Doc { schema: 1, n: 1 }));
        mem.fail_writes(true);
        assert!(!save_or_delete(&mut *s, "t", "a.json", &Doc { schema: 1, n: 2 }));
        assert_eq!(mem.text("a.json"), None, "the outdated copy is gone");
        assert!(take_lines().iter().any(|l| l.contains("WARN state_dropped file=a.json reason=write_failed")));

        // Neither write nor delete works: reported as an error, never a panic or a failure.
        mem.fail_writes(false);
        assert!(save(&mut *s, "t", "b.json", &Doc { schema: 1, n: 1 }));
        mem.fail_writes(true);
        mem.fail_deletes(true);
        assert!(!save_or_delete(&mut *s, "t", "b.json", &Doc { schema: 1, n: 2 }));
        assert_eq!(mem.ops()[mem.ops().len() - 2..], ["write b.json".to_string(), "delete b.json".to_string()]);
        assert!(take_lines().iter().any(|l| l.contains("ERROR state_delete_failed file=b.json")));
    }
}
