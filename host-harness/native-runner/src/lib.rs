//! `trakt-adapter-native`: the plugin's code (`plugin/`, feature `native`) built natively and
//! run the way `cw-host index FEATURE` runs the component: the same options from the same
//! CrossWatch config, real HTTP to the API URL, the same state files in a directory, the same
//! ledger file and the same printed index. Benchmarks compare the two (tests/benches/cw_host.rs)
//! to tell the plugin's own cost from the WebAssembly runtime's and the host boundary's.
//!
//! Not a user tool: no sandbox, no token refresh (run `cw-host health` first, or pass a fresh
//! token), no quota. Exit status as cw-host's: 0 ok, 1 adapter error, 2 usage error.

mod http;
mod seams;
mod store;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::{json, Map, Value};
use trakt_adapter::native::{self, Adapter, LedgerEntry};

pub use http::HttpTransport;
pub use store::DirStore;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ADAPTER_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// The flags `cw-host index` takes that matter natively, with cw-host's names and defaults.
#[derive(Parser, Debug)]
#[command(name = "trakt-adapter-native", version, about = "Run the Trakt adapter's plugin code natively (benchmarks)")]
pub struct Cli {
    /// CrossWatch config.json: its "trakt" block gives the options (as cw-host hands them to
    /// the component), the client id and the access token.
    #[arg(long, value_name = "FILE", default_value = "./config/config.json")]
    config: PathBuf,
    /// Directory of the adapter's state files [default: .cw_state beside the config file].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Trakt API origin [default: trakt.api_url from the config, else https://api.trakt.tv].
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Trakt app client id [default: trakt.client_id from the config].
    #[arg(long, value_name = "ID", env = "TRAKT_CLIENT_ID", hide_env_values = true)]
    client_id: Option<String>,
    /// Bearer token [default: trakt.access_token from the config]; never refreshed here.
    #[arg(long, value_name = "TOKEN", env = "TRAKT_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
    /// Least severe log level printed on stderr: trace, debug, info, warn, error.
    #[arg(long, value_name = "LEVEL", default_value = "info", env = "CW_TRAKT_LOG_LEVEL")]
    log_level: String,
    /// Write the request ledger of the command (cw-host's format) to FILE.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print the complete index of FEATURE as {canonical key: item}, as `cw-host index` does.
    Index {
        /// watchlist, ratings, history or playlists.
        feature: String,
    },
}

/// The process's streams, replaceable so tests run the command in-process.
pub struct Io {
    pub stdout: Box<dyn Write>,
    pub stderr: Box<dyn Write>,
}

impl Io {
    pub fn process() -> Io {
        Io { stdout: Box::new(std::io::stdout()), stderr: Box::new(std::io::stderr()) }
    }
}

/// Keys of the `trakt` block cw-host never hands to the component (host-harness/host/src/
/// config.rs `HOST_ONLY_KEYS`); the rest, plus `api_url`, are the options.
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
    "component_sha256",
    "component_trusted_keys",
];

enum Failure {
    Usage(String),
    Adapter(native::AdapterError),
}

/// Run the command line `args` (including the program name); returns the exit status.
pub fn run<I, T>(args: I, mut io: Io) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let to = if e.use_stderr() { &mut io.stderr } else { &mut io.stdout };
            let _ = write!(to, "{}", e.render());
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match index(&cli, &mut io) {
        Ok(()) => EXIT_OK,
        Err(Failure::Usage(m)) => {
            let _ = writeln!(io.stderr, "trakt-adapter-native: {m}");
            EXIT_USAGE
        }
        Err(Failure::Adapter(e)) => {
            let _ = writeln!(io.stderr, "trakt-adapter-native: {e}");
            let _ = writeln!(io.stdout, "{}", json!({"ok": false, "error": {"message": e.to_string()}}));
            EXIT_ADAPTER_ERROR
        }
    }
}

fn index(cli: &Cli, io: &mut Io) -> Result<(), Failure> {
    let Command::Index { feature } = &cli.command;
    let level = level_rank(&cli.log_level.to_ascii_uppercase()).ok_or_else(|| {
        Failure::Usage(format!("invalid --log-level {:?}: use trace, debug, info, warn or error", cli.log_level))
    })?;
    let feature = native::parse_feature(feature).ok_or_else(|| {
        Failure::Usage(format!("unknown feature {feature:?}: expected one of {}", native::FEATURE_NAMES.join(", ")))
    })?;
    let trakt = trakt_block(&cli.config)?;
    let text_of = |key: &str| trakt.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let api_url = cli.api_url.clone().or_else(|| text_of("api_url")).unwrap_or_else(|| "https://api.trakt.tv".into());
    let api_url = api_url.trim_end_matches('/').to_string();
    let missing = |what: &str, flag: &str| {
        Failure::Usage(format!("no {what}: pass {flag} or put it in the \"trakt\" block of {}", cli.config.display()))
    };
    let client_id =
        cli.client_id.clone().or_else(|| text_of("client_id")).ok_or_else(|| missing("client id", "--client-id"))?;
    let token = cli
        .access_token
        .clone()
        .or_else(|| text_of("access_token"))
        .ok_or_else(|| missing("access token", "--access-token"))?;
    let mut options: Map<String, Value> =
        trakt.into_iter().filter(|(k, _)| !HOST_ONLY_KEYS.contains(&k.as_str())).collect();
    options.insert("api_url".into(), Value::String(api_url.clone()));
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| default_state_dir(&cli.config));

    let mut adapter = Adapter::new(
        Box::new(HttpTransport::new(&api_url, client_id, token)),
        Box::new(seams::SystemClock::new()),
        Box::new(seams::NoRefresh),
        DirStore::new(state_dir),
    );
    let configured = adapter.configure(&Value::Object(options).to_string());
    print_logs(&mut *io.stderr, level);
    configured.map_err(|e| Failure::Usage(format!("config {}: {e}", cli.config.display())))?;
    let result = adapter.build_index_json(feature);
    print_logs(&mut *io.stderr, level);
    if let Some(path) = &cli.ledger {
        write_ledger(path, &adapter.last_ledger())?;
    }
    let text = result.map_err(Failure::Adapter)?;
    // cw-host checks the text is one JSON object before printing anything (commands.rs).
    if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() || !text.trim_start().starts_with('{') {
        return Err(Failure::Adapter(native::AdapterError::Internal("the index is not a JSON object".into())));
    }
    print_json_text(&mut *io.stdout, &text);
    Ok(())
}

/// The `trakt` block of the config (empty when the file does not exist, as for cw-host).
fn trakt_block(path: &Path) -> Result<Map<String, Value>, Failure> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => f
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("cannot read config {}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(Failure::Usage(format!("cannot read config {}: {e}", path.display()))),
    };
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Usage(format!("config {} is not JSON: {e}", path.display())))?;
    match doc.get("trakt") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Failure::Usage(format!("config {}: \"trakt\" must be an object", path.display()))),
    }
}

/// `.cw_state` beside the config file, as cw-host keeps it.
fn default_state_dir(config: &Path) -> PathBuf {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(".cw_state"),
        _ => PathBuf::from(".cw_state"),
    }
}

fn level_rank(level: &str) -> Option<u8> {
    ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].iter().position(|l| *l == level).map(|i| i as u8)
}

/// The plugin's log events at `level` or above, as cw-host prints them on stderr; progress
/// lines are dropped (cw-host draws them only on a terminal).
fn print_logs(err: &mut dyn Write, level: u8) {
    for line in native::take_log_lines() {
        let rank = line.split(' ').nth(1).and_then(level_rank);
        if line.starts_with("[TRAKT:") && rank.is_some_and(|r| r >= level) {
            let _ = writeln!(err, "{line}");
        }
    }
}

/// The ledger as cw-host writes it (cli/src/commands.rs `ledger_entry_to_json`).
fn write_ledger(path: &Path, entries: &[LedgerEntry]) -> Result<(), Failure> {
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let rate = e
                .rate_limit
                .as_deref()
                .map(|t| serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::String(t.into())));
            json!({
                "method": e.method, "path": e.path, "status": e.status, "attempts": e.attempts,
                "waited_ms": e.waited_ms, "elapsed_ms": e.elapsed_ms, "bytes_sent": e.bytes_sent,
                "bytes_received": e.bytes_received, "rate_limit": rate, "error": e.error,
            })
        })
        .collect();
    let mut text = serde_json::to_vec_pretty(&rows).expect("JSON values serialise");
    text.push(b'\n');
    std::fs::write(path, text)
        .map_err(|e| Failure::Usage(format!("cannot write the ledger to {}: {e}", path.display())))
}

/// Checked JSON text printed as cw-host prints it (cli/src/commands.rs `print_json_text`, so
/// both print the same bytes): as it is when the adapter wrote it pretty already, else
/// re-indented token by token.
fn print_json_text(out: &mut dyn Write, text: &str) {
    if text == "{}" || text.starts_with("{\n  \"") {
        let _ = out.write_all(text.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
        return;
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut de = serde_json::Deserializer::from_str(text);
    let mut ser = serde_json::Serializer::pretty(&mut w);
    if serde_transcode::transcode(&mut de, &mut ser).is_ok() {
        let _ = writeln!(w);
    }
    let _ = w.flush();
}
