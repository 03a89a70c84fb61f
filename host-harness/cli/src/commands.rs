//! The commands that drive the component: open a session (config, policy, runtime,
//! instance), call the adapter, print JSON.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::args::{Cli, Command, GlobalArgs, WriteArgs, EXIT_ADAPTER_ERROR, EXIT_OK, EXIT_USAGE};
use crate::io::Io;
use trakt_host::config::{HostConfig, DEFAULT_API_URL};
use trakt_host::engine::default_cache_dir;
use trakt_host::imports::auth::{AuthFault, TokenStore};
use trakt_host::imports::log::{Level, LogSink};
use trakt_host::imports::progress::ProgressSink;
use trakt_host::index_text;
use trakt_host::items::{self, error_to_json, feature_name, report_to_json};
use trakt_host::policy::{Limits, Origin, Policy};
use trakt_host::runtime::{
    Adapter, AdapterError, AdapterManifest, Feature, HealthReport, HostError, HostErrorKind, HostSetup, Item,
    LedgerEntry, Runtime,
};
use trakt_host::state_scope::{self, StateLocation};

/// The component this `cw-host` runs unless `--component` names another (built from
/// `plugin/` by the trakt-adapter-artifacts crate).
pub const EMBEDDED_COMPONENT: &[u8] = trakt_adapter_artifacts::TRAKT_ADAPTER_WASM;

/// Why a command did not produce its normal output.
pub enum Failure {
    /// Bad flags, config or input: exit 2, message on stderr.
    Usage(String),
    /// The sandbox stopped the component or could not load it: exit 1.
    Host(HostError),
    /// The adapter reported an error: exit 1.
    Adapter(AdapterError),
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        // A component that cannot be loaded is a usage problem (wrong --component file).
        match e.kind {
            HostErrorKind::Host => Failure::Usage(e.message),
            HostErrorKind::Limit | HostErrorKind::Trap => Failure::Host(e),
        }
    }
}

/// A configured adapter instance, as every command (and the demo) uses it.
pub struct Session {
    pub adapter: Adapter,
    pub log: LogSink,
    /// `--ledger FILE`.
    ledger: Option<PathBuf>,
}

impl Session {
    /// Load the config and component, apply the policy, instantiate and configure.
    pub fn open(
        global: &GlobalArgs,
        stderr: Box<dyn Write + Send>,
        need_credentials: bool,
    ) -> Result<Session, Failure> {
        let level = Level::parse(&global.log_level).ok_or_else(|| {
            Failure::Usage(format!("invalid --log-level {:?}: use trace, debug, info, warn or error", global.log_level))
        })?;
        let log = LogSink::to_writer(stderr, level);
        let config = HostConfig::load_instance(&global.config, &global.instance).map_err(|e| Failure::Usage(e.0))?;
        let credentials = if need_credentials {
            config.require_credentials().map_err(|e| Failure::Usage(e.0))?
        } else {
            config.credentials().unwrap_or_default()
        };
        let api = api_origin(global, &config)?;
        let oauth = oauth_origin(global, &config, &api)?;
        if global.memory_limit_mib == 0 || global.cpu_fuel == 0 || global.call_timeout == 0 {
            return Err(Failure::Usage("--memory-limit-mib, --cpu-fuel and --call-timeout must be above 0".into()));
        }
        let policy = Policy {
            api: api.clone(),
            oauth,
            limits: Limits {
                memory_bytes: global.memory_limit_mib << 20,
                fuel_per_call: global.cpu_fuel,
                call_timeout: Duration::from_secs(global.call_timeout),
                ..Limits::default()
            },
        };
        let state_dir = global.state_dir.clone().unwrap_or_else(|| default_state_dir(&global.config));
        let pair_key = global.pair_scope.clone().or_else(state_scope::pair_key_from_env);
        let state = StateLocation::resolve(&state_dir, &config.instance, pair_key.as_deref());
        if state.dir != state_dir {
            log.event(
                Level::Debug,
                "module",
                "state_scoped",
                &[("instance", &config.instance), ("dir", &state.dir.display().to_string())],
            );
        }

        let runtime = load_runtime(global, Some(&config))?;
        log.event(Level::Debug, "module", "component_loaded", &[("source", &format!("{:?}", runtime.load_source))]);
        let options = config.adapter_options(&api.base_url()).to_string();
        let mut adapter = runtime.instantiate(HostSetup {
            policy,
            credentials,
            token_store: config
                .exists
                .then(|| TokenStore { path: config.path.clone(), instance: config.instance.clone() }),
            state,
            log: log.clone(),
            progress: ProgressSink::auto(),
        })?;
        match adapter.configure(&options)? {
            Ok(()) => {}
            Err(AdapterError::Config(m)) => {
                return Err(Failure::Usage(format!("config {}: {m}", global.config.display())))
            }
            Err(e) => return Err(Failure::Adapter(e)),
        }
        if need_credentials {
            let margin = config.refresh_margin_secs().map_err(|e| Failure::Usage(e.0))?;
            match adapter.refresh_if_expiring(margin) {
                Ok(_) => {}
                // The token may still work; a 401 will tell, and the message then says what to do.
                Err(AuthFault::NotConfigured(m)) | Err(AuthFault::Failed(m)) => {
                    log.event(Level::Warn, "auth", "token_refresh_ahead_failed", &[("error", &m)])
                }
                Err(AuthFault::InvalidGrant(m)) => return Err(Failure::Adapter(AdapterError::Auth(m))),
            }
        }
        Ok(Session { adapter, log, ledger: global.ledger.clone() })
    }

    /// Write the ledger of the last call to the `--ledger` file, when one was asked for.
    pub fn save_ledger(&mut self) -> Result<(), Failure> {
        let Some(path) = self.ledger.clone() else { return Ok(()) };
        let entries = self.adapter.last_ledger()?;
        let v = Value::Array(entries.iter().map(ledger_entry_to_json).collect());
        let mut text = serde_json::to_vec_pretty(&v).expect("JSON serialises");
        text.push(b'\n');
        trakt_host::fsutil::write_atomic(&path, &text)
            .map_err(|e| Failure::Usage(format!("cannot write the ledger to {}: {e}", path.display())))
    }

    /// The index as the component's text of one JSON object, taken part by part into a
    /// temporary file and checked there (`trakt_host::index_text`): what a host prints for
    /// `build-index`'s records, without lifting 100,000 records into this process, building
    /// a JSON tree of them or holding their text.
    pub fn index_spooled(&mut self, feature: Feature) -> Result<index_text::Index, Failure> {
        let mut spool = index_text::Spool::new();
        let result = self.adapter.index_json_to(feature, &mut spool)?;
        self.save_ledger()?;
        result.map_err(Failure::Adapter)?;
        spool.finish().map_err(|m| Failure::Adapter(AdapterError::Internal(m)))
    }

    pub fn index(&mut self, feature: Feature) -> Result<Value, Failure> {
        let text = self
            .index_spooled(feature)?
            .into_text()
            .map_err(|e| Failure::Usage(format!("cannot read the spooled index back: {e}")))?;
        serde_json::from_str(&text)
            .map_err(|e| Failure::Adapter(AdapterError::Internal(format!("the component's index is not JSON: {e}"))))
    }

    pub fn write(&mut self, remove: bool, feature: Feature, items: &[Item], dry_run: bool) -> Result<Value, Failure> {
        let result = if remove {
            self.adapter.remove(feature, items, dry_run)?
        } else {
            self.adapter.add(feature, items, dry_run)?
        };
        self.save_ledger()?;
        Ok(report_to_json(&result.map_err(Failure::Adapter)?, dry_run))
    }

    pub fn health(&mut self) -> Result<Value, Failure> {
        let report = self.adapter.health()?;
        self.save_ledger()?;
        Ok(health_to_json(&report))
    }
}

/// The component of `--component` (or the embedded one), checked against the pins of the
/// flags and `config` (distribution.rs), compiled or from the cache.
fn load_runtime(global: &GlobalArgs, config: Option<&HostConfig>) -> Result<Runtime, Failure> {
    let cache_dir = if global.no_cache { None } else { global.cache_dir.clone().or_else(default_cache_dir) };
    let (bytes, _) = crate::distribution::component_bytes(global, None).map_err(Failure::Usage)?;
    crate::distribution::check_pins(global, config, &bytes).map_err(Failure::Usage)?;
    // Without `--component` it is the built-in component, hashed when it was built.
    let sha256 = global.component.is_none().then_some(trakt_adapter_artifacts::TRAKT_ADAPTER_SHA256);
    Ok(Runtime::new_known(&bytes, sha256, cache_dir.as_deref())?)
}

/// Trakt's OAuth origin since 2026 (docs/trakt-api.md 1.1).
pub const DEFAULT_AUTH_URL: &str = "https://auth.trakt.tv";

/// `--auth-url` > `trakt.auth_url` > auth.trakt.tv for Trakt's own API, else the API origin
/// (an emulator or proxy serves both; sending its users' OAuth to trakt.tv would be wrong).
pub fn oauth_origin(global: &GlobalArgs, config: &HostConfig, api: &Origin) -> Result<Origin, Failure> {
    let given = match &global.auth_url {
        Some(u) => Some(u.clone()),
        None => config.url("auth_url").map_err(|e| Failure::Usage(e.0))?,
    };
    match given {
        Some(u) => Origin::parse(&u).map_err(|e| Failure::Usage(format!("OAuth URL: {e}"))),
        None if *api == Origin::parse(DEFAULT_API_URL).expect("valid default") => {
            Ok(Origin::parse(DEFAULT_AUTH_URL).expect("valid default"))
        }
        None => Ok(api.clone()),
    }
}

/// The origin given by `--api-url`, `trakt.api_url` or Trakt's default.
pub fn api_origin(global: &GlobalArgs, config: &HostConfig) -> Result<Origin, Failure> {
    let text = match &global.api_url {
        Some(u) => u.clone(),
        None => config.url("api_url").map_err(|e| Failure::Usage(e.0))?.unwrap_or_else(|| DEFAULT_API_URL.into()),
    };
    Origin::parse(&text).map_err(|e| Failure::Usage(format!("API URL: {e}")))
}

pub fn ledger_entry_to_json(e: &LedgerEntry) -> Value {
    let rate =
        e.rate_limit.as_deref().map(|t| serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::String(t.into())));
    json!({
        "method": e.method, "path": e.path, "status": e.status, "attempts": e.attempts,
        "waited_ms": e.waited_ms, "elapsed_ms": e.elapsed_ms, "bytes_sent": e.bytes_sent,
        "bytes_received": e.bytes_received, "rate_limit": rate, "error": e.error,
    })
}

/// `.cw_state` beside the config file, as CrossWatch keeps it.
pub fn default_state_dir(config: &Path) -> PathBuf {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(".cw_state"),
        _ => PathBuf::from(".cw_state"),
    }
}

pub fn manifest_to_json(m: &AdapterManifest) -> Value {
    let features: serde_json::Map<String, Value> = m
        .features
        .iter()
        .map(|f| {
            (
                feature_name(f.feature).to_string(),
                json!({
                    "supported": f.supported, "index": f.index, "add": f.add, "remove": f.remove,
                    "media_types": f.media_types, "note": f.note,
                }),
            )
        })
        .collect();
    json!({
        "name": m.name, "label": m.label, "version": m.version, "api_version": m.api_version,
        "features": features, "id_namespaces": m.id_namespaces, "index_semantics": m.index_semantics,
        "key_scheme": m.key_scheme,
    })
}

/// CrossWatch's health dict.
pub fn health_to_json(h: &HealthReport) -> Value {
    let ok = h.status == "ok" || h.status == "degraded";
    let features: serde_json::Map<String, Value> =
        h.features.iter().map(|f| (feature_name(f.feature).to_string(), Value::Bool(f.available))).collect();
    let reasons: serde_json::Map<String, Value> = h
        .features
        .iter()
        .filter(|f| !f.reason.is_empty())
        .map(|f| (feature_name(f.feature).to_string(), Value::String(f.reason.clone())))
        .collect();
    let mut v = json!({
        "ok": ok,
        "status": h.status,
        "latency_ms": h.latency_ms,
        "features": features,
        "details": if h.message.is_empty() && reasons.is_empty() { Value::Null }
                   else { json!({"reason": h.message, "features": reasons, "retry_after_s": h.retry_after_secs}) },
        "api": {"last_activities": {
            "status": h.api_status, "retry_after": h.retry_after_secs,
            "rate": {"remaining": h.rate_limit_remaining},
        }},
    });
    if !ok {
        let kind = if h.status == "auth_failed" { "auth" } else { "transport" };
        v["error"] = json!({"kind": kind, "message": h.message});
    }
    v
}

pub fn print_json(out: &mut dyn Write, v: &Value) {
    let text = serde_json::to_string_pretty(v).expect("JSON values serialise");
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Print a failure the contract's way and return the exit status.
pub fn report_failure(f: Failure, io: &mut Io) -> i32 {
    match f {
        Failure::Usage(m) => {
            let _ = writeln!(io.stderr, "cw-host: {m}");
            EXIT_USAGE
        }
        Failure::Host(e) => {
            print_json(&mut io.stdout, &json!({"ok": false, "error": {"kind": e.kind.as_str(), "message": e.message}}));
            let _ = writeln!(io.stderr, "cw-host: {}", e.message);
            EXIT_ADAPTER_ERROR
        }
        Failure::Adapter(e) => {
            let err = error_to_json(&e);
            let _ = writeln!(
                io.stderr,
                "cw-host: {}: {}",
                err["kind"].as_str().unwrap_or(""),
                err["message"].as_str().unwrap_or("")
            );
            print_json(&mut io.stdout, &json!({"ok": false, "error": err}));
            EXIT_ADAPTER_ERROR
        }
    }
}

fn read_items(args: &WriteArgs, stdin: &mut dyn Read) -> Result<Vec<Item>, Failure> {
    let (text, source) = match &args.file {
        Some(p) if p.as_os_str() != "-" => (
            std::fs::read_to_string(p)
                .map_err(|e| Failure::Usage(format!("cannot read items file {}: {e}", p.display())))?,
            p.display().to_string(),
        ),
        _ => {
            let mut s = String::new();
            stdin.read_to_string(&mut s).map_err(|e| Failure::Usage(format!("cannot read items from stdin: {e}")))?;
            (s, "stdin".to_string())
        }
    };
    items::items_from_json(&text).map_err(|e| Failure::Usage(format!("{source}: {e}")))
}

/// manifest, health, index, add, remove, imports.
pub fn run(cli: Cli, mut io: Io) -> i32 {
    match execute(&cli, &mut io) {
        Ok(code) => code,
        Err(f) => report_failure(f, &mut io),
    }
}

fn execute(cli: &Cli, io: &mut Io) -> Result<i32, Failure> {
    let stderr = take_stderr(io);
    match &cli.command {
        Command::Manifest => {
            let mut s = Session::open(&cli.global, stderr, false)?;
            let m = s.adapter.manifest()?;
            print_json(&mut io.stdout, &manifest_to_json(&m));
            io.release(s);
            Ok(EXIT_OK)
        }
        Command::Imports => {
            let runtime = load_runtime(&cli.global, None)?;
            print_json(&mut io.stdout, &json!(runtime.component_imports()));
            io.release(runtime);
            Ok(EXIT_OK)
        }
        Command::Health => {
            let mut s = Session::open(&cli.global, stderr, true)?;
            let v = s.health()?;
            print_json(&mut io.stdout, &v);
            io.release(s);
            Ok(if v["ok"] == Value::Bool(true) { EXIT_OK } else { EXIT_ADAPTER_ERROR })
        }
        Command::Index { feature } => {
            let feature = items::parse_feature(feature).map_err(Failure::Usage)?;
            let mut s = Session::open(&cli.global, stderr, true)?;
            let index = s.index_spooled(feature)?;
            let _ = index.print(&mut io.stdout);
            io.release(s);
            Ok(EXIT_OK)
        }
        Command::Add(args) | Command::Remove(args) => {
            let remove = matches!(cli.command, Command::Remove(_));
            let feature = items::parse_feature(&args.feature).map_err(Failure::Usage)?;
            let items = read_items(args, &mut io.stdin)?;
            let mut s = Session::open(&cli.global, stderr, true)?;
            let v = s.write(remove, feature, &items, args.dry_run)?;
            print_json(&mut io.stdout, &v);
            io.release(s);
            Ok(EXIT_OK)
        }
        Command::Emulator { .. }
        | Command::Demo
        | Command::Auth { .. }
        | Command::Inspect { .. }
        | Command::Keygen { .. }
        | Command::Sign { .. }
        | Command::Verify { .. }
        | Command::Publish { .. } => unreachable!("dispatched in cli::run"),
    }
}

/// The log sink owns stderr for the session; failures printed later use a sink writer too.
fn take_stderr(io: &mut Io) -> Box<dyn Write + Send> {
    let shared = SharedWriter::new(std::mem::replace(&mut io.stderr, Box::new(std::io::sink())));
    io.stderr = Box::new(shared.clone());
    Box::new(shared)
}

/// One writer used from two places (the log sink and the CLI's own messages).
#[derive(Clone)]
pub struct SharedWriter(std::sync::Arc<std::sync::Mutex<Box<dyn Write + Send>>>);

impl SharedWriter {
    pub fn new(w: Box<dyn Write + Send>) -> SharedWriter {
        SharedWriter(std::sync::Arc::new(std::sync::Mutex::new(w)))
    }
}

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// `cw-host emulator`: serve until killed; stdout gets one JSON object with the URL and the
/// credentials to put in a config file, the same banner the `trakt-emulator` binary prints
/// (`trakt_emulator::serve`).
pub fn emulator(port: u16, seed: Option<PathBuf>, mut io: Io) -> i32 {
    trakt_emulator::serve("cw-host", port, seed.as_deref(), &mut *io.stdout, &mut *io.stderr)
}

/// Used by the demo to print an item briefly.
pub fn describe(item: &Value) -> String {
    let title = item["title"].as_str().or(item["series_title"].as_str()).unwrap_or("?");
    match item["type"].as_str() {
        Some("episode") => {
            format!("{title} S{:02}E{:02}", item["season"].as_i64().unwrap_or(0), item["episode"].as_i64().unwrap_or(0))
        }
        Some("season") => format!("{title} season {}", item["season"].as_i64().unwrap_or(0)),
        _ => match item["year"].as_i64() {
            Some(y) => format!("{title} ({y})"),
            None => title.to_string(),
        },
    }
}
