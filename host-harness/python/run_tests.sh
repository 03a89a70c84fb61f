#!/usr/bin/env bash
# The Python host's test suite: makes the virtualenv (target/py-venv) when missing, installs
# the pinned wasmtime, cryptography (encrypted CrossWatch configs) and pytest, and runs pytest
# against the component and cw-host that cargo built (`cargo test --workspace`). Missing
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

# The three components (and cw-host) as `cargo test --workspace` built them.
. "$REPO/host-harness/artifacts/components.sh"
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
