//! CrossWatch's encrypted config values: since 0.11 its `save_config` stores every secret of
//! `config.json` as `enc:v1:<Fernet token>`, with the key from `CW_CONFIG_KEY` /
//! `CROSSWATCH_CONFIG_KEY` or the `.cw_master_key` file in its config directory
//! (cw_platform/config_base.py in https://github.com/cenodude/CrossWatch). The host reads such
//! values with the same key and writes rotated tokens back the same way, so a config stays
//! encrypted and CrossWatch can still read it. Fernet: https://github.com/fernet/spec

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Prefix CrossWatch puts before the Fernet token of an encrypted value.
pub const ENC_PREFIX: &str = "enc:v1:";
/// Environment variables CrossWatch takes the key from, in order.
pub const KEY_ENV: [&str; 2] = ["CW_CONFIG_KEY", "CROSSWATCH_CONFIG_KEY"];
/// The key file CrossWatch creates beside `config.json` when no variable is set.
pub const KEY_FILE: &str = ".cw_master_key";

pub fn is_encrypted(v: &str) -> bool {
    v.starts_with(ENC_PREFIX)
}

/// True when any string in `v` (recursively) is an encrypted value.
pub fn holds_encrypted(v: &Value) -> bool {
    match v {
        Value::String(s) => is_encrypted(s),
        Value::Array(a) => a.iter().any(holds_encrypted),
        Value::Object(m) => m.values().any(holds_encrypted),
        _ => false,
    }
}

/// The key of the config at `config`, as CrossWatch finds it.
pub struct ConfigKey {
    fernet: fernet::Fernet,
}

impl ConfigKey {
    /// `CW_CONFIG_KEY`, else `CROSSWATCH_CONFIG_KEY`, else `.cw_master_key` beside `config`.
    /// The error names every place looked at and what to do.
    pub fn find(config: &Path) -> Result<ConfigKey, String> {
        for var in KEY_ENV {
            if let Ok(raw) = std::env::var(var) {
                if !raw.trim().is_empty() {
                    return ConfigKey::from_text(&raw).map_err(|e| format!("${var}: {e}"));
                }
            }
        }
        let file = key_file(config);
        match std::fs::read_to_string(&file) {
            Ok(raw) => ConfigKey::from_text(&raw).map_err(|e| format!("{}: {e}", file.display())),
            Err(e) => Err(format!(
                "config {} holds encrypted values (enc:v1:) but no key was found: looked in ${}, ${} and {} ({e}); \
                 set CW_CONFIG_KEY to CrossWatch's key or copy its {KEY_FILE} beside the config",
                config.display(),
                KEY_ENV[0],
                KEY_ENV[1],
                file.display()
            )),
        }
    }

    /// CrossWatch's rule: a text that is a urlsafe-base64 32-byte key is the key; any other
    /// text is hashed (SHA-256) into one.
    pub fn from_text(raw: &str) -> Result<ConfigKey, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("the config key is empty".into());
        }
        let key = match URL_SAFE.decode(text.as_bytes()) {
            Ok(bytes) if bytes.len() == 32 => text.to_string(),
            _ => URL_SAFE.encode(Sha256::digest(text.as_bytes())),
        };
        let fernet = fernet::Fernet::new(&key).ok_or("the config key is not a valid Fernet key")?;
        Ok(ConfigKey { fernet })
    }

    /// The plain text of an `enc:v1:` value (other values come back unchanged).
    pub fn decrypt(&self, value: &str) -> Result<String, String> {
        let Some(token) = value.strip_prefix(ENC_PREFIX) else { return Ok(value.to_string()) };
        let bytes = self
            .fernet
            .decrypt(token.trim())
            .map_err(|_| "decryption failed: the key is not the one this config was encrypted with".to_string())?;
        String::from_utf8(bytes).map_err(|_| "the decrypted value is not UTF-8 text".to_string())
    }

    pub fn encrypt(&self, value: &str) -> String {
        format!("{ENC_PREFIX}{}", self.fernet.encrypt(value.as_bytes()))
    }
}

pub fn key_file(config: &Path) -> PathBuf {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(KEY_FILE),
        _ => PathBuf::from(KEY_FILE),
    }
}

/// Decrypt every `enc:v1:` string in `v` in place. On failure the value is left encrypted
/// and the first error (naming the key path) is returned; callers must then never use it.
pub fn decrypt_tree(v: &mut Value, key: &ConfigKey, path: &str) -> Result<(), String> {
    match v {
        Value::String(s) if is_encrypted(s) => {
            *s = key.decrypt(s).map_err(|e| format!("{path}: {e}"))?;
            Ok(())
        }
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                decrypt_tree(x, key, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                decrypt_tree(x, key, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key_rules() {
        // A generated Fernet key is used as is; any other text is hashed into one.
        let k = ConfigKey::from_text("cw-test-passphrase").unwrap();
        let enc = k.encrypt("secret-token");
        assert!(enc.starts_with(ENC_PREFIX));
        assert_eq!(k.decrypt(&enc).unwrap(), "secret-token");
        assert_eq!(k.decrypt("plain").unwrap(), "plain");
        let same = ConfigKey::from_text(" cw-test-passphrase\n").unwrap();
        assert_eq!(same.decrypt(&enc).unwrap(), "secret-token");
        let other = ConfigKey::from_text("another").unwrap();
        assert!(other.decrypt(&enc).unwrap_err().contains("not the one"));
        let generated = fernet::Fernet::generate_key();
        let g = ConfigKey::from_text(&generated).unwrap();
        let direct = fernet::Fernet::new(&generated).unwrap();
        assert_eq!(direct.decrypt(g.encrypt("x").strip_prefix(ENC_PREFIX).unwrap()).unwrap(), b"x");
    }

    #[test]
    fn a_missing_key_names_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.json");
        // The variables may be set in the developer's shell: only check the file fallback
        // when they are not.
        if KEY_ENV.iter().all(|v| std::env::var(v).map_or(true, |s| s.trim().is_empty())) {
            let e = ConfigKey::find(&cfg).err().unwrap();
            assert!(e.contains("CW_CONFIG_KEY") && e.contains(".cw_master_key"), "{e}");
            std::fs::write(dir.path().join(KEY_FILE), "k").unwrap();
            assert!(ConfigKey::find(&cfg).is_ok());
        }
    }
}
