"""The package users install (issue 14 item 5): build_wheel.sh makes a wheel holding the
release component and its digest; installed into a fresh virtualenv (no Rust, no path set), the
provider finds the bundled component, checks its digest and indexes the emulator's watchlist.
pip fetches setuptools, wasmtime and cryptography from PyPI (its cache makes reruns quick)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
WATCHLIST = [{"type": "movie", "trakt": 1}, {"type": "movie", "trakt": 2}]

SCRIPT = """
import json, sys
from crosswatch_trakt_wasm import OPS, TraktWasmError
cfg = json.load(open(sys.argv[1]))
try:
    print(json.dumps({"keys": sorted(OPS.build_index(cfg, feature="watchlist"))}))
except TraktWasmError as e:
    print(json.dumps({"error": e.message}))
"""


def test_the_wheel_installs_into_a_fresh_virtualenv_and_indexes_the_watchlist(artefacts, emulators, tmp_path):
    wasm, _ = artefacts
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRAKT_ADAPTER_WASM", "VIRTUAL_ENV")}
    built = subprocess.run(
        ["bash", str(HERE.parent / "build_wheel.sh"), str(tmp_path / "wheels")],
        env={**env, "TRAKT_ADAPTER_WASM": str(wasm), "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=900,
    )
    assert built.returncode == 0, built.stderr
    wheel = Path(built.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(wheel) as z:
        bundled = z.read("crosswatch_trakt_wasm/trakt_adapter.wasm")
        digest = z.read("crosswatch_trakt_wasm/trakt_adapter.wasm.sha256").decode().strip()
    assert bundled == wasm.read_bytes()
    assert digest == hashlib.sha256(bundled).hexdigest()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=900,
    )
    assert pip.returncode == 0, pip.stderr

    emu, _ = emulators(harness.seed(harness.catalogue(movies=3, shows=0), WATCHLIST))
    base = tmp_path / "config"
    harness.write_config(base, emu)
    run_env = {**env, "CW_CONFIG_BASE": str(base), "CW_TRAKT_WASM_CACHE": ""}

    def index() -> dict:
        out = subprocess.run([str(py), "-c", SCRIPT, str(base / "config.json")], cwd=tmp_path, env=run_env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = index()
    assert len(result.get("keys", [])) == 2, result

    # The installed file changed by one byte: refused by the wheel's digest, nothing sent.
    installed = next(venv.glob("lib/python*/site-packages/crosswatch_trakt_wasm/trakt_adapter.wasm"))
    data = installed.read_bytes()
    at = data.rindex(b"CrossWatch Trakt sync adapter")
    installed.write_bytes(data[:at] + b"c" + data[at + 1 :])
    sent = len(emu.requests())
    result = index()
    assert "refusing the component: its sha256 is" in result.get("error", ""), result
    assert "the wheel's trakt_adapter.wasm.sha256 pins" in result["error"]
    assert len(emu.requests()) == sent
