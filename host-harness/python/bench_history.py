#!/usr/bin/env python3
"""Time ``OPS.build_index(cfg, feature="history")`` in the Python host against the project's
emulator seeded with N plays (default 20,000), and optionally ``cw-host index history`` on
the same emulator and config for comparison.

    target/py-venv/bin/python host-harness/python/bench_history.py [--plays N] [--cw-host]

Needs the built component and cw-host (TRAKT_ADAPTER_WASM, CW_HOST_BIN or the cargo target
paths). Prints one JSON line per measurement and exits 0; when the component or the emulator
does not support history yet, it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tests"))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plays", type=int, default=20_000, help="plays in the emulator's history (default 20000)")
    ap.add_argument("--runs", type=int, default=2, help="build_index calls to time (the first one starts the instance)")
    ap.add_argument("--cw-host", action="store_true", help="also time `cw-host index history` on the same emulator")
    ap.add_argument("--keep", action="store_true", help="keep the temporary CONFIG_BASE")
    args = ap.parse_args()

    wasm, host = harness.wasm_path(), harness.cw_host_path()
    for what, p in (("component", wasm), ("cw-host", host)):
        if not p.is_file():
            print(f"bench_history: {what} not found at {p}; build with `cargo build --workspace`", file=sys.stderr)
            return 2

    base = Path(tempfile.mkdtemp(prefix="cw-bench-history-"))
    os.environ.setdefault("CW_TRAKT_LOG_LEVEL", "warn")
    import crosswatch_trakt_wasm as pkg
    from crosswatch_trakt_wasm import OPS

    pkg.settings.config_base = str(base / "config")
    pkg.settings.component_path = str(wasm)

    feature = OPS.manifest()["features"]["history"]
    if not feature["supported"]:
        print(json.dumps({"bench": "history", "skipped": f"the component does not support history yet ({feature['note']})"}))
        return 0

    shows = 40
    cat = harness.catalogue(movies=2000, shows=shows, seasons=5, episodes=10)
    plays = harness.history_plays(cat, args.plays)
    t = time.perf_counter()
    emu, dropped = harness.start_emulator(harness.seed(cat, history=plays), base / "emu")
    try:
        if "history" in dropped:
            print(json.dumps({"bench": "history", "skipped": "this cw-host emulator has no history seed data yet"}))
            return 0
        seeded = len(emu.state()["history"])
        started = time.perf_counter() - t
        cfg = harness.write_config(base / "config", emu, {"rate_limit": {"enabled": False}})

        for run in range(1, args.runs + 1):
            t = time.perf_counter()
            index = OPS.build_index(cfg, feature="history")
            secs = time.perf_counter() - t
            print(
                json.dumps(
                    {
                        "bench": "history",
                        "host": "python-wasmtime",
                        "run": run,
                        "seconds": round(secs, 3),
                        "plays": len(index),
                        "seeded_plays": seeded,
                        "requests": len(OPS.last_ledger(cfg)),
                        "emulator_start_s": round(started, 2),
                    }
                ),
                flush=True,
            )

        if args.cw_host:
            for run in range(1, args.runs + 1):
                t = time.perf_counter()
                proc = subprocess.run(
                    [
                        str(host),
                        "--config",
                        str(base / "config" / "config.json"),
                        "--state-dir",
                        str(base / "cw-host-state"),
                        "--component",
                        str(wasm),
                        "--log-level",
                        "warn",
                        "index",
                        "history",
                    ],
                    capture_output=True,
                )
                secs = time.perf_counter() - t
                if proc.returncode != 0:
                    print(json.dumps({"bench": "history", "host": "cw-host", "error": proc.stderr.decode()[-500:]}))
                    break
                print(
                    json.dumps(
                        {"bench": "history", "host": "cw-host", "run": run, "seconds": round(secs, 3), "plays": len(json.loads(proc.stdout))}
                    ),
                    flush=True,
                )
    finally:
        emu.stop()
        pkg.reset_sessions()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
