//! What a command line that serves the emulator prints and does: the `trakt-emulator` binary and
//! `cw-host emulator` share it, so both print the same banner.
//!
//! The banner is one JSON object on stdout (pretty-printed, then a newline):
//!
//! ```json
//! { "url": "http://127.0.0.1:PORT",
//!   "config": { "trakt": { "client_id": "..", "client_secret": "..", "access_token": "..",
//!               "refresh_token": "..", "expires_at": 1767830400,
//!               "api_url": "http://127.0.0.1:PORT", "auth_url": "http://127.0.0.1:PORT" } },
//!   "accounts": { "<username>": { ..the same trakt block for that account.. } },
//!   "control": { "state": "http://127.0.0.1:PORT/_emulator/state",
//!                "requests": "http://127.0.0.1:PORT/_emulator/requests" } }
//! ```
//!
//! `accounts` lists every account by username, the primary first (see `Library::accounts`).

use std::io::Write;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::emulator::{Credentials, Emulator, EmulatorConfig};
use crate::library::Library;

/// Exit status of [`serve`] when the seed cannot be read or the port cannot be bound (the
/// usage-error status of `cw-host`).
const EXIT_USAGE: i32 = 2;

/// The library to start from: the seed file when given (read and parsed with
/// [`Library::from_json`]), else `Library::sample(20, 5)`. The error names the file.
pub fn load_seed(path: Option<&Path>) -> Result<Library, String> {
    match path {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Library::from_json(&text))
            .map_err(|e| format!("seed {}: {e}", path.display())),
        None => Ok(Library::sample(20, 5)),
    }
}

/// A CrossWatch `trakt` config block for these credentials, pointing API and OAuth at `emu`.
pub fn trakt_block(emu: &Emulator, c: &Credentials) -> Value {
    json!({
        "client_id": c.client_id, "client_secret": c.client_secret,
        "access_token": c.access_token, "refresh_token": c.refresh_token, "expires_at": c.expires_at,
        "api_url": emu.url(), "auth_url": emu.url(),
    })
}

/// The banner JSON of a running emulator (see the module documentation).
pub fn banner(emu: &Emulator) -> Value {
    // Every account (the primary first) by username, each with its own ready `trakt` block.
    let accounts: Map<String, Value> =
        emu.usernames().into_iter().filter_map(|u| emu.credentials_of(&u).map(|c| (u, trakt_block(emu, &c)))).collect();
    json!({
        "url": emu.url(),
        "config": {"trakt": trakt_block(emu, &emu.credentials())},
        "accounts": accounts,
        "control": {
            "state": format!("{}/_emulator/state", emu.url()),
            "requests": format!("{}/_emulator/requests", emu.url()),
        },
    })
}

/// Serves the emulator on 127.0.0.1:`port` (`0` picks a free port) from [`load_seed`]`(seed)`
/// until the process ends: prints the [`banner`] on `stdout`, then one line on `stderr`. Error
/// messages start with `program: `. Returns only when the emulator cannot start, with the exit
/// status 2.
pub fn serve(program: &str, port: u16, seed: Option<&Path>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let library = match load_seed(seed) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(stderr, "{program}: {e}");
            return EXIT_USAGE;
        }
    };
    let config = EmulatorConfig { port, seed: library, ..EmulatorConfig::default() };
    let emu = match Emulator::start(config) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(stderr, "{program}: cannot start the emulator on 127.0.0.1:{port}: {e}");
            return EXIT_USAGE;
        }
    };
    let text = serde_json::to_string_pretty(&banner(&emu)).expect("JSON values serialise");
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
    let _ = writeln!(stderr, "{program}: Trakt emulator listening on {} (Ctrl-C to stop)", emu.url());
    loop {
        std::thread::park();
    }
}
