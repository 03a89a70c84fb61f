"""CrossWatch's item maps at the host boundary, and the JSON shapes OPS returns (index, write
report, health). The host checks JSON types only; the adapter validates meaning.
Mirrors host-harness/host/src/items.rs and the health/report JSON of host-harness/cli/src.

WIT records are ``wasmtime.component.Record`` objects whose attribute names are the WIT
field names (``series-title``, with dashes), so they are read and written with
getattr/setattr.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Dict, Iterable, List, Optional

from wasmtime.component import Record, Variant

#: Fields with a typed place in the WIT item; every other field travels in ``extra``.
KNOWN_FIELDS = frozenset(
    {
        "type",
        "title",
        "year",
        "ids",
        "show_ids",
        "season",
        "episode",
        "series_title",
        "rating",
        "rated_at",
        "watched_at",
        "listed_at",
        "_trakt_history_id",
    }
)

#: The WIT ``feature`` enum, in order.
FEATURES = ("watchlist", "ratings", "history", "playlists")

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


class ItemError(ValueError):
    """Malformed input: the text names the item and the field."""


def parse_feature(name: Any) -> str:
    f = str(name or "").strip().lower()
    if f not in FEATURES:
        raise ValueError(f"unknown feature {name!r}: expected one of {', '.join(FEATURES)}")
    return f


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= 60 else s[:60] + "..."


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number_text(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _record(**fields: Any) -> Record:
    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


def item_from_json(index: int, value: Any) -> Record:
    """One CrossWatch item map -> the WIT ``item`` record."""
    if not isinstance(value, Mapping):
        raise ItemError(f"item {index}: expected a JSON object, found {_short(value)}")
    m = value
    title = m.get("title")
    who = f"item {index} ({json.dumps(title, ensure_ascii=False)})" if isinstance(title, str) else f"item {index}"

    def err(field: str, want: str, v: Any) -> ItemError:
        return ItemError(f"{who}: field {field} must be {want}, found {_short(v)}")

    def text(field: str) -> Optional[str]:
        v = m.get(field)
        if v is None:
            return None
        if isinstance(v, str):
            return v
        raise err(field, "a string", v)

    def stamp(field: str) -> Optional[str]:
        # Timestamps may be ISO text or epoch numbers.
        v = m.get(field)
        if v is None:
            return None
        if isinstance(v, str):
            return v
        if _is_number(v):
            return _number_text(v)
        raise err(field, "a timestamp string or number", v)

    def integer(field: str) -> Optional[int]:
        v = m.get(field)
        if v is None:
            return None
        if _is_number(v):
            if isinstance(v, float) and not (math.isfinite(v) and v.is_integer()):
                raise err(field, "an integer", v)
            n = int(v)
            if _I32_MIN <= n <= _I32_MAX:
                return n
            raise err(field, "an integer", v)
        if isinstance(v, str):
            if not v.strip():
                return None
            try:
                n = int(v.strip())
            except ValueError:
                raise err(field, "an integer", v) from None
            if _I32_MIN <= n <= _I32_MAX:
                return n
        raise err(field, "an integer", v)

    def ids(field: str) -> List[Record]:
        v = m.get(field)
        if v is None:
            return []
        if not isinstance(v, Mapping):
            raise err(field, "an object of namespace -> id", v)
        out = []
        for ns, raw in v.items():
            # Non-scalar ids (e.g. Trakt's `plex: {guid, slug}`) are dropped, as are nulls.
            if isinstance(raw, str):
                val = raw
            elif isinstance(raw, bool):
                val = "true" if raw else "false"
            elif _is_number(raw):
                val = _number_text(raw)
            else:
                continue
            out.append(_record(namespace=str(ns), value=val))
        return out

    # A rating that is not a number reaches the adapter as NaN, which it reports as
    # `invalid rating` for that item instead of failing the whole call.
    raw_rating = m.get("rating")
    if raw_rating is None:
        rating = None
    elif _is_number(raw_rating):
        rating = float(raw_rating)
    elif isinstance(raw_rating, str):
        try:
            rating = float(raw_rating.strip())
        except ValueError:
            rating = math.nan
    else:
        rating = math.nan

    hid = m.get("_trakt_history_id")
    if hid is None:
        history_id = None
    elif isinstance(hid, str):
        history_id = hid
    elif _is_number(hid):
        history_id = _number_text(hid)
    else:
        raise err("_trakt_history_id", "a string or integer", hid)

    kind = m.get("type")
    if kind is None:
        kind = ""
    elif not isinstance(kind, str):
        raise err("type", "a string", kind)

    extra = {k: v for k, v in m.items() if k not in KNOWN_FIELDS}
    return _record(
        kind=kind,
        title=text("title"),
        year=integer("year"),
        ids=ids("ids"),
        show_ids=ids("show_ids"),
        season=integer("season"),
        episode=integer("episode"),
        series_title=text("series_title"),
        rating=rating,
        rated_at=stamp("rated_at"),
        watched_at=stamp("watched_at"),
        listed_at=stamp("listed_at"),
        history_id=history_id,
        extra=json.dumps(extra, ensure_ascii=False, separators=(",", ":"), default=str) if extra else None,
    )


def items_from_json(values: Any) -> List[Record]:
    if isinstance(values, Mapping):
        # An index-shaped mapping {key: item} is accepted as its items.
        values = list(values.values())
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ItemError("items must be a list of item objects")
    return [item_from_json(i, v) for i, v in enumerate(values)]


def _ids_to_json(ids: List[Record]) -> Dict[str, str]:
    return {i.namespace: i.value for i in ids}


def item_to_json(item: Record) -> Dict[str, Any]:
    """The item in CrossWatch's minimal shape, with the caller's extra fields restored."""
    g = item.__dict__
    m: Dict[str, Any] = {
        "type": g["kind"],
        "title": g["title"],
        "year": g["year"],
        "ids": _ids_to_json(g["ids"]),
    }
    if g["show-ids"]:
        m["show_ids"] = _ids_to_json(g["show-ids"])
    for key, field in (("season", "season"), ("episode", "episode"), ("series_title", "series-title")):
        if g[field] is not None:
            m[key] = g[field]
    r = g["rating"]
    if r is not None and math.isfinite(r):
        m["rating"] = int(r) if r.is_integer() else r
    for key, field in (
        ("rated_at", "rated-at"),
        ("watched_at", "watched-at"),
        ("listed_at", "listed-at"),
        ("_trakt_history_id", "history-id"),
    ):
        if g[field] is not None:
            m[key] = g[field]
    extra = g["extra"]
    if extra:
        try:
            parsed = json.loads(extra)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            for k, v in parsed.items():
                m.setdefault(k, v)
    return m


def index_to_json(entries: List[Record]) -> Dict[str, Dict[str, Any]]:
    """An index as CrossWatch expects it: canonical key -> item."""
    return {e.key: item_to_json(e.item) for e in entries}


def report_to_json(report: Record, dry_run: bool) -> Dict[str, Any]:
    """``{ok, count, confirmed_keys, skipped_keys, skipped, unresolved, dry_run[, requests]}``."""
    confirmed = list(report.confirmed)
    skipped = list(report.skipped)
    out: Dict[str, Any] = {
        "ok": True,
        "count": len(confirmed),
        "confirmed_keys": confirmed,
        "skipped_keys": skipped,
        "skipped": len(skipped),
        "unresolved": [{"key": u.key, "item": item_to_json(u.item), "hint": u.hint} for u in report.unresolved],
        "dry_run": bool(dry_run),
    }
    if dry_run:
        reqs = []
        for p in report.planned:
            try:
                body: Any = json.loads(p.body)
            except ValueError:
                body = p.body
            reqs.append({"method": p.method, "path": p.path, "body": body})
        out["requests"] = reqs
    return out


#: WIT adapter-error case -> the kind names the Rust host prints.
def error_to_json(e: Variant) -> Dict[str, Any]:
    """``{kind, message, ...details}`` for an ``adapter-error``."""
    kind = e.tag.replace("-", "_")
    p = e.payload
    if e.tag == "account-limit":
        return {"kind": kind, "message": p.message, "limit": p.limit, "vip": p.vip, "upgrade_url": getattr(p, "upgrade-url")}
    if e.tag == "rate-limited":
        return {"kind": kind, "message": p.message, "retry_after": getattr(p, "retry-after-secs")}
    if e.tag == "http":
        return {"kind": kind, "message": p.message, "status": p.status}
    return {"kind": kind, "message": p if isinstance(p, str) else str(p)}


def manifest_to_json(m: Record) -> Dict[str, Any]:
    return {
        "name": m.name,
        "label": m.label,
        "version": m.version,
        "api_version": getattr(m, "api-version"),
        "features": {
            f.feature: {
                "supported": f.supported,
                "index": f.index,
                "add": f.add,
                "remove": f.remove,
                "media_types": list(getattr(f, "media-types")),
                "note": f.note,
            }
            for f in m.features
        },
        "id_namespaces": list(getattr(m, "id-namespaces")),
        "index_semantics": getattr(m, "index-semantics"),
        "key_scheme": getattr(m, "key-scheme"),
    }


def health_to_json(h: Record) -> Dict[str, Any]:
    """CrossWatch's health dict (docs/crosswatch.md 1.5)."""
    status = h.status
    ok = status in ("ok", "degraded")
    features = {f.feature: bool(f.available) for f in h.features}
    reasons = {f.feature: f.reason for f in h.features if f.reason}
    retry_after = getattr(h, "retry-after-secs")
    message = h.message
    out: Dict[str, Any] = {
        "ok": ok,
        "status": status,
        "latency_ms": getattr(h, "latency-ms"),
        "features": features,
        "details": None
        if not message and not reasons
        else {"reason": message, "features": reasons, "retry_after_s": retry_after},
        "api": {
            "last_activities": {
                "status": getattr(h, "api-status"),
                "retry_after": retry_after,
                "rate": {"remaining": getattr(h, "rate-limit-remaining")},
            }
        },
    }
    if not ok:
        out["error"] = {"kind": "auth" if status == "auth_failed" else "transport", "message": message}
    return out
