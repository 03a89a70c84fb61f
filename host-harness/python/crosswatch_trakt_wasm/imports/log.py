"""The ``log`` import: structured events rendered as CrossWatch's
``[TRAKT:<feature>] LEVEL event k=v`` lines, or handed to CrossWatch's own logger when the
provider runs inside it. Mirrors host-harness/host/src/imports/log.rs."""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from typing import Any, Callable, List, Optional, Tuple

LEVELS = ("trace", "debug", "info", "warn", "error")
_LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}


def parse_level(text: str) -> Optional[int]:
    t = (text or "").strip().lower()
    if t == "warning":
        t = "warn"
    if t == "off":
        return len(LEVELS)
    return _LEVEL_RANK.get(t)


def default_level() -> int:
    """``CW_TRAKT_LOG_LEVEL`` > ``CW_LOG_LEVEL`` > debug when ``CW_DEBUG``/``CW_TRAKT_DEBUG``
    is set > info (CrossWatch's rules, docs/crosswatch.md 6)."""
    for var in ("CW_TRAKT_LOG_LEVEL", "CW_LOG_LEVEL"):
        lvl = parse_level(os.environ.get(var, ""))
        if lvl is not None:
            return lvl
    for var in ("CW_DEBUG", "CW_TRAKT_DEBUG"):
        if os.environ.get(var, "").strip().lower() not in ("", "0", "false", "no"):
            return _LEVEL_RANK["debug"]
    return _LEVEL_RANK["info"]


def _is_control(c: str) -> bool:
    # C0, DEL and C1 (U+009B is a one-byte CSI), and the Unicode line and paragraph separators.
    return unicodedata.category(c) in ("Cc", "Zl", "Zp")


def _escape(text: str, also: str = "") -> str:
    """Control characters (and the characters in ``also``, and whitespace when ``also`` is
    given) as ``\\xNN`` / ``\\uNNNN``: a log line stays one line and no escape sequence reaches a
    terminal."""
    if not any(_is_control(c) or c in also or (also and c.isspace()) for c in text):
        return text
    out = []
    for c in text:
        if _is_control(c) or c in also or (also and c.isspace()):
            n = ord(c)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}")
        else:
            out.append(c)
    return "".join(out)


def escape_token(text: Any) -> str:
    """A feature, event or field key: control characters, whitespace, ``=``, ``"`` and ``]``
    escaped, so it can neither end the line nor pose as another field."""
    return _escape("" if text is None else str(text), also='="]')


def escape_value(text: Any) -> str:
    """A field value for CrossWatch's logger: control characters escaped."""
    return _escape("" if text is None else str(text))


def format_line(level: str, feature: str, event: str, fields: List[Tuple[str, str]]) -> str:
    """``[TRAKT:<feature>] LEVEL event k=v ...``; values with whitespace, quotes, ``=``, ``:``
    or control characters are JSON-quoted so a line always splits back into its fields;
    control characters are escaped everywhere (feature, event, keys, values), so a newline
    never starts a forged line and no escape sequence reaches the terminal; empty values are
    left out."""
    parts = [f"[TRAKT:{escape_token(feature)}] {escape_token(level).upper()} {escape_token(event)}"]
    for k, v in fields:
        v = "" if v is None else str(v)
        if not v:
            continue
        if any(c.isspace() or c in '"=:' or _is_control(c) for c in v):
            # json.dumps escapes C0 controls; DEL, C1 and U+2028/9 are escaped after it.
            v = _escape(json.dumps(v, ensure_ascii=False))
        parts.append(f"{escape_token(k)}={v}")
    return " ".join(parts)


def _stderr_writer(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass


_CW_LOG: Any = None


def crosswatch_logger() -> Optional[Callable[..., None]]:
    """CrossWatch's own structured logger (``providers.sync._log.log``) when this provider
    runs inside CrossWatch (its loader has imported ``providers.sync``), else None."""
    global _CW_LOG
    if _CW_LOG is None:
        _CW_LOG = False
        if "providers.sync" in sys.modules:
            try:
                from providers.sync._log import log as cw_log  # type: ignore[import-not-found]

                _CW_LOG = cw_log
            except Exception:
                _CW_LOG = False
    return _CW_LOG or None


_RESERVED = frozenset({"provider", "feature", "level", "msg"})


class LogSink:
    """Where log lines go: an explicit ``writer(line)``, else CrossWatch's logger when running
    inside CrossWatch (its level settings and kv/json format apply), else stderr."""

    #: Process-wide writer override (tests, embedders): a callable taking one line.
    writer: Optional[Callable[[str], None]] = None

    def __init__(self, min_level: Optional[int] = None, writer: Optional[Callable[[str], None]] = None):
        self.explicit_level = min_level is not None
        self.min_level = default_level() if min_level is None else min_level
        self._writer = writer

    def enabled(self, level: str) -> bool:
        return _LEVEL_RANK.get(level, 2) >= self.min_level

    def event(self, level: str, feature: str, event: str, fields: List[Tuple[str, str]] = ()) -> None:
        writer = self._writer or LogSink.writer
        if writer is None and not self.explicit_level:
            cw_log = crosswatch_logger()
            if cw_log is not None:
                kw = {}
                for k, v in fields:
                    k = escape_token(k)
                    kw[f"{k}_" if k in _RESERVED else k] = escape_value(v)
                try:
                    cw_log("TRAKT", escape_token(feature), level, escape_token(event), **kw)
                except Exception:
                    pass
                return
        if not self.enabled(level):
            return
        line = format_line(level, feature, event, list(fields))
        try:
            (writer or _stderr_writer)(line)
        except Exception:
            pass
