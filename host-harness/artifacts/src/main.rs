//! Prints the path of the built component, for scripts that need the file itself
//! (`cargo run -q -p trakt-adapter-artifacts`, e.g. the Python suite).

fn main() {
    println!("{}", trakt_adapter_artifacts::TRAKT_ADAPTER_WASM_PATH);
}
