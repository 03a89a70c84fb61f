"""The ``http`` import: a real HTTP client behind the origin policy, requests to the API
origin signed by the host. Mirrors host-harness/host/src/imports/http.rs."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ..encryption import PREFIX as ENC_PREFIX
from ..policy import API, Policy, PolicyError
from ..tokens import USER_AGENT, SharedCredentials

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
#: The methods the WIT names (wit/host.wit, ``http.request.method``); anything else is refused
#: with ``invalid-request`` (a TRACE would echo the signed request, token included).
ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE")
#: Framing and hop-by-hop headers the host owns: whatever the component sets is dropped and the
#: host writes ``Host`` and ``Content-Length`` itself (no request smuggling through a body).
HOST_OWNED_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "host", "te", "trailer", "upgrade", "expect", "keep-alive"}
)


def host_owned(name: str) -> bool:
    n = name.strip().lower()
    return n in HOST_OWNED_HEADERS or n.startswith("proxy-")


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
        #: 401 answers from the API origin in the current call not yet spent on a refresh:
        #: ``auth.refresh`` grants only against one of these (runtime.Adapter resets it).
        self.unspent_401s = 0
        #: time.monotonic() at which the current call's wall-clock budget ends (runtime.Adapter
        #: sets it per call): no request waits past it.
        self.call_deadline: Optional[float] = None

    def take_401(self) -> bool:
        """Spend one 401 the API origin answered in this call; False when there is none."""
        if self.unspent_401s <= 0:
            return False
        self.unspent_401s -= 1
        return True

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
        if method not in ALLOWED_METHODS:
            raise HttpFault(
                "invalid-request", f"HTTP method {method!r} is not allowed (allowed: {', '.join(ALLOWED_METHODS)})"
            )
        at = _strip_query(url)
        parts = urlsplit(url.strip())
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(headers)
        for k, v in headers:
            if not k or any(c in k for c in "\r\n:\0 \t") or any(c in v for c in "\r\n\0"):
                raise HttpFault("invalid-request", f"{at}: invalid header {k!r}")
        headers = [(k, v) for k, v in headers if not host_owned(k)]
        if destination == API:
            headers = self.sign(headers)
        if not any(k.lower() == "user-agent" for k, _ in headers):
            headers.append(("User-Agent", USER_AGENT))
        timeout = DEFAULT_TIMEOUT_SECS if not timeout_ms else timeout_ms / 1000.0
        timeout = min(timeout, self.policy.limits.http_timeout_cap_secs)
        if self.call_deadline is not None:
            left = self.call_deadline - time.monotonic()
            if left <= 0:
                raise HttpFault("timeout", f"{at}: the call's wall-clock limit has passed; not sent")
            timeout = min(timeout, left)
        deadline = time.monotonic() + timeout
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        reuse = method in IDEMPOTENT
        r = self._send(key, method, target, headers, body, timeout, deadline, at, reuse)
        if destination == API and r.status == 401:
            self.unspent_401s += 1
        return r

    def _send(self, key, method, target, headers, body, timeout, deadline, at, reuse) -> HttpResponse:
        scheme, host, port = key
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
            # Host (from the connection) and Content-Length are written here and only here;
            # send() dropped the component's framing and hop-by-hop headers.
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            if body or method in ("POST", "PUT"):
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
