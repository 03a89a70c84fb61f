//! The `state` import: small named files in the state directory, names validated, writes
//! atomic, total size under a quota. The directory is the account's and pair's own
//! (`state_scope`); a scoped store adopts a file it lacks from the unscoped directory once.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::fsutil::write_atomic;
use crate::imports::log::{Level, LogSink};
use crate::state_scope::StateLocation;

/// Why a state operation was refused; mirrors the WIT `state-error`.
#[derive(Debug, PartialEq, Eq)]
pub enum StateFault {
    InvalidName(String),
    QuotaExceeded(String),
    Io(String),
}

/// The component's files, under one directory it cannot see.
pub struct StateStore {
    dir: PathBuf,
    /// Unscoped directory to adopt files from (see `state_scope`).
    adopt_from: Option<PathBuf>,
    quota_bytes: u64,
    /// At most this many files (empty files would otherwise be free).
    max_files: usize,
    log: Option<LogSink>,
    /// name -> size of the component's files: read from the directory once, then kept up to
    /// date by every write, delete and adoption, so a write never lists the directory.
    sizes: Mutex<Option<BTreeMap<String, u64>>>,
}

/// Files one state directory may hold; the adapter keeps fewer than ten.
pub const DEFAULT_MAX_FILES: usize = 1000;

/// `text` with any mention of the state directory (or a path inside it) cut out: an
/// `io::Error` from a temporary file can carry its path.
fn scrub(text: &str, dir: &std::path::Path) -> String {
    let dir = dir.display().to_string();
    if dir.is_empty() {
        text.to_string()
    } else {
        text.replace(&dir, "<state>")
    }
}

/// 1-128 characters of `A-Z a-z 0-9 . _ -`, not starting with a dot: no separators, no `..`,
/// no hidden files (the store's own temporary files start with a dot).
pub fn validate_name(name: &str) -> Result<(), StateFault> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if name.is_empty() || name.len() > 128 || !ok_chars || name.starts_with('.') {
        return Err(StateFault::InvalidName(format!(
            "invalid state file name {name:?}: use 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'"
        )));
    }
    Ok(())
}

impl StateStore {
    pub fn new(dir: PathBuf, quota_bytes: u64) -> StateStore {
        StateStore::at(StateLocation::plain(dir), quota_bytes, None)
    }

    pub fn at(location: StateLocation, quota_bytes: u64, log: Option<LogSink>) -> StateStore {
        StateStore {
            dir: location.dir,
            adopt_from: location.adopt_from,
            quota_bytes,
            max_files: DEFAULT_MAX_FILES,
            log,
            sizes: Mutex::new(None),
        }
    }

    pub fn with_max_files(mut self, max_files: usize) -> StateStore {
        self.max_files = max_files;
        self
    }

    /// The size index, read from the directory on first use.
    fn sizes(&self) -> Result<std::sync::MutexGuard<'_, Option<BTreeMap<String, u64>>>, StateFault> {
        let mut guard = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let mut map = BTreeMap::new();
            for name in self.list()? {
                let size = fs::metadata(self.dir.join(&name)).map(|m| m.len()).unwrap_or(0);
                map.insert(name, size);
            }
            *guard = Some(map);
        }
        Ok(guard)
    }

    /// Whether `size` more bytes under `name` (replacing its current size) fit the quotas.
    fn check_room(&self, sizes: &BTreeMap<String, u64>, name: &str, size: u64) -> Result<(), StateFault> {
        if !sizes.contains_key(name) && sizes.len() >= self.max_files {
            return Err(StateFault::QuotaExceeded(format!(
                "writing {name:?} would exceed the state limit of {} files",
                self.max_files
            )));
        }
        let used: u64 = sizes.iter().filter(|(n, _)| n.as_str() != name).map(|(_, s)| s).sum();
        if used + size > self.quota_bytes {
            return Err(StateFault::QuotaExceeded(format!(
                "writing {size} bytes to {name:?} would exceed the state quota of {} bytes ({used} in use)",
                self.quota_bytes
            )));
        }
        Ok(())
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The component learns which file failed and why, never where the host keeps it (the
    /// host's own log line has the directory).
    fn io(&self, what: &str, name: &str, e: std::io::Error) -> StateFault {
        if let Some(log) = &self.log {
            let dir = self.dir.display().to_string();
            let error = e.to_string();
            log.event(
                Level::Warn,
                "state",
                "state_io_failed",
                &[("op", what), ("name", name), ("dir", &dir), ("error", &error)],
            );
        }
        let error = scrub(&e.to_string(), &self.dir);
        if name.is_empty() {
            StateFault::Io(format!("cannot {what} the state directory: {error}"))
        } else {
            StateFault::Io(format!("cannot {what} state file {name:?}: {error}"))
        }
    }

    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StateFault> {
        validate_name(name)?;
        match fs::read(self.dir.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => self.adopt(name),
            Err(e) => Err(self.io("read", name, e)),
        }
    }

    /// Move `name` from the unscoped directory into this scope, once, and read it. A file the
    /// quota cannot hold stays where it is.
    fn adopt(&self, name: &str) -> Result<Option<Vec<u8>>, StateFault> {
        let Some(legacy) = self.adopt_from.as_ref().map(|d| d.join(name)) else { return Ok(None) };
        let size = match fs::metadata(&legacy) {
            Ok(m) if m.is_file() => m.len(),
            _ => return Ok(None),
        };
        let mut sizes = self.sizes()?;
        let index = sizes.as_mut().expect("sizes() fills the index");
        if self.check_room(index, name, size).is_err() {
            return Ok(None);
        }
        fs::create_dir_all(&self.dir).map_err(|e| self.io("create the directory for", name, e))?;
        match fs::rename(&legacy, self.dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("adopt", name, e)),
        }
        index.insert(name.to_string(), size);
        drop(sizes);
        if let Some(log) = &self.log {
            log.event(Level::Info, "state", "state_adopted", &[("name", name), ("size", &size.to_string())]);
        }
        fs::read(self.dir.join(name)).map(Some).map_err(|e| self.io("read", name, e))
    }

    pub fn write(&self, name: &str, contents: &[u8]) -> Result<(), StateFault> {
        validate_name(name)?;
        let mut sizes = self.sizes()?;
        let index = sizes.as_mut().expect("sizes() fills the index");
        self.check_room(index, name, contents.len() as u64)?;
        fs::create_dir_all(&self.dir).map_err(|e| self.io("create the directory for", name, e))?;
        write_atomic(&self.dir.join(name), contents).map_err(|e| self.io("write", name, e))?;
        index.insert(name.to_string(), contents.len() as u64);
        Ok(())
    }

    /// Deletes the file, and an unscoped copy not adopted yet (it would otherwise come back).
    pub fn delete(&self, name: &str) -> Result<(), StateFault> {
        validate_name(name)?;
        let legacy = self.adopt_from.as_ref().map(|d| d.join(name));
        for path in std::iter::once(self.dir.join(name)).chain(legacy) {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(self.io("delete", name, e)),
            }
        }
        if let Some(index) = self.sizes.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            index.remove(name);
        }
        Ok(())
    }

    /// Valid names present, sorted; anything else in the directory is not the component's.
    pub fn list(&self) -> Result<Vec<String>, StateFault> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io("list", "", e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_separators_or_dots_are_refused() {
        for bad in ["", "../x", "a/b", "a\\b", "..", ".hidden", "x y", "é", &"a".repeat(129)] {
            assert!(matches!(validate_name(bad), Err(StateFault::InvalidName(_))), "{bad:?}");
        }
        for good in ["trakt_watchlist.shadow.json", "a", "A-b_c.1"] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn round_trip_quota_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::new(dir.path().join("st"), 10);
        assert_eq!(s.read("a").unwrap(), None);
        assert_eq!(s.list().unwrap(), Vec::<String>::new());
        s.write("a", b"12345").unwrap();
        s.write("b", b"12345").unwrap();
        // Rewriting a file counts only its new size.
        s.write("a", b"1234").unwrap();
        assert!(matches!(s.write("c", b"12"), Err(StateFault::QuotaExceeded(_))));
        assert_eq!(s.read("a").unwrap().unwrap(), b"1234");
        assert_eq!(s.list().unwrap(), ["a", "b"]);
        s.delete("a").unwrap();
        s.delete("a").unwrap();
        assert_eq!(s.list().unwrap(), ["b"]);
    }

    #[test]
    fn files_are_capped_in_number_and_counted_without_relisting() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::new(dir.path().join("st"), 1000).with_max_files(3);
        for n in ["a", "b", "c"] {
            s.write(n, b"").unwrap();
        }
        // Empty files are not free: a fourth is refused, rewriting one of the three is not.
        assert!(matches!(s.write("d", b""), Err(StateFault::QuotaExceeded(m)) if m.contains("3 files")));
        s.write("a", b"x").unwrap();
        s.delete("b").unwrap();
        s.write("d", b"").unwrap();
        // A running total: the directory is read once; a file dropped in by someone else
        // afterwards is not re-listed on every write (the next instance counts it).
        let t = StateStore::new(dir.path().join("t"), 100);
        t.write("a", &[0u8; 50]).unwrap();
        fs::write(dir.path().join("t").join("foreign"), vec![0u8; 90]).unwrap();
        t.write("b", &[0u8; 40]).unwrap();
        assert!(matches!(t.write("c", &[0u8; 11]), Err(StateFault::QuotaExceeded(_))), "own writes are counted");
        let fresh = StateStore::new(dir.path().join("t"), 100);
        assert!(matches!(fresh.write("c", b"1"), Err(StateFault::QuotaExceeded(_))), "a new store reads the directory");
    }

    #[test]
    fn a_scope_adopts_an_unscoped_file_once() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cache.json"), b"old").unwrap();
        fs::write(dir.path().join("gone.json"), b"x").unwrap();
        let at =
            |scope: &str| StateLocation { dir: dir.path().join(scope), adopt_from: Some(dir.path().to_path_buf()) };
        let a = StateStore::at(at("a"), 100, None);
        let b = StateStore::at(at("b"), 100, None);
        assert_eq!(a.read("cache.json").unwrap().unwrap(), b"old");
        assert!(!dir.path().join("cache.json").exists(), "moved, not copied");
        assert_eq!(a.read("cache.json").unwrap().unwrap(), b"old");
        assert_eq!(b.read("cache.json").unwrap(), None, "adopted once");
        a.delete("gone.json").unwrap();
        assert!(!dir.path().join("gone.json").exists());
        assert_eq!(a.read("gone.json").unwrap(), None);
        // No adoption without an unscoped directory.
        let c = StateStore::at(StateLocation::plain(dir.path().join("c")), 100, None);
        fs::write(dir.path().join("other.json"), b"o").unwrap();
        assert_eq!(c.read("other.json").unwrap(), None);
    }
}
