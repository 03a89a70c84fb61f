//! The foreign-import test component: the `crosswatch:sync` world plus an import of
//! `wasi:filesystem/types`, a world no host of this project provides. Built from WIT with
//! wit-component's dummy core module (what `wasm-tools component embed --dummy` does), so its
//! functions trap; the hosts' preflight must refuse it before anything is instantiated
//! (issue 14, "Done when"). A test file only, never shipped.

use std::path::Path;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// A stand-in for WASI's filesystem package: only its name matters to a host's preflight.
const FILESYSTEM_WIT: &str = "package wasi:filesystem@0.2.12;
interface types {
    stat-size: func(path: string) -> u64;
}
";

const TEST_WORLD_WIT: &str = "package crosswatch:test-foreign-import@0.1.0;
world foreign-import {
    include crosswatch:sync/trakt-adapter@0.1.0;
    import wasi:filesystem/types@0.2.12;
}
";

/// The component's bytes, built from `wit_dir` (the project's `wit/`).
pub fn foreign_import_component(wit_dir: &Path) -> Vec<u8> {
    let mut resolve = Resolve::default();
    resolve.push_dir(wit_dir).unwrap_or_else(|e| panic!("cannot parse {}: {e:#}", wit_dir.display()));
    resolve.push_str("filesystem.wit", FILESYSTEM_WIT).expect("the filesystem stand-in parses");
    let pkg = resolve.push_str("foreign-import.wit", TEST_WORLD_WIT).expect("the test world parses");
    let world = resolve.select_world(&[pkg], Some("foreign-import")).expect("the test world exists");
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("embed the test world");
    ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| panic!("cannot encode the foreign-import test component: {e:#}"))
}
