"""Preflight: what a component file says it is and needs, read from its bytes before it is
compiled or instantiated, and the checks this host makes on it. The same rules as the Rust
host (host-harness/host/src/preflight.rs, which documents them):

- the contract it targets (custom section ``crosswatch:api-version``, else the version of its
  ``sync-adapter`` export) must be one this host supports;
- every import must belong to the allowed world (``ALLOWED_IMPORTS``); ``wasi:filesystem``,
  ``wasi:sockets``, ``wasi:http`` and anything unknown are refused, each named;
- when the config pins a sha256 (``trakt.component_sha256``), the file's digest must match;
- when the config lists trusted keys (``trakt.component_trusted_keys``), one of them must have
  signed the file (signature.py).

The section framing is the component binary format's
(https://github.com/WebAssembly/component-model/blob/main/design/mvp/Binary.md): an id byte,
a LEB128 size, the payload; only the top level is read.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence, Tuple

API_VERSION_SECTION = "crosswatch:api-version"
CAPABILITIES_SECTION = "crosswatch:capabilities"
CONTRACT_PACKAGE = "crosswatch:sync"
CONTRACT_VERSION = "0.1.0"
EXPORT_INTERFACE = "sync-adapter"
WASI_LINE = (0, 2)

#: The interfaces a component may import (versions aside), as in preflight.rs.
ALLOWED_IMPORTS = frozenset(
    [f"crosswatch:sync/{i}" for i in ("types", "http", "state", "auth", "log", "progress")]
    + ["wasi:clocks/monotonic-clock", "wasi:clocks/wall-clock", "wasi:io/error", "wasi:io/poll", "wasi:io/streams"]
    + [
        f"wasi:cli/{i}"
        for i in (
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        )
    ]
)

_COMPONENT_HEADER = b"\x00asm\x0d\x00\x01\x00"
_CUSTOM, _IMPORT, _EXPORT = 0, 10, 11


class _Malformed(ValueError):
    pass


@dataclass
class ComponentInfo:
    sha256: str
    size_bytes: int
    declared_contract: Optional[str] = None
    capabilities: Optional[dict] = None
    capabilities_error: Optional[str] = None
    imports: List[str] = field(default_factory=list)
    exports: List[str] = field(default_factory=list)

    def contract(self) -> Optional[str]:
        if self.declared_contract is not None:
            return self.declared_contract
        prefix = f"{CONTRACT_PACKAGE}/{EXPORT_INTERFACE}@"
        for e in self.exports:
            if e.startswith(prefix):
                return f"{CONTRACT_PACKAGE}@{e[len(prefix):]}"
        return None


def _leb(data: bytes, at: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 35:
            raise _Malformed("truncated LEB128 number")
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, at


def _name(data: bytes, at: int) -> Tuple[str, int]:
    n, at = _leb(data, at)
    if at + n > len(data):
        raise _Malformed("truncated name")
    return data[at : at + n].decode("utf-8", "replace"), at + n


def _extern_name(data: bytes, at: int) -> Tuple[str, int]:
    # 0x00 (0x01 in older encoders) then the name; other forms are not read by this host.
    if data[at] not in (0x00, 0x01):
        raise _Malformed(f"an import or export name form this host does not read (0x{data[at]:02x})")
    return _name(data, at + 1)


def _skip_extern_desc(data: bytes, at: int) -> int:
    kind = data[at]
    at += 1
    if kind == 0x00:  # core module: 0x00 0x11 typeidx
        return _leb(data, at + 1)[1]
    if kind in (0x01, 0x04, 0x05):  # func, component, instance: typeidx
        return _leb(data, at)[1]
    if kind in (0x02, 0x03):  # value bound / type bound: a tag, then an index (eq) or nothing (sub resource)
        tag = data[at]
        at += 1
        return at if (kind == 0x03 and tag == 0x01) else _leb(data, at)[1]
    raise _Malformed(f"unknown extern kind 0x{kind:02x}")


def _sections(data: bytes):
    if not data.startswith(_COMPONENT_HEADER):
        if data[:4] == b"\x00asm":
            raise _Malformed("a core WebAssembly module, not a component")
        raise _Malformed("not a WebAssembly component")
    at = 8
    while at < len(data):
        sid = data[at]
        size, body = _leb(data, at + 1)
        if body + size > len(data):
            raise _Malformed("a section runs past the end of the file")
        yield sid, data[body : body + size]
        at = body + size


def read(wasm: bytes) -> ComponentInfo:
    """What ``wasm`` says about itself; ValueError when it is not a component."""
    info = ComponentInfo(sha256=hashlib.sha256(wasm).hexdigest(), size_bytes=len(wasm))
    try:
        for sid, body in _sections(wasm):
            if sid == _CUSTOM:
                name, at = _name(body, 0)
                data = body[at:]
                if name == API_VERSION_SECTION:
                    info.declared_contract = data.decode("utf-8", "replace").strip()
                elif name == CAPABILITIES_SECTION:
                    try:
                        caps = json.loads(data)
                        if isinstance(caps, dict):
                            info.capabilities = caps
                        else:
                            info.capabilities_error = "is not a JSON object"
                    except ValueError as e:
                        info.capabilities_error = f"is not JSON: {e}"
            elif sid in (_IMPORT, _EXPORT):
                count, at = _leb(body, 0)
                for _ in range(count):
                    name, at = _extern_name(body, at)
                    if sid == _IMPORT:
                        info.imports.append(name)
                        at = _skip_extern_desc(body, at)
                    else:
                        info.exports.append(name)
                        at += 2 if body[at] == 0x00 else 1  # sort (core sorts take two bytes)
                        _, at = _leb(body, at)  # index
                        has_type = body[at]
                        at = _skip_extern_desc(body, at + 1) if has_type == 0x01 else at + 1
    except (_Malformed, IndexError) as e:
        raise ValueError(f"not a valid WebAssembly component: {e}") from None
    return info


_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


def _semver(v: Optional[str]) -> Optional[Tuple[int, int, int]]:
    m = _SEMVER.match(v or "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _compatible(a: Tuple[int, int, int], b: Tuple[int, int, int]) -> bool:
    return a[0] == b[0] and (a[0] != 0 or a[1] == b[1])


def supported_contract() -> str:
    major, minor, _ = _semver(CONTRACT_VERSION)  # type: ignore[misc]
    return f"{CONTRACT_PACKAGE}@0.{minor}.x" if major == 0 else f"{CONTRACT_PACKAGE}@{major}.x"


def _import_allowed(name: str, host: Tuple[int, int, int]) -> bool:
    base, _, version = name.partition("@")
    v = _semver(version)
    if v is None or base not in ALLOWED_IMPORTS:
        return False
    return (v[0], v[1]) == WASI_LINE if base.startswith("wasi:") else _compatible(v, host)


def _describe_refused(name: str) -> str:
    package = name.split("/")[0]
    what = {
        "wasi:filesystem": "files",
        "wasi:sockets": "network sockets",
        "wasi:http": "direct HTTP, past the host's origin policy",
        "wasi:random": "randomness",
    }.get(package)
    if what is None:
        what = "an unsupported version" if name.partition("@")[0] in ALLOWED_IMPORTS else "unknown to this host"
    return f"{name} ({what})"


def problems(info: ComponentInfo) -> List[str]:
    """Why this host cannot run the component, one sentence each (preflight.rs's wording)."""
    out: List[str] = []
    host = _semver(CONTRACT_VERSION)
    assert host is not None
    contract = info.contract()
    if contract is None:
        out.append(
            f"the component declares no contract version and exports no {CONTRACT_PACKAGE}/{EXPORT_INTERFACE}, "
            f"so it is not a CrossWatch sync component (this host supports {supported_contract()})"
        )
    else:
        prefix = f"{CONTRACT_PACKAGE}@"
        v = _semver(contract[len(prefix) :]) if contract.startswith(prefix) else None
        if v is None or not _compatible(v, host):
            out.append(f"the component targets contract {contract}, but this host supports {supported_contract()}")
    export_ok = any(
        e.partition("@")[0] == f"{CONTRACT_PACKAGE}/{EXPORT_INTERFACE}"
        and (lambda v: v is not None and _compatible(v, host))(_semver(e.partition("@")[2]))
        for e in info.exports
    )
    if not export_ok and not out:
        out.append(f"the component does not export {CONTRACT_PACKAGE}/{EXPORT_INTERFACE} of {supported_contract()}")
    refused = [_describe_refused(i) for i in info.imports if not _import_allowed(i, host)]
    if refused:
        out.append(
            f"the component imports {', '.join(refused)}, outside the world this host allows ({CONTRACT_PACKAGE}, "
            "wasi:clocks, wasi:io and the wasi:cli basics), so it is refused before it runs"
        )
    if info.capabilities_error:
        out.append(f"its {CAPABILITIES_SECTION} section {info.capabilities_error}")
    return out


def preflight(wasm: bytes) -> ComponentInfo:
    """The checks every load makes, before the component is compiled; raises HostError."""
    from .runtime import HostError  # runtime imports this module

    try:
        info = read(wasm)
    except ValueError as e:
        raise HostError("host", f"cannot load the component: {e}") from None
    found = problems(info)
    if found:
        raise HostError("host", "refusing the component: " + "; ".join(found))
    return info


def parse_sha256_pin(text: Any) -> str:
    """64 hex digits, optionally prefixed with ``sha256:``; ValueError otherwise."""
    s = text.strip() if isinstance(text, str) else ""
    s = s[len("sha256:") :] if s.startswith("sha256:") else s
    if len(s) == 64 and all(c in "0123456789abcdefABCDEF" for c in s):
        return s.lower()
    raise ValueError(f"{text!r} is not a sha256 digest (64 hex digits, optionally prefixed with sha256:)")


def check_sha256_pin(wasm: bytes, pin: str, origin: str) -> None:
    from .runtime import HostError

    actual = hashlib.sha256(wasm).hexdigest()
    if actual != pin:
        raise HostError(
            "host",
            f"refusing the component: its sha256 is {actual}, but {origin} pins {pin} (the file is not the one pinned)",
        )


def read_component(path: Any) -> bytes:
    from .runtime import HostError

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise HostError("host", f"cannot read the component {path}: {e}") from None


def sha256_pin(block: Mapping) -> Optional[str]:
    """``component_sha256`` of a ``trakt`` block, parsed; None when unset. ConfigError when bad."""
    from .config import ConfigError

    value = block.get("component_sha256") if isinstance(block, Mapping) else None
    if value in (None, ""):
        return None
    try:
        return parse_sha256_pin(value)
    except ValueError as e:
        raise ConfigError(f"trakt.component_sha256: {e}") from None


def trusted_keys(block: Mapping, base: Any) -> List[Any]:
    """The public keys ``component_trusted_keys`` of a ``trakt`` block names (a path or a list
    of paths, relative to ``base``, the config directory); empty when unset. ConfigError when
    malformed or a key cannot be read."""
    from pathlib import Path

    from .config import ConfigError

    value = block.get("component_trusted_keys") if isinstance(block, Mapping) else None
    if value in (None, "", []):
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise ConfigError(f"trakt.component_trusted_keys must be a list of key file paths, found {value!r}")
    from . import signature

    try:
        return [signature.load_public_key(Path(base) / v) for v in items]
    except ValueError as e:
        raise ConfigError(f"trakt.component_trusted_keys: {e}") from None


def check_pins(ctx: Any) -> None:
    """Refuse the component of ``ctx`` (a config.Context) unless it has the pinned digest
    (``component_sha256``, from ``component_sha256_origin``) and, when trusted keys are listed
    (loaded by ``trusted_keys``), one of them signed it. Raises HostError."""
    if not ctx.component_sha256 and not ctx.component_trusted_keys:
        return
    from . import signature
    from .runtime import HostError

    wasm = read_component(ctx.component_path)
    if ctx.component_sha256:
        check_sha256_pin(wasm, ctx.component_sha256, ctx.component_sha256_origin)
    if ctx.component_trusted_keys:
        try:
            signature.verify(wasm, ctx.component_trusted_keys)
        except ValueError as e:
            raise HostError(
                "host", f"refusing the component: {e}; the trusted keys are trakt.component_trusted_keys"
            ) from None


def bundled_pin(path: Any) -> Optional[str]:
    """The digest a wheel ships beside its component (``trakt_adapter.wasm.sha256``, written by
    build_wheel.sh) when ``path`` is that bundled file; None otherwise."""
    from pathlib import Path

    from .config import ConfigError

    p = Path(path)
    if p.resolve().parent != Path(__file__).resolve().parent:
        return None
    digest = p.with_name(p.name + ".sha256")
    if not digest.is_file():
        return None
    try:
        return parse_sha256_pin(digest.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"the bundled component's digest {digest} is unreadable: {e}") from None
