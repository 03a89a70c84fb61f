"""The sandbox policy holds in the Python host too: origins, signing, state names, atomic
writes and quota, the limits on every call, and a fresh instance after a trap."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

import harness
from crosswatch_trakt_wasm import OPS, TraktWasmError, settings
from crosswatch_trakt_wasm.config import Credentials, cache_dir
from crosswatch_trakt_wasm.imports import (
    HttpBroker,
    LogSink,
    ProgressSink,
    SharedCredentials,
    StateFault,
    StateStore,
    TokenService,
    validate_name,
)
from crosswatch_trakt_wasm.policy import Limits, Origin, Policy, PolicyError
from crosswatch_trakt_wasm.runtime import Adapter, HostServices, WitImports, component_for, load_component, engine

CAT = harness.catalogue(movies=6, shows=1, seasons=1, episodes=2)
WATCHLIST = [{"type": "movie", "trakt": i} for i in range(1, 6)]


def host_for(emu: harness.Emulator, state_dir: Path, limits: Limits = Limits(), lines=None) -> HostServices:
    origin = Origin.parse(emu.url)
    policy = Policy(origin, origin, limits)
    t = emu.trakt
    creds = SharedCredentials(Credentials(t["client_id"], t["client_secret"], t["access_token"], t["refresh_token"], t["expires_at"]))
    log = LogSink(0, lines.append if lines is not None else None)
    return HostServices(
        policy=policy,
        creds=creds,
        http=HttpBroker(policy, creds),
        state=StateStore(state_dir, limits.state_quota_bytes),
        auth=TokenService(creds, None, origin.base_url(), log),
        log=log,
        progress=ProgressSink(),
    )


def adapter_for(host: HostServices, options: dict) -> Adapter:
    component, _ = component_for(Path(settings.component_path), cache_dir())
    a = Adapter(component, host)
    assert a.configure(json.dumps(options)) is None
    return a


# --------------------------------------------------------------------------------------------
# network


def test_requests_to_any_other_origin_are_refused(emulators, cw):
    allowed, _ = emulators(harness.seed(CAT, WATCHLIST))
    other, _ = emulators(harness.seed(CAT, WATCHLIST))
    lines = []
    # The policy allows only `allowed`; the component is told to use `other`.
    a = adapter_for(host_for(allowed, cw / ".cw_state", lines=lines), {"api_url": other.url})
    err = a.build_index("watchlist")
    assert err.tag == "transport", err
    assert "refused by host policy" in err.payload, err.payload
    assert f"127.0.0.1:{other.port}" in err.payload
    assert other.requests() == [], "nothing reached the other origin"
    assert allowed.requests() == []
    assert any(line.startswith("[TRAKT:http] WARN request_failed") and "error=denied" in line for line in lines), lines


def test_the_policy_allows_exactly_the_two_origins():
    p = Policy(Origin.parse("https://api.trakt.tv"), Origin.parse("https://auth.trakt.tv"))
    assert p.check("https://api.trakt.tv/sync/watchlist?page=1") == "api"
    assert p.check("https://API.trakt.tv:443/x") == "api"
    assert p.check("https://auth.trakt.tv/oauth/token") == "oauth"
    for bad in ("https://api.trakt.tv:8443/x", "http://api.trakt.tv/x", "https://evil.example/steal", "ftp://api.trakt.tv/", "https://u:p@api.trakt.tv/"):
        with pytest.raises(PolicyError) as info:
            p.check(bad)
        assert str(info.value).startswith("refused by host policy"), info.value
    assert Origin.parse("HTTPS://API.Trakt.tv:443/").base_url() == "https://api.trakt.tv"
    assert Origin.parse("http://127.0.0.1:8080/prefix/").base_url() == "http://127.0.0.1:8080/prefix"


def test_the_host_signs_requests_and_the_component_never_sees_secrets(library_small):
    emu, cfg = library_small
    index = OPS.build_index(cfg, feature="watchlist")
    assert len(index) == len(WATCHLIST)
    t = emu.trakt
    reqs = emu.requests()
    assert reqs
    for r in reqs:
        h = dict(r["headers"])
        assert h["trakt-api-key"] == t["client_id"]
        assert h["authorization"] == f"Bearer <redacted:{t['access_token'][-4:]}>"
        assert h["trakt-api-version"] == "2"
        assert h["user-agent"].startswith("crosswatch-trakt-adapter/"), h
    produced = json.dumps(index)
    for secret in (t["access_token"], t["refresh_token"], t["client_secret"]):
        assert secret not in produced


def test_the_component_imports_nothing_but_the_contract(cw):
    component, _ = component_for(Path(settings.component_path), cache_dir())
    names = sorted(component.type.imports(engine()))
    for n in names:
        assert n.startswith(("crosswatch:sync/", "wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/")), n
    assert not any(n.startswith(("wasi:filesystem", "wasi:sockets", "wasi:http")) for n in names), names
    assert "crosswatch:sync/http@0.1.0" in names


# --------------------------------------------------------------------------------------------
# state


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "..", ".hidden", "", "x y", "é", "a" * 129])
def test_bad_state_names_are_refused(tmp_path, name):
    root = tmp_path / "root"
    store = StateStore(root / ".cw_state", 1 << 20)
    with pytest.raises(StateFault) as info:
        validate_name(name)
    assert info.value.kind == "invalid-name"
    # The state import as the component calls it answers state-error::invalid-name.
    origin = Origin.parse("http://127.0.0.1:9")
    policy = Policy(origin, origin)
    creds = SharedCredentials(Credentials())
    log = LogSink(99)
    imports = WitImports(
        HostServices(policy, creds, HttpBroker(policy, creds), store, TokenService(creds, None, origin.base_url(), log), log, ProgressSink())
    )
    for result in (imports.state_write(name, "evil"), imports.state_read(name), imports.state_delete(name)):
        assert result.tag == "invalid-name", result
        assert "invalid state file name" in result.payload
    assert not (root / "x").exists() and not (root / ".cw_state" / "a").exists()
    assert not any(root.rglob("*")) or all(p.is_dir() for p in root.rglob("*"))


def test_state_round_trip_quota_and_listing(tmp_path):
    s = StateStore(tmp_path / "st", 10)
    assert s.read("a") is None and s.list_names() == []
    s.write("a", b"12345")
    s.write("b", b"12345")
    s.write("a", b"1234")  # rewriting a file counts only its new size
    with pytest.raises(StateFault) as info:
        s.write("c", b"12")
    assert info.value.kind == "quota-exceeded"
    assert s.read("a") == b"1234"
    (tmp_path / "st" / ".tmp-leftover").write_bytes(b"x")  # not a valid name: not listed
    assert s.list_names() == ["a", "b"]
    s.delete("a")
    s.delete("a")
    assert s.list_names() == ["b"]
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == [".tmp-leftover", "b"]


def _imports_state() -> bool:
    component, _ = component_for(Path(settings.component_path), cache_dir())
    return "crosswatch:sync/state@0.1.0" in component.type.imports(engine())


def test_the_component_keeps_its_files_in_crosswatchs_state_dir(library_small, cw):
    emu, cfg = library_small
    if not _imports_state():
        pytest.skip("this component build does not use the state import yet")
    OPS.build_index(cfg, feature="watchlist")
    OPS.build_index(cfg, feature="watchlist")
    names = sorted(p.name for p in (cw / ".cw_state").iterdir())
    assert names, "state files written"
    for n in names:
        validate_name(n)


def test_state_failures_reach_the_component_as_typed_errors(library_small, cw):
    """A state directory that cannot be used answers state-error::io to the component (the
    error case of result<option<string>, state-error> needs the fix in wasmtime-py 50, see
    _compat.py): the call completes or fails with the adapter's `state` error, never a trap."""
    emu, cfg = library_small
    if not _imports_state():
        pytest.skip("this component build does not use the state import yet")
    (cw / ".cw_state").write_text("a file where the directory should be")
    try:
        index = OPS.build_index(cfg, feature="watchlist")
        assert len(index) == len(WATCHLIST)
    except TraktWasmError as e:
        assert e.kind == "state", e


# --------------------------------------------------------------------------------------------
# limits


def test_a_call_that_runs_out_of_fuel_stops_and_the_next_call_gets_a_fresh_instance(library_small, monkeypatch):
    emu, cfg = library_small
    monkeypatch.setattr(settings, "limits", replace(settings.limits, fuel_per_call=200_000))
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind == "limit" and "fuel" in info.value.message, info.value
    # The dead instance is not reused: the next call runs on a fresh one (still under the
    # small budget, which a one-item write fits in or not, but never "stopped earlier").
    w = OPS.add(cfg, [{"type": "movie", "ids": {"tmdb": 100006}}], feature="watchlist")
    assert w["ok"] is True or w["error_kind"] == "limit", w
    monkeypatch.setattr(settings, "limits", Limits())
    assert len(OPS.build_index(cfg, feature="watchlist")) == len(emu.state()["watchlist"])


def test_a_call_past_its_wall_clock_limit_stops(library_small, monkeypatch):
    emu, cfg = library_small
    OPS.health(cfg)  # the instance exists
    monkeypatch.setattr(settings, "limits", replace(settings.limits, call_timeout_secs=0.2))
    from crosswatch_trakt_wasm import reset_sessions

    reset_sessions()
    emu.add_fault({"when": {"path": "/sync/watchlist"}, "action": {"kind": "delay", "ms": 600}})
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind == "limit" and "wall-clock" in info.value.message, info.value
    monkeypatch.setattr(settings, "limits", Limits())
    assert len(OPS.build_index(cfg, feature="watchlist")) == len(WATCHLIST)


def test_the_memory_cap_is_enforced(library_small, monkeypatch):
    emu, cfg = library_small
    monkeypatch.setattr(settings, "limits", replace(settings.limits, memory_bytes=256 << 10))
    h = OPS.health(cfg)
    assert h["ok"] is False and h["status"] == "down", h
    assert h["error"]["kind"] == "limit" and "memory limit" in h["error"]["message"], h
    monkeypatch.setattr(settings, "limits", Limits())
    assert OPS.health(cfg)["ok"] is True


def test_memory_growth_past_the_cap_stops_the_call(emulators, cw, monkeypatch):
    cat = harness.catalogue(movies=1500, shows=0)
    emu, _ = emulators(harness.seed(cat, [{"type": "movie", "trakt": i} for i in range(1, 1501)]))
    cfg = harness.write_config(cw, emu)
    monkeypatch.setattr(settings, "limits", replace(settings.limits, memory_bytes=2 << 20))
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind in ("limit", "trap") and "memory" in info.value.message, info.value
    monkeypatch.setattr(settings, "limits", Limits())
    assert len(OPS.build_index(cfg, feature="watchlist")) == 1500


def test_compiled_components_are_cached(tmp_path, cw):
    eng = engine()
    _, _, first = load_component(eng, Path(settings.component_path), tmp_path / "cache")
    _, _, second = load_component(eng, Path(settings.component_path), tmp_path / "cache")
    assert (first, second) == ("compiled", "cache")
    assert len(list((tmp_path / "cache").glob("*.cwasm"))) == 1
    if os.name == "posix":
        assert (tmp_path / "cache").stat().st_mode & 0o077 == 0


@pytest.fixture
def library_small(emulators, cw):
    emu, _ = emulators(harness.seed(CAT, WATCHLIST))
    return emu, harness.write_config(cw, emu)
