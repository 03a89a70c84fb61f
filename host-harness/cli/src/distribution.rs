//! Third-party components: which file a command runs, the checks on it before it is loaded
//! (the sha256 pin and the trusted signers; the world and contract checks run in
//! `Runtime::new`, see host-harness/host/src/preflight.rs), `cw-host inspect`, and the
//! publisher's `keygen`, `sign` and `verify` (host-harness/host/src/signature.rs).

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::args::{GlobalArgs, EXIT_ADAPTER_ERROR, EXIT_OK, EXIT_USAGE};
use crate::commands::{print_json, EMBEDDED_COMPONENT};
use crate::io::Io;
use trakt_host::config::HostConfig;
use trakt_host::engine::default_cache_dir;
use trakt_host::preflight;
use trakt_host::runtime::Runtime;
use trakt_host::signature;

/// The bytes of `--component FILE` (or `file`), else of the embedded component, and a label
/// for messages.
pub fn component_bytes(global: &GlobalArgs, file: Option<&Path>) -> Result<(Cow<'static, [u8]>, String), String> {
    let chosen = file.or(global.component.as_deref());
    if let Some(reference) = chosen.and_then(crate::oci::reference_of) {
        let cache = if global.no_cache { None } else { global.cache_dir.clone().or_else(default_cache_dir) };
        let bytes = crate::oci::pull(reference, cache.as_deref())?;
        return Ok((Cow::Owned(bytes), format!("{}{reference}", crate::oci::SCHEME)));
    }
    match chosen {
        Some(path) => std::fs::read(path)
            .map(|b| (Cow::Owned(b), path.display().to_string()))
            .map_err(|e| format!("cannot read component {}: {e}", path.display())),
        None => Ok((Cow::Borrowed(EMBEDDED_COMPONENT), "the built-in component".into())),
    }
}

/// The sha256 pin: `--component-sha256`, else `trakt.component_sha256` of the config; with
/// where it came from.
fn sha256_pin(global: &GlobalArgs, config: Option<&HostConfig>) -> Result<Option<(String, String)>, String> {
    if let Some(text) = &global.component_sha256 {
        let pin = preflight::parse_sha256_pin(text).map_err(|e| format!("--component-sha256: {e}"))?;
        return Ok(Some((pin, "--component-sha256".into())));
    }
    let Some(config) = config else { return Ok(None) };
    let Some(text) = config.setting("component_sha256").map_err(|e| e.0)? else { return Ok(None) };
    let key = format!("{}.component_sha256", config.block_name());
    let pin =
        preflight::parse_sha256_pin(&text).map_err(|e| format!("config {}: {key}: {e}", config.path.display()))?;
    Ok(Some((pin, key)))
}

/// The trusted signers: `--trusted-key` files, else `trakt.component_trusted_keys` (paths
/// relative to the config file's directory); with where they came from. Empty: no check.
fn trusted_keys(
    global: &GlobalArgs,
    config: Option<&HostConfig>,
) -> Result<(Vec<signature::PublicKey>, String), String> {
    let (paths, origin) = if !global.trusted_keys.is_empty() {
        (global.trusted_keys.clone(), "--trusted-key".to_string())
    } else if let Some(config) = config {
        let base = config.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let listed = config.string_list("component_trusted_keys").map_err(|e| e.0)?;
        (listed.iter().map(|p| base.join(p)).collect(), format!("{}.component_trusted_keys", config.block_name()))
    } else {
        (Vec::new(), String::new())
    };
    let keys = paths.iter().map(|p| signature::read_public_key(p)).collect::<Result<Vec<_>, _>>()?;
    Ok((keys, origin))
}

/// Refuse `wasm` when a pin says it is another file, or when trusted keys are set and none
/// signed it. Usage errors (exit 2) name the flag or key.
pub fn check_pins(global: &GlobalArgs, config: Option<&HostConfig>, wasm: &[u8]) -> Result<(), String> {
    if let Some((pin, origin)) = sha256_pin(global, config)? {
        preflight::check_sha256_pin(wasm, &pin, &origin).map_err(|e| e.message)?;
    }
    let (keys, origin) = trusted_keys(global, config)?;
    if !keys.is_empty() {
        signature::verify(wasm, &keys)
            .map_err(|why| format!("refusing the component: {why}; the trusted keys are {origin}"))?;
    }
    Ok(())
}

/// `cw-host inspect [FILE]`: what the file says it is and needs, and whether this host would
/// run it (the preflight, the sha256 pin when one is given, and the linker's verdict on its
/// types; compiling but never instantiating it). Exit 0 when it can run, 1 when not.
pub fn inspect(global: &GlobalArgs, file: Option<PathBuf>, mut io: Io) -> i32 {
    let (wasm, label) = match component_bytes(global, file.as_deref()) {
        Ok(v) => v,
        Err(m) => {
            let _ = writeln!(io.stderr, "cw-host: {m}");
            return EXIT_USAGE;
        }
    };
    let pin = match sha256_pin(global, None) {
        Ok(pin) => pin,
        Err(m) => {
            let _ = writeln!(io.stderr, "cw-host: {m}");
            return EXIT_USAGE;
        }
    };
    let mut out = match preflight::read(&wasm) {
        Ok(info) => {
            let mut v = info.to_json();
            let mut problems = info.problems();
            if let Some((pin, origin)) = &pin {
                if let Err(e) = preflight::check_sha256_pin(&wasm, pin, origin) {
                    problems.push(e.message);
                }
            }
            let mut signed = json!({"signed": signature::is_signed(&wasm)});
            match trusted_keys(global, None) {
                Ok((keys, _)) if !keys.is_empty() => match signature::verify(&wasm, &keys) {
                    Ok(by) => {
                        signed["trusted_signers"] =
                            json!(by.iter().map(|&i| global.trusted_keys[i].display().to_string()).collect::<Vec<_>>())
                    }
                    Err(why) => {
                        problems.push(format!("refusing the component: {why}; the trusted keys are --trusted-key"))
                    }
                },
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
            v["signature"] = signed;
            if problems.is_empty() {
                // The names are right; the linker checks the types (compiles, instantiates nothing).
                let cache = if global.no_cache { None } else { global.cache_dir.clone().or_else(default_cache_dir) };
                if let Err(e) = Runtime::new(&wasm, cache.as_deref()) {
                    problems.push(e.message);
                }
            }
            v["runnable"] = Value::Bool(problems.is_empty());
            v["problems"] = json!(problems);
            v
        }
        Err(e) => json!({
            "sha256": preflight::sha256_hex(&wasm), "size_bytes": wasm.len(),
            "runnable": false, "problems": [format!("cannot load the component: {e}")],
        }),
    };
    let mut ordered = serde_json::Map::new();
    ordered.insert("file".into(), Value::String(label));
    if let Value::Object(fields) = out.take() {
        ordered.extend(fields);
    }
    let runnable = ordered["runnable"] == Value::Bool(true);
    print_json(&mut io.stdout, &Value::Object(ordered));
    if runnable {
        EXIT_OK
    } else {
        EXIT_ADAPTER_ERROR
    }
}

fn usage(io: &mut Io, message: &str) -> i32 {
    let _ = writeln!(io.stderr, "cw-host: {message}");
    EXIT_USAGE
}

/// `cw-host keygen --secret-key FILE --public-key FILE`.
pub fn keygen(secret: &Path, public: &Path, mut io: Io) -> i32 {
    let (secret_pem, public_pem) = signature::generate_key_pair();
    for path in [secret, public] {
        if path.exists() {
            return usage(&mut io, &format!("{} exists; keygen never overwrites a key", path.display()));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(secret).and_then(|mut f| f.write_all(secret_pem.as_bytes()));
    if let Err(e) = written.and_then(|_| std::fs::write(public, public_pem.as_bytes())) {
        return usage(&mut io, &format!("cannot write the key pair: {e}"));
    }
    print_json(
        &mut io.stdout,
        &json!({"secret_key": secret.display().to_string(), "public_key": public.display().to_string()}),
    );
    EXIT_OK
}

/// `cw-host sign FILE --key SECRET [--output OUT]`.
pub fn sign(file: &Path, key: &Path, output: Option<&Path>, mut io: Io) -> i32 {
    match sign_file(file, key, output.unwrap_or(file)) {
        Ok(v) => {
            print_json(&mut io.stdout, &v);
            EXIT_OK
        }
        Err(m) => usage(&mut io, &m),
    }
}

fn sign_file(file: &Path, key: &Path, out: &Path) -> Result<Value, String> {
    let wasm = std::fs::read(file).map_err(|e| format!("cannot read component {}: {e}", file.display()))?;
    preflight::read(&wasm).map_err(|e| format!("{}: {e}", file.display()))?;
    let signed = signature::sign(&wasm, &signature::read_secret_key(key)?)?;
    trakt_host::fsutil::write_atomic(out, &signed).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(json!({"file": out.display().to_string(), "sha256": preflight::sha256_hex(&signed)}))
}

/// `cw-host verify FILE --trusted-key KEY...`: exit 0 when a trusted key signed FILE.
pub fn verify(global: &GlobalArgs, file: &Path, mut io: Io) -> i32 {
    if global.trusted_keys.is_empty() {
        return usage(&mut io, "verify needs at least one --trusted-key FILE");
    }
    let wasm = match std::fs::read(file) {
        Ok(w) => w,
        Err(e) => return usage(&mut io, &format!("cannot read component {}: {e}", file.display())),
    };
    let keys = match trusted_keys(global, None) {
        Ok((keys, _)) => keys,
        Err(m) => return usage(&mut io, &m),
    };
    let (verified, v) = match signature::verify(&wasm, &keys) {
        Ok(by) => (
            true,
            json!({"verified": true, "signed_by": by.iter().map(|&i| global.trusted_keys[i].display().to_string()).collect::<Vec<_>>()}),
        ),
        Err(why) => (false, json!({"verified": false, "reason": why})),
    };
    let mut out = json!({"file": file.display().to_string(), "sha256": preflight::sha256_hex(&wasm)});
    if let (Value::Object(o), Value::Object(extra)) = (&mut out, v) {
        o.extend(extra);
    }
    print_json(&mut io.stdout, &out);
    if verified {
        EXIT_OK
    } else {
        EXIT_ADAPTER_ERROR
    }
}

/// `cw-host publish oci://HOST/NAME:TAG [FILE]`: push FILE (default --component, else the
/// built-in component) as a Wasm OCI artifact; prints the digests.
pub fn publish(global: &GlobalArgs, target: &str, file: Option<&Path>, mut io: Io) -> i32 {
    let Some(reference) = target.strip_prefix(crate::oci::SCHEME) else {
        return usage(&mut io, &format!("publish needs a target of the form oci://HOST/NAME:TAG, not {target:?}"));
    };
    let result = component_bytes(global, file).and_then(|(wasm, _)| crate::oci::publish(reference, &wasm));
    match result {
        Ok(v) => {
            print_json(&mut io.stdout, &v);
            EXIT_OK
        }
        Err(m) => usage(&mut io, &m),
    }
}
