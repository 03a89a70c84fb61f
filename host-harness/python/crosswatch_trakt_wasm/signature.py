"""Component signatures in the WebAssembly tool-conventions format
(https://github.com/WebAssembly/tool-conventions/blob/main/Signatures.md), as ``cw-host sign``
(the ``wasmsign2`` crate, host-harness/host/src/signature.rs) writes them: the first section of
the file is a custom section ``signature`` holding Ed25519 signatures over the SHA-256 of every
byte after it. This host only verifies; keys are Ed25519 public keys in PEM, DER or wasmsign2's
raw form (0x01 then the 32 key bytes). Ed25519 comes from ``cryptography``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import List, Sequence, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SECTION = b"signature"
_DOMAIN = b"wasmsig"
_VERSION = _CONTENT_MODULE = _HASH_SHA256 = _ALG_ED25519 = 0x01
_HEADERS = (b"\x00asm\x01\x00\x00\x00", b"\x00asm\x0d\x00\x01\x00")


class _Bad(ValueError):
    pass


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path``; ValueError naming the file otherwise."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the public key {path}: {e}") from None
    if len(data) == 33 and data[0] == _ALG_ED25519:
        return Ed25519PublicKey.from_public_bytes(data[1:])
    for load in (serialization.load_pem_public_key, serialization.load_der_public_key):
        try:
            key = load(data)
        except (ValueError, TypeError):
            continue
        if isinstance(key, Ed25519PublicKey):
            return key
    raise ValueError(f"{path} is not an Ed25519 public key (PEM, DER or raw)")


def _varint(data: bytes, at: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Bad("truncated number")
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, at


def _slice(data: bytes, at: int) -> Tuple[bytes, int]:
    n, at = _varint(data, at)
    if at + n > len(data):
        raise _Bad("truncated field")
    return data[at : at + n], at + n


def _signature_section(wasm: bytes) -> Tuple[bytes, bytes]:
    """(the signature section's payload, every byte after it); _Bad when unsigned."""
    if wasm[:8] not in _HEADERS:
        raise _Bad("not a WebAssembly file")
    if len(wasm) < 10 or wasm[8] != 0:
        raise _Bad("unsigned")
    size, body = _varint(wasm, 9)
    end = body + size
    name, at = _slice(wasm[:end], body)
    if name != SECTION:
        raise _Bad("unsigned")
    return wasm[at:end], wasm[end:]


def is_signed(wasm: bytes) -> bool:
    try:
        _signature_section(wasm)
        return True
    except (_Bad, IndexError):
        return False


def verify(wasm: bytes, keys: Sequence[Ed25519PublicKey]) -> List[int]:
    """The indices of ``keys`` that signed ``wasm``; ValueError saying why it is refused."""
    try:
        payload, rest = _signature_section(wasm)
    except (_Bad, IndexError):
        raise ValueError("it carries no signature") from None
    try:
        at = 0
        version, at = _varint(payload, at)
        content, at = _varint(payload, at)
        hash_fn, at = _varint(payload, at)
        if (version, content, hash_fn) != (_VERSION, _CONTENT_MODULE, _HASH_SHA256):
            raise _Bad(f"unsupported signature format {version}/{content}/{hash_fn}")
        count, at = _varint(payload, at)
        signers: dict = {}
        for _ in range(count):
            signed, at = _slice(payload, at)
            n_hashes, p = _varint(signed, 0)
            hashes = [signed[p + 32 * i : p + 32 * (i + 1)] for i in range(n_hashes)]
            p += 32 * n_hashes
            if p > len(signed):
                raise _Bad("truncated hashes")
            msg = _DOMAIN + bytes([_VERSION, _CONTENT_MODULE, _HASH_SHA256]) + b"".join(hashes)
            n_sigs, p = _varint(signed, p)
            for _ in range(n_sigs):
                entry, p = _slice(signed, p)
                _key_id, q = _slice(entry, 0)
                if q >= len(entry) or entry[q] != _ALG_ED25519:
                    continue  # another algorithm: not ours to judge
                sig, _ = _slice(entry, q + 1)
                for i, key in enumerate(keys):
                    try:
                        key.verify(sig, msg)
                    except InvalidSignature:
                        continue
                    signers.setdefault(i, set()).update(hashes)
    except (_Bad, IndexError) as e:
        raise ValueError(f"its signature cannot be read ({e})") from None
    digest = hashlib.sha256(rest).digest()
    by = sorted(i for i, hashes in signers.items() if digest in hashes)
    if not by:
        raise ValueError("it is signed by none of the trusted keys (or was changed after signing)")
    return by
