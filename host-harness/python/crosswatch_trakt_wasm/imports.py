"""The host side of the component's imports (wit/host.wit), in plain Python: ``http`` behind
the origin policy and signed by the host, ``state`` files with validated names, atomic
writes and a quota, ``auth`` (the refresh-token grant with the rotated pair persisted),
``log`` lines in CrossWatch's format and ``progress``. Mirrors host-harness/src/imports/.

Each service has a plain Python API (used by tests and the provider) and the runtime wraps
them into the WIT shapes (see runtime.py).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .config import Credentials, TokenUpdate, write_atomic  # noqa: F401 (re-exported)
from .encryption import PREFIX as ENC_PREFIX
from .policy import API, Policy, PolicyError

# The auth import and the credentials live in tokens.py; these names stay importable here.
from .tokens import (  # noqa: F401
    ROTATIONS,
    USER_AGENT,
    AuthFault,
    SharedCredentials,
    TokenService,
    latest_rotation,
    needs_refresh,
    parse_token,
    refresh_grant,
)

# --------------------------------------------------------------------------------------------
# log

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
    is set > info (CrossWatch's rules, crosswatch.md 6)."""
    for var in ("CW_TRAKT_LOG_LEVEL", "CW_LOG_LEVEL"):
        lvl = parse_level(os.environ.get(var, ""))
        if lvl is not None:
            return lvl
    for var in ("CW_DEBUG", "CW_TRAKT_DEBUG"):
        if os.environ.get(var, "").strip().lower() not in ("", "0", "false", "no"):
            return _LEVEL_RANK["debug"]
    return _LEVEL_RANK["info"]


def format_line(level: str, feature: str, event: str, fields: List[Tuple[str, str]]) -> str:
    """``[TRAKT:<feature>] LEVEL event k=v ...``; values with whitespace, quotes, ``=`` or
    ``:`` are JSON-quoted so a line always splits back into its fields; empty values are
    left out."""
    parts = [f"[TRAKT:{feature}] {level.upper()} {event}"]
    for k, v in fields:
        v = "" if v is None else str(v)
        if not v:
            continue
        if any(c.isspace() or c in '"=:' for c in v):
            v = json.dumps(v, ensure_ascii=False)
        parts.append(f"{k}={v}")
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
                kw = {(f"{k}_" if k in _RESERVED else k): v for k, v in fields}
                try:
                    cw_log("TRAKT", feature, level, event, **kw)
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


# --------------------------------------------------------------------------------------------
# progress


class ProgressSink:
    """Progress reports; CrossWatch draws its own bars from ``snapshot:progress`` events, so
    this only counts them and hands them to an optional callback."""

    #: Process-wide callback ``(feature, phase, done, total)``, e.g. a UI bridge.
    callback: Optional[Callable[[str, str, int, Optional[int]], None]] = None

    def __init__(self) -> None:
        self.reports = 0

    def report(self, feature: str, phase: str, done: int, total: Optional[int]) -> None:
        self.reports += 1
        cb = ProgressSink.callback
        if cb is not None:
            try:
                cb(feature, phase, done, total)
            except Exception:
                pass


# --------------------------------------------------------------------------------------------
# state


class StateFault(Exception):
    """Mirrors the WIT ``state-error``: ``kind`` is invalid-name, quota-exceeded or io."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def validate_name(name: str) -> None:
    """1-128 characters of ``A-Z a-z 0-9 . _ -``, not starting with a dot: no separators, no
    ``..``, no hidden files (the store's own temporary files start with a dot)."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name.startswith("."):
        raise StateFault(
            "invalid-name",
            f"invalid state file name {json.dumps(name, ensure_ascii=False, default=str)}: use 1-128 "
            "characters of A-Z a-z 0-9 . _ - not starting with '.'",
        )


class StateStore:
    """The component's files, under one directory it cannot see.

    ``legacy_dir`` (the default account's scoped directories only, see instances.py): a read
    of a name missing here but present directly in ``legacy_dir`` moves that file here once
    (files written before state was scoped per pair and account); a delete removes both."""

    def __init__(self, directory: Path, quota_bytes: int, legacy_dir: Optional[Path] = None, log: Optional["LogSink"] = None):
        self.dir = Path(directory)
        self.quota_bytes = quota_bytes
        self.legacy_dir = Path(legacy_dir) if legacy_dir is not None else None
        self.log = log

    def _io(self, what: str, name: str, e: OSError) -> StateFault:
        return StateFault("io", f"cannot {what} state file {name!r} in {self.dir}: {e}")

    def _adopt(self, name: str) -> None:
        if self.legacy_dir is None:
            return
        old = self.legacy_dir / name
        try:
            if not old.is_file() or old.is_symlink():
                return
            self.dir.mkdir(parents=True, exist_ok=True)
            os.replace(old, self.dir / name)
        except FileNotFoundError:
            return
        except OSError as e:
            raise self._io("adopt", name, e) from None
        if self.log is not None:
            self.log.event("info", "module", "state_adopted", [("name", name), ("from", str(self.legacy_dir)), ("to", str(self.dir))])

    def read(self, name: str) -> Optional[bytes]:
        validate_name(name)
        path = self.dir / name
        if self.legacy_dir is not None and not path.exists():
            self._adopt(name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._io("read", name, e) from None

    def write(self, name: str, contents: bytes) -> None:
        validate_name(name)
        used = self._used_bytes_except(name)
        if used + len(contents) > self.quota_bytes:
            raise StateFault(
                "quota-exceeded",
                f"writing {len(contents)} bytes to {name!r} would exceed the state quota of "
                f"{self.quota_bytes} bytes ({used} in use)",
            )
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.dir / name, bytes(contents))
        except OSError as e:
            raise self._io("write", name, e) from None

    def delete(self, name: str) -> None:
        validate_name(name)
        for d in (self.dir, self.legacy_dir):
            if d is None:
                continue
            try:
                (d / name).unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                raise self._io("delete", name, e) from None

    def list_names(self) -> List[str]:
        """Valid names present, sorted; anything else in the directory is not the component's."""
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise self._io("list", "", e) from None
        names = []
        for e in entries:
            try:
                if not e.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            try:
                validate_name(e.name)
            except StateFault:
                continue
            names.append(e.name)
        return sorted(names)

    def _used_bytes_except(self, skip: str) -> int:
        total = 0
        for name in self.list_names():
            if name != skip:
                try:
                    total += (self.dir / name).stat().st_size
                except OSError:
                    pass
        return total


# --------------------------------------------------------------------------------------------
# http


class HttpFault(Exception):
    """Mirrors the WIT ``http-error``: kind denied, timeout, connect, connection-lost, tls or
    invalid-request."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class HttpResponse:
    status: int
    headers: List[Tuple[str, str]]
    body: bytes


#: Largest response body accepted.
MAX_BODY_BYTES = 256 << 20
DEFAULT_TIMEOUT_SECS = 30.0
#: Headers the host owns on signed requests: whatever the component put there is replaced.
SIGNED_HEADERS = ("authorization", "trakt-api-key")
#: Methods that may be resent on a fresh connection when a kept-alive one turns out closed.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_METHOD_RE = re.compile(r"[A-Za-z]{1,16}")


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


class HttpBroker:
    """A real HTTP client (http.client; https with the default SSL context) behind the
    sandbox policy. Only the configured Trakt origins are reachable; requests to the API
    origin are signed here. Redirects are never followed. Connections are kept alive per
    origin for idempotent requests; writes get a connection of their own."""

    def __init__(self, policy: Policy, creds: SharedCredentials):
        self.policy = policy
        self.creds = creds
        self._pool: Dict[Tuple[str, str, int], http.client.HTTPConnection] = {}
        self._ssl: Optional[ssl.SSLContext] = None

    def close(self) -> None:
        for conn in self._pool.values():
            try:
                conn.close()
            except Exception:
                pass
        self._pool.clear()

    def _new_conn(self, scheme: str, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def sign(self, headers: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
        out = [(k, v) for k, v in headers if k.lower() not in SIGNED_HEADERS]
        with self.creds.lock:
            self.creds.mark_used()
            c = self.creds.creds
            if c.access_token.startswith(ENC_PREFIX):
                # Ciphertext is never a token: Trakt would answer 401 and the refresh would fail.
                raise HttpFault("denied", "the Trakt access token is still encrypted (enc:v1:...); not sent")
            out.append(("trakt-api-key", c.client_id))
            out.append(("Authorization", f"Bearer {c.access_token}"))
        if not any(k.lower() == "trakt-api-version" for k, _ in out):
            out.append(("trakt-api-version", "2"))
        return out

    def send(self, method: str, url: str, headers: List[Tuple[str, str]], body: bytes, timeout_ms: int) -> HttpResponse:
        try:
            destination = self.policy.check(url)
        except PolicyError as e:
            raise HttpFault("denied", str(e)) from None
        if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
            raise HttpFault("invalid-request", f"invalid HTTP method {method!r}")
        method = method.upper()
        at = _strip_query(url)
        parts = urlsplit(url.strip())
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(headers)
        for k, v in headers:
            if not k or any(c in k for c in "\r\n:\0 \t") or any(c in v for c in "\r\n\0"):
                raise HttpFault("invalid-request", f"{at}: invalid header {k!r}")
        if destination == API:
            headers = self.sign(headers)
        if not any(k.lower() == "user-agent" for k, _ in headers):
            headers.append(("User-Agent", USER_AGENT))
        timeout = DEFAULT_TIMEOUT_SECS if not timeout_ms else timeout_ms / 1000.0
        timeout = min(timeout, self.policy.limits.http_timeout_cap_secs)
        deadline = time.monotonic() + timeout
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        reuse = method in IDEMPOTENT
        conn = self._pool.pop(key, None) if reuse else None
        if conn is not None:
            try:
                return self._exchange(conn, key, True, method, target, headers, body, deadline, at, reuse)
            except _StaleConnection:
                pass  # the kept-alive connection was closed by the server: one fresh try
        conn = self._new_conn(scheme, host, port, timeout)
        try:
            return self._exchange(conn, key, False, method, target, headers, body, deadline, at, reuse)
        except _StaleConnection as e:
            raise HttpFault("connection-lost", f"{at}: {e.cause}") from None

    def _exchange(self, conn, key, reused, method, target, headers, body, deadline, at, keep) -> HttpResponse:
        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            return left

        sent = False
        try:
            if conn.sock is None:
                conn.timeout = remaining()
                try:
                    conn.connect()
                except (socket.timeout, TimeoutError):
                    raise
                except ssl.SSLError:
                    raise
                except socket.gaierror:
                    conn.close()
                    raise HttpFault("connect", f"{at}: host not found") from None
                except ConnectionRefusedError:
                    conn.close()
                    raise HttpFault("connect", f"{at}: connection refused") from None
                except OSError as e:
                    conn.close()
                    raise HttpFault("connect", f"{at}: connection failed ({e})") from None
            sock = conn.sock
            sock.settimeout(remaining())
            has_host = any(k.lower() == "host" for k, _ in headers)
            conn.putrequest(method, target, skip_host=has_host, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            if (body or method in ("POST", "PUT", "PATCH")) and not any(k.lower() == "content-length" for k, _ in headers):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            sent = True
            resp = conn.getresponse()
            status = resp.status
            resp_headers = [(k.lower(), v) for k, v in resp.getheaders()]
            chunks = []
            total = 0
            while True:
                left = remaining()
                try:
                    sock.settimeout(left)
                except OSError:
                    pass  # http.client already released a connection the server closes
                chunk = resp.read(1 << 16)
                if not chunk:
                    # http.client's read(amt) accepts a body cut short of Content-Length.
                    if resp.length:
                        raise HttpFault(
                            "connection-lost",
                            f"{at}: the connection closed {resp.length} bytes before the end of the body",
                        )
                    break
                total += len(chunk)
                if total > MAX_BODY_BYTES:
                    raise HttpFault("connection-lost", f"{at}: response body larger than {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
            if keep and not resp.will_close:
                self._pool[key] = conn
            else:
                conn.close()
            return HttpResponse(status, resp_headers, b"".join(chunks))
        except HttpFault:
            conn.close()
            raise
        except (socket.timeout, TimeoutError) as e:
            conn.close()
            raise HttpFault("timeout", f"{at}: timed out ({e or 'deadline'})") from None
        except ssl.SSLError as e:
            conn.close()
            raise HttpFault("tls", f"{at}: {e}") from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            conn.close()
            if reused and keep:
                raise _StaleConnection(e) from None
            raise HttpFault("connection-lost", f"{at}: {e or type(e).__name__}") from None
        except (http.client.IncompleteRead, http.client.HTTPException, OSError) as e:
            conn.close()
            if isinstance(e, (http.client.InvalidURL,)) or (not sent and isinstance(e, ValueError)):
                raise HttpFault("invalid-request", f"{at}: {e}") from None
            raise HttpFault("connection-lost", f"{at}: {e or type(e).__name__}") from None
        except ValueError as e:
            conn.close()
            raise HttpFault("invalid-request", f"{at}: {e}") from None


class _StaleConnection(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause or type(cause).__name__
