//! CrossWatch's `config.json`: credentials and adapter options from the `trakt` block of one
//! account ("instance"), and the atomic write-back of rotated tokens into that block only,
//! keeping every other key of the file intact. Encrypted values (`enc:v1:`) are read and
//! written with CrossWatch's key (see `config_secrets`).
//!
//! Instances are CrossWatch's profiles: the default account is the top-level `trakt` block,
//! another one `trakt.instances.<id>`, whose view is its block over the default block's
//! settings (as CrossWatch's `get_provider_block` builds it), except that tokens are never
//! inherited: an instance without tokens of its own has none.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config_secrets::{self, ConfigKey};
use crate::fsutil::write_atomic;

/// CrossWatch's name of the top-level account.
pub const DEFAULT_INSTANCE: &str = "default";

/// Token fields: they belong to one account and are never inherited by another instance.
const TOKEN_KEYS: &[&str] =
    &["access_token", "refresh_token", "expires_at", "token_created_at", "token_type", "scope", "token", "oauth"];

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
    // What the host checks before loading the component (preflight.rs), not adapter options.
    "component_sha256",
    "component_trusted_keys",
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

/// The loaded config file, seen as one instance's `trakt` block.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub path: PathBuf,
    /// false when the file does not exist (commands that need credentials then fail).
    pub exists: bool,
    /// The account this view serves (`default` or an id under `trakt.instances`).
    pub instance: String,
    /// false when a non-default instance has no block in the file.
    instance_found: bool,
    trakt: Map<String, Value>,
    /// Why an encrypted value could not be read; credentials are then refused, so that
    /// ciphertext is never sent to Trakt as a token.
    secret_error: Option<String>,
}

/// `None`, empty and `default` (any case) are the default instance; CrossWatch also drops a
/// `:<number>` suffix (cw_platform/provider_instances.py `normalize_instance_id`).
pub fn normalize_instance(id: Option<&str>) -> String {
    let s = id.unwrap_or("").trim();
    let s = match s.rsplit_once(':') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head.trim(),
        _ => s,
    };
    if s.is_empty() || s.eq_ignore_ascii_case(DEFAULT_INSTANCE) {
        DEFAULT_INSTANCE.to_string()
    } else {
        s.to_string()
    }
}

impl HostConfig {
    /// Read `path` for the default account. A missing file is not an error here (the manifest
    /// needs none); malformed JSON or a `trakt` value that is not an object is.
    pub fn load(path: &Path) -> Result<HostConfig, ConfigError> {
        HostConfig::load_instance(path, DEFAULT_INSTANCE)
    }

    /// Read `path` for the account `instance` (see the module docs).
    pub fn load_instance(path: &Path, instance: &str) -> Result<HostConfig, ConfigError> {
        let instance = normalize_instance(Some(instance));
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HostConfig {
                    path: path.to_path_buf(),
                    exists: false,
                    instance,
                    instance_found: false,
                    trakt: Map::new(),
                    secret_error: None,
                })
            }
            Err(e) => return Err(ConfigError(format!("cannot read config {}: {e}", path.display()))),
        };
        let root: Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError(format!("config {} is not valid JSON: {e}", path.display())))?;
        let Value::Object(mut root) = root else {
            return Err(ConfigError(format!("config {} must hold a JSON object", path.display())));
        };
        let base = match root.remove("trakt") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(ConfigError(format!("config {}: \"trakt\" must be an object", path.display()))),
        };
        let (trakt, instance_found) = instance_view(path, base, &instance)?;
        let mut view = Value::Object(trakt);
        let mut secret_error = None;
        if config_secrets::holds_encrypted(&view) {
            let decrypted =
                ConfigKey::find(path).and_then(|key| config_secrets::decrypt_tree(&mut view, &key, "trakt"));
            if let Err(e) = decrypted {
                secret_error = Some(format!("config {}: {e}", path.display()));
            }
        }
        let Value::Object(trakt) = view else { unreachable!("the view is an object") };
        Ok(HostConfig { path: path.to_path_buf(), exists: true, instance, instance_found, trakt, secret_error })
    }

    /// `trakt` or `trakt.instances.<id>`, for messages.
    pub fn block_name(&self) -> String {
        block_name(&self.instance)
    }

    fn string(&self, key: &str) -> Result<String, ConfigError> {
        match self.trakt.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(other) => Err(ConfigError(format!(
                "config {}: {}.{key} must be a string, found {other}",
                self.path.display(),
                self.block_name()
            ))),
        }
    }

    /// The credentials of the instance's block (empty strings where absent).
    pub fn credentials(&self) -> Result<Credentials, ConfigError> {
        if let Some(e) = &self.secret_error {
            return Err(ConfigError(e.clone()));
        }
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
                ConfigError(format!(
                    "config {}: trakt.refresh_margin_minutes must be a number >= 0",
                    self.path.display()
                ))
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
        if !self.instance_found {
            return Err(ConfigError(format!(
                "config {}: no Trakt instance {:?} (expected a {} block); connect that profile in CrossWatch \
                 or pass another --instance",
                self.path.display(),
                self.instance,
                self.block_name()
            )));
        }
        let creds = self.credentials()?;
        let block = self.block_name();
        let mut missing = Vec::new();
        if creds.client_id.is_empty() {
            missing.push(format!("{block}.client_id"));
        }
        if creds.access_token.is_empty() {
            missing.push(format!("{block}.access_token"));
        }
        if !missing.is_empty() {
            return Err(ConfigError(format!(
                "config {}: {} missing; add them to the \"{block}\" block",
                self.path.display(),
                missing.join(" and ")
            )));
        }
        Ok(creds)
    }

    /// A string setting of the block (`trakt.component_sha256`) when set and not empty.
    pub fn setting(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let s = self.string(key)?;
        Ok(if s.is_empty() { None } else { Some(s) })
    }

    /// A list-of-strings setting (`trakt.component_trusted_keys`); a single string is a list
    /// of one. Empty when unset.
    pub fn string_list(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        let bad = |other: &Value| {
            ConfigError(format!(
                "config {}: {}.{key} must be a list of strings, found {other}",
                self.path.display(),
                self.block_name()
            ))
        };
        match self.trakt.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => {
                items.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(v))).collect()
            }
            Some(other) => Err(bad(other)),
        }
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

/// `trakt` for the default account, `trakt.instances.<id>` for another.
pub fn block_name(instance: &str) -> String {
    if instance == DEFAULT_INSTANCE {
        "trakt".into()
    } else {
        format!("trakt.instances.{instance}")
    }
}

/// The view of `instance`: the default block itself, or the instance's block over the default
/// block's settings without its tokens and its `instances`. The flag says whether the
/// instance's block exists.
fn instance_view(
    path: &Path,
    mut base: Map<String, Value>,
    instance: &str,
) -> Result<(Map<String, Value>, bool), ConfigError> {
    if instance == DEFAULT_INSTANCE {
        return Ok((base, true));
    }
    let own = match base.remove("instances") {
        Some(Value::Object(mut all)) => all.remove(instance),
        None | Some(Value::Null) => None,
        Some(_) => return Err(ConfigError(format!("config {}: trakt.instances must be an object", path.display()))),
    };
    let own = match own {
        None | Some(Value::Null) => return Ok((Map::new(), false)),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ConfigError(format!("config {}: {} must be an object", path.display(), block_name(instance))))
        }
    };
    base.retain(|k, _| !TOKEN_KEYS.contains(&k.as_str()));
    let mut view = Value::Object(base);
    merge(&mut view, Value::Object(own));
    let Value::Object(view) = view else { unreachable!("merging objects gives an object") };
    Ok((view, true))
}

/// Deep merge, `over` winning (objects merged key by key, anything else replaced).
fn merge(into: &mut Value, over: Value) {
    match (into, over) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Write rotated tokens into the block of `instance` in the config file at `path`,
/// atomically, keeping every other key (and the key order) of the file as it is on disk now.
/// A config that holds encrypted values gets the new tokens encrypted with its key, as
/// CrossWatch's own `save_config` would write them.
pub fn persist_tokens(path: &Path, instance: &str, update: &TokenUpdate) -> Result<(), ConfigError> {
    let text = fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot re-read config {} to save tokens: {e}", path.display())))?;
    let mut root: Value = serde_json::from_str(&text)
        .map_err(|e| ConfigError(format!("config {} is not valid JSON: {e}", path.display())))?;
    let key =
        if config_secrets::holds_encrypted(&root) { Some(ConfigKey::find(path).map_err(ConfigError)?) } else { None };
    let secret = |v: &str| -> Value {
        match &key {
            Some(k) => k.encrypt(v).into(),
            None => v.into(),
        }
    };
    let obj = root
        .as_object_mut()
        .ok_or_else(|| ConfigError(format!("config {} must hold a JSON object", path.display())))?;
    let name = block_name(instance);
    let not_object = || ConfigError(format!("config {}: \"{name}\" must be an object", path.display()));
    let mut trakt =
        obj.entry("trakt").or_insert_with(|| Value::Object(Map::new())).as_object_mut().ok_or_else(not_object)?;
    if instance != DEFAULT_INSTANCE {
        let all = trakt
            .entry("instances")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(not_object)?;
        trakt =
            all.entry(instance).or_insert_with(|| Value::Object(Map::new())).as_object_mut().ok_or_else(not_object)?;
    }
    trakt.insert("access_token".into(), secret(&update.access_token));
    trakt.insert("refresh_token".into(), secret(&update.refresh_token));
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
        persist_tokens(&p, DEFAULT_INSTANCE, &up).unwrap();
        let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["zeta", "trakt", "alpha"]);
        assert_eq!(v["trakt"]["access_token"], "new");
        assert_eq!(v["trakt"]["refresh_token"], "r2");
        assert_eq!(v["trakt"]["expires_at"], 99);
        assert_eq!(v["trakt"]["x"], serde_json::json!([1]));
        assert_eq!(v["alpha"]["b"], 2);
    }

    fn two_accounts(dir: &Path) -> PathBuf {
        let p = dir.join("config.json");
        fs::write(
            &p,
            r#"{"trakt":{"client_id":"app","client_secret":"s","access_token":"tok-a","refresh_token":"ref-a",
                "expires_at":10,"timeout":7,"instances":{"b":{"access_token":"tok-b","refresh_token":"ref-b",
                "expires_at":20,"timeout":9},"bare":{"label":"no tokens"}}},"other":{"k":1}}"#,
        )
        .unwrap();
        p
    }

    #[test]
    fn an_instance_sees_its_own_tokens_over_the_default_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = two_accounts(dir.path());
        let a = HostConfig::load(&p).unwrap().require_credentials().unwrap();
        assert_eq!((a.access_token.as_str(), a.refresh_token.as_str(), a.expires_at), ("tok-a", "ref-a", 10));
        let b_cfg = HostConfig::load_instance(&p, "b").unwrap();
        let b = b_cfg.require_credentials().unwrap();
        assert_eq!(
            (b.client_id.as_str(), b.access_token.as_str(), b.refresh_token.as_str()),
            ("app", "tok-b", "ref-b")
        );
        assert_eq!(b_cfg.adapter_options("u")["timeout"], 9);
        assert!(b_cfg.adapter_options("u").get("instances").is_none());
        // CrossWatch writes instance ids with a numeric suffix at times; both name "b".
        assert_eq!(HostConfig::load_instance(&p, "b:2").unwrap().instance, "b");
        // No inherited tokens: an instance without its own has none.
        let e = HostConfig::load_instance(&p, "bare").unwrap().require_credentials().unwrap_err().0;
        assert!(e.contains("trakt.instances.bare.access_token"), "{e}");
        let e = HostConfig::load_instance(&p, "nope").unwrap().require_credentials().unwrap_err().0;
        assert!(e.contains("no Trakt instance \"nope\"") && e.contains("trakt.instances.nope"), "{e}");
    }

    #[test]
    fn rotated_tokens_land_in_their_own_block_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = two_accounts(dir.path());
        let before: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        let up = TokenUpdate {
            access_token: "tok-b2".into(),
            refresh_token: "ref-b2".into(),
            expires_at: 30,
            created_at: 0,
            token_type: None,
            scope: None,
        };
        persist_tokens(&p, "b", &up).unwrap();
        let after: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(after["trakt"]["instances"]["b"]["access_token"], "tok-b2");
        assert_eq!(after["trakt"]["instances"]["b"]["timeout"], 9);
        let strip_b = |v: &Value| {
            let mut v = v.clone();
            v["trakt"]["instances"].as_object_mut().unwrap().remove("b");
            v
        };
        assert_eq!(strip_b(&after), strip_b(&before), "the default block and everything else unchanged");
        // A new instance's block is created where CrossWatch keeps it.
        persist_tokens(&p, "c", &up).unwrap();
        let after: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(after["trakt"]["instances"]["c"]["refresh_token"], "ref-b2");
        assert_eq!(after["trakt"]["access_token"], "tok-a");
    }

    #[test]
    fn encrypted_values_are_read_and_written_with_crosswatchs_key() {
        use crate::config_secrets::{ConfigKey, KEY_FILE};
        if crate::config_secrets::KEY_ENV.iter().any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty())) {
            return; // a key in the environment would win over the test's key file
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let key = ConfigKey::from_text("test-key").unwrap();
        let text = serde_json::json!({"trakt": {"client_id": "app", "client_secret": key.encrypt("s"),
            "access_token": key.encrypt("tok-a"), "refresh_token": key.encrypt("ref-a"), "expires_at": 10}});
        fs::write(&p, text.to_string()).unwrap();
        // No key: refused with the places looked at, never the ciphertext as a token.
        let e = HostConfig::load(&p).unwrap().require_credentials().unwrap_err().0;
        assert!(e.contains(KEY_FILE) && e.contains("CW_CONFIG_KEY"), "{e}");
        fs::write(dir.path().join(KEY_FILE), "test-key").unwrap();
        let c = HostConfig::load(&p).unwrap().require_credentials().unwrap();
        assert_eq!(
            (c.client_secret.as_str(), c.access_token.as_str(), c.refresh_token.as_str()),
            ("s", "tok-a", "ref-a")
        );
        let up = TokenUpdate {
            access_token: "tok-a2".into(),
            refresh_token: "ref-a2".into(),
            expires_at: 30,
            created_at: 0,
            token_type: None,
            scope: None,
        };
        persist_tokens(&p, DEFAULT_INSTANCE, &up).unwrap();
        let raw: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        let stored = raw["trakt"]["access_token"].as_str().unwrap();
        assert!(stored.starts_with("enc:v1:"), "{stored}");
        assert_eq!(key.decrypt(stored).unwrap(), "tok-a2");
        assert_eq!(HostConfig::load(&p).unwrap().credentials().unwrap().refresh_token, "ref-a2");
        // A wrong key is an error too.
        fs::write(dir.path().join(KEY_FILE), "wrong").unwrap();
        let e = HostConfig::load(&p).unwrap().credentials().unwrap_err().0;
        assert!(e.contains("decryption failed"), "{e}");
    }
}
