"""Write reports and indexes in the caller's key space: each input item is reported under the key
CrossWatch attempted for it.

CrossWatch's applier checks a write by looking up, for every item it sent, the key *it*
attempted for that item in ``confirmed_keys``, ``skipped_keys`` and ``unresolved[].key``; an
item found in none of them is counted ``apply:add:unaccounted`` (a failure, a strike towards
the blocklist). The component reports its own keys, which differ from CrossWatch's in three
ways: history plays are keyed ``<base>@<minute>`` while CrossWatch's event keys carry seconds
(or, in its default history mode, are the bare base key), and TMDB-keyed shows carry the
``#show`` marker, which CrossWatch 0.11.3's ``canonical_key`` does not produce.

So the component reports every outcome by input position (``write-report.outcomes``) and this
module turns each one into the key the caller looks for:

1. the item's ``_cw_event_key`` when it has one (CrossWatch's event key for the play);
2. else the key of the item in the caller's mapping, when the items came as ``{key: item}``;
3. else the canonical key as the running CrossWatch computes it,
   ``cw_platform.id_map.canonical_key(item)``, when that module is loaded or importable (the
   provider runs inside CrossWatch);
4. else the component's key (outside CrossWatch: cw-host's keys).

Unresolved entries carry the caller's key and the caller's item as given.

Indexes: CrossWatch re-derives keys with its own ``canonical_key`` on most paths
(``orchestrator/_snapshots.py::canonicalize_index``), but not all (importing a provider's
state into baselines uses the index keys as they are). So when the running ``canonical_key``
gives a TMDB-keyed show ``tmdb:N`` rather than ``tmdb:N#show``, ``index_keys`` re-keys that
entry to ``tmdb:N``; a movie already at ``tmdb:N`` in the same index keeps its key and the show
keeps the marker (neither is lost; that CrossWatch version cannot tell the two apart). See
host-harness/python/README.md, "Keys".
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Dict, List, Optional

from . import items as itemsmod

#: The module whose ``canonical_key`` decides CrossWatch's keys.
ID_MAP_MODULE = "cw_platform.id_map"
SHOW_MARKER = "#show"

CanonicalKey = Callable[[Mapping[str, Any]], Any]

_import_failed = False


def running_canonical_key() -> Optional[CanonicalKey]:
    """CrossWatch's ``canonical_key`` when the provider runs inside CrossWatch (the module is
    loaded, or importable), else None. A failed import is not retried in this process, but a
    module loaded later (``sys.modules``) is always seen."""
    global _import_failed
    mod = sys.modules.get(ID_MAP_MODULE)
    if mod is None and not _import_failed:
        try:
            mod = importlib.import_module(ID_MAP_MODULE)
        except Exception:  # not inside CrossWatch (ImportError), or a broken install
            _import_failed = True
            mod = None
    fn = getattr(mod, "canonical_key", None) if mod is not None else None
    return fn if callable(fn) else None


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def caller_key(item: Any, component_key: str, canon: Optional[CanonicalKey], given_key: str = "") -> str:
    """The key the caller looks for ``item`` under (see the module text for the order)."""
    if isinstance(item, Mapping):
        event_key = _text(item.get("_cw_event_key"))
        if event_key:
            return event_key
    if given_key:
        return given_key
    if canon is not None and isinstance(item, Mapping):
        try:
            key = canon(item)
        except Exception:
            key = None
        if isinstance(key, str) and key:
            return key
    return component_key


class Inputs:
    """The caller's items, taken once (a generator is read once) in the order they are sent:
    ``items`` for ``items.items_from_json`` (the value as given when it is not a list of
    items, so that the usual error names it) and, per item, the caller's own key when the
    items came as a mapping ``{key: item}``."""

    def __init__(self, items: Any):
        self.keys: List[str] = []
        if items is None:
            self.items: Any = []
        elif isinstance(items, Mapping):
            self.items = list(items.values())
            self.keys = [_text(k) for k in items.keys()]
        elif isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            self.items = items
        else:
            self.items = list(items)
        if isinstance(self.items, list) and not self.keys:
            self.keys = [""] * len(self.items)


def report_to_json(report: Any, inputs: Inputs, dry_run: bool, log: Any = None, feature: str = "module") -> Dict[str, Any]:
    """The write report with every key in the caller's key space: ``{ok, count,
    confirmed_keys, skipped_keys, skipped, unresolved, dry_run[, requests]}`` as
    ``items.report_to_json``, built from ``report.outcomes`` (one per input item)."""
    out = itemsmod.report_to_json(report, dry_run)
    items = inputs.items if isinstance(inputs.items, list) else []
    outcomes = list(getattr(report, "outcomes", None) or [])
    if len(outcomes) != len(items):
        # A component without per-item outcomes (or a bug): keep its keys, say so.
        if log is not None:
            log.event(
                "warn",
                feature,
                "report_outcomes_missing",
                [("inputs", str(len(items))), ("outcomes", str(len(outcomes)))],
            )
        return out
    canon = running_canonical_key()
    confirmed: List[str] = []
    skipped: List[str] = []
    unresolved: List[Dict[str, Any]] = []
    for item, key_given, o in zip(items, inputs.keys, outcomes):
        key = caller_key(item, o.key, canon, key_given)
        status = o.status
        tag = getattr(status, "tag", status)
        if tag == "confirmed":
            confirmed.append(key)
        elif tag == "skipped":
            skipped.append(key)
        else:
            hint = getattr(status, "payload", None)
            shown = dict(item) if isinstance(item, Mapping) else item
            unresolved.append({"key": key, "item": shown, "hint": hint if isinstance(hint, str) else str(hint or "")})
    out["count"] = len(confirmed)
    out["confirmed_keys"] = confirmed
    out["skipped_keys"] = skipped
    out["skipped"] = len(skipped)
    out["unresolved"] = unresolved
    return out


def index_keys(index: Dict[str, Any], log: Any = None, feature: str = "module") -> Dict[str, Any]:
    """``index`` with each ``tmdb:N#show`` key re-keyed to what the running CrossWatch's
    ``canonical_key`` gives that item when it gives ``tmdb:N`` (CrossWatch 0.11.3). Unchanged
    outside CrossWatch and when the running version produces the marker itself."""
    canon = running_canonical_key()
    if canon is None:
        return index
    marked = [k for k in index if k.endswith(SHOW_MARKER)]
    if not marked:
        return index
    rename: Dict[str, str] = {}
    collisions = 0
    for key in marked:
        item = index[key]
        try:
            theirs = canon(item) if isinstance(item, Mapping) else None
        except Exception:
            theirs = None
        bare = key[: -len(SHOW_MARKER)]
        if theirs != bare:
            continue  # the running version keeps the marker (or keys the show otherwise)
        if bare in index:
            collisions += 1  # a movie with the same TMDB id: keep both entries
            continue
        rename[key] = bare
    if log is not None and (rename or collisions):
        log.event(
            "debug",
            feature,
            "index_show_marker",
            [("rekeyed", str(len(rename))), ("kept_for_collision", str(collisions))],
        )
    if not rename:
        return index
    return {rename.get(k, k): v for k, v in index.items()}
