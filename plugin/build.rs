//! Link flags of the component's core module.
//!
//! `--max-memory` gives the linear memory a declared maximum, so a host that has no store
//! limits of its own (a JavaScript engine through jco) still bounds the component: a
//! `memory.grow` past it fails inside the guest (an allocation failure, which aborts the call)
//! instead of taking the host's memory. wasmtime hosts cap lower with their own limit (cw-host
//! `--memory-limit-mib`, default 512). See https://lld.llvm.org/WebAssembly.html (`--max-memory`).

/// 1 GiB: twice the hosts' default cap, a multiple of the 64 KiB wasm page.
const MAX_MEMORY_BYTES: u64 = 1 << 30;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--max-memory={MAX_MEMORY_BYTES}");
    }
}
