"""Write reports in the caller's key space (the caller-keys rule: each item reported under the key CrossWatch attempted), checked the way CrossWatch's applier
checks them: for every item it sent, it looks its attempted key up in ``confirmed_keys``,
``skipped_keys`` and ``unresolved[].key``; an item found in none of them is counted
``apply:add:unaccounted`` (a failure). The attempted key is the item's ``_cw_event_key`` when it
has one (history in CrossWatch's event mode), else ``cw_platform.id_map.canonical_key(item)``.

"Inside CrossWatch" is played by ``cw_keys_standin`` (a ``cw_platform.id_map`` of our own,
written from CrossWatch's documented key algorithm): 0.11.3 behaviour (no ``#show`` marker)
unless a test asks for the newer one.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

import pytest

import cw_keys_standin
import harness
from crosswatch_trakt_wasm import OPS

CAT = harness.catalogue(movies=100, shows=12, seasons=2, episodes=5)
EPISODES = harness.episodes_of(CAT)
MOVIE = {m["ids"]["trakt"]: m for m in CAT["movies"]}
SHOW = {s["ids"]["trakt"]: s for s in CAT["shows"]}

#: 2025-07-01T00:00:00Z, a minute boundary.
T0 = 1_751_328_000


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def movie(trakt: int, **extra: Any) -> dict:
    m = MOVIE[trakt]
    return {"type": "movie", "title": m["title"], "year": m["year"], "ids": {"tmdb": m["ids"]["tmdb"], "imdb": m["ids"]["imdb"]}, **extra}


def show(trakt: int, **extra: Any) -> dict:
    s = SHOW[trakt]
    ids = {"tmdb": s["ids"]["tmdb"], "imdb": s["ids"]["imdb"], "tvdb": s["ids"]["tvdb"]}
    return {"type": "show", "title": s["title"], "year": s["year"], "ids": ids, **extra}


def episode(n: int, **extra: Any) -> dict:
    """The n-th episode of the catalogue, as CrossWatch sends one (show ids + numbers)."""
    e = EPISODES[n]
    sh = e["show"]
    return {
        "type": "episode",
        "title": f"{sh['title']} S{e['season']}E{e['number']}",
        "series_title": sh["title"],
        "show_ids": {"tmdb": sh["ids"]["tmdb"], "tvdb": sh["ids"]["tvdb"], "imdb": sh["ids"]["imdb"]},
        "season": e["season"],
        "episode": e["number"],
        "ids": {"tvdb": 500000 + e["trakt"]},
        **extra,
    }


UNKNOWN_MOVIE = {"type": "movie", "title": "Not On Trakt", "year": 2001, "ids": {"tmdb": 999999}}
UNKNOWN_SHOW = {"type": "show", "title": "No Such Show", "year": 2002, "ids": {"tmdb": 888888}}


def play(item: dict, epoch: int, event_mode: bool, canon) -> dict:
    """A play as CrossWatch sends it: watched_at with seconds; in event mode with its event
    key ``<canonical key>@<seconds>`` and ``_cw_rewatch_sync``."""
    out = dict(item, watched_at=iso(epoch))
    if event_mode:
        out["_cw_event_key"] = f"{canon(item)}@{epoch}"
        out["_cw_rewatch_sync"] = True
    return out


def attempted_key(item: dict) -> str:
    """The key CrossWatch attempts for ``item`` (uses the installed stand-in)."""
    ev = item.get("_cw_event_key")
    if isinstance(ev, str) and ev.strip():
        return ev.strip()
    return sys.modules["cw_platform.id_map"].canonical_key(item)


def where(result: dict, key: str) -> List[str]:
    """The report lists whose keys include ``key``."""
    lists = (
        ("confirmed", result.get("confirmed_keys") or []),
        ("skipped", result.get("skipped_keys") or []),
        ("unresolved", [u.get("key") for u in result.get("unresolved") or []]),
    )
    return [name for name, keys in lists if key in keys]


def assert_applier_rule(items: Sequence[dict], result: dict, expect: Optional[Sequence[str]] = None) -> None:
    """For every input item exactly one of the lists holds its attempted key; with ``expect``,
    that list is the expected one (``confirmed``, ``skipped`` or ``unresolved``)."""
    assert result.get("ok") is True, result
    found = [(attempted_key(it), where(result, attempted_key(it))) for it in items]
    bad = [(k, w) for k, w in found if len(w) != 1]
    assert not bad, f"attempted keys not accounted exactly once: {bad}\nreport: {result}"
    if expect is not None:
        assert [w[0] for _, w in found] == list(expect), found
    assert result["count"] == len(result["confirmed_keys"])


def unaccounted(items: Sequence[dict], result: dict) -> int:
    """How many items CrossWatch's applier would count unresolved for ``result``: the ones
    the provider reported unresolved plus those found in none of the lists."""
    accounted = set(result.get("confirmed_keys") or []) | set(result.get("skipped_keys") or [])
    accounted |= {u.get("key") for u in result.get("unresolved") or []}
    missing = sum(1 for it in items if attempted_key(it) not in accounted)
    return missing + len(result.get("unresolved") or [])


@pytest.fixture
def inside(monkeypatch):
    """The provider "inside CrossWatch" 0.11.3 (canonical_key without ``#show``)."""
    return cw_keys_standin.install(monkeypatch, show_marker=False).canonical_key


SEEDED_PLAYS = [
    {"id": 8101, "type": "movie", "trakt": 1, "watched_at": harness.trakt_time(T0)},
    {"id": 8102, "type": "movie", "trakt": 2, "watched_at": harness.trakt_time(T0 + 3600)},
    {"id": 8103, "type": "episode", "trakt": EPISODES[0]["trakt"], "watched_at": harness.trakt_time(T0 + 7200)},
]


@pytest.fixture
def account(emulators, cw):
    emu, dropped = emulators(
        harness.seed(
            CAT,
            watchlist=[{"type": "movie", "trakt": 1}, {"type": "show", "trakt": 1}],
            ratings=[{"type": "show", "trakt": 1, "rating": 7, "rated_at": "2026-03-03T10:00:00.000Z"}],
            history=SEEDED_PLAYS,
        )
    )
    if dropped:
        pytest.skip(f"this cw-host emulator lacks {dropped}")
    return emu, harness.write_config(cw, emu)


# --------------------------------------------------------------------------------------------
# history adds, both of CrossWatch's history modes


@pytest.mark.parametrize("event_mode", [True, False], ids=["event-keys-with-seconds", "bare-base-keys"])
def test_history_add_reports_the_attempted_keys(account, inside, event_mode):
    emu, cfg = account
    items = [
        play(movie(10), T0 + 17, event_mode, inside),  # new play, 17 s past the minute
        play(movie(11), T0 + 600 + 59, event_mode, inside),
        play(episode(3), T0 + 1200 + 1, event_mode, inside),
        play(movie(1), T0 + 42, event_mode, inside),  # Trakt has this play (same minute)
        play(UNKNOWN_MOVIE, T0 + 5, event_mode, inside),  # not on Trakt
    ]
    missing_time = movie(12)  # no watched_at: never sent
    if event_mode:
        missing_time["_cw_event_key"] = f"{inside(missing_time)}@{T0}"
    items.append(missing_time)
    result = OPS.add(cfg, items, feature="history")
    assert_applier_rule(items, result, ["confirmed", "confirmed", "confirmed", "skipped", "unresolved", "unresolved"])
    hints = {u["key"]: u["hint"] for u in result["unresolved"]}
    assert hints == {attempted_key(items[4]): "not_found", attempted_key(items[5]): "missing watched_at"}
    # The unresolved entries carry the caller's items as given.
    assert [u["item"] for u in result["unresolved"]] == [items[4], items[5]]
    # Landed once each; the rerun sends nothing and still accounts for every item.
    plays = [p for p in emu.state()["history"] if p["type"] == "movie" and p["trakt"] in (10, 11)]
    assert len(plays) == 2, plays
    again = OPS.add(cfg, items, feature="history")
    assert_applier_rule(items, again, ["skipped", "skipped", "skipped", "skipped", "unresolved", "unresolved"])


def test_history_add_outside_crosswatch_keeps_event_keys_else_the_components_keys(account):
    """No cw_platform: an item's _cw_event_key still decides its key; others get the
    component's (minute-floored) event key."""
    emu, cfg = account
    assert "cw_platform.id_map" not in sys.modules
    with_key = dict(movie(20), watched_at=iso(T0 + 17), _cw_event_key=f"tmdb:{MOVIE[20]['ids']['tmdb']}@{T0 + 17}")
    without = dict(movie(21), watched_at=iso(T0 + 17))
    result = OPS.add(cfg, [with_key, without], feature="history")
    assert result["confirmed_keys"] == [with_key["_cw_event_key"], f"tmdb:{MOVIE[21]['ids']['tmdb']}@{T0}"], result


# --------------------------------------------------------------------------------------------
# history removes, both modes


@pytest.mark.parametrize("event_mode", [True, False], ids=["event-keys", "bare-base-keys"])
def test_history_remove_reports_the_attempted_keys(account, inside, event_mode):
    emu, cfg = account
    index = OPS.build_index(cfg, feature="history")
    by_trakt = {(v["type"], v["ids"].get("trakt")): (k, v) for k, v in index.items()}
    k1, p1 = by_trakt[("movie", "1")]
    k2, p2 = by_trakt[("movie", "2")]
    items = []
    for n, (key, item) in enumerate(((k1, p1), (k2, p2))):
        it = dict(item)
        if event_mode:
            # CrossWatch keeps the provider's event key for Trakt's own plays; one comes with
            # seconds (keyed from another side's baseline).
            it["_cw_event_key"] = key if n == 0 else f"{key.split('@')[0]}@{T0 + 3600 + 30}"
            it["_cw_rewatch_sync"] = True
        items.append(it)
    gone = dict(movie(30), watched_at=iso(T0 + 99_999))  # no such play: already gone
    nothing = {"type": "movie", "title": "", "ids": {}}  # no ids, no title: unresolved
    if event_mode:
        gone["_cw_event_key"] = f"{inside(gone)}@{T0 + 99_999}"
    items += [gone, nothing]
    result = OPS.remove(cfg, items, feature="history")
    assert_applier_rule(items, result, ["confirmed", "confirmed", "skipped", "unresolved"])
    left = {(p["type"], p["trakt"]) for p in emu.state()["history"]}
    assert ("movie", 1) not in left and ("movie", 2) not in left


# --------------------------------------------------------------------------------------------
# shows keyed by TMDB: writes and indexes follow the running CrossWatch's canonical_key


@pytest.mark.parametrize("feature", ["watchlist", "ratings"])
def test_tmdb_show_writes_use_the_running_canonical_key(account, inside, feature):
    emu, cfg = account
    extra = {"rating": 8, "rated_at": "2026-04-01T10:00:00.000Z"} if feature == "ratings" else {}
    items = [show(2, **extra), show(3, **extra), dict(UNKNOWN_SHOW, **extra), movie(40, **extra)]
    result = OPS.add(cfg, items, feature=feature)
    assert_applier_rule(items, result, ["confirmed", "confirmed", "unresolved", "confirmed"])
    assert f"tmdb:{SHOW[2]['ids']['tmdb']}" in result["confirmed_keys"]
    assert not any(k.endswith("#show") for k in result["confirmed_keys"]), result
    removed = OPS.remove(cfg, items[:2], feature=feature)
    assert_applier_rule(items[:2], removed, ["confirmed", "confirmed"])


def test_watchlist_mixed_batch_with_skipped_and_unresolved(account, inside):
    emu, cfg = account
    items = [
        movie(1),  # listed already
        show(1),  # listed already, TMDB-keyed show
        show(4),
        UNKNOWN_MOVIE,
        {"type": "movie", "title": "", "ids": {"jellyfin": "abc"}},  # nothing Trakt can use
        episode(7),
    ]
    result = OPS.add(cfg, items, feature="watchlist")
    assert_applier_rule(items, result, ["skipped", "skipped", "confirmed", "unresolved", "unresolved", "confirmed"])


def test_indexes_drop_the_show_marker_for_0_11_3(account, inside):
    emu, cfg = account
    tmdb = SHOW[1]["ids"]["tmdb"]
    for feature in ("watchlist", "ratings"):
        index = OPS.build_index(cfg, feature=feature)
        assert f"tmdb:{tmdb}" in index and f"tmdb:{tmdb}#show" not in index, (feature, sorted(index))
        # Every key is what the running canonical_key gives its item.
        assert all(inside(v) == k for k, v in index.items()), feature


def test_indexes_keep_the_show_marker_when_the_running_version_has_it(account, monkeypatch):
    emu, cfg = account
    canon = cw_keys_standin.install(monkeypatch, show_marker=True).canonical_key
    tmdb = SHOW[1]["ids"]["tmdb"]
    index = OPS.build_index(cfg, feature="watchlist")
    assert f"tmdb:{tmdb}#show" in index, sorted(index)
    items = [show(5)]
    result = OPS.add(cfg, items, feature="watchlist")
    assert result["confirmed_keys"] == [canon(items[0])] == [f"tmdb:{SHOW[5]['ids']['tmdb']}#show"]


def test_a_movie_sharing_the_shows_tmdb_id_keeps_both_entries(emulators, cw, monkeypatch):
    cat = harness.catalogue(movies=3, shows=2, seasons=1, episodes=1)
    cat["movies"][0]["ids"]["tmdb"] = cat["shows"][0]["ids"]["tmdb"]  # TMDB movie/TV ids collide
    emu, _ = emulators(harness.seed(cat, watchlist=[{"type": "movie", "trakt": 1}, {"type": "show", "trakt": 1}, {"type": "show", "trakt": 2}]))
    cfg = harness.write_config(cw, emu)
    cw_keys_standin.install(monkeypatch, show_marker=False)
    index = OPS.build_index(cfg, feature="watchlist")
    t1, t2 = cat["shows"][0]["ids"]["tmdb"], cat["shows"][1]["ids"]["tmdb"]
    assert index[f"tmdb:{t1}"]["type"] == "movie"
    assert index[f"tmdb:{t1}#show"]["type"] == "show"  # kept: the bare key is the movie's
    assert index[f"tmdb:{t2}"]["type"] == "show"  # re-keyed
    assert len(index) == 3


def test_outside_crosswatch_indexes_and_reports_keep_the_components_keys(account):
    emu, cfg = account
    assert "cw_platform.id_map" not in sys.modules
    tmdb = SHOW[1]["ids"]["tmdb"]
    assert f"tmdb:{tmdb}#show" in OPS.build_index(cfg, feature="watchlist")
    result = OPS.add(cfg, [show(6)], feature="watchlist")
    assert result["confirmed_keys"] == [f"tmdb:{SHOW[6]['ids']['tmdb']}#show"]


# --------------------------------------------------------------------------------------------
# a CrossWatch-style one-way push: everything lands, nothing is counted unresolved


@pytest.mark.parametrize("event_mode", [True, False], ids=["event-keys-with-seconds", "bare-base-keys"])
def test_one_way_push_counts_nothing_unresolved_when_everything_lands(emulators, cw, inside, event_mode, capsys):
    emu, _ = emulators(harness.seed(CAT))
    cfg = harness.write_config(cw, emu)
    watchlist = [movie(i) for i in range(1, 51)] + [show(j) for j in range(1, 11)]
    ratings = (
        [movie(i, rating=1 + i % 10, rated_at="2026-05-01T10:00:00.000Z") for i in range(51, 81)]
        + [show(j, rating=7, rated_at="2026-05-01T10:00:00.000Z") for j in range(1, 6)]
        + [episode(n, rating=6, rated_at="2026-05-01T10:00:00.000Z") for n in range(5)]
    )
    plays = [
        play(movie(1 + i % 100) if i % 2 == 0 else episode(i % len(EPISODES)), T0 + i * 3600 + 7 + i % 50, event_mode, inside)
        for i in range(120)
    ]
    summary: Dict[str, Dict[str, int]] = {}
    for feature, items in (("history", plays), ("watchlist", watchlist), ("ratings", ratings)):
        counts = {"attempted": 0, "confirmed": 0, "unresolved": 0}
        for start in range(0, len(items), 100):  # the applier's chunks (apply_chunk_size 100)
            chunk = items[start : start + 100]
            result = OPS.add(cfg, chunk, feature=feature)
            assert_applier_rule(chunk, result, ["confirmed"] * len(chunk))
            counts["attempted"] += len(chunk)
            counts["confirmed"] += len(result["confirmed_keys"])
            counts["unresolved"] += unaccounted(chunk, result)
        summary[feature] = counts
    state = emu.state()
    assert len(state["history"]) == 120 and len(state["watchlist"]) == 60 and len(state["ratings"]) == 40
    with capsys.disabled():
        mode = "event" if event_mode else "bare"
        print(f"\n[one-way push, history {mode} mode] " + "; ".join(f"{f}: {c}" for f, c in summary.items()))
    assert all(c["unresolved"] == 0 and c["confirmed"] == c["attempted"] for c in summary.values()), summary
