#!/usr/bin/env bash
# The Node host's test suite: installs the pinned npm packages (package-lock.json, `npm ci`),
# transpiles the component and the hostile test component with jco (build.mjs), and runs the
# node:test files in test/ (the host's own tests and the conformance scenarios of
# tests/conformance) against the emulator of the cw-host that cargo built
# (`cargo build --workspace`). Extra arguments go to `node --test`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run_tests.sh: $tool not found; install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
    echo "run_tests.sh: Node $(node --version) is too old; the host needs Node 20 or newer" >&2
    exit 1
fi

# The three components (and cw-host) as `cargo test --workspace` built them.
. "$REPO/host-harness/artifacts/components.sh"
export CW_HOST_BIN="${CW_HOST_BIN:-$REPO/target/debug/cw-host}"
if [ ! -x "$CW_HOST_BIN" ]; then
    echo "run_tests.sh: $CW_HOST_BIN not found; run 'cargo build --workspace' first (or set CW_HOST_BIN)" >&2
    exit 1
fi

cd "$HERE"
echo "node $(node --version), npm $(npm --version)"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs --hostile
node --test --test-concurrency=2 "$@" test/*.test.mjs
