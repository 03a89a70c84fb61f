"""Several Trakt accounts (CrossWatch instances), encrypted configs and per-pair state.

OPS is driven the way CrossWatch's orchestrator drives it: the config view of a pair is the
Trakt instance's block merged over the base block, and the CW_PAIR_* environment is set around
the calls. The emulator serves several accounts on one origin and logs which account signed
each request."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

import cw_standin
import harness
from crosswatch_trakt_wasm import OPS, TraktWasmError, instances, tokens
from crosswatch_trakt_wasm.config import TokenUpdate
from crosswatch_trakt_wasm.imports import HttpBroker, LogSink, StateStore
from crosswatch_trakt_wasm.tokenstore import persist_tokens

CAT = harness.catalogue(movies=12, shows=2, seasons=1, episodes=2)
MOVIE = {m["ids"]["trakt"]: m for m in CAT["movies"]}
DAY = 86400
WEEK = 7 * DAY
APP = {"client_id": "shared-app-id", "client_secret": "shared-app-secret"}
PAIR_A = "one-way:PLEX-TRAKT:pair-a"
PAIR_B = "one-way:PLEX-TRAKT:pair-b"
SHADOW = "trakt_watchlist.shadow.json"


def movie(trakt: int) -> dict:
    m = MOVIE[trakt]
    return {"type": "movie", "title": m["title"], "year": m["year"], "ids": {"tmdb": m["ids"]["tmdb"], "imdb": m["ids"]["imdb"]}}


def wl(*trakt_ids: int) -> list:
    return [{"type": "movie", "trakt": t} for t in trakt_ids]


def last4(token: str) -> str:
    return token[-4:]


def needs_accounts(emu) -> None:
    if not any("account" in r for r in emu.requests()):
        pytest.skip("this cw-host emulator does not serve several accounts yet (no `account` in its request log)")


def two_accounts(emulators, a_expires=None, b_expires=None):
    """Alice (primary, the CrossWatch default instance) and Bob (instance ``b``) on one
    emulator, the same Trakt application for both."""
    now = int(time.time())
    alice = harness.account(
        "alice",
        dict(APP, access_token="alice-token-aaaa", refresh_token="alice-refresh-aaaa", expires_at=a_expires or now + 30 * DAY),
        wl(1, 2),
    )
    bob = harness.account(
        "bob",
        dict(APP, access_token="bob-token-bbbb", refresh_token="bob-refresh-bbbb", expires_at=b_expires or now + 30 * DAY),
        wl(3, 4, 5),
    )
    primary = dict(alice, catalog=CAT)
    try:
        emu, _ = emulators(harness.seed_accounts(primary, bob))
    except harness.EmulatorError as e:
        if "accounts" in str(e):
            pytest.skip(f"this cw-host emulator does not take several accounts yet: {e}")
        raise
    # An emulator without several accounts ignores `accounts` and logs no `account`.
    emu.clear_requests()
    return emu


def write_two_account_config(base, emu, a_extra=None, b_block=None) -> dict:
    trakt = harness.trakt_block_for(emu, "alice", a_extra)
    b = emu.accounts.get("bob") or {}
    trakt["instances"] = {
        "b": b_block
        if b_block is not None
        else {
            "access_token": b.get("access_token", "bob-token-bbbb"),
            "refresh_token": b.get("refresh_token", "bob-refresh-bbbb"),
            "expires_at": int(time.time()) + WEEK,
            "label": "Bob",
        }
    }
    cfg = {
        "version": 1,
        "plex": {"server_url": "http://plex.local:32400", "account_token": "plex-secret"},
        "trakt": trakt,
        "sync": {"enable_add": True, "enable_remove": True},
    }
    (base / "config.json").write_text(json.dumps(cfg, indent=2))
    return json.loads((base / "config.json").read_text())


def api_requests(emu) -> list:
    return [r for r in emu.requests() if not r["path"].startswith("/oauth/")]


def bearer_last4(r: dict) -> str:
    for k, v in r["headers"]:
        if k == "authorization":
            return v.rsplit(":", 1)[-1].rstrip(">")
    return ""


def scoped(base, scope: str):
    return base / ".cw_state" / "trakt-wasm" / instances.safe_scope(scope)


def files_in(d) -> set:
    return {p.name for p in d.iterdir() if p.is_file()} if d.exists() else set()


@pytest.fixture
def wire(monkeypatch):
    """Everything the provider puts on the wire as a token: Authorization values it signs and
    the token grants' bodies."""
    seen: list = []
    sign, post = HttpBroker.sign, tokens._post_json

    def spy_sign(self, headers):
        out = sign(self, headers)
        seen.extend(v for k, v in out if k.lower() == "authorization")
        return out

    def spy_post(base_url, path, body, timeout=30.0):
        seen.extend(str(v) for v in body.values())
        return post(base_url, path, body, timeout)

    monkeypatch.setattr(HttpBroker, "sign", spy_sign)
    monkeypatch.setattr(tokens, "_post_json", spy_post)
    return seen


# --------------------------------------------------------------------------------------------
# the rules, without the component


def test_the_instance_comes_from_crosswatchs_pair_environment(monkeypatch):
    assert instances.normalize_instance_id("") == "default"
    assert instances.normalize_instance_id(" Default ") == "default"
    assert instances.normalize_instance_id("b:2") == "b"
    assert instances.normalize_instance_id("default:1") == "default"
    assert instances.normalize_instance_id("b:x") == "b:x"
    env = {"CW_PAIR_SRC": "PLEX", "CW_PAIR_DST": "TRAKT", "CW_PAIR_SRC_INSTANCE": "p", "CW_PAIR_DST_INSTANCE": "b:1"}
    assert instances.pair_instances(env) == ("b", None)
    env.update(CW_PAIR_SRC="TRAKT", CW_PAIR_DST="SIMKL", CW_PAIR_SRC_INSTANCE="")
    assert instances.pair_instances(env) == ("default", None)
    assert instances.pair_instances({}) == ("default", None)
    both = {"CW_PAIR_SRC": "TRAKT", "CW_PAIR_DST": "TRAKT", "CW_PAIR_SRC_INSTANCE": "a", "CW_PAIR_DST_INSTANCE": "b"}
    assert instances.pair_instances(both) == ("a", "b")
    disk = {"a": ("ta", "ra"), "b": ("tb", "rb")}
    assert instances.choose("a", "b", ("tb", ""), disk.get) == "b"
    assert instances.choose("a", "b", ("", "rb"), disk.get) == "b"
    assert instances.choose("a", "b", ("tx", "rx"), disk.get) == "a"
    # Health runs name the instance on both sides.
    harness.health_env(monkeypatch, "b")
    assert instances.pair_instances() == ("b", None)


def test_the_state_scope_rule_shared_with_the_rust_host(tmp_path):
    key = {"CW_PAIR_KEY": "", "CW_PAIR_SCOPE": " ", "CW_SYNC_PAIR": "one-way:PLEX-TRAKT:p1", "CW_PAIR": "x"}
    assert instances.pair_key(key) == "one-way:PLEX-TRAKT:p1"
    assert instances.state_scope("default", key) == "one-way:PLEX-TRAKT:p1|TRAKT#default"
    assert instances.state_scope("b", key) == "one-way:PLEX-TRAKT:p1|TRAKT#b"
    assert instances.state_scope("default", {"CW_PAIR_KEY": "health:TRAKT#default"}) is None
    assert instances.state_scope("b", {"CW_PAIR_KEY": "health:TRAKT#b"}) == "TRAKT#b"
    assert instances.state_scope("default", {}) is None
    assert instances.state_scope("b", {}) == "TRAKT#b"
    # These exact names are what the Rust host computes too.
    assert instances.safe_scope("one-way:PLEX-TRAKT:p1|TRAKT#default") == "one-way_PLEX-TRAKT_p1_TRAKT_default"
    assert instances.safe_scope("TRAKT#b") == "TRAKT_b"
    assert instances.safe_scope("__..a  b//c..__") == "a_b_c"
    assert instances.safe_scope("._x_.") == "x"
    assert instances.safe_scope("..") == "scope"
    assert instances.safe_scope("one-way:PLEX#default-TRAKT#b:p1|TRAKT#b") == "one-way_PLEX_default-TRAKT_b_p1_TRAKT_b"
    long = "two-way:" + "é" * 20 + "x" * 100 + "|TRAKT#default"
    safe = instances.safe_scope(long)
    import hashlib

    assert len(safe) == 96 and safe == ("two-way_" + "x" * 75) + "-" + hashlib.sha256(long.encode()).hexdigest()[:12]
    assert instances.state_dir_for(tmp_path, None) == tmp_path
    assert instances.state_dir_for(tmp_path, "TRAKT#b") == tmp_path / "trakt-wasm" / "TRAKT_b"
    assert instances.legacy_dir_for(tmp_path, "default", "p|TRAKT#default") == tmp_path
    assert instances.legacy_dir_for(tmp_path, "b", "p|TRAKT#b") is None
    assert instances.legacy_dir_for(tmp_path, "default", None) is None


def test_legacy_state_files_are_adopted_once_by_the_default_account(tmp_path, logs):
    state = tmp_path / ".cw_state"
    state.mkdir()
    (state / "trakt_watchlist.shadow.json").write_text("legacy")
    (state / "trakt_ratings.index.json").write_text("legacy ratings")
    scoped_dir = instances.state_dir_for(state, "p|TRAKT#default")
    store = StateStore(scoped_dir, 1 << 20, instances.legacy_dir_for(state, "default", "p|TRAKT#default"), LogSink())
    assert store.read("trakt_watchlist.shadow.json") == b"legacy"
    assert not (state / "trakt_watchlist.shadow.json").exists()
    assert (scoped_dir / "trakt_watchlist.shadow.json").read_text() == "legacy"
    assert [line for line in logs if "state_adopted" in line and "name=trakt_watchlist.shadow.json" in line]
    # Once: the scoped copy wins from now on, a later legacy file is not taken again.
    (state / "trakt_watchlist.shadow.json").write_text("newer legacy")
    store.write("trakt_watchlist.shadow.json", b"scoped")
    assert store.read("trakt_watchlist.shadow.json") == b"scoped"
    assert (state / "trakt_watchlist.shadow.json").read_text() == "newer legacy"
    assert sum("state_adopted" in line for line in logs) == 1
    # A delete removes both copies; a missing name is None.
    store.delete("trakt_watchlist.shadow.json")
    assert not (scoped_dir / "trakt_watchlist.shadow.json").exists() and not (state / "trakt_watchlist.shadow.json").exists()
    assert store.read("nothing.json") is None
    # Another account never adopts the default account's files.
    other = StateStore(instances.state_dir_for(state, "p|TRAKT#b"), 1 << 20, instances.legacy_dir_for(state, "b", "p|TRAKT#b"), LogSink())
    assert other.read("trakt_ratings.index.json") is None
    assert (state / "trakt_ratings.index.json").read_text() == "legacy ratings"


def test_rotated_tokens_go_into_the_instance_block_encrypted_when_the_config_is(tmp_path, monkeypatch):
    pytest.importorskip("cryptography")
    monkeypatch.delenv("CW_CONFIG_KEY", raising=False)
    monkeypatch.delenv("CROSSWATCH_CONFIG_KEY", raising=False)
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"trakt": {"client_id": "id", "access_token": "a", "instances": {"b": {"label": "B"}}}, "z": {"account_token": "s"}}))
    key = cw_standin.encrypt_file(tmp_path)
    before = json.loads(p.read_text())
    persist_tokens(p, TokenUpdate("new-b", "refresh-b", 99), "b")
    after = json.loads(p.read_text())
    b = after["trakt"]["instances"]["b"]
    assert b["label"] == "B" and b["expires_at"] == 99
    assert cw_standin.decrypt(b["access_token"], key) == "new-b" and cw_standin.decrypt(b["refresh_token"], key) == "refresh-b"
    assert {k: v for k, v in after["trakt"].items() if k != "instances"} == {k: v for k, v in before["trakt"].items() if k != "instances"}
    assert after["z"] == before["z"]
    # A passphrase key (not 32 bytes of base64) goes through SHA-256, as CrossWatch does.
    monkeypatch.setenv("CW_CONFIG_KEY", "correct horse battery staple")
    persist_tokens(p, TokenUpdate("new-a", "refresh-a", 5))
    assert cw_standin.decrypt(json.loads(p.read_text())["trakt"]["access_token"], "correct horse battery staple") == "new-a"
    # A plain config stays plain.
    q = tmp_path / "plain.json"
    q.write_text('{"trakt": {"access_token": "x"}}')
    persist_tokens(q, TokenUpdate("y", "z", 1), "b")
    assert json.loads(q.read_text()) == {"trakt": {"access_token": "x", "instances": {"b": {"access_token": "y", "refresh_token": "z", "expires_at": 1}}}}


# --------------------------------------------------------------------------------------------
# two accounts on one Trakt application


def test_two_accounts_never_share_credentials_tokens_or_state(emulators, cw, monkeypatch, logs):
    """Alice (default) and Bob (instances.b), one app. Bob's token is dead on Trakt though his
    config says a week (a 401), and later close to expiry (refreshed ahead). Every request of
    each pair carries its own account's token; Bob's pairs land in trakt.instances.b only."""
    emu = two_accounts(emulators, b_expires=1000)
    cfg = write_two_account_config(cw, emu)
    original = json.loads((cw / "config.json").read_text())
    base_before = json.dumps({k: v for k, v in original["trakt"].items() if k != "instances"})
    view_a, view_b = harness.instance_view(cfg, "default"), harness.instance_view(cfg, "b")
    assert view_b["trakt"]["access_token"] == "bob-token-bbbb" and view_b["trakt"]["client_id"] == APP["client_id"]

    def phase(env_key, inst, call, expect):
        """One pair's call; every API request it made was signed by ``expect``'s token."""
        emu.clear_requests()
        harness.pair_env(monkeypatch, env_key, "PLEX", "TRAKT", "default", inst)
        out = call()
        reqs = api_requests(emu)
        assert reqs and {r["account"] for r in reqs} == {expect}, reqs
        return out, reqs

    # Health of each instance, as the orchestrator runs it.
    emu.clear_requests()
    harness.health_env(monkeypatch, "default")
    assert OPS.health(view_a)["ok"] is True
    needs_accounts(emu)
    assert {r["account"] for r in api_requests(emu)} == {"alice"}
    emu.clear_requests()
    harness.health_env(monkeypatch, "b")
    h = OPS.health(view_b)
    assert h["ok"] is True, h
    reqs = api_requests(emu)
    rejected = [r for r in reqs if r["status"] == 401]
    assert rejected and all(bearer_last4(r) == "bbbb" and r["account"] != "alice" for r in rejected), reqs
    assert all(r["account"] == "bob" for r in reqs if r["status"] != 401), reqs
    grants = emu.requests_to("POST", "/oauth/token")
    assert len(grants) == 1 and grants[0]["account"] == "bob" and grants[0]["body"]["refresh_token"] == "bob-refresh-bbbb"

    # Pair A (alice) and pair B (bob): index and a write each.
    idx_a, reqs = phase(PAIR_A, "default", lambda: OPS.build_index(view_a, feature="watchlist"), "alice")
    assert sorted(idx_a) == ["tmdb:100001", "tmdb:100002"]
    phase(PAIR_A, "default", lambda: OPS.add(view_a, [movie(7)], feature="watchlist"), "alice")
    idx_b, reqs = phase(PAIR_B, "b", lambda: OPS.build_index(view_b, feature="watchlist"), "bob")
    assert sorted(idx_b) == ["tmdb:100003", "tmdb:100004", "tmdb:100005"]
    r, reqs = phase(PAIR_B, "b", lambda: OPS.add(view_b, [movie(8)], feature="watchlist"), "bob")
    assert r["confirmed_keys"] == ["tmdb:100008"]
    assert emu.requests_to("POST", "/oauth/token") == []

    # Later in the run Bob's token gets close to its expiry (our clock moves 7 days minus 30
    # minutes on); Alice's has a month left.
    real_now = tokens.now
    monkeypatch.setattr(tokens, "now", lambda: real_now() + WEEK - 1800)
    r, reqs = phase(PAIR_B, "b", lambda: OPS.remove(view_b, [movie(8)], feature="watchlist"), "bob")
    assert r["confirmed_keys"] == ["tmdb:100008"]
    grants = emu.requests_to("POST", "/oauth/token")
    assert len(grants) == 1 and grants[0]["account"] == "bob", grants
    idx_a2, reqs = phase(PAIR_A, "default", lambda: OPS.build_index(view_a, feature="watchlist"), "alice")
    assert sorted(idx_a2) == ["tmdb:100001", "tmdb:100002", "tmdb:100007"]
    assert emu.requests_to("POST", "/oauth/token") == [], "alice's token is never refreshed"

    # The accounts on Trakt: each pair's writes in its own account.
    assert {e["trakt"] for e in emu.state("alice")["watchlist"]} == {1, 2, 7}
    assert {e["trakt"] for e in emu.state("bob")["watchlist"]} == {3, 4, 5}

    # config.json: Bob's rotated pair in trakt.instances.b and nowhere else; Alice's block and
    # everything else byte for byte as before.
    text = (cw / "config.json").read_text()
    saved = json.loads(text)
    bob_now = emu.state("bob")["auth"]
    b = saved["trakt"]["instances"]["b"]
    assert (b["access_token"], b["refresh_token"]) == (bob_now["access_token"], bob_now["refresh_token"])
    assert b["label"] == "Bob" and b["expires_at"] > int(time.time()) + WEEK - 3600
    assert text.count(bob_now["access_token"]) == 1 and text.count(bob_now["refresh_token"]) == 1
    assert json.dumps({k: v for k, v in saved["trakt"].items() if k != "instances"}) == base_before
    assert {k: v for k, v in saved.items() if k != "trakt"} == {k: v for k, v in original.items() if k != "trakt"}
    assert saved["trakt"]["access_token"] == "alice-token-aaaa"
    # CrossWatch's in-memory view of Bob follows; Alice's is untouched.
    assert view_b["trakt"]["access_token"] == bob_now["access_token"]
    assert view_a["trakt"]["access_token"] == "alice-token-aaaa"

    # State: one directory per pair and account, never mixed.
    dir_a, dir_b = scoped(cw, f"{PAIR_A}|TRAKT#default"), scoped(cw, f"{PAIR_B}|TRAKT#b")
    assert SHADOW in files_in(dir_a) and SHADOW in files_in(dir_b)
    shadow_a, shadow_b = ((d / SHADOW).read_text() for d in (dir_a, dir_b))
    assert "100007" in shadow_a and "100003" not in shadow_a and "100008" not in shadow_a
    assert "100003" in shadow_b and "100001" not in shadow_b and "100007" not in shadow_b
    assert set(os.listdir(cw / ".cw_state" / "trakt-wasm")) <= {dir_a.name, dir_b.name, "TRAKT_b"}
    assert not (cw / ".cw_state" / SHADOW).exists(), "no pair wrote the unscoped layout"


def test_both_sides_trakt_picks_the_account_by_its_token(emulators, cw, monkeypatch):
    emu = two_accounts(emulators)
    cfg = write_two_account_config(cw, emu)
    harness.pair_env(monkeypatch, "two-way:TRAKT-TRAKT:mirror", "TRAKT", "TRAKT", "default", "b")
    index_b = OPS.build_index(harness.instance_view(cfg, "b"), feature="watchlist")
    needs_accounts(emu)
    assert sorted(index_b) == ["tmdb:100003", "tmdb:100004", "tmdb:100005"]
    assert {r["account"] for r in api_requests(emu)} == {"bob"}
    emu.clear_requests()
    index_a = OPS.build_index(harness.instance_view(cfg, "default"), feature="watchlist")
    assert sorted(index_a) == ["tmdb:100001", "tmdb:100002"]
    assert {r["account"] for r in api_requests(emu)} == {"alice"}
    assert SHADOW in files_in(scoped(cw, "two-way:TRAKT-TRAKT:mirror|TRAKT#b"))
    assert SHADOW in files_in(scoped(cw, "two-way:TRAKT-TRAKT:mirror|TRAKT#default"))


def test_an_instance_without_its_own_token_never_uses_the_base_accounts(emulators, cw, monkeypatch):
    emu = two_accounts(emulators)
    cfg = write_two_account_config(cw, emu, b_block={"label": "Bob, not connected yet"})
    view_b = harness.instance_view(cfg, "b")
    assert view_b["trakt"]["access_token"] == "alice-token-aaaa", "CrossWatch's merged view inherits it"
    harness.pair_env(monkeypatch, PAIR_B, "PLEX", "TRAKT", "default", "b")
    assert OPS.is_configured(view_b) is False
    h = OPS.health(view_b)
    assert h["ok"] is False and h["status"] == "auth_failed", h
    assert "trakt.instances.b.access_token" in h["details"]["reason"], h
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(view_b, feature="watchlist")
    assert info.value.kind == "auth"
    assert emu.requests() == []


def test_legacy_unscoped_state_is_adopted_by_the_first_scoped_run(emulators, cw, monkeypatch, logs):
    emu, _ = emulators(harness.seed(CAT, wl(1, 2, 3)))
    cfg = harness.write_config(cw, emu)
    state = cw / ".cw_state"
    # Before state was scoped (and in health runs): files directly in .cw_state.
    assert len(OPS.build_index(cfg, feature="watchlist")) == 3
    assert SHADOW in files_in(state)
    legacy = (state / SHADOW).read_text()
    harness.pair_env(monkeypatch, PAIR_A, "PLEX", "TRAKT", "default", "default")
    emu.clear_requests()
    assert len(OPS.build_index(cfg, feature="watchlist")) == 3
    d = scoped(cw, f"{PAIR_A}|TRAKT#default")
    assert SHADOW in files_in(d) and SHADOW not in files_in(state)
    assert [line for line in logs if "state_adopted" in line and f"name={SHADOW}" in line], logs
    # The adopted ETag shadow is used: Trakt answers 304.
    assert [r["status"] for r in emu.requests_to("GET", "/sync/watchlist")] == [304]
    assert (d / SHADOW).read_text() == legacy, "moved as it was (the index text and its trailer line)"
    # A second pair of the same account finds nothing left to adopt and starts afresh.
    n = sum("state_adopted" in line for line in logs)
    harness.pair_env(monkeypatch, PAIR_B, "PLEX", "TRAKT", "default", "default")
    assert len(OPS.build_index(cfg, feature="watchlist")) == 3
    assert sum("state_adopted" in line for line in logs) == n
    assert SHADOW in files_in(scoped(cw, f"{PAIR_B}|TRAKT#default"))


# --------------------------------------------------------------------------------------------
# encrypted configs (CrossWatch 0.11.3 saves secrets as enc:v1:<Fernet token>)


def encrypted_setup(emulators, cw, monkeypatch, where: str, trigger: str):
    pytest.importorskip("cryptography")
    monkeypatch.delenv("CW_CONFIG_KEY", raising=False)
    monkeypatch.delenv("CROSSWATCH_CONFIG_KEY", raising=False)
    now = int(time.time())
    # "ahead": Alice (default), whose config says 60 s are left; "401": Bob (instance b),
    # whose token Trakt considers long expired while the config says a week.
    emu = two_accounts(emulators, b_expires=1000 if trigger == "401" else None)
    write_two_account_config(cw, emu, a_extra={"expires_at": now + 60} if trigger == "ahead" else {"expires_at": now + WEEK})
    key = cw_standin.encrypt_file(cw)
    standin = cw_standin.install(monkeypatch, cw) if where == "inside" else None
    if standin is not None:
        handed = standin.load_config()  # CrossWatch hands its decrypted config
    else:
        handed = json.loads((cw / "config.json").read_text())  # the file as it is: enc:v1: values
    inst, user, pair = ("default", "alice", PAIR_A) if trigger == "ahead" else ("b", "bob", PAIR_B)
    harness.pair_env(monkeypatch, pair, "PLEX", "TRAKT", "default", inst)
    return emu, key, standin, harness.instance_view(handed, inst), inst, user


@pytest.mark.parametrize("where", ["outside", "inside"])
@pytest.mark.parametrize("trigger", ["ahead", "401"])
def test_an_encrypted_config_survives_a_refresh(emulators, cw, monkeypatch, wire, where, trigger):
    emu, key, standin, view, inst, user = encrypted_setup(emulators, cw, monkeypatch, where, trigger)
    before = json.loads((cw / "config.json").read_text())
    old = "alice-token-aaaa" if user == "alice" else "bob-token-bbbb"

    index = OPS.build_index(view, feature="watchlist")
    assert len(index) == (2 if user == "alice" else 3)
    needs_accounts(emu)
    grants = emu.requests_to("POST", "/oauth/token")
    assert len(grants) == 1 and grants[0]["status"] == 200 and grants[0]["account"] == user, grants
    assert grants[0]["body"]["refresh_token"] == old.replace("token", "refresh")
    assert grants[0]["body"]["client_secret"] == APP["client_secret"]
    now = emu.state(user)["auth"]
    gets = emu.requests_to("GET", "/sync/watchlist")
    assert gets[-1]["status"] == 200 and gets[-1]["account"] == user and bearer_last4(gets[-1]) == last4(now["access_token"])
    if trigger == "401":
        assert [r["status"] for r in gets][:1] == [401] and bearer_last4(gets[0]) == last4(old)

    # Nothing encrypted ever went out.
    assert "enc:v1:" not in json.dumps(emu.requests())
    assert wire and not [v for v in wire if "enc:v1:" in v], wire

    # On disk: the rotated pair, encrypted, in the account's own block; the rest as it was.
    saved = json.loads((cw / "config.json").read_text())
    block = saved["trakt"] if inst == "default" else saved["trakt"]["instances"][inst]
    for k in ("access_token", "refresh_token"):
        assert block[k].startswith("enc:v1:"), block
        assert cw_standin.decrypt(block[k], key) == now[k]
    assert saved["trakt"]["client_secret"] == before["trakt"]["client_secret"], "an unchanged secret keeps its ciphertext"
    assert saved["plex"] == before["plex"]
    other = saved["trakt"]["instances"]["b"] if inst == "default" else {k: v for k, v in saved["trakt"].items() if k != "instances"}
    was = before["trakt"]["instances"]["b"] if inst == "default" else {k: v for k, v in before["trakt"].items() if k != "instances"}
    assert other == was, "the other account's block is untouched"
    if standin is not None:
        assert standin.saves == 1 and standin.save_depths == [2], "saved by CrossWatch, inside the refresh's lock"

    # The next run (a fresh mapping from the file) uses the new pair without refreshing.
    emu.clear_requests()
    fresh = standin.load_config() if standin is not None else json.loads((cw / "config.json").read_text())
    assert len(OPS.build_index(harness.instance_view(fresh, inst), feature="watchlist")) == len(index)
    assert emu.requests_to("POST", "/oauth/token") == []
    assert {r["account"] for r in api_requests(emu)} == {user}


def test_inside_crosswatch_without_its_io_lock_ours_is_released_before_save_config(emulators, cw, monkeypatch, logs):
    pytest.importorskip("cryptography")
    monkeypatch.delenv("CW_CONFIG_KEY", raising=False)
    emu = two_accounts(emulators)
    write_two_account_config(cw, emu, a_extra={"expires_at": int(time.time()) + 60})
    key = cw_standin.encrypt_file(cw)
    standin = cw_standin.install(monkeypatch, cw, with_io_lock=False)
    standin.lock_timeout = 2.0
    harness.pair_env(monkeypatch, PAIR_A, "PLEX", "TRAKT")
    assert len(OPS.build_index(harness.instance_view(standin.load_config(), "default"), feature="watchlist")) == 2
    assert standin.saves == 1 and standin.save_depths == [1]
    assert any("config_lock_fallback" in line for line in logs), logs
    saved = json.loads((cw / "config.json").read_text())["trakt"]
    assert cw_standin.decrypt(saved["access_token"], key) == emu.state()["auth"]["access_token"]


@pytest.mark.parametrize("handed", ["raw", "decrypted"])
def test_an_encrypted_config_without_its_key_is_one_clear_error(emulators, cw, monkeypatch, wire, handed):
    pytest.importorskip("cryptography")
    for var in ("CW_CONFIG_KEY", "CROSSWATCH_CONFIG_KEY"):
        monkeypatch.delenv(var, raising=False)
    emu = two_accounts(emulators)
    write_two_account_config(cw, emu, a_extra={"expires_at": int(time.time()) + 60})
    plain = json.loads((cw / "config.json").read_text())
    cw_standin.encrypt_file(cw)
    (cw / ".cw_master_key").unlink()
    cfg = json.loads((cw / "config.json").read_text()) if handed == "raw" else plain
    harness.pair_env(monkeypatch, PAIR_A, "PLEX", "TRAKT")

    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    msg = info.value.message
    assert info.value.kind == "config"
    assert str(cw / ".cw_master_key") in msg and "CW_CONFIG_KEY" in msg and "CROSSWATCH_CONFIG_KEY" in msg, msg
    h = OPS.health(cfg)
    assert h["ok"] is False and h["status"] == "down" and ".cw_master_key" in h["error"]["message"], h
    w = OPS.add(cfg, [movie(9)], feature="watchlist")
    assert w["ok"] is False and w["error_kind"] == "config"
    assert emu.requests() == [] and wire == []

    # Without the cryptography package: the message says what to install.
    (cw / ".cw_master_key").write_text("some key")
    monkeypatch.setitem(sys.modules, "cryptography", None)
    monkeypatch.setitem(sys.modules, "cryptography.fernet", None)
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind == "config" and "pip install cryptography" in info.value.message
    assert emu.requests() == []
