"""Third-party distribution in this host (issue 14): the preflight reads what `cw-host inspect`
reads, and refuses before compiling a component of another contract, one importing outside the
allowed world, or one whose digest is not the pinned ``trakt.component_sha256``; nothing is
sent to Trakt then."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

import harness
from crosswatch_trakt_wasm import OPS, TraktWasmError, preflight, settings

WATCHLIST = [{"type": "movie", "trakt": 1}, {"type": "movie", "trakt": 2}]


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def with_custom_section(wasm: bytes, name: str, data: bytes) -> bytes:
    """``wasm`` with its top-level custom section ``name`` replaced (appended last)."""
    out = bytearray(wasm[:8])
    at = 8
    while at < len(wasm):
        size, body = preflight._leb(wasm, at + 1)
        end = body + size
        if not (wasm[at] == 0 and preflight._name(wasm[body:end], 0)[0] == name):
            out += wasm[at:end]
        at = end
    payload = _leb(len(name)) + name.encode() + data
    return bytes(out) + b"\x00" + _leb(len(payload)) + payload


@pytest.fixture
def foreign_wasm():
    p = Path(os.environ.get("FOREIGN_IMPORT_COMPONENT_WASM", ""))
    if not str(p) or not p.is_file():
        msg = "missing the foreign-import test component (FOREIGN_IMPORT_COMPONENT_WASM; run_tests.sh sets it)"
        if os.environ.get("CW_TRAKT_WASM_REQUIRE") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return p


@pytest.fixture
def library(emulators, cw):
    emu, _ = emulators(harness.seed(harness.catalogue(movies=3, shows=0), WATCHLIST))
    return emu, harness.write_config(cw, emu)


def test_preflight_reads_what_cw_host_inspect_prints(artefacts):
    wasm_path, cw_host = artefacts
    out = subprocess.run([str(cw_host), "--no-cache", "inspect", str(wasm_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    inspected = json.loads(out.stdout)
    info = preflight.read(wasm_path.read_bytes())
    assert info.sha256 == inspected["sha256"] == hashlib.sha256(wasm_path.read_bytes()).hexdigest()
    assert info.imports == inspected["imports"]
    assert info.exports == inspected["exports"] == ["crosswatch:sync/index-stream@0.1.0", "crosswatch:sync/sync-adapter@0.1.0"]
    assert info.declared_contract == inspected["contract"]["declared"] == "crosswatch:sync@0.1.0"
    assert info.capabilities == inspected["capabilities"]
    assert preflight.problems(info) == inspected["problems"] == []


def test_a_component_importing_the_filesystem_is_refused_before_it_runs(library, foreign_wasm, monkeypatch):
    emu, cfg = library
    monkeypatch.setattr(settings, "component_path", str(foreign_wasm))
    with pytest.raises(TraktWasmError) as e:
        OPS.build_index(cfg, feature="watchlist")
    assert "refusing the component: the component imports wasi:filesystem/types@0.2.12 (files)" in str(e.value)
    assert emu.requests() == []


def test_a_component_of_another_contract_major_is_refused_naming_both_versions(library, artefacts, tmp_path, monkeypatch):
    emu, cfg = library
    other = tmp_path / "other.wasm"
    other.write_bytes(with_custom_section(artefacts[0].read_bytes(), "crosswatch:api-version", b"crosswatch:sync@0.2.0"))
    assert preflight.read(other.read_bytes()).capabilities is not None, "the rest of the file is intact"
    monkeypatch.setattr(settings, "component_path", str(other))
    with pytest.raises(TraktWasmError) as e:
        OPS.build_index(cfg, feature="watchlist")
    assert "the component targets contract crosswatch:sync@0.2.0, but this host supports crosswatch:sync@0.1.x" in str(e.value)
    assert emu.requests() == []


def test_a_pinned_digest_admits_the_file_and_refuses_one_changed_byte(library, artefacts, cw, tmp_path, monkeypatch):
    emu, _ = library
    wasm = artefacts[0].read_bytes()
    pin = hashlib.sha256(wasm).hexdigest()
    good, tampered = tmp_path / "good.wasm", tmp_path / "tampered.wasm"
    good.write_bytes(wasm)
    at = wasm.rindex(b"CrossWatch Trakt sync adapter")  # the description section: still a valid component
    tampered.write_bytes(wasm[:at] + b"c" + wasm[at + 1 :])
    assert preflight.problems(preflight.read(tampered.read_bytes())) == []
    cfg = harness.write_config(cw, emu, {"component_sha256": "sha256:" + pin.upper()})

    monkeypatch.setattr(settings, "component_path", str(good))
    assert len(OPS.build_index(cfg, feature="watchlist")) == 2
    sent = len(emu.requests())

    monkeypatch.setattr(settings, "component_path", str(tampered))
    with pytest.raises(TraktWasmError) as e:
        OPS.build_index(cfg, feature="watchlist")
    actual = hashlib.sha256(tampered.read_bytes()).hexdigest()
    assert f"its sha256 is {actual}, but trakt.component_sha256 pins {pin}" in str(e.value)
    assert len(emu.requests()) == sent

    bad = harness.write_config(cw, emu, {"component_sha256": "abc"})
    with pytest.raises(Exception) as e:
        OPS.build_index(bad, feature="watchlist")
    assert "trakt.component_sha256: 'abc' is not a sha256 digest" in str(e.value)


def test_signed_by_a_trusted_key_runs_changed_unsigned_or_foreign_is_refused(library, artefacts, cw, tmp_path, monkeypatch):
    """`cw-host keygen` and `cw-host sign` (the publisher's side, wasmsign2), verified here with
    ``cryptography``: the two hosts agree on the tool-conventions format."""
    emu, _ = library
    wasm_path, cw_host = artefacts

    def run(*args):
        return subprocess.run([str(cw_host), *map(str, args)], capture_output=True, text=True, timeout=300)

    for who in ("publisher", "stranger"):
        done = run("keygen", "--secret-key", tmp_path / f"{who}.key", "--public-key", cw / f"{who}.pub")
        assert done.returncode == 0, done.stderr
    signed = tmp_path / "signed.wasm"
    done = run("sign", wasm_path, "--key", tmp_path / "publisher.key", "--output", signed)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sha256"] == hashlib.sha256(signed.read_bytes()).hexdigest()

    cfg = harness.write_config(cw, emu, {"component_trusted_keys": ["stranger.pub", "publisher.pub"]})
    monkeypatch.setattr(settings, "component_path", str(signed))
    assert len(OPS.build_index(cfg, feature="watchlist")) == 2
    sent = len(emu.requests())

    data = signed.read_bytes()
    at = data.rindex(b"CrossWatch Trakt sync adapter")
    tampered = tmp_path / "tampered.wasm"
    tampered.write_bytes(data[:at] + b"c" + data[at + 1 :])
    for path, why in ((tampered, "it is signed by none of the trusted keys"), (wasm_path, "it carries no signature")):
        monkeypatch.setattr(settings, "component_path", str(path))
        with pytest.raises(TraktWasmError) as e:
            OPS.build_index(cfg, feature="watchlist")
        assert f"refusing the component: {why}" in str(e.value)
    strangers_only = harness.write_config(cw, emu, {"component_trusted_keys": "stranger.pub"})
    monkeypatch.setattr(settings, "component_path", str(signed))
    with pytest.raises(TraktWasmError) as e:
        OPS.build_index(strangers_only, feature="watchlist")
    assert "signed by none of the trusted keys" in str(e.value)
    assert len(emu.requests()) == sent

    missing = harness.write_config(cw, emu, {"component_trusted_keys": ["nowhere.pub"]})
    with pytest.raises(TraktWasmError) as e:
        OPS.build_index(missing, feature="watchlist")
    assert e.value.kind == "config" and "cannot read the public key" in str(e.value)
