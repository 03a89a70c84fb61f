//! Components from an OCI registry (issue 14 item 5): `cw-host publish` pushes the component to a
//! real registry on 127.0.0.1 (the CNCF distribution registry, Debian's `docker-registry`
//! package, which .ci/run installs), and `--component oci://...` runs it by tag and by digest,
//! the digest-pinned one again from the cache once the registry is gone.
//!
//! Without the registry binary the test says so and passes, unless CW_REQUIRE_OCI_REGISTRY=1
//! (CI) makes that a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{run_cli, Harness};
use serde_json::Value;
use trakt_adapter_artifacts::TRAKT_ADAPTER_WASM;
use trakt_emulator::Library;

struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry() -> Option<Registry> {
    let bin = std::env::var("CW_OCI_REGISTRY_BIN").unwrap_or_else(|_| "docker-registry".into());
    if Command::new(&bin).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        let msg = format!("{bin} not found: install Debian's docker-registry package (apt-get install docker-registry) or set CW_OCI_REGISTRY_BIN");
        if std::env::var("CW_REQUIRE_OCI_REGISTRY").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child =
        Command::new(&bin).arg("serve").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let registry = Registry { child, addr, _dir: dir };
    let started = Instant::now();
    while ureq::get(format!("http://{}/v2/", registry.addr)).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the registry did not start on {}", registry.addr);
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(registry)
}

#[test]
fn publish_to_a_local_registry_and_run_by_tag_and_by_digest() {
    let Some(registry) = start_registry() else { return };
    let h = Harness::new(Library::sample(3, 0));
    // The tests' shared component cache (h.cw_host uses it too); pulled blobs land in its oci/.
    let cache_dir = e2e_tests::cache_dir().display().to_string();
    let cli = |args: &[&str]| {
        let mut argv: Vec<String> = vec!["cw-host".into(), "--cache-dir".into(), cache_dir.clone()];
        argv.extend(args.iter().map(|s| s.to_string()));
        run_cli(argv, "")
    };
    let tag = format!("oci://{}/crosswatch/trakt-adapter:0.1.0", registry.addr);
    let run = cli(&["publish", &tag]);
    assert_eq!(run.code, 0, "{run:#?}");
    let pushed = run.json();
    let layer = format!("sha256:{}", e2e_tests_sha256(TRAKT_ADAPTER_WASM));
    assert_eq!(pushed["layer_digest"], layer);
    let by_digest = pushed["by_digest"].as_str().unwrap().to_string();
    assert!(by_digest.contains("@sha256:"), "{pushed:#}");

    // The registry holds the CNCF layout: the wasm config and one application/wasm layer.
    let text = ureq::get(format!("http://{}/v2/crosswatch/trakt-adapter/manifests/0.1.0", registry.addr))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], layer);

    for reference in [&tag, &by_digest] {
        let run = h.cw_host(&["--component", reference, "index", "watchlist"], "");
        assert_eq!(run.code, 0, "{reference}: {run:#?}");
        assert_eq!(run.json().as_object().unwrap().len(), 3);
        let inspected = cli(&["inspect", reference]);
        assert_eq!(inspected.json()["file"], reference.as_str());
        assert_eq!(inspected.json()["name"], "trakt-adapter");
    }
    // Pins apply to pulled components like to files.
    let pin = e2e_tests_sha256(TRAKT_ADAPTER_WASM);
    let run = h.cw_host(&["--component", &tag, "--component-sha256", &pin, "index", "watchlist"], "");
    assert_eq!(run.code, 0, "{run:#?}");

    // A digest nobody pushed is an error naming it; the registry gone, the pinned digest still
    // runs from the cache and the tag cannot be resolved.
    let missing = format!("oci://{}/crosswatch/trakt-adapter@sha256:{}", registry.addr, "0".repeat(64));
    let run = h.cw_host(&["--component", &missing, "index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("cannot pull"), "{}", run.stderr);
    drop(registry);
    let run = h.cw_host(&["--component", &by_digest, "index", "watchlist"], "");
    assert_eq!(run.code, 0, "from the cache: {run:#?}");
    let run = h.cw_host(&["--component", &tag, "index", "watchlist"], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains(&format!("cannot pull {}", tag)), "{}", run.stderr);
}

fn e2e_tests_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
