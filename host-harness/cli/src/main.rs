//! `cw-host`: run the CrossWatch Trakt adapter component from the command line.

fn main() {
    trakt_host::alloc_tuning::tune_allocator();
    let code = cw_host::run(std::env::args_os(), cw_host::Io::process());
    std::process::exit(code);
}
