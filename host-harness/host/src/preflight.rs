//! Preflight: what a component file says it is and needs, read from its bytes before anything
//! is compiled or instantiated, and the checks a host makes on it (issue 14 item 3):
//!
//! - the contract version it targets (`crosswatch:api-version` custom section, written by
//!   host-harness/artifacts/describe.rs; else the version of its `sync-adapter` export) must be
//!   one this host supports;
//! - every import must belong to the allowed world: the `crosswatch:sync` interfaces plus the
//!   clock, I/O and CLI basics Rust's standard library imports (the host grants those with
//!   nothing behind them: no environment, no stdin, stdout/stderr to the log). Anything else
//!   (`wasi:filesystem`, `wasi:sockets`, `wasi:http`, unknown) is refused, each import named;
//! - when the configuration pins a sha256 (`trakt.component_sha256`, `--component-sha256`),
//!   the file's digest must match.
//!
//! The Python host applies the same rules (host-harness/python/crosswatch_trakt_wasm/preflight.py).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wasmparser::{Chunk, Encoding, Parser, Payload};

use crate::runtime::HostError;

/// Custom section naming the contract the component targets (`crosswatch:sync@0.1.0`).
pub const API_VERSION_SECTION: &str = "crosswatch:api-version";
/// Custom section of JSON: what the component asks its host for.
pub const CAPABILITIES_SECTION: &str = "crosswatch:capabilities";

/// The contract package and the version this host implements (wit/world.wit).
pub const CONTRACT_PACKAGE: &str = "crosswatch:sync";
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The interface the component must export.
pub const EXPORT_INTERFACE: &str = "sync-adapter";

/// The interfaces a component may import, without versions. `crosswatch:sync/*` must match the
/// contract version; `wasi:*` any 0.2.x (wasmtime links semver-compatible versions).
/// `cw-host inspect` on the built component lists what it imports: exactly these.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "crosswatch:sync/types",
    "crosswatch:sync/http",
    "crosswatch:sync/state",
    "crosswatch:sync/auth",
    "crosswatch:sync/log",
    "crosswatch:sync/progress",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// The WASI release line the allowed `wasi:*` imports must belong to.
const WASI_LINE: (u64, u64) = (0, 2);

/// What a component file says about itself, read without compiling it.
#[derive(Debug, Clone, Default)]
pub struct ComponentInfo {
    pub sha256: String,
    pub size_bytes: usize,
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    pub licenses: Option<String>,
    pub source: Option<String>,
    pub homepage: Option<String>,
    pub authors: Option<String>,
    pub revision: Option<String>,
    /// The `crosswatch:api-version` section, as written (`crosswatch:sync@0.1.0`).
    pub declared_contract: Option<String>,
    /// The `crosswatch:capabilities` section, parsed; an unparsable one is a problem.
    pub capabilities: Option<Value>,
    capabilities_error: Option<String>,
    /// Top-level import and export names, in file order.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// (minimum, maximum) bytes of each linear memory its core modules define.
    pub core_memories: Vec<(u64, Option<u64>)>,
}

/// The sha256 of `wasm`, lowercase hex.
pub fn sha256_hex(wasm: &[u8]) -> String {
    Sha256::digest(wasm).iter().map(|b| format!("{b:02x}")).collect()
}

/// Read what `wasm` says about itself. Fails only when it is not a WebAssembly component.
pub fn read(wasm: &[u8]) -> Result<ComponentInfo, String> {
    read_known(wasm, None)
}

/// `read`, with the sha256 of `wasm` when the caller knows it already (a component built
/// into the host, hashed when it was built).
pub fn read_known(wasm: &[u8], sha256: Option<&str>) -> Result<ComponentInfo, String> {
    let sha256 = sha256.map_or_else(|| sha256_hex(wasm), str::to_string);
    let mut info = ComponentInfo { sha256, size_bytes: wasm.len(), ..Default::default() };
    // The component's own custom sections, copied into an otherwise empty component for
    // `wasm_metadata` below.
    let mut skeleton = wasm_encoder::Component::new();
    // Parsed a section at a time, nested modules and components on a stack (the pattern of
    // wasmparser's `Parser::parse` documentation), so code sections can be skipped unread:
    // they are most of the file, and a cached start reads nothing else of it. An empty stack
    // is the component's own level.
    let mut parser = Parser::new(0);
    let mut outer: Vec<Parser> = Vec::new();
    let mut offset = 0usize;
    loop {
        let rest = wasm.get(offset..).unwrap_or_default();
        let (payload, consumed) = match parser.parse(rest, true) {
            Ok(Chunk::Parsed { consumed, payload }) => (payload, consumed),
            Ok(Chunk::NeedMoreData(_)) => return Err("not a valid WebAssembly component: unexpected end".into()),
            Err(e) => return Err(format!("not a valid WebAssembly component: {e}")),
        };
        offset += consumed;
        match payload {
            Payload::Version { encoding, .. } if outer.is_empty() && encoding != Encoding::Component => {
                return Err("a core WebAssembly module, not a component".into());
            }
            Payload::ModuleSection { parser: inner, .. } | Payload::ComponentSection { parser: inner, .. } => {
                outer.push(std::mem::replace(&mut parser, inner));
            }
            Payload::End(_) => match outer.pop() {
                Some(p) => parser = p,
                None => break,
            },
            Payload::CodeSectionStart { size, .. } => {
                let end = offset.saturating_add(size as usize);
                if end > wasm.len() {
                    return Err("not a valid WebAssembly component: its code section runs past the end".into());
                }
                parser.skip_section();
                offset = end;
            }
            Payload::ComponentImportSection(reader) if outer.is_empty() => {
                for import in reader {
                    let import = import.map_err(|e| format!("unreadable import section: {e}"))?;
                    info.imports.push(extern_name(&import.name));
                }
            }
            Payload::ComponentExportSection(reader) if outer.is_empty() => {
                for export in reader {
                    let export = export.map_err(|e| format!("unreadable export section: {e}"))?;
                    info.exports.push(extern_name(&export.name));
                }
            }
            Payload::CustomSection(section) if outer.is_empty() => {
                skeleton
                    .section(&wasm_encoder::CustomSection { name: section.name().into(), data: section.data().into() });
                match section.name() {
                    API_VERSION_SECTION => {
                        info.declared_contract = Some(String::from_utf8_lossy(section.data()).trim().to_string())
                    }
                    CAPABILITIES_SECTION => match serde_json::from_slice::<Value>(section.data()) {
                        Ok(v) if v.is_object() => info.capabilities = Some(v),
                        Ok(_) => info.capabilities_error = Some("is not a JSON object".into()),
                        Err(e) => info.capabilities_error = Some(format!("is not JSON: {e}")),
                    },
                    _ => {}
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let m = memory.map_err(|e| format!("unreadable memory section: {e}"))?;
                    let page = 1u64 << m.page_size_log2.unwrap_or(16);
                    info.core_memories.push((m.initial * page, m.maximum.map(|max| max * page)));
                }
            }
            _ => {}
        }
    }
    // The component's metadata is in its own custom sections: read from them alone, not from
    // a second walk of every function of its modules.
    if let Ok(wasm_metadata::Payload::Component { metadata, .. }) =
        wasm_metadata::Payload::from_binary(skeleton.as_slice())
    {
        let text = |v: Option<String>| v.filter(|s| !s.is_empty());
        info.name = text(metadata.name);
        info.version = text(metadata.version.map(|v| v.to_string()));
        info.description = text(metadata.description.map(|v| v.to_string()));
        info.licenses = text(metadata.licenses.map(|v| v.to_string()));
        info.source = text(metadata.source.map(|v| v.to_string()));
        info.homepage = text(metadata.homepage.map(|v| v.to_string()));
        info.authors = text(metadata.authors.map(|v| v.to_string()));
        info.revision = text(metadata.revision.map(|v| v.to_string()));
    }
    Ok(info)
}

/// The name as written, with the version suffix of the newer name form when present (a
/// suffix this host cannot place makes the name unknown, so the import is refused).
fn extern_name(name: &wasmparser::ComponentExternName<'_>) -> String {
    format!("{}{}", name.name, name.version_suffix.unwrap_or(""))
}

/// `package:name/iface@1.2.3` -> (`package:name/iface`, Some("1.2.3")).
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// (major, minor, patch) of `1.2.3` (pre-release and build suffixes ignored).
fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let v = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(v)
}

/// Semver compatibility as cargo and wasmtime's linker see it: same major, and for 0.x the
/// same minor.
fn compatible(a: (u64, u64, u64), b: (u64, u64, u64)) -> bool {
    a.0 == b.0 && (a.0 != 0 || a.1 == b.1)
}

/// `crosswatch:sync@0.1.x`, the versions this host runs, for messages.
pub fn supported_contract() -> String {
    let (major, minor, _) = parse_semver(CONTRACT_VERSION).expect("a valid version");
    if major == 0 {
        format!("{CONTRACT_PACKAGE}@0.{minor}.x")
    } else {
        format!("{CONTRACT_PACKAGE}@{major}.x")
    }
}

impl ComponentInfo {
    /// The contract the component targets: its declaration, else its export's version.
    pub fn contract(&self) -> Option<String> {
        if let Some(declared) = &self.declared_contract {
            return Some(declared.clone());
        }
        let prefix = format!("{CONTRACT_PACKAGE}/{EXPORT_INTERFACE}@");
        self.exports.iter().find_map(|e| e.strip_prefix(&prefix)).map(|version| format!("{CONTRACT_PACKAGE}@{version}"))
    }

    /// Why this host cannot run the component, one sentence each; empty when it can.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let host = parse_semver(CONTRACT_VERSION).expect("a valid version");
        match self.contract() {
            None => problems.push(format!(
                "the component declares no contract version and exports no {CONTRACT_PACKAGE}/{EXPORT_INTERFACE}, \
                 so it is not a CrossWatch sync component (this host supports {})",
                supported_contract()
            )),
            Some(contract) => {
                let version = contract.strip_prefix(&format!("{CONTRACT_PACKAGE}@")).and_then(parse_semver);
                if !version.is_some_and(|v| compatible(v, host)) {
                    problems.push(format!(
                        "the component targets contract {contract}, but this host supports {}",
                        supported_contract()
                    ));
                }
            }
        }
        let export_ok = self.exports.iter().any(|e| {
            let (base, version) = split_version(e);
            base == format!("{CONTRACT_PACKAGE}/{EXPORT_INTERFACE}")
                && version.and_then(parse_semver).is_some_and(|v| compatible(v, host))
        });
        if !export_ok && problems.is_empty() {
            problems.push(format!(
                "the component does not export {CONTRACT_PACKAGE}/{EXPORT_INTERFACE} of {}",
                supported_contract()
            ));
        }
        let refused: Vec<String> =
            self.imports.iter().filter(|i| !import_allowed(i, host)).map(|i| describe_refused(i)).collect();
        if !refused.is_empty() {
            problems.push(format!(
                "the component imports {}, outside the world this host allows ({CONTRACT_PACKAGE}, wasi:clocks, \
                 wasi:io and the wasi:cli basics), so it is refused before it runs",
                refused.join(", ")
            ));
        }
        if let Some(e) = &self.capabilities_error {
            problems.push(format!("its {CAPABILITIES_SECTION} section {e}"));
        }
        problems
    }

    /// Everything `cw-host inspect` prints about the file (without the host's verdict).
    pub fn to_json(&self) -> Value {
        json!({
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "licenses": self.licenses,
            "source": self.source,
            "homepage": self.homepage,
            "authors": self.authors,
            "revision": self.revision,
            "contract": {
                "declared": self.declared_contract,
                "targets": self.contract(),
                "host_supports": supported_contract(),
            },
            "capabilities": self.capabilities,
            "core_memories": self.core_memories.iter().map(|(min, max)| json!({
                "minimum_bytes": min, "maximum_bytes": max,
            })).collect::<Vec<_>>(),
            "imports": self.imports,
            "exports": self.exports,
        })
    }
}

fn import_allowed(import: &str, host_contract: (u64, u64, u64)) -> bool {
    let (base, version) = split_version(import);
    let Some(version) = version.and_then(parse_semver) else { return false };
    if !ALLOWED_IMPORTS.contains(&base) {
        return false;
    }
    if base.starts_with("wasi:") {
        (version.0, version.1) == WASI_LINE
    } else {
        compatible(version, host_contract)
    }
}

/// `wasi:filesystem/types@0.2.12 (files)`: the import and, for the well-known refused
/// packages, what it would reach.
fn describe_refused(import: &str) -> String {
    let what = match import.split('/').next().unwrap_or_default() {
        "wasi:filesystem" => "files",
        "wasi:sockets" => "network sockets",
        "wasi:http" => "direct HTTP, past the host's origin policy",
        "wasi:random" => "randomness",
        _ if ALLOWED_IMPORTS.contains(&split_version(import).0) => "an unsupported version",
        _ => "unknown to this host",
    };
    format!("{import} ({what})")
}

/// The checks every load makes: the file is a component of a contract this host supports and
/// imports only the allowed world. Runs before the component is compiled.
pub fn preflight(wasm: &[u8]) -> Result<ComponentInfo, HostError> {
    preflight_known(wasm, None)
}

/// `preflight`, with the digest of `wasm` when it is known (`read_known`).
pub fn preflight_known(wasm: &[u8], sha256: Option<&str>) -> Result<ComponentInfo, HostError> {
    let info = read_known(wasm, sha256).map_err(|e| HostError::host(format!("cannot load the component: {e}")))?;
    let problems = info.problems();
    if !problems.is_empty() {
        return Err(HostError::host(format!("refusing the component: {}", problems.join("; "))));
    }
    Ok(info)
}

/// A sha256 pin as the user writes it: 64 hex digits, optionally `sha256:`-prefixed.
pub fn parse_sha256_pin(text: &str) -> Result<String, String> {
    let hex = text.trim();
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex).to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(format!("{text:?} is not a sha256 digest (64 hex digits, optionally prefixed with sha256:)"))
    }
}

/// Refuse `wasm` unless its sha256 is `pin` (already parsed by [`parse_sha256_pin`]); `origin`
/// says where the pin came from, for the message.
pub fn check_sha256_pin(wasm: &[u8], pin: &str, origin: &str) -> Result<(), HostError> {
    let actual = sha256_hex(wasm);
    if actual == pin {
        Ok(())
    } else {
        Err(HostError::host(format!(
            "refusing the component: its sha256 is {actual}, but {origin} pins {pin} (the file is not the one pinned)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(imports: &[&str], exports: &[&str], declared: Option<&str>) -> ComponentInfo {
        ComponentInfo {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
            declared_contract: declared.map(str::to_string),
            ..Default::default()
        }
    }

    const EXPORT: &str = "crosswatch:sync/sync-adapter@0.1.0";

    #[test]
    fn the_allowed_world_passes_in_any_wasi_0_2_and_contract_0_1_patch() {
        let i = info(
            &["wasi:io/poll@0.2.0", "wasi:cli/stdout@0.2.99", "crosswatch:sync/http@0.1.7"],
            &["crosswatch:sync/sync-adapter@0.1.3"],
            None,
        );
        assert_eq!(i.problems(), Vec::<String>::new());
        assert_eq!(i.contract().as_deref(), Some("crosswatch:sync@0.1.3"));
    }

    #[test]
    fn every_import_outside_the_world_is_named() {
        let i = info(
            &[
                "wasi:filesystem/preopens@0.2.12",
                "wasi:sockets/tcp@0.2.12",
                "wasi:http/outgoing-handler@0.2.12",
                "wasi:io/poll@0.3.0",
                "acme:spy/keylogger@1.0.0",
                "crosswatch:sync/state@0.2.0",
                "bare-function",
            ],
            &[EXPORT],
            None,
        );
        let problems = i.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        for named in [
            "wasi:filesystem/preopens@0.2.12 (files)",
            "wasi:sockets/tcp@0.2.12 (network sockets)",
            "wasi:http/outgoing-handler@0.2.12 (direct HTTP",
            "wasi:io/poll@0.3.0 (an unsupported version)",
            "acme:spy/keylogger@1.0.0 (unknown to this host)",
            "crosswatch:sync/state@0.2.0 (an unsupported version)",
            "bare-function (unknown to this host)",
        ] {
            assert!(problems[0].contains(named), "{named} missing from {}", problems[0]);
        }
    }

    #[test]
    fn another_contract_is_refused_naming_both_versions() {
        for (declared, export) in
            [(Some("crosswatch:sync@0.2.0"), EXPORT), (None, "crosswatch:sync/sync-adapter@1.0.0")]
        {
            let problems = info(&[], &[export], declared).problems();
            let shown = declared.unwrap_or("crosswatch:sync@1.0.0");
            assert_eq!(
                problems[0],
                format!("the component targets contract {shown}, but this host supports crosswatch:sync@0.1.x")
            );
        }
        let none = info(&[], &["other:thing/run@1.0.0"], None).problems();
        assert!(none[0].contains("exports no crosswatch:sync/sync-adapter"), "{none:?}");
    }

    #[test]
    fn sha256_pins_are_hex_with_an_optional_prefix() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_sha256_pin(&format!("sha256:{}", hex.to_uppercase())).unwrap(), hex);
        assert!(parse_sha256_pin("abc").unwrap_err().contains("not a sha256 digest"));
        let wasm = b"\0asm";
        assert!(check_sha256_pin(wasm, &sha256_hex(wasm), "--component-sha256").is_ok());
        let err = check_sha256_pin(wasm, &hex, "--component-sha256").unwrap_err().message;
        assert!(err.contains(&format!("but --component-sha256 pins {hex}")), "{err}");
    }

    #[test]
    fn a_core_module_is_not_a_component() {
        assert!(read(b"\0asm\x01\0\0\0").unwrap_err().contains("core WebAssembly module"));
        assert!(read(b"garbage").unwrap_err().contains("not a valid WebAssembly component"));
    }

    use wasm_encoder::{Component, ComponentNameSection, CustomSection, Module, NameSection, RawSection};

    /// A core module of `sections` (id, contents).
    fn module(sections: &[(u8, &[u8])]) -> Module {
        let mut m = Module::new();
        for &(id, data) in sections {
            m.section(&RawSection { id, data });
        }
        m
    }

    /// A component of one core module (component section 1) and then `more` at its own level.
    fn component(module: &[u8], more: impl FnOnce(&mut Component)) -> Vec<u8> {
        let mut c = Component::new();
        c.section(&RawSection { id: 1, data: module });
        more(&mut c);
        c.finish()
    }

    /// One function type [] -> [] (section 1) and one function of it (section 3).
    const ONE_FUNCTION: [(u8, &[u8]); 2] = [(1, &[1, 0x60, 0, 0]), (3, &[1, 0])];

    #[test]
    fn code_is_skipped_unread_but_a_module_that_ends_inside_it_is_refused() {
        // A core module whose code section (10) holds one function body of garbage: skipped,
        // so the memory section before it and the custom section after the module are read.
        let m = module(&[ONE_FUNCTION[0], ONE_FUNCTION[1], (5, &[1, 1, 1, 2]), (10, &[1, 2, 0xff, 0xff])]);
        let ok = component(m.as_slice(), |c| {
            c.section(&CustomSection { name: API_VERSION_SECTION.into(), data: b"crosswatch:sync@0.1.0".into() });
        });
        let info = read(&ok).expect("a component with a skipped code section");
        assert_eq!(info.core_memories, vec![(65536, Some(131072))]);
        assert_eq!(info.declared_contract.as_deref(), Some("crosswatch:sync@0.1.0"));

        // The code section says 100 bytes; the module (and the file) ends after 2.
        let mut short = module(&ONE_FUNCTION).finish();
        short.extend_from_slice(&[10, 100, 1, 2]);
        let err = read(&component(&short, |_| {})).unwrap_err();
        assert!(err.contains("not a valid WebAssembly component"), "{err}");
    }

    #[test]
    fn metadata_is_read_from_the_components_own_sections() {
        // A `name` custom section of a nested module must not name the component; the
        // component's `component-name` section does (wasm_metadata's reading).
        let mut names = NameSection::new();
        names.module("inner");
        let mut m = Module::new();
        m.section(&names);
        let wasm = component(m.as_slice(), |c| {
            let mut names = ComponentNameSection::new();
            names.component("outer");
            c.section(&names);
        });
        assert_eq!(read(&wasm).expect("reads").name.as_deref(), Some("outer"));
    }
}
