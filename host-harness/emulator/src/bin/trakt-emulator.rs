//! `trakt-emulator`: serve the Trakt API emulator on 127.0.0.1 until interrupted; stdout gets
//! the same banner JSON as `cw-host emulator` (URL, a ready `trakt` config block per account,
//! the control endpoints).

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "trakt-emulator", version, about = "Serve the Trakt API emulator on 127.0.0.1 until interrupted")]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Library JSON to start from (default: a small sample library).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let code = trakt_emulator::serve(
        "trakt-emulator",
        args.port,
        args.seed.as_deref(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::exit(code);
}
