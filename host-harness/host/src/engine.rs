//! The wasmtime engine: fuel and epoch interruption enabled, one epoch ticker thread, and a
//! cache of compiled components so a second start does not recompile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// Epoch ticks drive the wall-clock bound of each call.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// An engine that meters fuel and can interrupt on epochs, with its ticker running.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    // `CW_HOST_PERFMAP=1`: name the component's functions for `perf` (/tmp/perf-PID.map;
    // profiling, see README "Performance"). Code generation is the same either way.
    if std::env::var_os("CW_HOST_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("cw-host-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })
        .map_err(|e| wasmtime::Error::msg(format!("cannot start the epoch ticker: {e}")))?;
    Ok(engine)
}

/// How a component was obtained, for logs and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadSource {
    Compiled,
    Cache,
}

/// Default cache directory: `$XDG_CACHE_HOME/cw-host` or `~/.cache/cw-host`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("cw-host"));
    }
    std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("cw-host"))
}

/// Compile `wasm`, or load the compiled form from `cache_dir` when an entry for these exact
/// bytes (`sha256_hex`, their digest as `preflight` computed it: hashing a 1 MB component
/// is a sixth of a cached start, so it is done once) and this exact engine configuration
/// exists. Cache problems never fail the load.
pub fn load_component(
    engine: &Engine,
    wasm: &[u8],
    sha256_hex: &str,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<(Component, LoadSource)> {
    let Some(dir) = cache_dir else {
        return Ok((Component::new(engine, wasm)?, LoadSource::Compiled));
    };
    let entry = dir.join(cache_file_name(engine, sha256_hex));
    if entry.exists() {
        // SAFETY: the cache directory is private to this user and its entries are written only
        // by `store_in_cache` below from `Component::serialize` of this engine configuration
        // (the configuration hash is part of the file name); wasmtime still validates the
        // header and refuses files from another version or configuration.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &entry) } {
            return Ok((component, LoadSource::Cache));
        }
    }
    let component = Component::new(engine, wasm)?;
    store_in_cache(dir, &entry, &component);
    Ok((component, LoadSource::Compiled))
}

fn cache_file_name(engine: &Engine, sha256_hex: &str) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    // The first 12 bytes of the digest, as the names have always had them.
    let hex = sha256_hex.get(..24).unwrap_or(sha256_hex);
    format!("component-{hex}-{:016x}.cwasm", h.finish())
}

fn store_in_cache(dir: &Path, entry: &Path, component: &Component) {
    let Ok(bytes) = component.serialize() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let _ = crate::fsutil::write_atomic(entry, &bytes);
}
