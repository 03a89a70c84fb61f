"""Host-side pieces without the component: item JSON <-> WIT records, log lines, config
reading and the token write-back."""

from __future__ import annotations

import json
import math
import sys
import types

import pytest

from crosswatch_trakt_wasm import imports, items
from crosswatch_trakt_wasm.config import (
    TokenUpdate,
    adapter_options,
    api_origin,
    credentials_from_cfg,
    oauth_origin,
)
from crosswatch_trakt_wasm.tokenstore import persist_tokens


def test_items_keep_unknown_fields_drop_non_scalar_ids_and_pass_bad_ratings_as_nan():
    rec = items.item_from_json(
        0,
        {
            "type": "movie",
            "title": "The Matrix",
            "year": 1999,
            "ids": {"tmdb": 603, "imdb": "tt0133093", "plex": {"guid": "x"}, "slug": None, "flag": True},
            "library_id": 7,
            "rating": "great",
            "watched_at": 1700000040,
            "_trakt_history_id": 123,
        },
    )
    assert rec.kind == "movie" and rec.year == 1999
    assert [(i.namespace, i.value) for i in rec.ids] == [("tmdb", "603"), ("imdb", "tt0133093"), ("flag", "true")]
    assert math.isnan(rec.rating)
    assert getattr(rec, "watched-at") == "1700000040"
    assert getattr(rec, "history-id") == "123"
    assert json.loads(rec.extra) == {"library_id": 7}
    back = items.item_to_json(rec)
    assert back["library_id"] == 7
    assert back["ids"] == {"tmdb": "603", "imdb": "tt0133093", "flag": "true"}
    assert "rating" not in back  # NaN never goes out
    assert back["_trakt_history_id"] == "123"


def test_item_round_trip_of_an_episode():
    src = {
        "type": "episode",
        "title": "Pilot",
        "year": None,
        "ids": {"tvdb": "349232"},
        "show_ids": {"tmdb": "1396"},
        "season": 1,
        "episode": "1",
        "series_title": "Breaking Bad",
        "rating": 8.0,
        "rated_at": "2026-01-01T00:00:00.000Z",
    }
    back = items.item_to_json(items.item_from_json(0, src))
    assert back == dict(src, episode=1, rating=8)


def test_type_errors_name_the_item_and_the_field():
    with pytest.raises(items.ItemError) as e:
        items.items_from_json([{"title": "A"}, {"title": "B", "year": "soon"}])
    assert "item 1" in str(e.value) and '"B"' in str(e.value) and "year" in str(e.value)
    with pytest.raises(items.ItemError, match="item 0: expected a JSON object"):
        items.items_from_json([3])
    with pytest.raises(items.ItemError, match="ids"):
        items.items_from_json([{"ids": [1]}])
    with pytest.raises(items.ItemError, match="year"):
        items.items_from_json([{"year": True}])  # a JSON bool is not an integer
    with pytest.raises(items.ItemError, match="season"):
        items.items_from_json([{"season": 1.5}])
    with pytest.raises(items.ItemError, match="list"):
        items.items_from_json("not a list")


def test_log_lines_follow_crosswatchs_format():
    f = imports.format_line
    assert f("info", "watchlist", "index_done", [("count", "8"), ("source", "live"), ("e", "")]) == (
        "[TRAKT:watchlist] INFO index_done count=8 source=live"
    )
    assert f("warn", "http", "retry", [("url", "http://x/y z")]) == '[TRAKT:http] WARN retry url="http://x/y z"'


def test_inside_crosswatch_log_events_go_to_its_logger(monkeypatch):
    calls = []
    fake = types.ModuleType("providers.sync._log")
    fake.log = lambda provider, feature, level, msg, **fields: calls.append((provider, feature, level, msg, fields))
    monkeypatch.setitem(sys.modules, "providers", types.ModuleType("providers"))
    monkeypatch.setitem(sys.modules, "providers.sync", types.ModuleType("providers.sync"))
    monkeypatch.setitem(sys.modules, "providers.sync._log", fake)
    monkeypatch.setattr(imports.log, "_CW_LOG", None)
    monkeypatch.setattr(imports.LogSink, "writer", None)
    imports.LogSink().event("info", "watchlist", "index_done", [("count", "8"), ("level", "x")])
    assert calls == [("TRAKT", "watchlist", "info", "index_done", {"count": "8", "level_": "x"})]


def test_config_reading():
    cfg = {
        "trakt": {
            "client_id": " id ",
            "client_secret": "s",
            "access_token": "a",
            "refresh_token": "r",
            "expires_at": 5.0,
            "timeout": 7,
            "instances": {},
            "api_url": "http://127.0.0.1:1/",
        },
        "providers": {"trakt": {"history_collection": True}},
        "history_number_fallback": True,
    }
    c = credentials_from_cfg(cfg)
    assert (c.client_id, c.access_token, c.expires_at) == ("id", "a", 5)
    assert "access_token=<set>" in repr(c) and "'a'" not in repr(c)
    api = api_origin(cfg)
    assert api.base_url() == "http://127.0.0.1:1"
    assert oauth_origin(cfg, api) == api
    assert oauth_origin({"trakt": {}}, api_origin({"trakt": {}})).base_url() == "https://auth.trakt.tv"
    opts = adapter_options(cfg, api.base_url())
    assert opts == {"timeout": 7, "history_collection": True, "history_number_fallback": True, "api_url": "http://127.0.0.1:1"}
    # Tokens from CrossWatch's other places.
    assert credentials_from_cfg({"auth": {"trakt": {"token": "t"}}}).access_token == "t"


def test_token_write_back_keeps_other_keys_order_and_permissions(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"zeta":1,"trakt":{"client_id":"id","access_token":"old","x":[1]},"alpha":{"b":"é"}}')
    p.chmod(0o600)
    persist_tokens(p, TokenUpdate("new", "r2", 99, 0, "bearer", None))
    v = json.loads(p.read_text())
    assert list(v) == ["zeta", "trakt", "alpha"]
    assert v["trakt"] == {"client_id": "id", "access_token": "new", "x": [1], "refresh_token": "r2", "expires_at": 99, "token_type": "bearer"}
    assert v["alpha"] == {"b": "é"}
    assert p.stat().st_mode & 0o777 == 0o600
    assert sorted(x.name for x in tmp_path.iterdir()) == ["config.json"]


def test_refresh_ahead_rule():
    c = imports.Credentials
    now = 1_000_000
    assert not imports.needs_refresh(c(expires_at=0), now, 3600), "unknown expiry waits for a 401"
    assert imports.needs_refresh(c(expires_at=now + 3599), now, 3600)
    assert not imports.needs_refresh(c(expires_at=now + 3601), now, 3600)
    week = 604_800
    issued = now - week + 60_000
    assert imports.needs_refresh(c(expires_at=issued + week, created_at=issued), now, 3600)
