//! `cw-host`, the command line of the CrossWatch Trakt adapter and the only crate that embeds
//! the component. Its flags and commands are a public contract (scripts and tests outside this
//! repository drive them): extend, never rename or reshape.
//!
//! stdout carries only JSON (except `demo`, which prints a summary for people); logs go to
//! stderr. Exit status: 0 success, 1 the adapter (or the sandbox) reported an error, 2 usage
//! or configuration error.

mod args;
mod auth;
mod commands;
mod demo;
mod distribution;
mod io;
mod oci;

use std::io::Write;

use clap::Parser;

pub use args::{AuthCommand, Cli, Command, GlobalArgs, WriteArgs, EXIT_ADAPTER_ERROR, EXIT_OK, EXIT_USAGE};
pub use commands::{print_json, Session, EMBEDDED_COMPONENT};
pub use demo::host_credentials;
pub use io::Io;
pub use trakt_host::index_text::print_json_text;

/// Run the command line `args` (including the program name); returns the exit status.
pub fn run<I, T>(args: I, mut io: Io) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let text = e.render().to_string();
            if e.use_stderr() {
                let _ = write!(io.stderr, "{text}");
            } else {
                let _ = write!(io.stdout, "{text}");
            }
            return code;
        }
    };
    match cli.command.clone() {
        Command::Emulator { port, seed } => commands::emulator(port, seed, io),
        Command::Demo => demo::run(&cli.global, io),
        Command::Auth { action } => auth::run(&cli.global, action, io),
        Command::Inspect { file } => distribution::inspect(&cli.global, file, io),
        Command::Keygen { secret_key, public_key } => distribution::keygen(&secret_key, &public_key, io),
        Command::Sign { file, key, output } => distribution::sign(&file, &key, output.as_deref(), io),
        Command::Verify { file } => distribution::verify(&cli.global, &file, io),
        Command::Publish { target, file } => distribution::publish(&cli.global, &target, file.as_deref(), io),
        _ => commands::run(cli, io),
    }
}
