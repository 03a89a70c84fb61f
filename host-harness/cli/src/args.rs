//! The command line's contract: flags, commands and exit statuses (clap). Scripts and tests
//! outside this repository drive them: extend, never rename or reshape.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit statuses of the contract.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ADAPTER_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "cw-host",
    version,
    about = "Run the CrossWatch Trakt adapter component in a sandbox",
    long_about = "Run the CrossWatch Trakt adapter (a WebAssembly component) in a sandboxed host.\n\n\
                  Credentials and options come from the \"trakt\" block of a CrossWatch config.json.\n\
                  stdout carries JSON only; logs go to stderr as [TRAKT:<feature>] LEVEL event k=v.\n\
                  Exit status: 0 ok, 1 adapter error, 2 usage or configuration error.",
    after_help = "Try it without any setup: cw-host demo"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// CrossWatch config.json holding the "trakt" block.
    #[arg(long, global = true, value_name = "FILE", default_value = "./config/config.json")]
    pub config: PathBuf,
    /// Directory for the adapter's state files [default: .cw_state beside the config file].
    /// Another instance's files, or a pair's, go to trakt-wasm/<scope>/ inside it.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The Trakt account (CrossWatch profile) to use: "default" is the "trakt" block, any
    /// other ID the "trakt.instances.ID" block; its tokens are read from and saved to that
    /// block only.
    #[arg(long, global = true, value_name = "ID", default_value = "default")]
    pub instance: String,
    /// CrossWatch's pair scope, which keeps each pair's state apart [default: $CW_PAIR_KEY,
    /// $CW_PAIR_SCOPE, $CW_SYNC_PAIR or $CW_PAIR, as CrossWatch sets them].
    #[arg(long, global = true, value_name = "KEY")]
    pub pair_scope: Option<String>,
    /// Trakt API origin [default: trakt.api_url from the config, else https://api.trakt.tv].
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// Trakt OAuth origin [default: trakt.auth_url from the config; else https://auth.trakt.tv
    /// when the API is Trakt's own, the API origin otherwise].
    #[arg(long, global = true, value_name = "URL")]
    pub auth_url: Option<String>,
    /// Adapter component to run: a file, or oci://HOST/NAME:TAG or oci://HOST/NAME@sha256:...
    /// (pulled, its digest checked, cached) [default: the one built into this cw-host].
    #[arg(long, global = true, value_name = "FILE")]
    pub component: Option<PathBuf>,
    /// Refuse the component unless its sha256 is this (64 hex digits, optionally prefixed
    /// with sha256:) [default: trakt.component_sha256 from the config].
    #[arg(long, global = true, value_name = "HEX")]
    pub component_sha256: Option<String>,
    /// Refuse the component unless one of these Ed25519 public keys (PEM, DER or raw; repeat
    /// the flag for several) signed it [default: trakt.component_trusted_keys from the config,
    /// paths relative to the config file]. Also the keys `verify` checks against.
    #[arg(long = "trusted-key", global = true, value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    /// Least severe log level printed on stderr: trace, debug, info, warn, error.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "info", env = "CW_TRAKT_LOG_LEVEL")]
    pub log_level: String,
    /// Where compiled components are cached [default: $XDG_CACHE_HOME/cw-host or ~/.cache/cw-host].
    #[arg(long, global = true, value_name = "DIR", env = "CW_HOST_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile the component on every start instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Memory limit of the component instance, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 512)]
    pub memory_limit_mib: usize,
    /// CPU budget of each call, in wasm instructions (fuel).
    #[arg(long, global = true, value_name = "N", default_value_t = 500_000_000_000)]
    pub cpu_fuel: u64,
    /// Wall-clock limit of each call, in seconds (also bounds every HTTP request it makes).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 1_800)]
    pub call_timeout: u64,
    /// Write the adapter's request ledger of the command (JSON array: method, path, status,
    /// attempts, waits, bytes, X-Ratelimit) to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Print the adapter's manifest (name, version, features). Needs no config.
    Manifest,
    /// Probe Trakt and print a CrossWatch health report. Exit 1 when not ok.
    Health,
    /// Print the complete index of FEATURE as {canonical key: item}.
    Index {
        /// watchlist, ratings, history or playlists.
        feature: String,
    },
    /// Add the items of FILE (a JSON array; stdin when absent or "-") to FEATURE.
    Add(WriteArgs),
    /// Remove the items of FILE (a JSON array; stdin when absent or "-") from FEATURE.
    Remove(WriteArgs),
    /// Run the built-in Trakt emulator on 127.0.0.1 until interrupted.
    Emulator {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Library JSON to start from (default: a small sample library).
        #[arg(long, value_name = "FILE")]
        seed: Option<PathBuf>,
    },
    /// Show the whole path working: emulator, health, index, dry run, add and remove.
    Demo,
    /// List the interfaces the component imports (JSON array).
    Imports,
    /// Describe a component file without running it (JSON): name, version, licence, source,
    /// revision, contract version, capabilities, sha256, imports, exports, and whether this
    /// host can run it (exit 1 when it cannot). Needs no config; instantiates nothing.
    Inspect {
        /// The component file [default: --component, else the one built into this cw-host].
        file: Option<PathBuf>,
    },
    /// Write a new Ed25519 key pair for signing components (PEM files; keep the secret one private).
    Keygen {
        /// Where the secret key goes (created; refuses to overwrite).
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        /// Where the public key goes: give it to users for --trusted-key.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
    },
    /// Sign a component file (WebAssembly tool-conventions signature, embedded).
    Sign {
        /// The component to sign.
        file: PathBuf,
        /// The secret key (from `keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Where the signed component goes [default: replace FILE].
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check a component's signature against --trusted-key keys (JSON; exit 1 when no trusted
    /// key signed it).
    Verify {
        /// The component to check.
        file: PathBuf,
    },
    /// Push a component to an OCI registry as a Wasm artifact (CNCF layout); prints its digests.
    Publish {
        /// oci://HOST/NAME:TAG (plain HTTP for 127.0.0.1 and localhost, HTTPS otherwise).
        target: String,
        /// The component file [default: --component, else the one built into this cw-host].
        file: Option<PathBuf>,
    },
    /// Log in to Trakt or show the state of the saved tokens.
    Auth {
        #[command(subcommand)]
        action: AuthCommand,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum AuthCommand {
    /// Log in with Trakt's device code: prints a code and a URL on stderr, waits for approval,
    /// then saves the tokens into the config file.
    Login,
    /// Show whether tokens are configured and when they expire (never prints secrets).
    Status,
}

#[derive(Args, Debug, Clone)]
pub struct WriteArgs {
    /// watchlist, ratings, history or playlists.
    pub feature: String,
    /// Send no write; print the requests that would be sent.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON array of items; "-" or absent reads stdin.
    pub file: Option<PathBuf>,
}
