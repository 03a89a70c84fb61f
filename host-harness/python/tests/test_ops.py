"""OPS driven the way CrossWatch's orchestrator drives a provider: health, then indexes, then
add and remove (dry run and for real), checked against the emulator's state."""

from __future__ import annotations

import json
import time

import pytest

import harness
from crosswatch_trakt_wasm import OPS, TraktWasmError

CAT = harness.catalogue(movies=12, shows=3, seasons=2, episodes=4)
EPISODES = harness.episodes_of(CAT)
WATCHLIST = [
    {"type": "movie", "trakt": 1},
    {"type": "movie", "trakt": 2},
    {"type": "movie", "trakt": 3},
    {"type": "show", "trakt": 1},
    {"type": "season", "trakt": 3},
    {"type": "episode", "trakt": 5},
]
RATINGS = [
    {"type": "movie", "trakt": 1, "rating": 8, "rated_at": "2026-03-01T10:00:00.000Z"},
    {"type": "movie", "trakt": 4, "rating": 6, "rated_at": "2026-03-02T10:00:00.000Z"},
    {"type": "show", "trakt": 2, "rating": 9, "rated_at": "2026-03-03T10:00:00.000Z"},
    {"type": "episode", "trakt": 3, "rating": 7, "rated_at": "2026-03-04T10:00:00.000Z"},
]
HISTORY = [
    {"id": 501, "type": "movie", "trakt": 1, "watched_at": "2026-02-01T20:00:00.000Z"},
    {"id": 502, "type": "movie", "trakt": 1, "watched_at": "2026-02-08T20:00:00.000Z"},
    {"id": 503, "type": "movie", "trakt": 5, "watched_at": "2026-02-09T21:30:00.000Z"},
    {"id": 504, "type": "episode", "trakt": 1, "watched_at": "2026-02-10T19:00:00.000Z"},
    {"id": 505, "type": "episode", "trakt": 2, "watched_at": "2026-02-10T19:45:00.000Z"},
]
MOVIE = {m["ids"]["trakt"]: m for m in CAT["movies"]}


def movie_item(trakt: int, **extra) -> dict:
    m = MOVIE[trakt]
    return {"type": "movie", "title": m["title"], "year": m["year"], "ids": {"tmdb": m["ids"]["tmdb"], "imdb": m["ids"]["imdb"]}, **extra}


UNKNOWN_MOVIE = {"type": "movie", "title": "Not On Trakt", "year": 2001, "ids": {"tmdb": 999999}}


@pytest.fixture
def library(emulators, cw):
    """The standard library, and the config CrossWatch would pass."""
    emu, dropped = emulators(harness.seed(CAT, WATCHLIST, RATINGS, HISTORY))
    cfg = harness.write_config(cw, emu)
    return emu, cfg, dropped


def require(feature: str, dropped) -> None:
    """Skip (with the reason) a test of a feature the component or the emulator lacks yet."""
    f = OPS.manifest()["features"][feature]
    if not f["supported"]:
        pytest.skip(f"the component answers `unsupported` for {feature} ({f['note']})")
    if feature in dropped:
        pytest.skip(f"this cw-host emulator has no {feature} seed data yet")


def accounted(result: dict) -> int:
    return len(result["confirmed_keys"]) + len(result["skipped_keys"]) + len(result["unresolved"])


def assert_write_shape(result: dict, dry_run: bool) -> None:
    for key in ("ok", "count", "confirmed_keys", "skipped_keys", "unresolved", "dry_run"):
        assert key in result, (key, result)
    assert result["dry_run"] is dry_run
    assert result["count"] == len(result["confirmed_keys"])
    for u in result["unresolved"]:
        assert set(u) >= {"item", "hint", "key"}, u
    if dry_run:
        assert isinstance(result["requests"], list)
    else:
        assert "requests" not in result


# --------------------------------------------------------------------------------------------
# protocol surface


def test_the_ops_object_has_crosswatchs_protocol(cw):
    # What cw_platform/orchestrator/_providers.py checks before accepting a provider.
    for attr in ("name", "label", "features", "capabilities", "build_index", "add", "remove", "health", "is_configured"):
        assert callable(getattr(OPS, attr)), attr
    assert OPS.name() == "TRAKT" and OPS.label() == "Trakt"
    feats = OPS.features()
    assert set(feats) == {"watchlist", "ratings", "history", "progress", "playlists"}
    assert feats["watchlist"] is True and feats["progress"] is False and feats["playlists"] is False
    caps = OPS.capabilities()
    assert caps["index_semantics"] == "present" and caps["bidirectional"] is True
    assert caps["watchlist"]["types"] == {"movies": True, "shows": True, "seasons": True, "episodes": True}
    m = OPS.manifest()
    assert m["name"] == "TRAKT" and m["api_version"] == "0.1.0"
    assert set(m["features"]) == {"watchlist", "ratings", "history", "playlists"}
    for f, supported in feats.items():
        if f in m["features"]:
            assert supported == m["features"][f]["supported"]
            assert (f in caps) == supported or f == "playlists"


def test_is_configured_looks_where_crosswatch_keeps_tokens(cw):
    assert OPS.is_configured({"trakt": {"access_token": "x"}})
    assert OPS.is_configured({"auth": {"trakt": {"oauth": {"access_token": "x"}}}})
    assert not OPS.is_configured({"trakt": {"access_token": "  "}})
    assert not OPS.is_configured({})


# --------------------------------------------------------------------------------------------
# health


def test_health_is_crosswatchs_dict(library):
    emu, cfg, _ = library
    h = OPS.health(cfg)
    assert h["ok"] is True and h["status"] == "ok", h
    assert isinstance(h["latency_ms"], int)
    assert h["features"]["watchlist"] is True
    for f, supported in OPS.features().items():
        if f in h["features"]:
            assert h["features"][f] == supported, (f, h)
    assert h["api"]["last_activities"]["status"] == 200
    assert "details" in h
    assert len(emu.requests_to("GET", "/sync/last_activities")) == 1


def test_health_reports_auth_failed_for_a_dead_token(emulators, cw):
    emu, _ = emulators(harness.seed(CAT, WATCHLIST))
    cfg = harness.write_config(cw, emu, {"access_token": "wrong-token", "refresh_token": "wrong-refresh"})
    h = OPS.health(cfg)
    assert h["ok"] is False and h["status"] == "auth_failed", h
    assert h["error"]["kind"] == "auth"


def test_health_without_credentials_makes_no_request(emulators, cw):
    emu, _ = emulators(harness.seed(CAT, WATCHLIST))
    cfg = harness.write_config(cw, emu, {"access_token": "", "refresh_token": ""})
    h = OPS.health(cfg)
    assert h["ok"] is False and h["status"] == "auth_failed"
    assert "trakt.access_token" in h["details"]["reason"]
    assert emu.requests() == []


# --------------------------------------------------------------------------------------------
# indexes


@pytest.mark.parametrize("feature", ["watchlist", "ratings", "history"])
def test_build_index_matches_the_emulator(library, feature):
    emu, cfg, dropped = library
    require(feature, dropped)
    index = OPS.build_index(cfg, feature=feature)
    state = emu.state()
    assert isinstance(index, dict)
    assert len(index) == len(state[feature]), (sorted(index), state[feature])
    for key, item in index.items():
        assert isinstance(key, str) and key, key
        assert item["type"] in ("movie", "show", "season", "episode"), item
        assert isinstance(item["ids"], dict)
        if feature == "history":
            assert "@" in key and item.get("watched_at"), (key, item)
            assert item.get("_trakt_history_id"), item
        if feature == "ratings":
            assert isinstance(item["rating"], int) and 1 <= item["rating"] <= 10, item
    if feature == "watchlist":
        assert "tmdb:100001" in index
        assert index["tmdb:100001"]["title"] == "Movie 1"
        assert any(k.endswith("#show") for k in index), sorted(index)
        assert any("#season:" in k for k in index), sorted(index)
    if feature == "history":
        # Two plays of Movie 1 at different times are two entries.
        assert sum(1 for k in index if k.startswith("tmdb:100001@")) == 2


def test_an_index_that_cannot_be_read_completely_raises(emulators, cw):
    emu, _ = emulators(harness.seed(CAT, WATCHLIST))
    cfg = harness.write_config(cw, emu, {"page_limit": 2, "max_retries": 2, "backoff_base_ms": 1, "backoff_max_ms": 5})
    emu.add_fault({"when": {"path": "/sync/watchlist", "query_contains": "page=2", "times": 0}, "action": {"kind": "status", "status": 500}})
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind in ("http", "transport", "protocol"), info.value
    emu.clear_faults()
    assert len(OPS.build_index(cfg, feature="watchlist")) == len(WATCHLIST)


# --------------------------------------------------------------------------------------------
# writes


def test_watchlist_add_and_remove_dry_run_then_for_real(library):
    emu, cfg, _ = library
    before = emu.state()["watchlist"]
    items = [movie_item(7, library_id=42), movie_item(8), UNKNOWN_MOVIE]

    emu.clear_requests()
    dry = OPS.add(cfg, items, feature="watchlist", dry_run=True)
    assert_write_shape(dry, dry_run=True)
    assert dry["ok"] is True
    assert emu.requests_to("POST", "/sync/watchlist") == [], "a dry run sends no write"
    assert emu.state()["watchlist"] == before
    assert [r["path"] for r in dry["requests"]] == ["/sync/watchlist"]
    sent_ids = [m["ids"]["tmdb"] for m in dry["requests"][0]["body"]["movies"]]
    assert sent_ids == [100007, 100008, 999999]

    real = OPS.add(cfg, items, feature="watchlist")
    assert_write_shape(real, dry_run=False)
    assert real["ok"] is True
    assert sorted(real["confirmed_keys"]) == ["tmdb:100007", "tmdb:100008"]
    assert real["count"] == 2
    assert [(u["key"], u["hint"]) for u in real["unresolved"]] == [("tmdb:999999", "not_found")]
    assert real["unresolved"][0]["item"]["title"] == "Not On Trakt"
    assert accounted(real) == len(items)
    after = emu.state()["watchlist"]
    assert len(after) == len(before) + 2
    assert {7, 8} <= {e["trakt"] for e in after if e["type"] == "movie"}

    # Already there: skipped, nothing new.
    again = OPS.add(cfg, [movie_item(7)], feature="watchlist")
    assert again["ok"] is True and accounted(again) == 1
    assert len(emu.state()["watchlist"]) == len(after)

    index = OPS.build_index(cfg, feature="watchlist")
    assert "tmdb:100007" in index and index["tmdb:100007"]["title"] == "Movie 7"

    emu.clear_requests()
    dry = OPS.remove(cfg, [movie_item(7), movie_item(1)], feature="watchlist", dry_run=True)
    assert_write_shape(dry, dry_run=True)
    assert emu.requests_to("POST", "/sync/watchlist/remove") == []
    assert len(emu.state()["watchlist"]) == len(after)

    gone = OPS.remove(cfg, [movie_item(7), movie_item(1)], feature="watchlist")
    assert_write_shape(gone, dry_run=False)
    assert sorted(gone["confirmed_keys"]) == ["tmdb:100001", "tmdb:100007"]
    assert len(emu.state()["watchlist"]) == len(after) - 2
    index = OPS.build_index(cfg, feature="watchlist")
    assert "tmdb:100007" not in index and "tmdb:100001" not in index
    assert len(index) == len(after) - 2


def test_ratings_add_and_remove(library):
    emu, cfg, dropped = library
    require("ratings", dropped)
    before = emu.state()["ratings"]
    items = [movie_item(9, rating=7, rated_at="2026-04-01T12:00:00.000Z"), movie_item(1, rating=10)]

    emu.clear_requests()
    dry = OPS.add(cfg, items, feature="ratings", dry_run=True)
    assert_write_shape(dry, dry_run=True)
    assert emu.requests_to("POST", "/sync/ratings") == []
    assert emu.state()["ratings"] == before
    assert any(r["path"] == "/sync/ratings" for r in dry["requests"]), dry

    real = OPS.add(cfg, items, feature="ratings")
    assert_write_shape(real, dry_run=False)
    assert real["ok"] is True and accounted(real) == 2
    assert sorted(real["confirmed_keys"]) == ["tmdb:100001", "tmdb:100009"]
    ratings = {(r["type"], r["trakt"]): r["rating"] for r in emu.state()["ratings"]}
    assert ratings[("movie", 9)] == 7 and ratings[("movie", 1)] == 10
    assert len(ratings) == len(before) + 1

    index = OPS.build_index(cfg, feature="ratings")
    assert index["tmdb:100009"]["rating"] == 7 and index["tmdb:100001"]["rating"] == 10

    bad = OPS.add(cfg, [movie_item(10, rating="great")], feature="ratings")
    assert bad["ok"] is True and [u["hint"] for u in bad["unresolved"]] == ["invalid rating"], bad

    gone = OPS.remove(cfg, [movie_item(9)], feature="ratings")
    assert_write_shape(gone, dry_run=False)
    assert gone["confirmed_keys"] == ["tmdb:100009"]
    assert ("movie", 9) not in {(r["type"], r["trakt"]) for r in emu.state()["ratings"]}


def test_history_add_and_remove(library):
    emu, cfg, dropped = library
    require("history", dropped)
    before = emu.state()["history"]
    play = movie_item(6, watched_at="2026-05-02T18:41:00.000Z")

    emu.clear_requests()
    dry = OPS.add(cfg, [play], feature="history", dry_run=True)
    assert_write_shape(dry, dry_run=True)
    assert emu.requests_to("POST", "/sync/history") == []
    assert emu.state()["history"] == before

    real = OPS.add(cfg, [play], feature="history")
    assert_write_shape(real, dry_run=False)
    assert real["ok"] is True and real["count"] == 1, real
    assert len(emu.state()["history"]) == len(before) + 1

    # The same play again is never a second play.
    again = OPS.add(cfg, [play], feature="history")
    assert again["ok"] is True and again["count"] == 0 and accounted(again) == 1, again
    assert len(emu.state()["history"]) == len(before) + 1

    index = OPS.build_index(cfg, feature="history")
    key = next(k for k in index if k.startswith("tmdb:100006@"))
    gone = OPS.remove(cfg, [index[key]], feature="history")
    assert_write_shape(gone, dry_run=False)
    assert gone["ok"] is True and gone["count"] == 1, gone
    assert len(emu.state()["history"]) == len(before)


def test_writes_stay_paced_across_orchestrator_calls(emulators, cw):
    """The instance outlives one OPS call, so two chunks of the orchestrator's plan are still
    one write per second apart."""
    emu, _ = emulators(harness.seed(CAT, WATCHLIST))
    cfg = harness.write_config(cw, emu, {"rate_limit": {"write_per_sec": 1}})
    OPS.add(cfg, [movie_item(10)], feature="watchlist")
    OPS.add(cfg, [movie_item(11)], feature="watchlist")
    posts = emu.requests_to("POST", "/sync/watchlist")
    assert len(posts) == 2
    gap = posts[1]["at_ms"] - posts[0]["at_ms"]
    assert gap >= 950, f"two POSTs {gap} ms apart"


def test_unknown_features_are_skipped_like_crosswatch_does(library):
    emu, cfg, _ = library
    emu.clear_requests()
    assert OPS.build_index(cfg, feature="progress") == {}
    r = OPS.add(cfg, [movie_item(1)], feature="progress")
    assert r["ok"] is True and r["count"] == 0
    assert emu.requests() == []


def test_malformed_items_are_named(library):
    _, cfg, _ = library
    r = OPS.add(cfg, [movie_item(1), {"title": "B", "year": "soon"}], feature="watchlist")
    assert r["ok"] is False and r["error_kind"] == "invalid_input"
    assert "item 1" in r["error"] and '"B"' in r["error"] and "year" in r["error"], r
    assert OPS.add(cfg, [], feature="watchlist")["count"] == 0


# --------------------------------------------------------------------------------------------
# tokens


def test_a_401_refreshes_once_and_the_rotated_pair_is_saved_in_config_json(emulators, cw, logs):
    # Trakt considers the token long expired; the config believes it is good for a week, so
    # only the 401 reveals it.
    emu, _ = emulators(harness.seed(CAT, WATCHLIST[:1], auth={"expires_at": 1000}))
    cfg = harness.write_config(cw, emu, {"expires_at": int(time.time()) + 7 * 86400})
    before = json.loads((cw / "config.json").read_text())
    stale = json.loads(json.dumps(cfg))

    index = OPS.build_index(cfg, feature="watchlist")
    assert len(index) == 1
    assert len(emu.requests_to("POST", "/oauth/token")) == 1, "exactly one refresh"
    assert [r["status"] for r in emu.requests_to("GET", "/sync/watchlist")] == [401, 200]

    saved = json.loads((cw / "config.json").read_text())
    now = emu.state()["auth"]
    assert saved["trakt"]["access_token"] == now["access_token"]
    assert saved["trakt"]["refresh_token"] == now["refresh_token"]
    assert saved["trakt"]["refresh_token"] != before["trakt"]["refresh_token"]
    # Every other key kept, in order.
    assert list(saved) == list(before)
    assert saved["version"] == 1 and saved["plex"] == before["plex"] and saved["sync"] == before["sync"]
    for k in ("client_id", "client_secret", "api_url", "auth_url", "timeout", "rate_limit"):
        assert saved["trakt"][k] == before["trakt"][k], k
    assert not list(cw.glob(".tmp-*")), "no temporary file left behind"
    # CrossWatch's in-memory mapping follows too.
    assert cfg["trakt"]["access_token"] == now["access_token"]
    assert any("[TRAKT:auth] INFO token_refreshed reason=rejected" in line for line in logs), logs

    # A later call handed the stale mapping uses the rotated pair: no second refresh.
    emu.clear_requests()
    assert len(OPS.build_index(stale, feature="watchlist")) == 1
    assert emu.requests_to("POST", "/oauth/token") == []
    # 200, or 304 when the adapter revalidates its ETag shadow.
    assert [r["status"] for r in emu.requests_to("GET", "/sync/watchlist")] in ([200], [304])


def test_a_token_close_to_expiry_is_refreshed_ahead(emulators, cw):
    emu, _ = emulators(harness.seed(CAT, WATCHLIST[:1]))
    cfg = harness.write_config(cw, emu, {"expires_at": int(time.time()) + 60})
    assert len(OPS.build_index(cfg, feature="watchlist")) == 1
    assert len(emu.requests_to("POST", "/oauth/token")) == 1
    assert [r["status"] for r in emu.requests_to("GET", "/sync/watchlist")] == [200]
    saved = json.loads((cw / "config.json").read_text())
    assert saved["trakt"]["expires_at"] > int(time.time()) + 3600


def test_a_missing_component_is_a_clear_failure(library, monkeypatch, tmp_path):
    import crosswatch_trakt_wasm as pkg

    _, cfg, _ = library
    monkeypatch.setattr(pkg.settings, "component_path", str(tmp_path / "nope.wasm"))
    monkeypatch.delenv("TRAKT_ADAPTER_WASM", raising=False)
    h = OPS.health(cfg)
    assert h["ok"] is False and h["status"] == "down" and "trakt_adapter.wasm" in h["error"]["message"], h
    with pytest.raises(TraktWasmError) as info:
        OPS.build_index(cfg, feature="watchlist")
    assert info.value.kind == "config" and "TRAKT_ADAPTER_WASM" in info.value.message
    w = OPS.add(cfg, [movie_item(1)], feature="watchlist")
    assert w["ok"] is False and w["error_kind"] == "config"


def test_a_one_way_mirror_run_like_the_orchestrators(library):
    """Health, then the destination index, a plan against a source index, the dry run, the
    real chunked writes, and the next index equals the source."""
    emu, cfg, _ = library
    assert OPS.health(cfg)["features"]["watchlist"] is True
    dst = OPS.build_index(cfg, feature="watchlist")
    # The source (say, Plex) has movies 1, 2 and 7..11 and nothing else.
    src = {f"tmdb:{100000 + i}": movie_item(i) for i in (1, 2, 7, 8, 9, 10, 11)}
    adds = [src[k] for k in sorted(set(src) - set(dst))]
    removes = [dst[k] for k in sorted(set(dst) - set(src))]
    assert len(adds) == 5 and len(removes) == len(WATCHLIST) - 2

    for op, items in (("add", adds), ("remove", removes)):
        dry = getattr(OPS, op)(cfg, items, feature="watchlist", dry_run=True)
        assert dry["ok"] is True and dry["dry_run"] is True and dry["requests"], dry
    assert OPS.build_index(cfg, feature="watchlist").keys() == dst.keys(), "dry runs changed nothing"

    chunk = 2  # the applier sends chunks (apply_chunk_size); keep them small here
    confirmed = []
    for op, items in (("add", adds), ("remove", removes)):
        for i in range(0, len(items), chunk):
            r = getattr(OPS, op)(cfg, items[i : i + chunk], feature="watchlist")
            assert r["ok"] is True and accounted(r) == len(items[i : i + chunk]), r
            confirmed += r["confirmed_keys"]
    assert sorted(confirmed) == sorted([*(k for k in src if k not in dst), *(k for k in dst if k not in src)])
    assert OPS.build_index(cfg, feature="watchlist").keys() == src.keys()
    assert len(emu.state()["watchlist"]) == len(src)
