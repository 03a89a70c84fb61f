//! The `Store` seam over a directory, as cw-host's `state` import keeps the component's files
//! (host-harness/host/src/imports/state.rs): plain names, atomic writes, a missing file is none.
//! No quota: this runner is for measuring, not for users.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use trakt_adapter::native::Store;

pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: PathBuf) -> DirStore {
        DirStore { dir }
    }

    /// The host's rule: 1-128 characters of `A-Z a-z 0-9 . _ -`, not starting with a dot.
    fn path(&self, name: &str) -> Result<PathBuf, String> {
        let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if name.is_empty() || name.len() > 128 || !ok_chars || name.starts_with('.') {
            return Err(format!(
                "invalid name: invalid state file name {name:?}: use 1-128 characters of A-Z a-z 0-9 . _ - not \
                 starting with '.'"
            ));
        }
        Ok(self.dir.join(name))
    }
}

impl Store for DirStore {
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, String> {
        match fs::read(self.path(name)?) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("io: reading {name}: {e}")),
        }
    }

    /// Old or new contents, never a mix: a synced temporary file renamed over the name, then
    /// the directory synced (cw-host's `fsutil::write_atomic`, so both pay the same syscalls).
    fn write(&mut self, name: &str, contents: &[u8]) -> Result<(), String> {
        let path = self.path(name)?;
        let io = |e: std::io::Error| format!("io: writing {name}: {e}");
        fs::create_dir_all(&self.dir).map_err(io)?;
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&self.dir).map_err(io)?;
        tmp.write_all(contents).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<(), String> {
        match fs::remove_file(self.path(name)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("io: deleting {name}: {e}")),
        }
    }

    fn names(&mut self) -> Result<Vec<String>, String> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("io: listing: {e}")),
        };
        let mut names: Vec<String> =
            entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| self.path(n).is_ok()).collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DirStore::new(dir.path().join("state"));
        assert_eq!(s.read("a.json").unwrap(), None);
        s.write("a.json", b"{}").unwrap();
        s.write("a.json", b"{\"n\":1}").unwrap();
        assert_eq!(s.read("a.json").unwrap().as_deref(), Some(&b"{\"n\":1}"[..]));
        let names: Vec<_> = fs::read_dir(dir.path().join("state")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")], "no temporary file left");
        s.delete("a.json").unwrap();
        s.delete("a.json").unwrap();
        assert_eq!(s.read("a.json").unwrap(), None);
        for bad in ["", "../x", ".hidden", "a/b"] {
            assert!(s.read(bad).unwrap_err().starts_with("invalid name"), "{bad:?}");
        }
    }
}
