//! `trakt-adapter-native`: the plugin's code run natively, `index FEATURE` as `cw-host` runs it.

fn main() {
    trakt_host::alloc_tuning::tune_allocator();
    let code = trakt_adapter_native::run(std::env::args_os(), trakt_adapter_native::Io::process());
    std::process::exit(code);
}
