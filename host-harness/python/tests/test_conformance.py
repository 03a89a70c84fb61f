"""The Python runner of the conformance suite (tests/conformance/README.md): every scenario of
tests/conformance/scenarios through this provider (the OPS CrossWatch calls) against the
emulator, checking outputs, the request log, config.json, the state files and the log, as the
Rust (tests/tests/conformance.rs) and Node (host-harness/node/test/conformance-runner.mjs)
runners do. The state directory is CrossWatch's, ``<CONFIG_BASE>/.cw_state``."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import harness
from crosswatch_trakt_wasm import OPS, TraktWasmError, settings

SCENARIOS = harness.REPO / "tests" / "conformance" / "scenarios"
CONTROL = re.compile("[\u0000-\u0008\u000b-\u001f\u007f-\u009f]")


def substitute(v: Any, env: dict) -> Any:
    if isinstance(v, str):
        for k, val in env.items():
            v = v.replace("{" + k + "}", str(val))
        return v
    if isinstance(v, list):
        return [substitute(x, env) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, env) for k, x in v.items()}
    return v


_MISSING = object()


def resolve(v: Any, path: str) -> Any:
    for seg in [s for s in path.split(".") if s]:
        if seg == "$json":
            v = json.loads(v)
        elif isinstance(v, dict):
            v = v.get(seg, _MISSING)
        elif isinstance(v, list) and seg.isdigit() and int(seg) < len(v):
            v = v[int(seg)]
        else:
            return _MISSING
        if v is _MISSING:
            return v
    return v


def check(v: Any, c: dict, where: str) -> None:
    got = resolve(v, c.get("path", ""))
    show = f"{where}: {c.get('path') or '(value)'} = {json.dumps(got, default=str)[:400] if got is not _MISSING else 'undefined'}"
    if "equals" in c:
        assert got is not _MISSING and got == c["equals"] and type(got) is type(c["equals"]), f"{show}, expected {c['equals']!r}"
    if "not_equals" in c:
        assert got != c["not_equals"], f"{show}, expected anything else"
    if "contains" in c:
        assert isinstance(got, (str, list)) and c["contains"] in got, f"{show}, expected it to contain {c['contains']!r}"
    if "not_contains" in c:
        assert not (isinstance(got, (str, list)) and c["not_contains"] in got), f"{show}, expected it not to contain {c['not_contains']!r}"
    if "len" in c:
        assert isinstance(got, (str, list, dict)) and len(got) == c["len"], f"{show}, expected length {c['len']}"


def call(cfg: dict, c: dict) -> Any:
    cmd = c["command"]
    try:
        if cmd == "manifest":
            return OPS.manifest()
        if cmd == "health":
            return OPS.health(cfg)
        if cmd == "index":
            return OPS.build_index(cfg, feature=c["feature"])
        op = OPS.add if cmd == "add" else OPS.remove
        out = op(cfg, c.get("items", []), feature=c["feature"], dry_run=bool(c.get("dry_run")))
        if out.get("ok") is False:  # the provider answers failures as data
            return {"ok": False, "error": {"kind": out.get("error_kind"), "message": out.get("error")}}
        return out
    except TraktWasmError as e:
        return {"ok": False, "error": {"kind": e.kind, "message": e.message, **(e.details or {})}}


def scenario_files():
    return sorted(SCENARIOS.glob("*.json"))


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_conformance(path: Path, cw, logs, hostile_wasm, monkeypatch, tmp_path):
    raw = json.loads(path.read_text())
    emu = harness.Emulator(raw.get("seed"), tmp_path / "emu")  # no seed: the built-in sample
    try:
        run(raw, emu, cw, logs, hostile_wasm, monkeypatch)
    finally:
        emu.stop()


def run(raw: dict, emu: harness.Emulator, cw: Path, logs: list, hostile_wasm: Path, monkeypatch) -> None:
    state_dir = cw / ".cw_state"
    env = {"emulator": emu.url, "emulator_authority": emu.url.split("://", 1)[1], "state_dir": state_dir}
    env.update({f"initial.{k}": v for k, v in emu.trakt.items()})
    s = substitute(raw, env)
    trakt = dict(emu.trakt, timeout=10, max_retries=3, rate_limit={"enabled": False})
    trakt.update(s.get("trakt") or {})
    if s.get("api_path"):
        trakt["api_url"] = emu.url + s["api_path"]
    (cw / "config.json").write_text(json.dumps({"version": 1, "plex": {"account_token": "plex-secret"}, "trakt": trakt}, indent=2))
    cfg = json.loads((cw / "config.json").read_text())
    made = (s.get("setup") or {}).get("state_dirs") or []
    for d in made:
        (state_dir / d).mkdir(parents=True, exist_ok=True)
    for f in s.get("faults") or []:
        emu.add_fault(f)
    if s.get("component") == "hostile":
        monkeypatch.setattr(settings, "component_path", str(hostile_wasm))
    timeout = (s.get("host") or {}).get("call_timeout_secs")
    if timeout:
        monkeypatch.setattr(settings, "limits", replace(settings.limits, call_timeout_secs=float(timeout)))

    for i, c in enumerate(s.get("calls") or []):
        out = call(cfg, c)
        for e in c.get("expect") or []:
            check(out, e, f"call {i} ({c['command']})")

    requests = emu.requests()
    for r in s.get("requests") or []:
        hits = [x for x in requests if (not r.get("method") or x["method"] == r["method"]) and (not r.get("path") or x["path"] == r["path"])]
        what = f"requests {r.get('method', '*')} {r.get('path', '*')}"
        if "count" in r:
            assert len(hits) == r["count"], f"{what}: {len(hits)}, expected {r['count']}: {[(x['method'], x['path'], x['status']) for x in requests]}"
        for h in hits:
            headers = {k.lower(): v for k, v in h["headers"]}
            for k, v in (r.get("headers") or {}).items():
                assert headers.get(k) == v, f"{what}: header {k} = {headers.get(k)!r}, expected {v!r}"
            for k in r.get("headers_absent") or []:
                assert k not in headers, f"{what}: header {k} present ({headers[k]!r})"
    if s.get("config"):
        after = json.loads((cw / "config.json").read_text())
        for c in s["config"]:
            check(after, c, "config.json")
    if s.get("state_files"):
        sf = s["state_files"]
        names = sorted(p.name for p in state_dir.iterdir() if p.name not in made) if state_dir.is_dir() else []
        if sf.get("empty"):
            assert names == [], f"state files {names}, expected none"
        if sf.get("not_empty"):
            assert names, "no state files, expected some"
        for p in sf.get("none_start_with") or []:
            assert not any(n.startswith(p) for n in names), f"state files {names}: one starts with {p}"
    if s.get("log"):
        lines = "\n".join(logs).split("\n")
        lg = s["log"]
        if lg.get("no_control_chars"):
            bad = [x for x in lines if CONTROL.search(x)]
            assert not bad, f"a log line holds a control character: {bad[0]!r}"
        for p in lg.get("no_line_starts_with") or []:
            assert not any(x.startswith(p) for x in lines), f"a log line starts with {p}"
        for t in lg.get("contains") or []:
            assert any(t in x for x in lines), f"no log line contains {t}"
