//! The `state` import: small named files in the state directory, names validated, writes
//! atomic, total size under a quota.

use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use crate::fsutil::write_atomic;

/// Why a state operation was refused; mirrors the WIT `state-error`.
#[derive(Debug, PartialEq, Eq)]
pub enum StateFault {
    InvalidName(String),
    QuotaExceeded(String),
    Io(String),
}

/// The component's files, under one directory it cannot see.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    quota_bytes: u64,
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
        StateStore { dir, quota_bytes }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn io(&self, what: &str, name: &str, e: std::io::Error) -> StateFault {
        StateFault::Io(format!("cannot {what} state file {name:?} in {}: {e}", self.dir.display()))
    }

    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StateFault> {
        validate_name(name)?;
        match fs::read(self.dir.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("read", name, e)),
        }
    }

    pub fn write(&self, name: &str, contents: &[u8]) -> Result<(), StateFault> {
        validate_name(name)?;
        let used = self.used_bytes_except(name)?;
        if used + contents.len() as u64 > self.quota_bytes {
            return Err(StateFault::QuotaExceeded(format!(
                "writing {} bytes to {name:?} would exceed the state quota of {} bytes ({} in use)",
                contents.len(),
                self.quota_bytes,
                used
            )));
        }
        fs::create_dir_all(&self.dir).map_err(|e| self.io("create the directory for", name, e))?;
        write_atomic(&self.dir.join(name), contents).map_err(|e| self.io("write", name, e))
    }

    pub fn delete(&self, name: &str) -> Result<(), StateFault> {
        validate_name(name)?;
        match fs::remove_file(self.dir.join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("delete", name, e)),
        }
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

    fn used_bytes_except(&self, skip: &str) -> Result<u64, StateFault> {
        let mut total = 0;
        for name in self.list()? {
            if name != skip {
                total += fs::metadata(self.dir.join(&name)).map(|m| m.len()).unwrap_or(0);
            }
        }
        Ok(total)
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
}
