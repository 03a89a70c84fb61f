//! CrossWatch's `config.json`: credentials and adapter options from its `trakt` block, and the
//! atomic write-back of rotated tokens that keeps every other key of the file intact.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::fsutil::write_atomic;

/// Trakt's production API origin.
pub const DEFAULT_API_URL: &str = "https://api.trakt.tv";

/// Keys of the `trakt` block that are credentials or host settings: never handed to the
/// component.
const HOST_ONLY_KEYS: &[&str] = &[
    "client_id",
    "client_secret",
    "access_token",
    "refresh_token",
    "expires_at",
    "token_created_at",
    "refresh_margin_minutes",
    "token_type",
    "scope",
    "token",
    "oauth",
    "instances",
    "_pending_device",
    "api_url",
    "auth_url",
];

/// A configuration problem: the CLI exits with status 2 and prints this.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// OAuth credentials as the host holds them. Never passed to the component.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds; 0 when unknown.
    pub expires_at: i64,
    /// When the access token was issued (Unix seconds; 0 when unknown), so refreshes can
    /// happen at a fraction of the token's lifetime.
    pub created_at: i64,
}

impl std::fmt::Debug for Credentials {
    // Secrets never reach a log line, even by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &redact(&self.client_id))
            .field("client_secret", &redact(&self.client_secret))
            .field("access_token", &redact(&self.access_token))
            .field("refresh_token", &redact(&self.refresh_token))
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}

fn redact(s: &str) -> &'static str {
    if s.is_empty() {
        "<empty>"
    } else {
        "<set>"
    }
}

impl From<crate::emulator::Credentials> for Credentials {
    /// The emulator's current credentials as a host holds them (issue time unknown).
    fn from(c: crate::emulator::Credentials) -> Credentials {
        Credentials {
            client_id: c.client_id,
            client_secret: c.client_secret,
            access_token: c.access_token,
            refresh_token: c.refresh_token,
            expires_at: c.expires_at,
            created_at: 0,
        }
    }
}

/// A new token pair from a refresh or a login.
#[derive(Clone, Debug)]
pub struct TokenUpdate {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
    /// Issue time (Unix seconds), 0 when unknown.
    pub created_at: i64,
    pub token_type: Option<String>,
    pub scope: Option<String>,
}

/// The loaded config file.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub path: PathBuf,
    /// false when the file does not exist (commands that need credentials then fail).
    pub exists: bool,
    trakt: Map<String, Value>,
}

impl HostConfig {
    /// Read `path`. A missing file is not an error here (the manifest needs none); malformed
    /// JSON or a `trakt` value that is not an object is.
    pub fn load(path: &Path) -> Result<HostConfig, ConfigError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HostConfig { path: path.to_path_buf(), exists: false, trakt: Map::new() })
            }
            Err(e) => return Err(ConfigError(format!("cannot read config {}: {e}", path.display()))),
        };
        let root: Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError(format!("config {} is not valid JSON: {e}", path.display())))?;
        let Value::Object(mut root) = root else {
            return Err(ConfigError(format!("config {} must hold a JSON object", path.display())));
        };
        let trakt = match root.remove("trakt") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(ConfigError(format!("config {}: \"trakt\" must be an object", path.display())))
            }
        };
        Ok(HostConfig { path: path.to_path_buf(), exists: true, trakt })
    }

    fn string(&self, key: &str) -> Result<String, ConfigError> {
        match self.trakt.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(other) => Err(ConfigError(format!(
                "config {}: trakt.{key} must be a string, found {other}",
                self.path.display()
            ))),
        }
    }

    /// The credentials of the `trakt` block (empty strings where absent).
    pub fn credentials(&self) -> Result<Credentials, ConfigError> {
        let expires_at = self.seconds("expires_at")?;
        let created_at = self.seconds("token_created_at")?;
        Ok(Credentials {
            client_id: self.string("client_id")?,
            client_secret: self.string("client_secret")?,
            access_token: self.string("access_token")?,
            refresh_token: self.string("refresh_token")?,
            expires_at,
            created_at,
        })
    }

    fn seconds(&self, key: &str) -> Result<i64, ConfigError> {
        match self.trakt.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v.as_f64().map(|f| f as i64).ok_or_else(|| {
                ConfigError(format!("config {}: trakt.{key} must be a number (unix seconds)", self.path.display()))
            }),
        }
    }

    /// `trakt.refresh_margin_minutes`: refresh ahead when fewer minutes than this remain
    /// (default 60).
    pub fn refresh_margin_secs(&self) -> Result<i64, ConfigError> {
        match self.trakt.get("refresh_margin_minutes") {
            None | Some(Value::Null) => Ok(3600),
            Some(v) => v.as_f64().filter(|m| *m >= 0.0).map(|m| (m * 60.0) as i64).ok_or_else(|| {
                ConfigError(format!("config {}: trakt.refresh_margin_minutes must be a number >= 0", self.path.display()))
            }),
        }
    }

    /// Credentials for commands that talk to Trakt: a client id and an access token are
    /// required, and the error says exactly what is missing and where.
    pub fn require_credentials(&self) -> Result<Credentials, ConfigError> {
        if !self.exists {
            return Err(ConfigError(format!(
                "config file {} not found: create it with a \"trakt\" block holding client_id, client_secret, \
                 access_token and refresh_token, or pass --config FILE",
                self.path.display()
            )));
        }
        let creds = self.credentials()?;
        let mut missing = Vec::new();
        if creds.client_id.is_empty() {
            missing.push("trakt.client_id");
        }
        if creds.access_token.is_empty() {
            missing.push("trakt.access_token");
        }
        if !missing.is_empty() {
            return Err(ConfigError(format!(
                "config {}: {} missing; add them to the \"trakt\" block",
                self.path.display(),
                missing.join(" and ")
            )));
        }
        Ok(creds)
    }

    /// `trakt.api_url` / `trakt.auth_url` when set.
    pub fn url(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let s = self.string(key)?;
        Ok(if s.is_empty() { None } else { Some(s) })
    }

    /// The options handed to the component's `configure`: the `trakt` block without
    /// credentials and host settings, plus the API base URL it must build requests on.
    pub fn adapter_options(&self, api_base_url: &str) -> Value {
        let mut opts: Map<String, Value> = self
            .trakt
            .iter()
            .filter(|(k, _)| !HOST_ONLY_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        opts.insert("api_url".into(), Value::String(api_base_url.to_string()));
        Value::Object(opts)
    }
}

/// Write rotated tokens into the `trakt` block of the config file at `path`, atomically,
/// keeping every other key (and the key order) of the file as it is on disk now.
pub fn persist_tokens(path: &Path, update: &TokenUpdate) -> Result<(), ConfigError> {
    let text = fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot re-read config {} to save tokens: {e}", path.display())))?;
    let mut root: Value = serde_json::from_str(&text)
        .map_err(|e| ConfigError(format!("config {} is not valid JSON: {e}", path.display())))?;
    let obj = root
        .as_object_mut()
        .ok_or_else(|| ConfigError(format!("config {} must hold a JSON object", path.display())))?;
    let trakt = obj.entry("trakt").or_insert_with(|| Value::Object(Map::new()));
    let trakt = trakt
        .as_object_mut()
        .ok_or_else(|| ConfigError(format!("config {}: \"trakt\" must be an object", path.display())))?;
    trakt.insert("access_token".into(), update.access_token.clone().into());
    trakt.insert("refresh_token".into(), update.refresh_token.clone().into());
    trakt.insert("expires_at".into(), update.expires_at.into());
    if update.created_at > 0 {
        trakt.insert("token_created_at".into(), update.created_at.into());
    }
    if let Some(t) = &update.token_type {
        trakt.insert("token_type".into(), t.clone().into());
    }
    if let Some(s) = &update.scope {
        trakt.insert("scope".into(), s.clone().into());
    }
    let mut out = serde_json::to_vec_pretty(&root).expect("a JSON value always serialises");
    out.push(b'\n');
    write_atomic(path, &out).map_err(|e| ConfigError(format!("cannot write config {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_exclude_secrets_and_carry_the_api_url() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(
            &p,
            r#"{"trakt":{"client_id":"id","client_secret":"s","access_token":"a","refresh_token":"r",
                "expires_at":5,"timeout":7,"api_url":"http://127.0.0.1:1"}}"#,
        )
        .unwrap();
        let c = HostConfig::load(&p).unwrap();
        let o = c.adapter_options("http://127.0.0.1:1");
        assert_eq!(o, serde_json::json!({"timeout": 7, "api_url": "http://127.0.0.1:1"}));
        assert_eq!(c.require_credentials().unwrap().expires_at, 5);
    }

    #[test]
    fn missing_pieces_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let e = HostConfig::load(&p).unwrap().require_credentials().unwrap_err().0;
        assert!(e.contains("not found") && e.contains("--config"), "{e}");
        fs::write(&p, r#"{"trakt":{"client_id":"id"}}"#).unwrap();
        let e = HostConfig::load(&p).unwrap().require_credentials().unwrap_err().0;
        assert!(e.contains("trakt.access_token") && !e.contains("trakt.client_id"), "{e}");
        fs::write(&p, r#"{"trakt":[]}"#).unwrap();
        assert!(HostConfig::load(&p).unwrap_err().0.contains("must be an object"));
    }

    #[test]
    fn token_write_back_keeps_other_keys_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        fs::write(&p, r#"{"zeta":1,"trakt":{"client_id":"id","access_token":"old","x":[1]},"alpha":{"b":2}}"#).unwrap();
        let up = TokenUpdate {
            access_token: "new".into(),
            refresh_token: "r2".into(),
            expires_at: 99,
            created_at: 0,
            token_type: Some("bearer".into()),
            scope: None,
        };
        persist_tokens(&p, &up).unwrap();
        let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["zeta", "trakt", "alpha"]);
        assert_eq!(v["trakt"]["access_token"], "new");
        assert_eq!(v["trakt"]["refresh_token"], "r2");
        assert_eq!(v["trakt"]["expires_at"], 99);
        assert_eq!(v["trakt"]["x"], serde_json::json!([1]));
        assert_eq!(v["alpha"]["b"], 2);
    }
}
