#!/usr/bin/env bash
# Builds the wheel CrossWatch users install: crosswatch_trakt_wasm with the release component
# inside it (crosswatch_trakt_wasm/trakt_adapter.wasm, found without any setting) and its
# sha256 beside it (trakt_adapter.wasm.sha256), which the provider checks before every load.
# Usage: build_wheel.sh [OUT_DIR] (default target/wheels). TRAKT_ADAPTER_WASM=/path takes that
# component instead of the one cargo builds. Needs python3 with pip; pip fetches setuptools.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$(mkdir -p "${1:-$REPO/target/wheels}" && cd "${1:-$REPO/target/wheels}" && pwd)"
PYTHON="${PYTHON:-python3}"
WASM="${TRAKT_ADAPTER_WASM:-$(cd "$REPO" && cargo run -q -p trakt-adapter-artifacts)}"
[ -s "$WASM" ] || { echo "build_wheel.sh: no component at $WASM" >&2; exit 1; }

# Stage a copy: the source tree never holds a built component.
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp "$HERE/pyproject.toml" "$HERE/README.md" "$STAGE/"
cp -r "$HERE/crosswatch_trakt_wasm" "$STAGE/"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
cp "$WASM" "$STAGE/crosswatch_trakt_wasm/trakt_adapter.wasm"
"$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' \
    "$WASM" > "$STAGE/crosswatch_trakt_wasm/trakt_adapter.wasm.sha256"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$OUT" "$STAGE" >&2
ls "$OUT"/crosswatch_trakt_wasm-*.whl
