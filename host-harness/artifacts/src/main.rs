//! Prints the path of the built component, for scripts that need the file itself
//! (`cargo run -q -p trakt-adapter-artifacts`, e.g. the Python suite); `--hostile` prints the
//! hostile test component's path instead, `--foreign-import` the foreign-import one's.

fn main() {
    if std::env::args().skip(1).any(|a| a == "--hostile") {
        println!("{}", trakt_adapter_artifacts::HOSTILE_COMPONENT_WASM_PATH);
    } else if std::env::args().skip(1).any(|a| a == "--foreign-import") {
        println!("{}", trakt_adapter_artifacts::FOREIGN_IMPORT_COMPONENT_WASM_PATH);
    } else {
        println!("{}", trakt_adapter_artifacts::TRAKT_ADAPTER_WASM_PATH);
    }
}
