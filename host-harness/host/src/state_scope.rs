//! Where one account's state files live, so that two accounts (CrossWatch profiles) or two
//! sync pairs never share a cache, a shadow, an unresolved file or a journal. The same rule is
//! implemented by the Python host (`crosswatch_trakt_wasm/instances.py`):
//!
//! - pair key = `CW_PAIR_KEY`, else `CW_PAIR_SCOPE`, `CW_SYNC_PAIR`, `CW_PAIR` (CrossWatch sets
//!   them around every pair run; health runs use `health:<PROVIDER>#<instance>`);
//! - a pair key that is not a health key: scope `<pair key>|TRAKT#<instance>` (the instance is
//!   added because a Trakt-to-Trakt pair has one key for both accounts);
//! - otherwise no scope for the default instance (files directly in the state directory, the
//!   layout single-account users already have) and `TRAKT#<instance>` for another one;
//! - a scope's files live in `<state dir>/trakt-wasm/<safe scope>/`;
//! - the default instance's scopes adopt, once, a file they lack from the unscoped directory
//!   (it is moved, so a second scope does not take it too).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::DEFAULT_INSTANCE;

/// Environment variables holding CrossWatch's pair scope, in the order it reads them.
pub const PAIR_ENV: [&str; 4] = ["CW_PAIR_KEY", "CW_PAIR_SCOPE", "CW_SYNC_PAIR", "CW_PAIR"];
/// Folder under the state directory that holds the scoped folders.
pub const SCOPED_ROOT: &str = "trakt-wasm";
const MAX_SAFE_LEN: usize = 96;

/// The pair key from the environment, if CrossWatch set one (its `run_pairs` treats the value
/// `unscoped` as none, and so does this).
pub fn pair_key_from_env() -> Option<String> {
    PAIR_ENV.iter().find_map(|v| {
        std::env::var(v)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("unscoped"))
    })
}

/// The scope of `instance` in the pair `pair_key` (see the module docs).
pub fn scope(instance: &str, pair_key: Option<&str>) -> Option<String> {
    match pair_key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) if !k.starts_with("health:") => Some(format!("{k}|TRAKT#{instance}")),
        _ if instance == DEFAULT_INSTANCE => None,
        _ => Some(format!("TRAKT#{instance}")),
    }
}

/// A file-name-safe form of a scope: `A-Z a-z 0-9 . _ -` kept, anything else `_`, runs of `_`
/// collapsed, `_` and `.` trimmed at both ends; longer than 96 characters: the first 83 and a
/// hash of the whole, so that long keys stay distinct.
pub fn safe(scope: &str) -> String {
    let mut out = String::with_capacity(scope.len());
    for c in scope.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    let out = out.trim_matches(|c| c == '_' || c == '.').to_string();
    if out.is_empty() {
        return "scope".into();
    }
    if out.len() <= MAX_SAFE_LEN {
        return out;
    }
    let digest = Sha256::digest(scope.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &out[..83])
}

/// Where the state store keeps an account's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateLocation {
    pub dir: PathBuf,
    /// The unscoped directory whose files this scope adopts once (default instance only).
    pub adopt_from: Option<PathBuf>,
}

impl StateLocation {
    /// Files directly in `dir`, nothing to adopt (embedders, tests, the default account
    /// outside a pair).
    pub fn plain(dir: PathBuf) -> StateLocation {
        StateLocation { dir, adopt_from: None }
    }

    /// The location of `instance` in `pair_key` under the state directory `base`.
    pub fn resolve(base: &Path, instance: &str, pair_key: Option<&str>) -> StateLocation {
        match scope(instance, pair_key) {
            None => StateLocation::plain(base.to_path_buf()),
            Some(s) => StateLocation {
                dir: base.join(SCOPED_ROOT).join(safe(&s)),
                adopt_from: (instance == DEFAULT_INSTANCE).then(|| base.to_path_buf()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_by_pair_and_instance() {
        assert_eq!(scope("default", None), None);
        assert_eq!(scope("default", Some("health:TRAKT#default")), None);
        assert_eq!(scope("b", Some("health:TRAKT#b")).as_deref(), Some("TRAKT#b"));
        assert_eq!(scope("b", None).as_deref(), Some("TRAKT#b"));
        let k = "one-way:PLEX#default-TRAKT#b:p1";
        assert_eq!(scope("b", Some(k)).as_deref(), Some("one-way:PLEX#default-TRAKT#b:p1|TRAKT#b"));
        assert_ne!(scope("a", Some("two-way:TRAKT#a-TRAKT#b:p")), scope("b", Some("two-way:TRAKT#a-TRAKT#b:p")));
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe("one-way:PLEX#default-TRAKT#b:p1|TRAKT#b"), "one-way_PLEX_default-TRAKT_b_p1_TRAKT_b");
        assert_eq!(safe(".."), "scope");
        assert_eq!(safe("__a..b__"), "a..b");
        let long_a = format!("{}a", "x".repeat(200));
        let long_b = format!("{}b", "x".repeat(200));
        assert_eq!(safe(&long_a).len(), 96);
        assert_ne!(safe(&long_a), safe(&long_b));
    }

    #[test]
    fn locations() {
        let base = Path::new("/s");
        assert_eq!(StateLocation::resolve(base, "default", None), StateLocation::plain(base.into()));
        let d = StateLocation::resolve(base, "default", Some("one-way:A#default-TRAKT#default:1"));
        assert_eq!(d.dir, base.join("trakt-wasm/one-way_A_default-TRAKT_default_1_TRAKT_default"));
        assert_eq!(d.adopt_from.as_deref(), Some(base));
        let b = StateLocation::resolve(base, "b", None);
        assert_eq!((b.dir, b.adopt_from), (base.join("trakt-wasm/TRAKT_b"), None));
    }
}
