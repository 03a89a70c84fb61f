"""Issue 12 (sandbox hardening) in the Python host: each attack a hostile component could
mount through the imports, checked on the import functions directly and on raw bytes seen
by loopback listeners."""

from __future__ import annotations

import re
import socket
import threading
from typing import List

import pytest

from crosswatch_trakt_wasm.config import Credentials
from crosswatch_trakt_wasm.imports import HttpBroker, HttpFault, SharedCredentials
from crosswatch_trakt_wasm.policy import Origin, Policy, PolicyError

TOKEN = "canary-access-token-0123456789"


class RawListener:
    """A loopback HTTP/1.1 server that keeps every request's raw bytes. It frames requests
    as a real server would (by the first Content-Length it sees), so a smuggled request in a
    body shows up as a request of its own."""

    def __init__(self, respond=None) -> None:
        #: ``respond(head) -> bytes`` (a whole response); default 200 "ok".
        self.respond = respond or (lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests: List[bytes] = []  # head + body as the server framed them
        self.raw = bytearray()  # everything received
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        conn.settimeout(3)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    self.raw += chunk
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                while len(buf) < n:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    self.raw += chunk
                    buf += chunk
                body, buf = buf[:n], buf[n:]
                self.requests.append(head + b"\r\n\r\n" + body)
                conn.sendall(self.respond(head))
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    srv = RawListener()
    yield srv
    srv.close()


def broker_for(url: str, api_url: str = None) -> HttpBroker:
    api = Origin.parse(api_url or url)
    policy = Policy(api, api)
    creds = SharedCredentials(Credentials("cid", "secret", TOKEN, "refresh", 0))
    return HttpBroker(policy, creds)


def _heads(req: bytes) -> List[bytes]:
    return req.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_a_get_body_cannot_smuggle_a_request_that_swallows_the_next_signed_one(listener):
    b = broker_for(listener.url)
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 400\r\n\r\n"
    for framing in ([("Content-Length", "0")], [("Transfer-Encoding", "chunked")], [("content-length", "0"), ("Connection", "keep-alive")]):
        listener.requests.clear()
        try:
            b.send("GET", f"{listener.url}/first", framing, smuggled, 2000)
        except HttpFault:
            pass
        try:
            b.send("GET", f"{listener.url}/second", [], b"", 2000)
        except HttpFault:
            pass
        paths = [_heads(r)[0] for r in listener.requests]
        assert paths == [b"GET /first HTTP/1.1", b"GET /second HTTP/1.1"], (framing, paths)
        first, second = listener.requests
        # Exactly one Content-Length on the wire, the host's, framing the whole body.
        cl = [h for h in _heads(first) if h.lower().startswith(b"content-length:")]
        assert cl == [f"Content-Length: {len(smuggled)}".encode()], cl
        assert not any(h.lower().startswith((b"transfer-encoding:", b"connection:")) for h in _heads(first))
        assert first.endswith(smuggled)
        # The token travels only in the head of a request the host framed.
        assert f"Bearer {TOKEN}".encode() in first.split(b"\r\n\r\n", 1)[0]
        assert TOKEN.encode() not in first.split(b"\r\n\r\n", 1)[1]
        assert f"Authorization: Bearer {TOKEN}".encode() in _heads(second)
    b.close()


def test_hop_by_hop_and_proxy_headers_from_the_component_are_dropped(listener):
    b = broker_for(listener.url)
    hop = [("TE", "trailers"), ("Upgrade", "h2c"), ("Expect", "100-continue"), ("Keep-Alive", "timeout=5"),
           ("Proxy-Authorization", "Basic x"), ("Proxy-Connection", "keep-alive"), ("Trailer", "x"), ("X-Mine", "kept")]
    b.send("POST", f"{listener.url}/w", hop, b"{}", 2000)
    heads = [h.lower() for h in _heads(listener.requests[0])]
    for name in (b"te:", b"upgrade:", b"expect:", b"keep-alive:", b"proxy-", b"trailer:"):
        assert not any(h.startswith(name) for h in heads), (name, heads)
    assert b"x-mine: kept" in heads
    assert heads.count(b"content-length: 2") == 1
    b.close()


def test_the_component_cannot_set_host(listener):
    b = broker_for(listener.url)
    b.send("GET", f"{listener.url}/x", [("Host", "evil.example"), ("host", "other.example")], b"", 2000)
    hosts = [h for h in _heads(listener.requests[0]) if h.lower().startswith(b"host:")]
    assert hosts == [f"Host: 127.0.0.1:{listener.port}".encode()], hosts
    b.close()


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PATCH", "HEAD", "CONNECT", "PROPFIND"])
def test_only_the_methods_the_wit_names_are_sent(listener, method):
    b = broker_for(listener.url)
    with pytest.raises(HttpFault) as info:
        b.send(method, f"{listener.url}/echo", [], b"", 2000)
    assert info.value.kind == "invalid-request"
    assert method in info.value.message
    assert listener.raw == b"", "nothing reached the server"
    for ok in ("GET", "post", "PUT", "DELETE"):
        b.send(ok, f"{listener.url}/ok", [], b"", 2000)
    b.close()


def test_a_base_path_in_api_url_is_enforced(listener):
    b = broker_for(listener.url, api_url=f"{listener.url}/trakt/")
    for bad in ("/other-app/sync", "/", "", "/trakt-evil/x", "/trakt/../other-app/x", "/trakt/%2e%2e/other", "/trakt/.%2E/x"):
        with pytest.raises(HttpFault) as info:
            b.send("GET", f"{listener.url}{bad}", [], b"", 2000)
        assert info.value.kind == "denied", bad
        assert "outside the configured path /trakt/" in info.value.message, info.value.message
    assert listener.raw == b""
    b.send("GET", f"{listener.url}/trakt/sync/watchlist?page=1", [], b"", 2000)
    b.send("GET", f"{listener.url}/trakt", [], b"", 2000)
    assert len(listener.requests) == 2
    # One host for both: the API's base path holds for every request on it (as in cw-host).
    for oauth in ("https://h", "https://h/auth"):
        p = Policy(Origin.parse("https://h/trakt"), Origin.parse(oauth))
        assert p.check("https://h/trakt/x") == "api"
        for bad in ("https://h/auth/oauth/token", "https://h/other/x"):
            with pytest.raises(PolicyError):
                p.check(bad)
    # Apart, each origin keeps its own base path.
    p = Policy(Origin.parse("https://api.example"), Origin.parse("https://auth.example/auth"))
    assert p.check("https://auth.example/auth/oauth/token") == "oauth"
    with pytest.raises(PolicyError) as info:
        p.check("https://auth.example/elsewhere")
    assert "/auth" in str(info.value)
    b.close()


# --------------------------------------------------------------------------------------------
# state


def test_state_io_errors_name_the_file_never_the_host_directory(tmp_path):
    from crosswatch_trakt_wasm.imports import StateFault, StateStore

    blocker = tmp_path / "host-secret-dir"
    blocker.write_text("a file where the state directory should be")
    s = StateStore(blocker / ".cw_state", 1 << 20)
    for op in (lambda: s.write("cache.json", b"{}"), lambda: s.read("cache.json"), lambda: s.delete("cache.json")):
        with pytest.raises(StateFault) as info:
            op()
        assert info.value.kind == "io"
        assert "cache.json" in info.value.message
        assert str(tmp_path) not in info.value.message and "host-secret-dir" not in info.value.message, info.value.message


def test_state_caps_the_file_count_and_keeps_a_running_total(tmp_path, monkeypatch):
    from crosswatch_trakt_wasm.imports import StateFault, StateStore
    from crosswatch_trakt_wasm.imports import state as statemod

    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "old.json").write_bytes(b"x" * 10)
    s = StateStore(tmp_path / "st", 1000, max_files=50)
    scans = []
    real = statemod.os.scandir
    monkeypatch.setattr(statemod.os, "scandir", lambda d: scans.append(d) or real(d))
    for i in range(49):
        s.write(f"f{i}", b"")  # empty files are not free: they count against max_files
    with pytest.raises(StateFault) as info:
        s.write("one-too-many", b"")
    assert info.value.kind == "quota-exceeded" and "50 files" in info.value.message
    s.write("f0", b"y" * 500)  # replacing an existing file is fine
    with pytest.raises(StateFault) as info:
        s.write("f1", b"z" * 491)  # 10 + 500 + 491 > 1000
    assert info.value.kind == "quota-exceeded"
    s.delete("f0")
    s.write("f1", b"z" * 491)
    s.write("new", b"")
    assert len(scans) == 1, f"the directory was listed {len(scans)} times for {49 + 5} writes"


# --------------------------------------------------------------------------------------------
# the hostile component (tests/hostile) in this host


def hostile_host(state_dir, api_url: str = "http://127.0.0.1:9", limits=None, lines=None, token_store=None):
    from crosswatch_trakt_wasm.imports import LogSink, ProgressSink, StateStore, TokenService
    from crosswatch_trakt_wasm.policy import Limits
    from crosswatch_trakt_wasm.runtime import HostServices

    limits = limits or Limits()
    origin = Origin.parse(api_url)
    policy = Policy(origin, origin, limits)
    creds = SharedCredentials(Credentials("cid", "secret", TOKEN, "refresh-canary", 0))
    log = LogSink(0, lines.append if lines is not None else None)
    return HostServices(
        policy=policy,
        creds=creds,
        http=HttpBroker(policy, creds),
        state=StateStore(state_dir, limits.state_quota_bytes),
        auth=TokenService(creds, token_store, origin.base_url(), log),
        log=log,
        progress=ProgressSink(),
    )


def run_hostile(wasm, host, options: dict):
    import json as _json

    from crosswatch_trakt_wasm.runtime import Adapter, load_component, engine

    component, _, _ = load_component(engine(), wasm, None)
    a = Adapter(component, host)
    assert a.configure(_json.dumps(options)) is None
    out = a.build_index_json("watchlist")
    return a, (_json.loads(out) if isinstance(out, str) else out)


def test_log_lines_cannot_be_forged_and_carry_no_escape_sequences(hostile_wasm, tmp_path):
    from crosswatch_trakt_wasm.imports.log import format_line

    line = format_line(
        "info",
        "w\n[TRAKT:auth] INFO token_refreshed\x1b[2J",
        "ev\r\n[TRAKT:auth] INFO x",
        [("k ey=\n", "v\n[TRAKT:auth] INFO token_refreshed\x1b[31m\x9b2J\u2028\x7f"), ("p", "a\x1bb"), ("ok", "plain")],
    )
    assert line.splitlines() == [line]
    assert not any(c in line for c in "\n\r\x1b\x9b\u2028\x7f"), repr(line)
    assert line.startswith("[TRAKT:w\\x0a[TRAKT:auth\\x5d\\x20INFO") and line.endswith(" ok=plain"), line
    lines: list = []
    _, out = run_hostile(hostile_wasm, hostile_host(tmp_path / "st", lines=lines), {"attack": "log_forge"})
    assert out["attack"] == "log_forge"
    assert len([l for l in lines if "guest_output" in l]) >= 2, lines  # stdout and stderr lines
    for l in lines:
        assert not any(c in l for c in "\n\r\x1b\x07\x9b"), repr(l)
        assert not l.startswith("[TRAKT:auth]"), l


def test_auth_refresh_grants_only_after_a_401_the_host_saw_once_per_answer(hostile_wasm, tmp_path):
    import json as _json

    def respond(head: bytes) -> bytes:
        if head.startswith(b"POST /oauth/token "):
            body = _json.dumps({"access_token": f"new-{len(srv.requests)}", "refresh_token": "r2", "expires_in": 7776000}).encode()
        elif head.startswith(b"GET /unauthorized"):
            body = b'{"error":"invalid_token"}'
            return b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        else:
            body = b"{}"
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    srv = RawListener(respond)
    try:
        grants = lambda: [r for r in srv.requests if r.startswith(b"POST /oauth/token ")]  # noqa: E731
        host = hostile_host(tmp_path / "st", api_url=srv.url)
        a, out = run_hostile(hostile_wasm, host, {"attack": "refresh_spam", "count": 10})
        assert len(out["results"]) == 10
        assert grants() == [], "no 401 on this call: no grant"
        # One 401 from the API origin earns exactly one grant, however often the guest asks.
        assert a.configure(_json.dumps({"attack": "refresh_spam", "count": 10, "url": f"{srv.url}/unauthorized"})) is None
        out = _json.loads(a.build_index_json("watchlist"))
        assert out["results"][0]["status"] == 401
        assert len(grants()) == 1, [r.split(b"\r\n")[0] for r in srv.requests]
        # A 401 of an earlier call is not spendable in the next one.
        assert a.configure(_json.dumps({"attack": "refresh_spam", "count": 3})) is None
        a.build_index_json("watchlist")
        assert len(grants()) == 1
    finally:
        srv.close()


# --------------------------------------------------------------------------------------------
# what the host parses


def _plays(n: int) -> str:
    import json as _json

    return _json.dumps(
        {
            f"tmdb:{1000 + i}@{1751328000 + 60 * i}": {
                "type": "episode",
                "title": f"Episode {i}, the one with a comma",
                "year": 2020,
                "ids": {"trakt": i, "tmdb": 1000 + i, "imdb": f"tt{i:07d}", "tvdb": 5000 + i},
                "show_ids": {"trakt": 7, "tmdb": 1396, "imdb": "tt0903747", "tvdb": 81189},
                "season": 1 + i % 5,
                "episode": 1 + i % 10,
                "series_title": "Breaking Bad",
                "watched_at": "2025-07-01T00:00:00.000Z",
            }
            for i in range(n)
        }
    )


def test_index_json_is_bounded_and_a_100000_play_history_passes_easily():
    from crosswatch_trakt_wasm.policy import Limits
    from crosswatch_trakt_wasm.runtime import HostError, parse_index_json

    limits = Limits()
    big = _plays(100_000)
    assert len(big) * 2 < limits.index_json_max_bytes
    assert (big.count(",") + 1) * 2 < limits.index_json_max_values
    assert len(parse_index_json(big, limits, "history")) == 100_000
    tiny = "{" + ",".join(f'"k{i}":{{}}' for i in range(1_600_000)) + "}"  # ~20 MB, 1.6 M objects
    with pytest.raises(HostError) as info:
        parse_index_json(tiny, limits, "history")
    assert info.value.kind == "limit" and "1,500,000 JSON objects" in info.value.message
    for text, what in (("[" + "1," * 4_000_000 + "1]", "JSON values"), (" " * (limits.index_json_max_bytes + 1), "MiB of JSON")):
        with pytest.raises(HostError) as info:
            parse_index_json(text, limits, "history")
        assert info.value.kind == "limit" and what in info.value.message, info.value.message
    with pytest.raises(HostError) as info:
        parse_index_json("[" * 100_000 + "]" * 100_000, limits)
    assert info.value.kind == "limit"


@pytest.fixture
def library_small(emulators, cw):
    import harness

    cat = harness.catalogue(movies=6, shows=1, seasons=1, episodes=2)
    emu, _ = emulators(harness.seed(cat, [{"type": "movie", "trakt": i} for i in range(1, 6)]))
    return emu, harness.write_config(cw, emu)


def test_build_index_refuses_an_index_json_above_the_caps(library_small, monkeypatch):
    import crosswatch_trakt_wasm as pkg
    from crosswatch_trakt_wasm import OPS, TraktWasmError
    from crosswatch_trakt_wasm.policy import Limits
    from crosswatch_trakt_wasm.runtime import Adapter

    _, cfg = library_small
    monkeypatch.setattr(pkg.settings, "limits", Limits(index_json_max_objects=1000))
    monkeypatch.setattr(Adapter, "build_index_json", lambda self, feature: "{" + ",".join(f'"k{i}":{{}}' for i in range(5000)) + "}")
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind == "limit", info.value
    assert "1,000 JSON objects" in info.value.message


# --------------------------------------------------------------------------------------------
# store limits

TABLE_GROW = """(module
  (table $t 1 funcref)
  (memory 1)
  (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0))))"""


def test_store_limits_bound_table_elements_and_counts(artefacts, tmp_path):
    import wasmtime

    from crosswatch_trakt_wasm.policy import MAX_INSTANCES, Limits
    from crosswatch_trakt_wasm.runtime import Adapter, component_for, engine
    from crosswatch_trakt_wasm.config import cache_dir

    wasm, _ = artefacts
    component, _ = component_for(wasm, cache_dir())
    a = Adapter(component, hostile_host(tmp_path / "st"))
    limits = Limits()
    assert limits.table_elements == 10_000 and MAX_INSTANCES == 8
    # A core module in the adapter's own store: its table cannot grow past the bound
    # (wasmtime-py cannot trap on a failed grow, so table.grow answers -1).
    module = wasmtime.Module(engine(), wasmtime.wat2wasm(TABLE_GROW))
    try:
        inst = wasmtime.Instance(a.store, module, [])
    except wasmtime.WasmtimeError as e:  # pragma: no cover - the instance count is spent by the component
        assert "instance" in str(e).lower(), e
        store = wasmtime.Store(engine())
        store.set_fuel(10**9)
        from crosswatch_trakt_wasm.runtime import apply_store_limits

        apply_store_limits(store, limits)
        inst, a.store = wasmtime.Instance(store, module, []), store
    grow = inst.exports(a.store)["grow"]
    assert grow(a.store, 128 << 20) == -1, "a 128 M element table must not be allocated"
    assert grow(a.store, limits.table_elements) == -1
    assert grow(a.store, limits.table_elements - 1) == 1
    assert grow(a.store, 1) == -1


# --------------------------------------------------------------------------------------------
# time in host calls

PROGRESS_FLOOD = """(component
  (import "crosswatch:sync/progress@0.1.0" (instance $p
    (export "report" (func (param "feature" string) (param "phase" string) (param "done" u64) (param "total" (option u64))))))
  (core module $memory (memory (export "mem") 1) (data (i32.const 0) "watchlistindex"))
  (core instance $mi (instantiate $memory))
  (core func $report (canon lower (func $p "report") (memory (core memory $mi "mem"))))
  (core module $main
    (import "p" "report" (func $r (param i32 i32 i32 i32 i64 i32 i64)))
    (func (export "run")
      (loop $l
        (call $r (i32.const 0) (i32.const 9) (i32.const 9) (i32.const 5) (i64.const 1) (i32.const 0) (i64.const 0))
        (br $l))))
  (core instance $m (instantiate $main (with "p" (instance (export "report" (func $report))))))
  (func (export "run") (canon lift (core func $m "run"))))"""


def test_a_flood_of_progress_reports_is_stopped_by_fuel_quickly(artefacts, tmp_path):
    import time as _time

    import wasmtime
    from wasmtime.component import Component

    from crosswatch_trakt_wasm.runtime import EPOCH_TICK_SECS, WitImports, build_linker, engine

    host = hostile_host(tmp_path / "st")
    eng = engine()
    component = Component(eng, wasmtime.wat2wasm(PROGRESS_FLOOD))
    linker = build_linker(eng, WitImports(host))
    store = wasmtime.Store(eng)
    store.set_fuel(100_000_000)  # a small CPU budget
    store.set_epoch_deadline(int(3 / EPOCH_TICK_SECS))  # the wall clock stops it in 3 s otherwise
    inst = linker.instantiate(store, component)
    run = inst.get_func(store, "run")
    t = _time.monotonic()
    with pytest.raises(wasmtime.WasmtimeError) as info:
        run(store)
    took = _time.monotonic() - t
    assert "fuel" in str(info.value).lower(), str(info.value)[-300:]
    assert took < 1.0, took
    assert 0 < host.progress.reports <= 100, host.progress.reports


def test_the_default_call_timeout_is_30_minutes():
    from crosswatch_trakt_wasm.policy import Limits

    assert Limits().call_timeout_secs == 30 * 60


def test_an_http_request_never_waits_past_the_calls_wall_clock_budget():
    import time as _time

    def respond(head: bytes) -> bytes:
        _time.sleep(2.5)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    srv = RawListener(respond)
    try:
        b = broker_for(srv.url)
        b.call_deadline = _time.monotonic() + 0.5
        t = _time.monotonic()
        with pytest.raises(HttpFault) as info:
            b.send("GET", f"{srv.url}/slow", [], b"", 10_000)
        assert info.value.kind == "timeout"
        assert _time.monotonic() - t < 1.5
        b.call_deadline = _time.monotonic() - 1
        with pytest.raises(HttpFault) as info:
            b.send("GET", f"{srv.url}/late", [], b"", 10_000)
        assert info.value.kind == "timeout" and "not sent" in info.value.message
    finally:
        srv.close()


def test_the_hostile_components_http_attacks_fail_in_this_host(hostile_wasm, tmp_path):
    import json as _json

    srv = RawListener()
    try:
        a, out = run_hostile(hostile_wasm, hostile_host(tmp_path / "st", api_url=f"{srv.url}/trakt"), {"attack": "framing", "api_url": f"{srv.url}/trakt"})

        def attack(options: dict) -> dict:
            assert a.configure(_json.dumps({"api_url": f"{srv.url}/trakt", **options})) is None
            return _json.loads(a.build_index_json("watchlist"))["results"][0]

        assert out["results"][0]["status"] == 200, out
        assert attack({"attack": "http"})["status"] == 200
        assert [_heads(r)[0] for r in srv.requests] == [b"GET /trakt/sync/last_activities HTTP/1.1"] * 2, srv.requests
        first = srv.requests[0]
        assert sum(h.lower().startswith(b"content-length:") for h in _heads(first)) == 1
        assert TOKEN.encode() not in first.split(b"\r\n\r\n", 1)[1]
        for h in _heads(first):
            assert not h.lower().startswith((b"transfer-encoding", b"connection", b"te:", b"upgrade", b"expect", b"keep-alive", b"proxy-")), h
        r = attack({"attack": "method", "method": "TRACE"})
        assert r["error"]["kind"] == "invalid_request" and "TRACE" in r["error"]["message"]
        assert attack({"attack": "host_header", "host": "other.example"})["status"] == 200
        assert [h for h in _heads(srv.requests[-1]) if h.lower().startswith(b"host:")] == [f"Host: 127.0.0.1:{srv.port}".encode()]
        r = attack({"attack": "path_prefix", "url": f"{srv.url}/other-app/sync/history"})
        assert r["error"]["kind"] == "denied", r
        assert len(srv.requests) == 3
    finally:
        srv.close()


def test_the_hostile_components_state_errors_do_not_name_the_state_directory(hostile_wasm, tmp_path):
    state = tmp_path / "host-private" / ".cw_state"
    (state / "dir").mkdir(parents=True)
    _, out = run_hostile(hostile_wasm, hostile_host(state), {"attack": "state_error", "name": "dir"})
    errors = [r["error"] for r in out["results"] if "error" in r]
    assert errors, out
    for e in errors:
        assert e["kind"] == "io", e
        assert "'dir'" in e["message"] and "host-private" not in e["message"] and str(tmp_path) not in e["message"], e


def test_a_wasi_sleep_never_holds_the_caller_past_the_calls_wall_clock_limit(hostile_wasm, tmp_path):
    """Issue 12, point 3: a one-hour ``wasi:clocks`` sleep under a two-second limit. The sleep
    is wasmtime's WASI here, so the caller stops waiting at the limit (the call's thread is
    abandoned with its instance), answers the wall-clock error and the instance stays dead."""
    import json as _json
    import time as _time

    from crosswatch_trakt_wasm.policy import Limits
    from crosswatch_trakt_wasm.runtime import Adapter, HostError, engine, load_component

    component, _, _ = load_component(engine(), hostile_wasm, None)
    for via in ("duration", "instant"):
        lines: list = []
        a = Adapter(component, hostile_host(tmp_path / via, limits=Limits(call_timeout_secs=2), lines=lines))
        assert a.configure(_json.dumps({"attack": "sleep", "secs": 3600, "via": via})) is None
        t = _time.monotonic()
        with pytest.raises(HostError) as info:
            a.build_index_json("watchlist")
        took = _time.monotonic() - t
        assert info.value.kind == "limit" and "wall-clock limit of 2 s" in str(info.value), str(info.value)
        assert took < 10, f"{via}: the caller waited {took:.1f} s"
        assert any("call_stopped" in l for l in lines), lines
        with pytest.raises(HostError) as info:
            a.health()
        assert info.value.kind == "host" and "earlier failure" in str(info.value)


def test_no_import_runs_after_the_calls_deadline(hostile_wasm, tmp_path):
    """The other half of point 3: once a call's deadline has passed, an import the guest calls
    traps at once (the Rust host stops the call on the return from the host instead)."""
    from crosswatch_trakt_wasm.imports import LogSink
    import wasmtime

    from crosswatch_trakt_wasm.runtime import CallDeadlineReached, _guarded, engine

    store = wasmtime.Store(engine())
    store.set_fuel(10**9)
    ran = []
    wrapper = _guarded(LogSink(0, None), "progress.report", lambda *a: ran.append(a), lambda e: None, lambda: 0.0)
    with pytest.raises(CallDeadlineReached):
        wrapper(store, "watchlist", "flood", 1, None)
    assert ran == []
    open_ended = _guarded(LogSink(0, None), "progress.report", lambda *a: ran.append(a), lambda e: None, lambda: None)
    open_ended(store, "watchlist", "flood", 1, None)
    assert len(ran) == 1
