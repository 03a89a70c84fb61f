//! `trakt-adapter-native`: the plugin's code (`plugin/`, feature `native`) built natively and
//! run the way `cw-host index FEATURE` runs the component: the same options from the same
//! CrossWatch config, real HTTP to the API URL, the same state files in a directory, the same
//! ledger file and the same printed index. The config reading, the HTTP broker (policy and
//! signing) and the index printing are cw-host's own (trakt-host). Benchmarks compare the two
//! (tests/benches/cw_host.rs) to tell the plugin's own cost from the WebAssembly runtime's and
//! the host boundary's.
//!
//! Not a user tool: no sandbox, no token refresh (run `cw-host health` first, or pass a fresh
//! token), no quota. Exit status as cw-host's: 0 ok, 1 adapter error, 2 usage error.

mod http;
mod seams;
mod store;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::{json, Value};
use trakt_adapter::native::{self, Adapter, LedgerEntry};
use trakt_host::config::{HostConfig, DEFAULT_API_URL};
use trakt_host::imports::auth::SharedCredentials;
use trakt_host::imports::http::HttpBroker;
use trakt_host::index_text::Spool;
use trakt_host::policy::{Limits, Origin, Policy};
use trakt_host::runtime::IndexTextSink;

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
    let config = HostConfig::load(&cli.config).map_err(|e| Failure::Usage(e.0))?;
    let api_url = match cli.api_url.clone() {
        Some(u) => u,
        None => config.url("api_url").map_err(|e| Failure::Usage(e.0))?.unwrap_or_else(|| DEFAULT_API_URL.into()),
    };
    let api = Origin::parse(&api_url).map_err(|e| Failure::Usage(format!("API URL: {e}")))?;
    let mut creds = config.credentials().map_err(|e| Failure::Usage(e.0))?;
    let missing = |what: &str, flag: &str| {
        Failure::Usage(format!("no {what}: pass {flag} or put it in the \"trakt\" block of {}", cli.config.display()))
    };
    if let Some(id) = &cli.client_id {
        creds.client_id = id.clone();
    }
    if let Some(token) = &cli.access_token {
        creds.access_token = token.clone();
    }
    if creds.client_id.is_empty() {
        return Err(missing("client id", "--client-id"));
    }
    if creds.access_token.is_empty() {
        return Err(missing("access token", "--access-token"));
    }
    let options = config.adapter_options(&api.base_url());
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| default_state_dir(&cli.config));

    // cw-host's broker: its policy allows the API origin (and, for OAuth, the same one: this
    // runner never refreshes), signs with the client id and token.
    let policy = Policy { api: api.clone(), oauth: api, limits: Limits::default() };
    let broker = HttpBroker::new(policy, SharedCredentials::new(creds));
    let mut adapter = Adapter::new(
        Box::new(HttpTransport::new(broker)),
        Box::new(seams::SystemClock::new()),
        Box::new(seams::NoRefresh),
        DirStore::new(state_dir),
    );
    let configured = adapter.configure(&options.to_string());
    print_logs(&mut *io.stderr, level);
    configured.map_err(|e| Failure::Usage(format!("config {}: {e}", cli.config.display())))?;
    // As cw-host: the text part by part into a spool, checked, then printed (index_text.rs).
    let mut spool = Spool::new();
    let mut result = adapter.open_index_json(feature);
    if result.is_ok() {
        result = loop {
            match adapter.next_index_json_part() {
                Ok(Some(part)) => spool.part(part).map_err(Failure::Usage)?,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
    }
    print_logs(&mut *io.stderr, level);
    if let Some(path) = &cli.ledger {
        write_ledger(path, &adapter.last_ledger())?;
    }
    result.map_err(Failure::Adapter)?;
    let index = spool.finish().map_err(|m| Failure::Adapter(native::AdapterError::Internal(m)))?;
    let _ = index.print(&mut *io.stdout);
    Ok(())
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
