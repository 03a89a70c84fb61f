#!/usr/bin/env bash
# The Python host's test suite: makes the virtualenv (target/py-venv) when missing, installs
# the pinned wasmtime, cryptography (encrypted CrossWatch configs) and pytest, and runs pytest
# against the component and cw-host that cargo built (`cargo build --workspace`). Missing
# artefacts fail the run here (they only skip when pytest is run by hand). Extra arguments go
# to pytest.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${CW_PY_VENV:-$REPO/target/py-venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "run_tests.sh: $PYTHON not found; install Python 3.9 or newer (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "run_tests.sh: creating the virtualenv $VENV (first run; pip then downloads wasmtime, cryptography and pytest, about 30 MB)" >&2
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "run_tests.sh: '$PYTHON -m venv' failed; install the venv module (Debian: apt-get install python3-venv), then run again" >&2
        exit 1
    fi
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "wasmtime==50.0.1" "cryptography==50.0.2" "pytest>=8,<10"

if [ -z "${TRAKT_ADAPTER_WASM:-}" ]; then
    # The component lives in the artifacts crate's OUT_DIR; its small binary prints the path
    # (built already when `cargo test --workspace` ran, so this takes seconds).
    TRAKT_ADAPTER_WASM="$(cd "$REPO" && cargo run -q -p trakt-adapter-artifacts)"
fi
if [ -z "${HOSTILE_COMPONENT_WASM:-}" ]; then
    # The hostile test component (tests/hostile), built beside the adapter (sandbox tests).
    # Without TRAKT_ADAPTER_WASM in its environment: the artifacts build script would take
    # that file and make the hostile component an empty placeholder.
    HOSTILE_COMPONENT_WASM="$(cd "$REPO" && env -u TRAKT_ADAPTER_WASM cargo run -q -p trakt-adapter-artifacts -- --hostile)"
fi
if [ -z "${FOREIGN_IMPORT_COMPONENT_WASM:-}" ]; then
    # The foreign-import test component (host-harness/artifacts/foreign.rs): preflight tests.
    FOREIGN_IMPORT_COMPONENT_WASM="$(cd "$REPO" && env -u TRAKT_ADAPTER_WASM cargo run -q -p trakt-adapter-artifacts -- --foreign-import)"
fi
export TRAKT_ADAPTER_WASM HOSTILE_COMPONENT_WASM FOREIGN_IMPORT_COMPONENT_WASM
export CW_HOST_BIN="${CW_HOST_BIN:-$REPO/target/debug/cw-host}"
export CW_TRAKT_WASM_REQUIRE="${CW_TRAKT_WASM_REQUIRE:-1}"

cd "$HERE"
"$VENV/bin/python" --version
set +e
"$VENV/bin/python" -m pytest -p no:cacheprovider -rs "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "run_tests.sh: pytest ran no test" >&2
    exit 1
fi
exit "$rc"
