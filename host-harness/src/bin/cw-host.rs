//! `cw-host`: run the CrossWatch Trakt adapter component from the command line.

fn main() {
    let code = host_harness::cli::run(std::env::args_os(), host_harness::cli::Io::process());
    std::process::exit(code);
}
