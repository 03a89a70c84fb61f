#!/usr/bin/env python3
"""Run every attack of the hostile test component in both hosts and print one table: the
outcome each host gave, the wall time and the host process's peak RSS (issue 12's closing
table). A figure printer, like the benchmarks, not a test: the tests that assert the same
outcomes are tests/tests/hostile.rs and host-harness/python/tests/test_hardening.py.

    cargo build -p cw-host && host-harness/python/run_tests.sh -q -k nothing_at_all || true
    python3 tests/hostile/attack_table.py

The Rust host runs as `cw-host --component HOSTILE health` (the attack's report is the health
message); the Python host runs in a child process of the suite's virtualenv
(target/py-venv) through `crosswatch_trakt_wasm.runtime.Adapter`. Each attack talks only to
a loopback listener of this script that records every raw request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "canary-access-token-5f2e"


class Listener:
    """HTTP/1.1 on 127.0.0.1: records each connection's raw bytes; answers 200 `{}`, echoes a
    TRACE, answers 401 to /unauthorized and a token to POST /oauth/token."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.raw: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        conn.settimeout(0.3)
        data = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        if not data:
            conn.close()
            return
        self.raw.append(data)
        status, body = "200 OK", b"{}"
        if data.startswith(b"TRACE "):
            body = data
        elif b"/unauthorized " in data.split(b"\r\n", 1)[0]:
            status, body = "401 Unauthorized", b'{"error":"invalid_token"}'
        elif data.startswith(b"POST /oauth/token "):
            body = json.dumps({"access_token": "rotated", "refresh_token": "r2", "expires_in": 86400}).encode()
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        try:
            conn.sendall(head + body)
        finally:
            conn.close()

    def take(self) -> list[bytes]:
        out, self.raw = self.raw, []
        return out


def attacks(url: str) -> list[tuple[str, str, dict, dict]]:
    """(issue point, attack name, options, limits) in the issue's order."""
    return [
        ("1", "framing", {"attack": "framing"}, {}),
        ("3", "sleep 3600 s (duration)", {"attack": "sleep", "secs": 3600}, {"call_timeout": 2}),
        ("3", "sleep 3600 s (instant)", {"attack": "sleep", "secs": 3600, "via": "instant"}, {"call_timeout": 2}),
        ("4", "TRACE", {"attack": "method", "method": "TRACE"}, {}),
        ("5", "Host header", {"attack": "host_header", "host": "other.example"}, {}),
        ("6", "progress flood (default budget)", {"attack": "progress_flood"}, {}),
        ("7", "100 MiB index of tiny entries", {"attack": "big_index", "mib": 100}, {}),
        ("8", "10 x auth.refresh, no 401", {"attack": "refresh_spam", "count": 10}, {}),
        ("8", "10 x auth.refresh after one 401", {"attack": "refresh_spam", "count": 10, "url": f"{url}/unauthorized"}, {}),
        ("9", "log forging", {"attack": "log_forge"}, {}),
        ("10", "5,000 empty state files", {"attack": "state_flood", "count": 5000}, {}),
        ("11", "path outside the base path", {"attack": "path_prefix", "url": url.replace("/trakt", "") + "/other-app/x"}, {}),
        ("12", "state io error", {"attack": "state_error", "name": "dir"}, {}),
    ]


def run_measured(argv: list[str], env: dict | None = None) -> tuple[int, str, str, float, int]:
    """Exit code, stdout, stderr, wall seconds and peak RSS (MiB) of one child process."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), took, usage.ru_maxrss // 1024


def in_cw_host(hostile: Path, api: str, oauth: str, options: dict, limits: dict, work: Path) -> tuple[str, str, float, int]:
    """(report or error text, stderr, seconds, MiB) of the attack in cw-host."""
    if options["attack"] == "big_index":
        return "n/a: cw-host reads the typed build-index records", "", 0.0, 0
    cfg = work / "config.json"
    block = {"client_id": "canary-client-id", "client_secret": "canary-secret", "access_token": TOKEN,
             "refresh_token": "canary-refresh", "expires_at": 4102444800, "api_url": api, "auth_url": oauth}
    block.update({k: v for k, v in options.items()})
    cfg.write_text(json.dumps({"trakt": block}))
    (work / "state").mkdir(exist_ok=True)
    (work / "state" / "dir").mkdir(exist_ok=True)
    argv = [str(REPO / "target/debug/cw-host"), "--config", str(cfg), "--state-dir", str(work / "state"),
            "--component", str(hostile), "--log-level", "debug", "--cache-dir", str(work / "cache")]
    if "call_timeout" in limits:
        argv += ["--call-timeout", str(limits["call_timeout"])]
    code, out, err, took, rss = run_measured(argv + ["health"])
    try:
        doc = json.loads(out)
        # cw-host prints the health report's message as details.reason
        text = (doc.get("details") or {}).get("reason") or json.dumps(doc.get("error", doc))
    except ValueError:
        text = f"exit {code}: {out.strip()[:200]}"
    return text, err, took, rss


PY_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from crosswatch_trakt_wasm.config import Credentials
from crosswatch_trakt_wasm.imports import HttpBroker, LogSink, ProgressSink, SharedCredentials, StateStore, TokenService
from crosswatch_trakt_wasm.policy import Limits, Origin, Policy
from crosswatch_trakt_wasm.runtime import Adapter, HostError, HostServices, engine, load_component, parse_index_json
wasm, api, options, limits, work = sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5]), Path(sys.argv[6])
lim = Limits(call_timeout_secs=limits["call_timeout"]) if "call_timeout" in limits else Limits()
origin = Origin.parse(api)
oauth = Origin.parse(sys.argv[7])
policy = Policy(origin, oauth, lim)
creds = SharedCredentials(Credentials("canary-client-id", "canary-secret", "canary-access-token-5f2e", "canary-refresh", 4102444800))
log = LogSink(0, lambda line: print(line, file=sys.stderr))
(work / "state" / "dir").mkdir(parents=True, exist_ok=True)
host = HostServices(policy=policy, creds=creds, http=HttpBroker(policy, creds), state=StateStore(work / "state", lim.state_quota_bytes),
                    auth=TokenService(creds, None, oauth.base_url(), log), log=log, progress=ProgressSink())
component, _, _ = load_component(engine(), Path(wasm), None)
a = Adapter(component, host)
a.configure(json.dumps(dict(options, api_url=api)))
try:
    if options["attack"] == "big_index":
        parse_index_json(a.build_index_json("watchlist"), lim, "watchlist")
        print(json.dumps({"parsed": True}))
    else:
        print(a.health().message)
except HostError as e:
    print(json.dumps({"error": {"kind": e.kind, "message": str(e)}}))
sys.stdout.flush()
"""


def in_python(hostile: Path, api: str, oauth: str, options: dict, limits: dict, work: Path) -> tuple[str, str, float, int]:
    python = REPO / "target/py-venv/bin/python"
    argv = [str(python), "-c", PY_CHILD, str(REPO / "host-harness/python"), str(hostile), api,
            json.dumps(options), json.dumps(limits), str(work), oauth]
    code, out, err, took, rss = run_measured(argv)
    # The process ends with the call's thread abandoned in a sleep: os._exit is not needed,
    # daemon threads do not hold the interpreter.
    text = out.strip().splitlines()[-1] if out.strip() else f"exit {code}: {err.strip()[-300:]}"
    return text, err, took, rss


def outcome(name: str, text: str, err: str, wire: list[bytes], work: Path) -> str:
    """One short sentence of what happened, from the report, the log and the wire."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:90]
    if "error" in doc and "results" not in doc:
        e = doc["error"]
        return f"{e.get('kind')}: {str(e.get('message'))[:70]}"
    results = doc.get("results") or [doc]
    first = results[0] if results else {}
    heads = [w.split(b"\r\n\r\n", 1)[0].decode(errors="replace") for w in wire]
    if name == "framing":
        lines = [l for h in heads for l in h.split("\r\n")]
        smuggled = sum(w.count(b"GET /sync/") for w in wire) - len(wire)
        te = any(l.lower().startswith("transfer-encoding") for l in lines)
        return f"{len(wire)} request(s) on the wire, Transfer-Encoding sent: {te}, smuggled requests parsed: {max(smuggled, 0)} (body only)"
    if name == "TRACE":
        return f"{first.get('error', {}).get('kind', first.get('status'))}; {len(wire)} request(s) on the wire; token echoed: {any(TOKEN.encode() in w for w in wire) and bool(first.get('body'))}"
    if name == "Host header":
        hosts = [l for h in heads for l in h.split("\r\n") if l.lower().startswith("host:")]
        return f"Host sent: {', '.join(hosts) or 'none'}"
    if name.startswith("10 x auth.refresh"):
        grants = sum(1 for w in wire if w.startswith(b"POST /oauth/token "))
        return f"{grants} refresh grant(s) sent for 10 asks"
    if name == "log forging":
        forged = [l for l in err.splitlines() if l.startswith("[TRAKT:auth] INFO token_refreshed")]
        escapes = sum(l.count("\x1b") for l in err.splitlines())
        return f"forged lines: {len(forged)}, raw escape characters on stderr: {escapes}"
    if name.startswith("5,000"):
        files = len(list((work / "state").iterdir()))
        refusal = ((first.get("error") or {}).get("error") or {}).get("message", "no refusal")
        return f"written {first.get('written')}, then: {refusal[:60]}; files on disk {files}"
    if name.startswith("path outside"):
        signed = sum(1 for w in wire if TOKEN.encode() in w)
        return f"{first.get('error', {}).get('kind', first.get('status'))}; {len(wire)} request(s) on the wire, {signed} signed"
    if name == "state io error":
        leaks = sum(1 for r in results if str(work) in json.dumps(r))
        return f"{', '.join(r.get('error', {}).get('kind', 'ok') for r in results)}; state dir named: {leaks} time(s)"
    return json.dumps(first)[:90]


def main() -> int:
    hostile = Path(subprocess.check_output(["cargo", "run", "-q", "-p", "trakt-adapter-artifacts", "--", "--hostile"], cwd=REPO, text=True).strip())
    listener, oauth_listener = Listener(), Listener()
    api = f"{listener.url}/trakt"
    rows = []
    for point, name, options, limits in attacks(api):
        for host, runner in (("cw-host", in_cw_host), ("python", in_python)):
            with tempfile.TemporaryDirectory() as tmp:
                listener.take(), oauth_listener.take()
                text, err, took, rss = runner(hostile, api, oauth_listener.url, options, limits, Path(tmp))
                time.sleep(0.35)  # the listeners' last connections settle
                wire = listener.take() + oauth_listener.take()
                rows.append((point, name, host, outcome(name, text, err, wire, Path(tmp)), took, rss))
    print(f"{'pt':>3} | {'attack':<33} | {'host':<7} | {'s':>6} | {'MiB':>5} | outcome")
    print("-" * 140)
    for point, name, host, what, took, rss in rows:
        print(f"{point:>3} | {name:<33} | {host:<7} | {took:6.2f} | {rss:5d} | {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
