//! Components in OCI registries, in the CNCF Wasm OCI artifact layout
//! (https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/): an image manifest
//! whose config has media type `application/vnd.wasm.config.v0+json` and whose one layer is
//! the component (`application/wasm`). `cw-host publish oci://HOST/NAME:TAG` pushes one;
//! `--component oci://HOST/NAME:TAG` (or `@sha256:<manifest digest>`) pulls it, checks the
//! layer against the manifest's digest (and the manifest against the one asked for), and keeps
//! it in `<cache dir>/oci/` so a pinned digest runs again without the registry. The client is
//! the `oci-client` crate (ORAS project); loopback registries are spoken to over plain HTTP,
//! every other over HTTPS.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::{json, Value};
use trakt_host::preflight;

pub const SCHEME: &str = "oci://";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";

/// `HOST/NAME:TAG` of `oci://HOST/NAME:TAG`, when `text` is an OCI reference.
pub fn reference_of(text: &Path) -> Option<&str> {
    text.to_str()?.strip_prefix(SCHEME)
}

fn parse(reference: &str) -> Result<Reference, String> {
    Reference::from_str(reference).map_err(|e| format!("{SCHEME}{reference} is not an OCI reference: {e}"))
}

fn client(reference: &Reference) -> Client {
    // reqwest takes the process's rustls provider; a second install is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_string();
    let host = registry.rsplit_once(':').map(|(h, _)| h).unwrap_or(&registry);
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    let protocol = if loopback { ClientProtocol::HttpsExcept(vec![registry.clone()]) } else { ClientProtocol::Https };
    Client::new(ClientConfig { protocol, ..ClientConfig::default() })
}

fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the OCI client: {e}"))?;
    Ok(runtime.block_on(future))
}

/// Push `wasm` to `reference`; the JSON `publish` prints.
pub fn publish(reference: &str, wasm: &[u8]) -> Result<Value, String> {
    let info = preflight::read(wasm).map_err(|e| format!("refusing to publish: {e}"))?;
    let image = parse(reference)?;
    let layer_digest = format!("sha256:{}", info.sha256);
    // The config the CNCF layout describes: what the component imports and exports.
    let config = json!({
        "created": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": {"imports": info.imports, "exports": info.exports},
    });
    let layer = ImageLayer::new(wasm.to_vec(), LAYER_MEDIA_TYPE.to_string(), None);
    let config = Config::new(serde_json::to_vec(&config).expect("JSON"), CONFIG_MEDIA_TYPE.to_string(), None);
    let client = client(&image);
    let pushed = block_on(client.push(&image, &[layer], config, &RegistryAuth::Anonymous, None))?
        .map_err(|e| format!("cannot push to {SCHEME}{reference}: {e}"))?;
    let manifest_digest = block_on(client.fetch_manifest_digest(&image, &RegistryAuth::Anonymous))?
        .map_err(|e| format!("pushed, but cannot read back the manifest digest of {SCHEME}{reference}: {e}"))?;
    let by_digest = format!("{}/{}@{manifest_digest}", image.resolve_registry(), image.repository());
    Ok(json!({
        "reference": format!("{SCHEME}{reference}"),
        "manifest_digest": manifest_digest,
        "layer_digest": layer_digest,
        "by_digest": format!("{SCHEME}{by_digest}"),
        "manifest_url": pushed.manifest_url,
    }))
}

fn hex_of(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The component at `reference`: from `cache` when the reference pins a manifest digest
/// already pulled, else from the registry (then cached).
pub fn pull(reference: &str, cache: Option<&Path>) -> Result<Vec<u8>, String> {
    let image = parse(reference)?;
    let wanted = image.digest().map(str::to_string);
    let cache = cache.map(|c| c.join("oci"));
    let manifest_note =
        |digest: &str| -> Option<PathBuf> { Some(cache.as_ref()?.join(format!("manifest-{}", hex_of(digest)?))) };
    let blob_path = |hex: &str| cache.as_ref().map(|c| c.join(format!("blob-{hex}.wasm")));
    if let Some(note) = wanted.as_deref().and_then(manifest_note) {
        if let Some(bytes) = std::fs::read_to_string(&note).ok().and_then(|hex| {
            std::fs::read(blob_path(hex.trim())?).ok().filter(|b| preflight::sha256_hex(b) == hex.trim())
        }) {
            return Ok(bytes);
        }
    }
    let data = block_on(client(&image).pull(&image, &RegistryAuth::Anonymous, vec![LAYER_MEDIA_TYPE]))?
        .map_err(|e| format!("cannot pull {SCHEME}{reference}: {e}"))?;
    let manifest =
        data.manifest.as_ref().ok_or_else(|| format!("{SCHEME}{reference}: the registry sent no manifest"))?;
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "{SCHEME}{reference} is not a Wasm component artifact (config media type {}, expected {CONFIG_MEDIA_TYPE})",
            manifest.config.media_type
        ));
    }
    if let (Some(wanted), Some(got)) = (&wanted, &data.digest) {
        if wanted != got {
            return Err(format!(
                "{SCHEME}{reference}: the registry answered manifest {got}, not the {wanted} asked for"
            ));
        }
    }
    let [descriptor] = manifest.layers.as_slice() else {
        return Err(format!("{SCHEME}{reference} has {} layers; a component artifact has one", manifest.layers.len()));
    };
    let layer = data.layers.first().ok_or_else(|| format!("{SCHEME}{reference}: the layer did not arrive"))?;
    let actual = preflight::sha256_hex(&layer.data);
    if hex_of(&descriptor.digest) != Some(actual.as_str()) {
        return Err(format!(
            "refusing {SCHEME}{reference}: its layer's sha256 is {actual}, but the manifest says {}",
            descriptor.digest
        ));
    }
    if let (Some(dir), Some(manifest_digest)) = (&cache, &data.digest) {
        // Cache problems never fail the pull.
        let _ = std::fs::create_dir_all(dir);
        if let (Some(blob), Some(note)) = (blob_path(&actual), manifest_note(manifest_digest)) {
            let _ = trakt_host::fsutil::write_atomic(&blob, &layer.data);
            let _ = trakt_host::fsutil::write_atomic(&note, actual.as_bytes());
        }
    }
    Ok(layer.data.to_vec())
}
