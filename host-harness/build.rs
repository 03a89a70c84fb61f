//! Builds the Trakt adapter component for `wasm32-wasip2` with a nested cargo, into its own
//! target directory (the pattern of wasmtime's test-programs artifacts crate), so that
//! `cargo run`, `cargo test` and the `cw-host` binary always embed a fresh component.
//!
//! `TRAKT_ADAPTER_WASM=/path/file.wasm` skips the nested build and embeds that file instead.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TRAKT_ADAPTER_WASM");
    if let Ok(path) = env::var("TRAKT_ADAPTER_WASM") {
        println!("cargo:rerun-if-changed={path}");
        println!("cargo:rustc-env=TRAKT_ADAPTER_WASM={path}");
        return;
    }

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("host-harness lives in the workspace").to_path_buf();
    for watched in ["plugin/src", "plugin/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }

    // A target directory of its own: cargo locks per target directory, so the nested build
    // never waits on the outer one.
    let target_dir = workspace.join("target").join("wasm");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--package", "trakt-adapter", "--target", "wasm32-wasip2"])
        .args(["--profile", "plugin-release", "--target-dir"])
        .arg(&target_dir);
    // The outer build's settings must not leak into the wasm build.
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_BUILD_")
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_ENCODED_RUSTFLAGS")
            || key == "RUSTFLAGS"
            || key == "CARGO_TARGET_DIR"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTC_WRAPPER"
            || key == "CARGO_MAKEFLAGS"
            || key == "MAKEFLAGS"
        {
            cmd.env_remove(&key);
        }
    }
    let status = cmd.status().expect("failed to start the nested cargo build of the plugin");
    if !status.success() {
        panic!("building the trakt-adapter component for wasm32-wasip2 failed (see the errors above)");
    }
    let wasm = target_dir.join("wasm32-wasip2").join("plugin-release").join("trakt_adapter.wasm");
    assert!(wasm.exists(), "the nested build did not produce {}", wasm.display());
    println!("cargo:rustc-env=TRAKT_ADAPTER_WASM={}", wasm.display());
}
