//! Builds the Trakt adapter component (and the hostile test component of `tests/hostile`) for
//! `wasm32-wasip2` with one nested cargo into this crate's `OUT_DIR` (the pattern of wasmtime's `crates/test-programs/artifacts/build.rs`), and
//! reruns when any source file the nested build read changes (its dep-info file lists them).
//!
//! `TRAKT_ADAPTER_WASM=/path/file.wasm` skips the nested build and uses that file instead
//! (`HOSTILE_COMPONENT_WASM=/path/file.wasm` then names the hostile one; without it the hostile
//! component is an empty placeholder).
//! `cargo clippy` (check-only) skips it too and gets an empty placeholder.
//!
//! The adapter component then gets its self-description (describe.rs: metadata, contract
//! version, capabilities) and is written to `OUT_DIR/trakt_adapter.wasm`; a file given with
//! `TRAKT_ADAPTER_WASM` is taken as it is. The foreign-import test component (foreign.rs) is
//! made from WIT in every build but the check-only one.

#[path = "describe.rs"]
mod describe;
#[path = "foreign.rs"]
mod foreign;
#[path = "shrink.rs"]
mod shrink;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin-release";

fn main() {
    println!("cargo:rerun-if-env-changed=TRAKT_ADAPTER_WASM");
    println!("cargo:rerun-if-env-changed=HOSTILE_COMPONENT_WASM");
    for knob in ["STRIP", "DEBUG", "OPT_LEVEL", "LTO"] {
        println!("cargo:rerun-if-env-changed=CARGO_PROFILE_PLUGIN_RELEASE_{knob}");
    }
    println!("cargo:rerun-if-env-changed={}", shrink::SKIP_ENV);
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace =
        manifest_dir.ancestors().nth(2).expect("host-harness/artifacts lives in the workspace").to_path_buf();
    let check_only = env::var("RUSTC_WORKSPACE_WRAPPER").is_ok_and(|w| w.contains("clippy"));
    if check_only {
        let placeholder = out_dir.join("foreign_import.placeholder.wasm");
        std::fs::write(&placeholder, b"").expect("write the placeholder component");
        println!("cargo:rustc-env=FOREIGN_IMPORT_COMPONENT_WASM={}", placeholder.display());
    } else {
        let foreign = out_dir.join("foreign_import_component.wasm");
        std::fs::write(&foreign, foreign::foreign_import_component(&workspace.join("wit")))
            .expect("write the foreign-import test component");
        println!("cargo:rustc-env=FOREIGN_IMPORT_COMPONENT_WASM={}", foreign.display());
    }
    if let Ok(path) = env::var("TRAKT_ADAPTER_WASM") {
        println!("cargo:rerun-if-changed={path}");
        println!("cargo:rustc-env=TRAKT_ADAPTER_WASM={path}");
        digest_of(Path::new(&path));
        let hostile = match env::var("HOSTILE_COMPONENT_WASM") {
            Ok(hostile) => hostile,
            Err(_) => {
                let placeholder = out_dir.join("hostile_component.placeholder.wasm");
                std::fs::write(&placeholder, b"").expect("write the placeholder component");
                placeholder.display().to_string()
            }
        };
        println!("cargo:rerun-if-changed={hostile}");
        println!("cargo:rustc-env=HOSTILE_COMPONENT_WASM={hostile}");
        return;
    }

    for watched in [
        "plugin/Cargo.toml",
        "plugin/build.rs",
        "tests/hostile/Cargo.toml",
        "Cargo.lock",
        "Cargo.toml",
        "rust-toolchain.toml",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }

    if check_only {
        let placeholder = out_dir.join("trakt_adapter.placeholder.wasm");
        std::fs::write(&placeholder, b"").expect("write the placeholder component");
        println!("cargo:rerun-if-changed={}", workspace.join("plugin/src").display());
        println!("cargo:rerun-if-changed={}", workspace.join("tests/hostile/src").display());
        println!("cargo:rustc-env=TRAKT_ADAPTER_WASM={}", placeholder.display());
        println!("cargo:rustc-env=HOSTILE_COMPONENT_WASM={}", placeholder.display());
        digest_of(&placeholder);
        return;
    }

    ensure_wasm_target(&workspace);

    // A target directory of its own: cargo locks per target directory, so the nested build
    // never waits on the outer one.
    let target_dir = out_dir.join("wasm-target");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--package", "trakt-adapter", "--package", "hostile-component", "--target", WASM_TARGET])
        .args(["--profile", PROFILE, "--target-dir"])
        .arg(&target_dir);
    scrub_outer_build(&mut cmd);
    // Core modules: Binaryen optimises those, and the components are made below (shrink.rs).
    // SIMD128 (every WebAssembly engine since 2021: wasmtime, V8, so the Python and Node hosts
    // too): xxh3 hashes a cache four times faster with it, the rest of the code is unchanged.
    // Inlining thresholds of 75, and 150 for functions marked `#[inline]` (LLVM's defaults at
    // opt-level 2 are 225 and 325): the component is 85 KB smaller (813 -> 728 KB) for 1% more
    // wasm instructions on a cold watchlist or ratings index and 0.2% fewer on a history index
    // (fuel used, README "Performance").
    cmd.env(
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-C link-arg=--skip-wit-component -C target-feature=+simd128 -C llvm-args=-inline-threshold=75 \
         -C llvm-args=-inlinehint-threshold=150",
    );
    let status = cmd.status().expect("failed to start the nested cargo build of the plugin");
    if !status.success() {
        panic!("building the trakt-adapter and hostile components for wasm32-wasip2 failed (see the errors above)");
    }
    for (file, src, env_name) in [
        ("trakt_adapter.wasm", "plugin/src", "TRAKT_ADAPTER_WASM"),
        ("hostile_component.wasm", "tests/hostile/src", "HOSTILE_COMPONENT_WASM"),
    ] {
        let wasm = target_dir.join(WASM_TARGET).join(PROFILE).join(file);
        assert!(wasm.exists(), "the nested build did not produce {}", wasm.display());
        let deps = dep_info(&wasm.with_extension("d"), &workspace);
        if deps.is_empty() {
            println!("cargo:rerun-if-changed={}", workspace.join(src).display());
        }
        for dep in deps {
            println!("cargo:rerun-if-changed={}", dep.display());
        }
        let component = out_dir.join(file);
        if env_name == "TRAKT_ADAPTER_WASM" {
            let core = if env::var(shrink::SKIP_ENV).is_ok_and(|v| v == "0") {
                wasm
            } else {
                let optimized = out_dir.join("trakt_adapter.core.wasm");
                let keep_names = env::var("CARGO_PROFILE_PLUGIN_RELEASE_STRIP").is_ok_and(|v| v == "false");
                shrink::optimize(&wasm, &optimized, keep_names);
                optimized
            };
            let bytes = shrink::componentize(&std::fs::read(&core).expect("read the core module"), "adapter");
            let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let description = describe::describe(&cargo, &workspace, "trakt-adapter", &scrub_outer_build);
            std::fs::write(&component, describe::embed(&bytes, &description)).expect("write the described component");
        } else {
            let bytes = shrink::componentize(&std::fs::read(&wasm).expect("read the core module"), "hostile test");
            std::fs::write(&component, bytes).expect("write the hostile test component");
        }
        let wasm = component;
        println!("cargo:rustc-env={env_name}={}", wasm.display());
        if env_name == "TRAKT_ADAPTER_WASM" {
            digest_of(&wasm);
        }
    }
}

/// `TRAKT_ADAPTER_SHA256`: the lowercase hex sha256 of the adapter component file.
fn digest_of(file: &Path) {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=TRAKT_ADAPTER_SHA256={hex}");
}

/// The outer build's settings must not leak into the nested cargo calls.
fn scrub_outer_build(cmd: &mut Command) {
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_BUILD_")
            // The plugin-release profile's own settings do pass (profiling builds use them).
            || (key.starts_with("CARGO_PROFILE_") && !key.starts_with("CARGO_PROFILE_PLUGIN_RELEASE_"))
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
}

/// The source files of a cargo dep-info file (`target: dep dep ...`, spaces in names escaped
/// with a backslash) that lie inside the workspace (registry sources never change).
fn dep_info(path: &Path, workspace: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let Some((_, deps)) = text.split_once(": ") else { return Vec::new() };
    let deps = deps.replace("\\\n", " ").replace("\\ ", "\u{0}");
    deps.split_whitespace()
        .map(|d| PathBuf::from(d.replace('\u{0}', " ")))
        .filter(|p| p.starts_with(workspace))
        .collect()
}

/// Makes sure the toolchain that will build the plugin has the `wasm32-wasip2` standard
/// library. `rust-toolchain.toml` lists the target, but rustup installs listed targets only
/// when it installs the toolchain itself; with the toolchain preinstalled and
/// `RUSTUP_AUTO_INSTALL=0` (this project's machines) it never adds it. See
/// https://rust-lang.github.io/rustup/overrides.html#the-toolchain-file
fn ensure_wasm_target(workspace: &Path) {
    // The nested build runs in the workspace, so it sees the toolchain rust-toolchain.toml
    // pins (or RUSTUP_TOOLCHAIN, which rustup's proxy sets for this build script).
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if target_libdir(&rustc, workspace).is_some_and(|dir| dir.is_dir()) {
        return;
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty());
    let manual = match &toolchain {
        Some(t) => format!("rustup target add --toolchain {t} {WASM_TARGET}"),
        None => format!("rustup target add {WASM_TARGET}"),
    };
    let rustup = env::var("RUSTUP").unwrap_or_else(|_| "rustup".into());
    if Command::new(&rustup).arg("--version").output().is_err() {
        panic!(
            "the Rust standard library for {WASM_TARGET} is not installed and rustup was not found; \
             install the target for this toolchain (with rustup: `{manual}`), then build again"
        );
    }
    println!("cargo:warning=installing the {WASM_TARGET} target (one-time download, about 30 MB): {manual}");
    let mut cmd = Command::new(&rustup);
    cmd.current_dir(workspace).args(["target", "add"]);
    if let Some(t) = &toolchain {
        cmd.args(["--toolchain", t]);
    }
    let status = cmd.arg(WASM_TARGET).status();
    let installed = target_libdir(&rustc, workspace).is_some_and(|dir| dir.is_dir());
    if !matches!(status, Ok(s) if s.success()) || !installed {
        panic!("`{manual}` failed (see its output above); run it by hand, then build again");
    }
}

/// `<sysroot>/lib/rustlib/wasm32-wasip2/lib` of the given rustc, if it can be asked.
fn target_libdir(rustc: &str, workspace: &Path) -> Option<PathBuf> {
    let out = Command::new(rustc)
        .current_dir(workspace)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}
