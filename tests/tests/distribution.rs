//! Third-party distribution (issue 14): the built component describes itself, `cw-host
//! inspect` prints that without running it, and the host refuses before instantiating a
//! component of another contract, one importing outside the allowed world, or one whose
//! digest is not the pinned one.

use e2e_tests::{cache_dir, run_cli, Harness, Run};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trakt_adapter_artifacts::{
    FOREIGN_IMPORT_COMPONENT_WASM, HOSTILE_COMPONENT_WASM, TRAKT_ADAPTER_SHA256, TRAKT_ADAPTER_WASM,
};
use trakt_emulator::Library;

fn inspect(file: Option<&std::path::Path>, extra: &[&str]) -> Run {
    let mut argv = vec!["cw-host".to_string(), "--cache-dir".into(), cache_dir().display().to_string()];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.push("inspect".into());
    if let Some(f) = file {
        argv.push(f.display().to_string());
    }
    run_cli(argv, "")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn leb128(bytes: &[u8], mut at: usize) -> (usize, usize) {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let b = bytes[at];
        at += 1;
        value |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b < 0x80 {
            return (value, at);
        }
    }
}

/// `wasm` with the top-level custom section `name` replaced by one holding `data` (appended
/// last, as the build writes it). Walks the component's sections by the binary format's
/// framing: id byte, LEB128 size, payload.
fn with_custom_section(wasm: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = wasm[..8].to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let (size, body) = leb128(wasm, at + 1);
        let end = body + size;
        let is_target = wasm[at] == 0 && {
            let (len, start) = leb128(wasm, body);
            &wasm[start..start + len] == name.as_bytes()
        };
        if !is_target {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    out.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        out.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(&payload);
    out
}

#[test]
fn inspect_prints_what_the_built_component_is_and_needs() {
    let run = inspect(None, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let v = run.json();
    assert_eq!(v["file"], "the built-in component");
    assert_eq!(v["sha256"], sha256(TRAKT_ADAPTER_WASM));
    assert_eq!(v["size_bytes"], TRAKT_ADAPTER_WASM.len());
    assert_eq!(v["name"], "trakt-adapter");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["licenses"], "MIT");
    assert_eq!(v["description"], "CrossWatch Trakt sync adapter as a WASI 0.2 component");
    let source = option_env!("CARGO_PKG_REPOSITORY").filter(|s| !s.is_empty());
    assert_eq!(v["source"], json!(source));
    // The commit the build saw (a checkout always has one; CI builds from a clone).
    let revision = v["revision"].as_str().expect("the revision is known in a git checkout");
    assert!(revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()), "{revision}");
    assert_eq!(
        v["contract"],
        json!({"declared": "crosswatch:sync@0.1.0", "targets": "crosswatch:sync@0.1.0", "host_supports": "crosswatch:sync@0.1.x"})
    );
    let caps = &v["capabilities"];
    let roles: Vec<&str> = caps["origins"].as_array().unwrap().iter().map(|o| o["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["trakt api", "trakt oauth"]);
    assert_eq!(caps["state_quota_bytes"], 512u64 << 20);

    // The declared features are the ones the component's manifest says it supports.
    let manifest =
        run_cli(vec!["cw-host".into(), "--cache-dir".into(), cache_dir().display().to_string(), "manifest".into()], "");
    assert_eq!(manifest.code, 0, "{manifest:#?}");
    let supported: Vec<String> = manifest.json()["features"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, f)| f["supported"] == true)
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(caps["features"], json!(supported));

    // The core module's memory declares its maximum (plugin/build.rs).
    let memories = v["core_memories"].as_array().unwrap();
    assert!(memories.iter().any(|m| m["maximum_bytes"] == 1u64 << 30), "{memories:?}");
    assert!(memories.iter().all(|m| !m["maximum_bytes"].is_null()), "{memories:?}");

    let imports: Vec<&str> = v["imports"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    for needed in ["crosswatch:sync/http@0.1.0", "crosswatch:sync/state@0.1.0", "wasi:clocks/monotonic-clock@0.2.12"] {
        assert!(imports.contains(&needed), "{imports:?}");
    }
    assert!(
        imports.iter().all(|i| i.starts_with("crosswatch:sync/")
            || i.starts_with("wasi:clocks/")
            || i.starts_with("wasi:io/")
            || i.starts_with("wasi:cli/")),
        "{imports:?}"
    );
    assert_eq!(v["exports"], json!(["crosswatch:sync/index-stream@0.1.0", "crosswatch:sync/sync-adapter@0.1.0"]));
    assert_eq!(v["runnable"], true);
    assert_eq!(v["problems"], json!([]));
}

#[test]
fn inspect_a_component_without_metadata_falls_back_to_its_export() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hostile.wasm", HOSTILE_COMPONENT_WASM);
    let run = inspect(Some(&file), &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let v = run.json();
    assert_eq!(v["file"], file.display().to_string());
    assert_eq!(v["sha256"], sha256(HOSTILE_COMPONENT_WASM));
    for absent in ["version", "licenses", "source", "revision", "capabilities"] {
        assert!(v[absent].is_null(), "{absent}: {v:#}");
    }
    assert_eq!(v["contract"]["declared"], Value::Null);
    assert_eq!(v["contract"]["targets"], "crosswatch:sync@0.1.0");
    assert_eq!(v["runnable"], true);
}

#[test]
fn a_component_importing_the_filesystem_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "foreign.wasm", FOREIGN_IMPORT_COMPONENT_WASM);
    let run = inspect(Some(&file), &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert!(v["imports"].as_array().unwrap().contains(&json!("wasi:filesystem/types@0.2.12")), "{v:#}");
    assert_eq!(v["runnable"], false);
    let problems = v["problems"].to_string();
    assert!(problems.contains("imports wasi:filesystem/types@0.2.12 (files)"), "{problems}");

    // Running it: refused by the preflight (its message, not the linker's), nothing sent.
    let h = Harness::new(Library::sample(3, 0));
    let run = h.cw_host(&["--component", file.to_str().unwrap(), "index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("refusing the component: the component imports wasi:filesystem/types@0.2.12"),
        "{}",
        run.stderr
    );
    assert!(h.requests().is_empty(), "{:?}", h.requests());
}

#[test]
fn a_component_of_another_contract_major_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let other = with_custom_section(TRAKT_ADAPTER_WASM, "crosswatch:api-version", b"crosswatch:sync@0.2.0");
    let file = write(dir.path(), "other-contract.wasm", &other);
    let run = inspect(Some(&file), &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert_eq!(v["contract"]["declared"], "crosswatch:sync@0.2.0");
    assert_eq!(v["name"], "trakt-adapter", "the rest of the description survives the rewrite");
    let expected = "the component targets contract crosswatch:sync@0.2.0, but this host supports crosswatch:sync@0.1.x";
    assert_eq!(v["problems"], json!([expected]));

    let h = Harness::new(Library::sample(3, 0));
    let run = h.cw_host(&["--component", file.to_str().unwrap(), "index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains(expected), "{}", run.stderr);
    assert!(h.requests().is_empty());
}

#[test]
fn a_pinned_digest_admits_the_file_and_refuses_one_changed_byte() {
    let h = Harness::new(Library::sample(3, 0));
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "trakt_adapter.wasm", TRAKT_ADAPTER_WASM);
    // One byte of the description changed: still a valid component that would run.
    let mut tampered = TRAKT_ADAPTER_WASM.to_vec();
    let at = tampered
        .windows(29)
        .rposition(|w| w == b"CrossWatch Trakt sync adapter")
        .expect("the description is in the file");
    tampered[at] = b'c';
    let tampered_file = write(dir.path(), "tampered.wasm", &tampered);
    assert_eq!(inspect(Some(&tampered_file), &[]).code, 0, "the tampered file is a runnable component");
    let pin = sha256(TRAKT_ADAPTER_WASM);
    h.write_config(json!({"component_sha256": format!("sha256:{}", pin.to_uppercase())}));

    let run = h.cw_host(&["--component", good.to_str().unwrap(), "index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json().as_object().unwrap().len(), 3);

    let sent = h.requests().len();
    let run = h.cw_host(&["--component", tampered_file.to_str().unwrap(), "index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    let expected =
        format!("refusing the component: its sha256 is {}, but trakt.component_sha256 pins {pin}", sha256(&tampered));
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert_eq!(h.requests().len(), sent, "nothing is sent for a refused component");

    // The flag wins over the config, and `inspect` applies it too.
    let run = h.cw_host(
        &[
            "--component",
            tampered_file.to_str().unwrap(),
            "--component-sha256",
            &sha256(&tampered),
            "index",
            "watchlist",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let run = inspect(Some(&good), &["--component-sha256", &sha256(&tampered)]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.json()["problems"][0].as_str().unwrap().contains("but --component-sha256 pins"), "{run:#?}");
    let run = h.cw_host(&["--component-sha256", "abc", "index", "watchlist"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--component-sha256: \"abc\" is not a sha256 digest"), "{}", run.stderr);
}

#[test]
fn the_built_in_component_is_known_by_the_digest_it_was_built_with() {
    // cw-host takes this digest instead of hashing the component at every start: it names
    // the compiled-code cache entry and is what a pin is compared with.
    assert_eq!(TRAKT_ADAPTER_SHA256, sha256(TRAKT_ADAPTER_WASM));
    let h = Harness::new(Library::sample(3, 0));
    h.write_config(json!({"component_sha256": TRAKT_ADAPTER_SHA256}));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let other = sha256(b"another file");
    h.write_config(json!({"component_sha256": other}));
    let run = h.cw_host(&["index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains(&format!("its sha256 is {TRAKT_ADAPTER_SHA256}, but")), "{}", run.stderr);
    let entries: Vec<String> = std::fs::read_dir(cache_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("component-{}", &TRAKT_ADAPTER_SHA256[..24])))
        .collect();
    assert!(!entries.is_empty(), "the compiled component is cached under its digest");
}

fn cli(args: &[&str]) -> Run {
    let mut argv = vec!["cw-host".to_string(), "--cache-dir".into(), cache_dir().display().to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    run_cli(argv, "")
}

#[test]
fn a_signed_component_runs_with_its_key_and_is_refused_changed_unsigned_or_by_another_key() {
    let h = Harness::new(Library::sample(3, 0));
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    for who in ["publisher", "stranger"] {
        let run =
            cli(&["keygen", "--secret-key", &p(&format!("{who}.key")), "--public-key", &p(&format!("{who}.pub"))]);
        assert_eq!(run.code, 0, "{run:#?}");
    }
    assert!(std::fs::read_to_string(p("publisher.pub")).unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    let again = cli(&["keygen", "--secret-key", &p("publisher.key"), "--public-key", &p("other.pub")]);
    assert_eq!(again.code, 2, "keygen never overwrites a key: {again:#?}");

    let unsigned = write(dir.path(), "unsigned.wasm", TRAKT_ADAPTER_WASM);
    let run = cli(&["sign", unsigned.to_str().unwrap(), "--key", &p("publisher.key"), "--output", &p("signed.wasm")]);
    assert_eq!(run.code, 0, "{run:#?}");
    let signed = std::fs::read(p("signed.wasm")).unwrap();
    assert_eq!(run.json()["sha256"], sha256(&signed));
    assert_eq!(run.json()["sha256"].as_str().unwrap().len(), 64);

    let run =
        cli(&["--trusted-key", &p("stranger.pub"), "--trusted-key", &p("publisher.pub"), "verify", &p("signed.wasm")]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["signed_by"], json!([p("publisher.pub")]));
    // Signing keeps the description: inspect still reads it, and reports the signature.
    let run = inspect(Some(std::path::Path::new(&p("signed.wasm"))), &["--trusted-key", &p("publisher.pub")]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["name"], "trakt-adapter");
    assert_eq!(run.json()["signature"], json!({"signed": true, "trusted_signers": [p("publisher.pub")]}));

    // Runs when the config trusts the publisher (a path relative to the config file).
    std::fs::copy(p("publisher.pub"), h.config_path().parent().unwrap().join("publisher.pub")).unwrap();
    h.write_config(json!({"component_trusted_keys": ["publisher.pub"]}));
    let run = h.cw_host(&["--component", &p("signed.wasm"), "index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");
    let sent = h.requests().len();

    let mut tampered = signed.clone();
    let at = tampered.windows(29).rposition(|w| w == b"CrossWatch Trakt sync adapter").unwrap();
    tampered[at] = b'c';
    let tampered = write(dir.path(), "tampered.wasm", &tampered);
    let cases = [
        (tampered.display().to_string(), "it is signed by none of the trusted keys (or was changed after signing)"),
        (unsigned.display().to_string(), "it carries no signature"),
    ];
    for (file, why) in &cases {
        let run = h.cw_host(&["--component", file, "index", "watchlist"], "");
        assert_eq!(run.code, 2, "{run:#?}");
        let expected = format!("refusing the component: {why}; the trusted keys are trakt.component_trusted_keys");
        assert!(run.stderr.contains(&expected), "{}", run.stderr);
    }
    // The embedded component is unsigned: trusting a key refuses it too.
    let run = h.cw_host(&["--trusted-key", &p("stranger.pub"), "index", "watchlist"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("it carries no signature; the trusted keys are --trusted-key"), "{}", run.stderr);
    let run =
        h.cw_host(&["--trusted-key", &p("stranger.pub"), "--component", &p("signed.wasm"), "index", "watchlist"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("signed by none of the trusted keys"), "{}", run.stderr);
    assert_eq!(h.requests().len(), sent, "nothing is sent for a refused component");

    let run = cli(&["--trusted-key", &p("publisher.pub"), "verify", tampered.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.json()["verified"], false);
    let run = cli(&["--trusted-key", &p("missing.pub"), "verify", &p("signed.wasm")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read the public key"), "{}", run.stderr);
}
