//! The Trakt adapter component, built by this crate's build script for `wasm32-wasip2` (release
//! profile `plugin-release`) into its `OUT_DIR`, so that everything depending on this crate
//! always gets a component built from the current `plugin/` and `wit/`.
//! `TRAKT_ADAPTER_WASM=/path/file.wasm` at build time takes that file instead.

/// Where the build script left the component.
pub const TRAKT_ADAPTER_WASM_PATH: &str = env!("TRAKT_ADAPTER_WASM");

/// The component's bytes. Empty in `cargo clippy` / check-only builds, which skip the
/// nested wasm build.
pub const TRAKT_ADAPTER_WASM: &[u8] = include_bytes!(env!("TRAKT_ADAPTER_WASM"));
