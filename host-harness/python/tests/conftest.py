"""Fixtures: the component and cw-host built by cargo (never built here), a fresh CrossWatch
CONFIG_BASE per test, emulators that stop at the end of the test, and captured log lines.

Without the artefacts the suite skips with a message saying how to build them; run_tests.sh
sets CW_TRAKT_WASM_REQUIRE=1 so CI fails instead."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

PAIR_ENV = (
    "CW_PAIR_KEY",
    "CW_PAIR_SCOPE",
    "CW_SYNC_PAIR",
    "CW_PAIR",
    "CW_PAIR_SRC",
    "CW_PAIR_DST",
    "CW_PAIR_SRC_INSTANCE",
    "CW_PAIR_DST_INSTANCE",
    "CW_PAIR_MODE",
    "CW_PAIR_FEATURE",
)

BUILD_HINT = (
    "build them from the repository root with `cargo build --workspace` "
    "(or point TRAKT_ADAPTER_WASM and CW_HOST_BIN at them)"
)


@pytest.fixture(scope="session")
def artefacts():
    wasm, host = harness.wasm_path(), harness.cw_host_path()
    missing = [f"{name} ({p})" for name, p in (("component", wasm), ("cw-host", host)) if not p.is_file()]
    if missing:
        msg = f"missing {', '.join(missing)}: {BUILD_HINT}"
        if os.environ.get("CW_TRAKT_WASM_REQUIRE") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return wasm, host


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wasm-cache")


@pytest.fixture
def logs():
    """Every log line (host and component) of the test."""
    from crosswatch_trakt_wasm.imports import LogSink

    lines: List[str] = []
    LogSink.writer = lines.append
    yield lines
    LogSink.writer = None


@pytest.fixture
def cw(artefacts, cache_dir, tmp_path, logs, monkeypatch):
    """A fresh CrossWatch CONFIG_BASE and the provider pointed at the built component."""
    import crosswatch_trakt_wasm as pkg
    from crosswatch_trakt_wasm.imports import parse_level

    wasm, _ = artefacts
    base = tmp_path / "config"
    base.mkdir()
    monkeypatch.setattr(pkg.settings, "config_base", str(base))
    monkeypatch.setattr(pkg.settings, "component_path", str(wasm))
    monkeypatch.setattr(pkg.settings, "cache_dir", str(cache_dir))
    monkeypatch.setenv("CW_TRAKT_LOG_LEVEL", "debug")
    # No pair scope, instance or config key from the environment the suite runs in.
    for var in (*PAIR_ENV, "CW_CONFIG_KEY", "CROSSWATCH_CONFIG_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert parse_level("debug") is not None
    yield base
    pkg.reset_sessions()


@pytest.fixture
def emulators(artefacts, tmp_path):
    """``start(seed) -> (emulator, dropped keys)``; all are stopped after the test."""
    started = []

    def start(seed):
        emu, dropped = harness.start_emulator(seed, tmp_path / "emu")
        started.append(emu)
        return emu, dropped

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture(scope="session")
def hostile_wasm():
    """The hostile test component (tests/hostile; run_tests.sh sets HOSTILE_COMPONENT_WASM)."""
    p = Path(os.environ.get("HOSTILE_COMPONENT_WASM", ""))
    if not str(p) or not p.is_file():
        msg = f"missing the hostile test component ({p or 'HOSTILE_COMPONENT_WASM unset'}): {BUILD_HINT}"
        if os.environ.get("CW_TRAKT_WASM_REQUIRE") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return p
