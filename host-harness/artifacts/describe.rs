//! The component's self-description, written by the build script into the built component:
//!
//! - the metadata sections `wasm-tools metadata add` writes (the `wasm-metadata` crate; see
//!   https://github.com/bytecodealliance/wasm-tools/tree/main/crates/wasm-metadata): name,
//!   version, description, licence (SPDX), source repository, revision (the git commit);
//! - `crosswatch:api-version`: the contract the component targets, `crosswatch:sync@X.Y.Z`
//!   from `wit/world.wit` (as Zed's extensions carry `zed:api-version`, so a host learns it
//!   before instantiating);
//! - `crosswatch:capabilities`: JSON of what the component asks its host for (origins by role,
//!   state quota, features), from `[package.metadata.crosswatch.capabilities]` of
//!   `plugin/Cargo.toml`.
//!
//! Hosts read them back with host-harness/host/src/preflight.rs (and the Python host's
//! preflight.py); `cw-host inspect` prints them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wasm_encoder::ComponentSection;
use wasm_metadata::{AddMetadata, AddMetadataField, Description, Licenses, Revision, Source, Version};

/// Names of the custom sections (host-harness/host/src/preflight.rs reads the same names).
pub const API_VERSION_SECTION: &str = "crosswatch:api-version";
pub const CAPABILITIES_SECTION: &str = "crosswatch:capabilities";

/// What a built component is described with.
pub struct SelfDescription {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub license: Option<String>,
    pub source: Option<String>,
    pub revision: Option<String>,
    pub api_version: String,
    pub capabilities: Value,
}

/// The description of `package` (a workspace member), from `cargo metadata`, `wit/world.wit`
/// and git. `cargo` is the cargo the build runs under; `scrub` removes the outer build's env.
pub fn describe(cargo: &str, workspace: &Path, package: &str, scrub: &dyn Fn(&mut Command)) -> SelfDescription {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["metadata", "--no-deps", "--format-version", "1", "--offline"]);
    scrub(&mut cmd);
    let out = cmd.output().expect("failed to start `cargo metadata`");
    assert!(out.status.success(), "`cargo metadata` failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("`cargo metadata` prints JSON");
    let pkg = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == package))
        .unwrap_or_else(|| panic!("package {package} is not in the workspace"));
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let capabilities = pkg["metadata"]["crosswatch"]["capabilities"].clone();
    assert!(capabilities.is_object(), "{package}'s Cargo.toml has no [package.metadata.crosswatch.capabilities]");
    let source =
        std::env::var("CW_COMPONENT_SOURCE").ok().filter(|s| !s.is_empty()).or_else(|| text(&pkg["repository"]));
    SelfDescription {
        name: package.to_string(),
        version: text(&pkg["version"]).expect("every package has a version"),
        description: text(&pkg["description"]),
        license: text(&pkg["license"]),
        source,
        revision: revision(workspace),
        api_version: contract_version(&workspace.join("wit/world.wit")),
        capabilities,
    }
}

/// `crosswatch:sync@0.1.0`: the `package` line of the world file.
fn contract_version(world: &Path) -> String {
    let text = std::fs::read_to_string(world).unwrap_or_else(|e| panic!("cannot read {}: {e}", world.display()));
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("package "))
        .map(|rest| rest.trim_end_matches(';').trim().to_string())
        .next()
        .unwrap_or_else(|| panic!("{} has no `package` line", world.display()))
}

/// The commit the component is built from: `CW_COMPONENT_REVISION`, else `git rev-parse HEAD`
/// (None outside a git checkout). The build reruns when HEAD moves, so it is never stale.
fn revision(workspace: &Path) -> Option<String> {
    println!("cargo:rerun-if-env-changed=CW_COMPONENT_REVISION");
    if let Ok(r) = std::env::var("CW_COMPONENT_REVISION") {
        return Some(r).filter(|r| !r.is_empty());
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").current_dir(workspace).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    // HEAD names a branch; the branch's ref moves with each commit (or lands in packed-refs).
    for path in [Some("HEAD".to_string()), git(&["symbolic-ref", "-q", "HEAD"]), Some("packed-refs".to_string())]
        .into_iter()
        .flatten()
    {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    Some(commit)
}

/// `wasm` with the description written into it.
pub fn embed(wasm: &[u8], d: &SelfDescription) -> Vec<u8> {
    let mut add = AddMetadata::default();
    add.name = AddMetadataField::Set(d.name.clone());
    add.version = AddMetadataField::Set(Version::new(d.version.clone()));
    if let Some(text) = &d.description {
        add.description = AddMetadataField::Set(Description::new(text.clone()));
    }
    if let Some(license) = &d.license {
        add.licenses = AddMetadataField::Set(
            Licenses::new(license).unwrap_or_else(|e| panic!("licence {license:?} is not an SPDX expression: {e}")),
        );
    }
    if let Some(source) = &d.source {
        add.source = AddMetadataField::Set(
            Source::new(source).unwrap_or_else(|e| panic!("source {source:?} is not a URL: {e}")),
        );
    }
    if let Some(revision) = &d.revision {
        add.revision = AddMetadataField::Set(Revision::new(revision.clone()));
    }
    let mut out = add.to_wasm(wasm).unwrap_or_else(|e| panic!("cannot add the metadata to the component: {e:#}"));
    // Custom sections may sit anywhere in a component's top level; appended last, they leave
    // every other section (and so what the component does) byte for byte as built.
    for (name, data) in [
        (API_VERSION_SECTION, d.api_version.clone().into_bytes()),
        (CAPABILITIES_SECTION, serde_json::to_vec(&d.capabilities).expect("JSON serialises")),
    ] {
        wasm_encoder::CustomSection { name: name.into(), data: data.into() }.append_to_component(&mut out);
    }
    out
}
