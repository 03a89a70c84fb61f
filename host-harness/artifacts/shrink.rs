//! From the nested build's core module to the component: Binaryen's optimizer for size
//! (the `wasm-opt` crate, Binaryen built from source by cargo, so every machine makes the
//! same file), then the component made from the core module and the WIT it carries, as the
//! toolchain's `wasm-component-ld` would have made it.
//!
//! The nested build links with `--skip-wit-component` (wasm-component-ld's option to stop at
//! the core module) so that Binaryen sees a core module: it works on those, not components.
//! On the adapter (opt-level 2 by LLVM), `-Oz` takes 15% off the code and about 2% off the
//! instructions an index runs (README "Performance").

use std::path::Path;

use wasm_opt::{Feature, OptimizationOptions};
use wit_component::ComponentEncoder;

/// `CW_WASM_OPT=0` makes the component without Binaryen (to compare, or to bisect).
pub const SKIP_ENV: &str = "CW_WASM_OPT";

/// Optimise the core module `core` for size into `out` (names kept when `keep_names`: a
/// profiling build, `CARGO_PROFILE_PLUGIN_RELEASE_STRIP=false`).
pub fn optimize(core: &Path, out: &Path, keep_names: bool) {
    let mut opts = OptimizationOptions::new_optimize_for_size_aggressively();
    // The features rustc's wasm32 target emits by default (its `target_features` section),
    // and SIMD128, which build.rs turns on.
    for feature in [
        Feature::Simd,
        Feature::BulkMemory,
        Feature::SignExt,
        Feature::MutableGlobals,
        Feature::TruncSat,
        Feature::Multivalue,
        Feature::ReferenceTypes,
    ] {
        opts.enable_feature(feature);
    }
    opts.debug_info(keep_names);
    opts.run(core, out).unwrap_or_else(|e| panic!("wasm-opt on {}: {e}", core.display()));
}

/// The component of a core module built for the `crosswatch:sync` world (its WIT is in the
/// module's `component-type` custom sections, which wit-bindgen writes).
pub fn componentize(core: &[u8], what: &str) -> Vec<u8> {
    ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| panic!("cannot make the {what} component from its core module: {e:#}"))
}
