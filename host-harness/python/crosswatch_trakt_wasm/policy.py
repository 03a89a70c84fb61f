"""The sandbox policy: which origins the component may reach, which requests the host signs,
and the resource limits of every call. Mirrors host-harness/host/src/policy.rs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple
from urllib.parse import unquote, urlsplit

DEFAULT_API_URL = "https://api.trakt.tv"
DEFAULT_AUTH_URL = "https://auth.trakt.tv"


class PolicyError(ValueError):
    """A URL the policy cannot accept; the text names the URL."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int
    #: Base path without a trailing slash ("" for none), e.g. "/trakt" for a proxy.
    base_path: str = ""

    @staticmethod
    def parse(url: str) -> "Origin":
        """An ``http(s)://host[:port][/base]`` URL from configuration."""
        origin, has_query = Origin.of_url(url)
        if has_query:
            raise PolicyError(f"{url!r} must not carry a query string")
        return origin

    @staticmethod
    def of_url(url: str) -> Tuple["Origin", bool]:
        """The origin (and path) of any request URL, and whether it has a query."""
        if not isinstance(url, str):
            raise PolicyError(f"{url!r} is not a URL; expected e.g. https://api.trakt.tv")
        text = url.strip()
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as e:
            raise PolicyError(f"{url!r} is not a URL ({e}); expected e.g. https://api.trakt.tv") from None
        scheme = parts.scheme.lower()
        if scheme == "https":
            default_port = 443
        elif scheme == "http":
            default_port = 80
        else:
            raise PolicyError(f"{url!r} must start with http:// or https://")
        if "@" in parts.netloc:
            raise PolicyError(f"{url!r} must not carry user info")
        host = (parts.hostname or "").lower()
        if not host or any(c.isspace() for c in text):
            raise PolicyError(f"{url!r} has no host" if not host else f"{url!r} is not a URL")
        base_path = parts.path.rstrip("/")
        origin = Origin(scheme, host, port if port is not None else default_port, base_path)
        return origin, bool(parts.query)

    def __str__(self) -> str:
        default = (self.scheme, self.port) in (("https", 443), ("http", 80))
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" if default else f"{self.scheme}://{host}:{self.port}"

    def base_url(self) -> str:
        """The base URL handed to the component, e.g. ``http://127.0.0.1:8080/prefix``."""
        return f"{self}{self.base_path}"

    def same_origin(self, other: "Origin") -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every call into the component (the Rust host's defaults)."""

    #: Linear memory cap of the instance.
    memory_bytes: int = 512 << 20
    #: Guest instructions per call (wasmtime fuel), so a runaway loop stops.
    fuel_per_call: int = 500_000_000_000
    #: Wall-clock bound per call in seconds, enforced by epoch interruption: 30 minutes (a
    #: 100,000-play history index takes a few minutes; a stuck call no longer holds
    #: CrossWatch's sync for hours).
    call_timeout_secs: float = 30 * 60.0
    #: Upper bound on any single HTTP request's deadline, seconds.
    http_timeout_cap_secs: float = 120.0
    #: Total bytes the component may keep in its state directory.
    state_quota_bytes: int = 512 << 20
    #: Elements per table (``table.grow`` past it fails): the Rust host's bound
    #: (host-harness/host/src/policy.rs; the adapter's largest table holds ~160 references).
    table_elements: int = 10_000
    #: Most files the component may keep in one state directory.
    state_max_files: int = 1000
    #: Largest ``build-index-json`` text the host parses (a 100,000-play history is ~30 MB).
    index_json_max_bytes: int = 96 << 20
    #: Most JSON values (array elements and object members, counted by their separators) in
    #: that text (100,000 plays: ~1.3-1.6 M).
    index_json_max_values: int = 4_000_000
    #: Most JSON objects in that text (100,000 plays: ~0.4 M).
    index_json_max_objects: int = 1_500_000


#: Instances, tables and memories (counts) a store may create, as the Rust host
#: (policy.rs MAX_INSTANCES, MAX_TABLES, MAX_MEMORIES).
MAX_INSTANCES = 8
MAX_TABLES = 32
MAX_MEMORIES = 4


API = "api"
OAUTH = "oauth"


@dataclass(frozen=True)
class Policy:
    api: Origin
    oauth: Origin
    limits: Limits = field(default_factory=Limits)

    def check(self, url: str) -> str:
        """``API`` or ``OAUTH`` for an allowed URL; raises PolicyError (the text the
        component sees in ``http-error::denied``) otherwise."""
        try:
            target, _ = Origin.of_url(url)
        except PolicyError as e:
            raise PolicyError(f"refused by host policy: {e}") from None
        if target.same_origin(self.api) and _under(target.base_path, self.api.base_path):
            return API
        # The OAuth origin only when it is not the API's: on the API origin the base path
        # holds for every request (host-harness/host/src/policy.rs `check`; the conformance
        # scenario hostile_path_prefix, where auth_url is the API's host without the path).
        if target.same_origin(self.oauth) and not target.same_origin(self.api) and _under(target.base_path, self.oauth.base_path):
            return OAUTH
        for origin in (self.api, self.oauth):
            if target.same_origin(origin):
                raise PolicyError(
                    f"refused by host policy: {target}{target.base_path or '/'} is outside the configured "
                    f"path {origin.base_path}/ (allowed: {self.api.base_url()}/ and {self.oauth.base_url()}/)"
                )
        raise PolicyError(
            f"refused by host policy: {target} is not an allowed origin "
            f"(allowed: {self.api} and {self.oauth})"
        )


def _under(path: str, base: str) -> bool:
    """``path`` (a request path without its trailing slash) is ``base`` or below it; with a
    base, dot segments (also percent-encoded) are refused, since a server or proxy would
    resolve ``/trakt/../other`` outside the prefix."""
    if not base:
        return True
    if not (path == base or path.startswith(base + "/")):
        return False
    segments = unquote(path).replace("\\", "/").split("/")
    return not any(seg in (".", "..") for seg in segments)


def oauth_origin_for(api: Origin, auth_url: str | None) -> Origin:
    """``auth_url`` when given; Trakt's OAuth origin for Trakt's own API; else the API origin
    (an emulator or proxy serves both)."""
    if auth_url:
        return Origin.parse(auth_url)
    if api == Origin.parse(DEFAULT_API_URL):
        return Origin.parse(DEFAULT_AUTH_URL)
    return api
