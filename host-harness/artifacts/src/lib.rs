//! The Trakt adapter component, built by this crate's build script for `wasm32-wasip2` (release
//! profile `plugin-release`) into its `OUT_DIR`, so that everything depending on this crate
//! always gets a component built from the current `plugin/` and `wit/`.
//! `TRAKT_ADAPTER_WASM=/path/file.wasm` at build time takes that file instead.
//!
//! The same build makes the hostile test component of `tests/hostile` (the sandbox tests run
//! it; never shipped).

/// Where the build script left the component.
pub const TRAKT_ADAPTER_WASM_PATH: &str = env!("TRAKT_ADAPTER_WASM");

/// The component's bytes. Empty in `cargo clippy` / check-only builds, which skip the
/// nested wasm build.
pub const TRAKT_ADAPTER_WASM: &[u8] = include_bytes!(env!("TRAKT_ADAPTER_WASM"));

/// The sha256 of `TRAKT_ADAPTER_WASM` (lowercase hex), computed when it was built: a host
/// that embeds the component knows its digest without hashing it at every start.
pub const TRAKT_ADAPTER_SHA256: &str = env!("TRAKT_ADAPTER_SHA256");

/// Where the build script left the hostile test component (`tests/hostile`).
pub const HOSTILE_COMPONENT_WASM_PATH: &str = env!("HOSTILE_COMPONENT_WASM");

/// The hostile test component's bytes. Empty in check-only builds, and when
/// `TRAKT_ADAPTER_WASM` is given without `HOSTILE_COMPONENT_WASM`.
pub const HOSTILE_COMPONENT_WASM: &[u8] = include_bytes!(env!("HOSTILE_COMPONENT_WASM"));

/// Where the build script left the foreign-import test component (a dummy of the
/// `crosswatch:sync` world that also imports `wasi:filesystem/types`; see foreign.rs).
pub const FOREIGN_IMPORT_COMPONENT_WASM_PATH: &str = env!("FOREIGN_IMPORT_COMPONENT_WASM");

/// The foreign-import test component's bytes. Empty in check-only builds.
pub const FOREIGN_IMPORT_COMPONENT_WASM: &[u8] = include_bytes!(env!("FOREIGN_IMPORT_COMPONENT_WASM"));
