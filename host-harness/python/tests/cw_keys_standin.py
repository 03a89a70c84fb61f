"""A stand-in for CrossWatch's ``cw_platform.id_map.canonical_key``, written for these tests from
CrossWatch's documented key algorithm (docs/crosswatch.md 2.1 and 2.2), not from its code:

* type aliases: movies -> movie; shows/series/tv -> show; seasons -> season; episodes ->
  episode; other text lowercased; empty -> movie;
* id values: text, trimmed; sentinels (none, null, nan, undefined, unknown, 0, "") dropped;
  numeric namespaces keep their digits; imdb becomes ``tt<digits>``;
* seasons and episodes with a season number (and, for episodes, an episode number): the best
  id of ``show_ids`` (else of ``ids``) + ``#season:N`` or ``#sSSeEE``;
* else the best id (first of tmdb, imdb, tvdb, trakt, mal, anilist, kitsu, anidb, simkl, plex,
  guid, slug), ``ns:value`` lowercased; with ``show_marker`` (newer CrossWatch), ``#show`` is
  appended for a show or anime keyed by tmdb;
* else ``<type>|title:<title>|year:<year>`` (anime -> show); else ``unknown:``.

``install(monkeypatch, show_marker=False)`` puts it into ``sys.modules`` as
``cw_platform.id_map`` (0.11.3 behaviour by default) and returns the module.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Mapping
from typing import Any, Dict, Optional

PRIORITY = ("tmdb", "imdb", "tvdb", "trakt", "mal", "anilist", "kitsu", "anidb", "simkl", "plex", "guid", "slug")
NUMERIC = {"tmdb", "tvdb", "trakt", "simkl", "mal", "anilist", "kitsu", "anidb", "plex", "jellyfin", "emby"}
SENTINELS = {"", "none", "null", "nan", "undefined", "unknown", "0"}
ALIASES = {"movies": "movie", "shows": "show", "series": "show", "tv": "show", "seasons": "season", "episodes": "episode"}


def kind_of(raw: Any) -> str:
    text = str(raw or "").strip().lower()
    return ALIASES.get(text, text) or "movie"


def clean(ns: str, raw: Any) -> Optional[str]:
    if raw is None or isinstance(raw, (dict, list)):
        return None
    text = str(raw).strip()
    if text.lower() in SENTINELS:
        return None
    if ns in NUMERIC:
        digits = "".join(ch for ch in text if ch.isdigit())
        return digits if digits.strip("0") else None
    if ns == "imdb":
        found = re.search(r"tt\d+", text.lower())
        if found:
            return found.group(0)
        digits = "".join(ch for ch in text if ch.isdigit())
        return f"tt{digits}" if digits else None
    return text


def best(ids: Any) -> Optional[str]:
    if not isinstance(ids, Mapping):
        return None
    norm: Dict[str, str] = {}
    for ns, raw in ids.items():
        value = clean(str(ns).lower(), raw)
        if value:
            norm[str(ns).lower()] = value
    for ns in PRIORITY:
        if ns in norm:
            return f"{ns}:{norm[ns]}".lower()
    return None


def as_int(v: Any) -> Optional[int]:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def make(show_marker: bool):
    def canonical_key(item: Mapping[str, Any]) -> str:
        kind = kind_of(item.get("type"))
        if kind in ("season", "episode"):
            show = best(item.get("show_ids")) or best(item.get("ids"))
            season = as_int(item.get("season"))
            episode = as_int(item.get("episode"))
            frag = None
            if season is not None:
                if kind == "season":
                    frag = f"#season:{season}"
                elif episode is not None:
                    frag = f"#s{season:02d}e{episode:02d}"
            if show and frag:
                return f"{show}{frag}".lower()
        key = best(item.get("ids"))
        if key:
            if show_marker and kind in ("show", "anime") and key.startswith("tmdb:"):
                return key + "#show"
            return key
        title = str(item.get("title") or "").strip()
        if title:
            year = "" if item.get("year") is None else str(item.get("year"))
            return f"{'show' if kind == 'anime' else kind}|title:{title.lower()}|year:{year}"
        return "unknown:"

    return canonical_key


def install(monkeypatch, show_marker: bool = False) -> types.ModuleType:
    mod = types.ModuleType("cw_platform.id_map")
    mod.canonical_key = make(show_marker)  # type: ignore[attr-defined]
    if "cw_platform" not in sys.modules:
        pkg = types.ModuleType("cw_platform")
        pkg.__path__ = []  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "cw_platform", pkg)
    monkeypatch.setattr(sys.modules["cw_platform"], "id_map", mod, raising=False)
    monkeypatch.setitem(sys.modules, "cw_platform.id_map", mod)
    return mod
