//! Component signatures in the WebAssembly tool-conventions format
//! (https://github.com/WebAssembly/tool-conventions/blob/main/Signatures.md), with the
//! `wasmsign2` crate, the format's reference implementation, which handles components: an
//! Ed25519 signature over the SHA-256 of every section after it, embedded as the first custom
//! section (`signature`). Publishers sign (`cw-host sign`); a host given trusted keys
//! (`--trusted-key FILE`, `trakt.component_trusted_keys`) refuses a component that none of
//! them signed. Keys are Ed25519, PEM (what `cw-host keygen` writes), DER or wasmsign2's raw
//! form. The Python host verifies the same format (crosswatch_trakt_wasm/signature.py).

use std::path::Path;

use wasmsign2::{KeyPair, Module, PublicKeySet, WSError};
pub use wasmsign2::{PublicKey, SecretKey};

/// A fresh key pair as (secret PEM, public PEM).
pub fn generate_key_pair() -> (String, String) {
    let kp = KeyPair::generate();
    (kp.sk.to_pem(), kp.pk.to_pem())
}

/// The public key in `path` (PEM, DER or raw).
pub fn read_public_key(path: &Path) -> Result<PublicKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the public key {}: {e}", path.display()))?;
    PublicKey::from_any(&bytes)
        .map_err(|_| format!("{} is not an Ed25519 public key (PEM, DER or raw)", path.display()))
}

/// The secret key in `path` (PEM, DER or raw).
pub fn read_secret_key(path: &Path) -> Result<SecretKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the secret key {}: {e}", path.display()))?;
    let text = std::str::from_utf8(&bytes).ok();
    text.and_then(|t| SecretKey::from_pem(t).ok())
        .or_else(|| SecretKey::from_der(&bytes).ok())
        .or_else(|| SecretKey::from_bytes(&bytes).ok())
        .ok_or_else(|| format!("{} is not an Ed25519 secret key (PEM, DER or raw)", path.display()))
}

/// `wasm` signed with `key` (a previous signature is replaced).
pub fn sign(wasm: &[u8], key: &SecretKey) -> Result<Vec<u8>, String> {
    let module = Module::deserialize(&mut &wasm[..]).map_err(|e| format!("cannot read the component: {e}"))?;
    let signed = key.sign(module, None).map_err(|e| format!("cannot sign the component: {e}"))?;
    let mut out = Vec::with_capacity(wasm.len() + 128);
    signed.serialize(&mut out).map_err(|e| format!("cannot write the signed component: {e}"))?;
    Ok(out)
}

/// Ok with the indices (into `keys`) of the keys that signed `wasm`, or why it is refused.
pub fn verify(wasm: &[u8], keys: &[PublicKey]) -> Result<Vec<usize>, String> {
    let mut set = PublicKeySet::empty();
    for key in keys {
        // A key given twice is one key.
        let _ = set.insert(key.clone());
    }
    match set.verify(&mut &wasm[..], None) {
        Ok(valid) => Ok(keys.iter().enumerate().filter(|(_, k)| valid.contains(k)).map(|(i, _)| i).collect()),
        Err(WSError::NoSignatures) => Err("it carries no signature".into()),
        Err(WSError::VerificationFailed) => {
            Err("it is signed by none of the trusted keys (or was changed after signing)".into())
        }
        Err(e) => Err(format!("its signature cannot be read ({e})")),
    }
}

/// Whether `wasm` starts with a signature section (it may still be invalid).
pub fn is_signed(wasm: &[u8]) -> bool {
    let mut reader = wasm;
    let Ok(mut sections) = Module::init_from_reader(&mut reader).and_then(Module::iterate) else {
        return false;
    };
    matches!(sections.next(), Some(Ok(wasmsign2::Section::Custom(c))) if c.is_signature_header())
}
