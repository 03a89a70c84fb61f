"""CrossWatch's configuration as this provider reads it: where config.json and the state
directory are, the credentials and adapter options of the ``trakt`` block, and atomic file
replacement (the write-back of rotated tokens is in tokenstore.py, the account/instance rules
in instances.py, encrypted values in encryption.py).
Mirrors host-harness/host/src/config.rs.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import preflight
from .policy import DEFAULT_API_URL, Limits, Origin, PolicyError, oauth_origin_for

#: Keys of the ``trakt`` block that are credentials or host settings: never handed to the
#: component (host-harness/host/src/config.rs HOST_ONLY_KEYS).
HOST_ONLY_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
        "expires_at",
        "token_created_at",
        "refresh_margin_minutes",
        "token_type",
        "scope",
        "token",
        "oauth",
        "instances",
        "_pending_device",
        "api_url",
        "auth_url",
        "component_sha256",
        "component_trusted_keys",
    }
)

#: Adapter options CrossWatch keeps per pair (``pairs[].providers.trakt``). The orchestrator
#: merges them into the pair's ``trakt`` block; when they sit elsewhere in the mapping
#: (top level, or ``providers.trakt``) they are taken from there.
PER_PAIR_KEYS = (
    "history_collection",
    "history_collection_types",
    "history_number_fallback",
)

COMPONENT_FILE = "trakt_adapter.wasm"


class ConfigError(ValueError):
    """A configuration problem; the text names the key and what is wrong."""


class Settings:
    """Process-wide overrides (tests, embedders). ``None`` means "use the default"."""

    #: CrossWatch's CONFIG_BASE: config.json and .cw_state/ live there.
    config_base: Optional[str] = None
    #: The component file.
    component_path: Optional[str] = None
    #: Where compiled components are cached; "" disables the cache.
    cache_dir: Optional[str] = None
    #: Sandbox limits of every instance (memory, fuel and wall clock per call, quotas).
    limits: Limits = Limits()


settings = Settings()


def config_base() -> Path:
    """``settings.config_base`` > env ``CW_CONFIG_BASE`` > env ``CONFIG_BASE`` > ``/config``
    (CrossWatch's container layout)."""
    for value in (settings.config_base, os.environ.get("CW_CONFIG_BASE"), os.environ.get("CONFIG_BASE")):
        if value:
            return Path(value)
    return Path("/config")


def config_path() -> Path:
    return config_base() / "config.json"


def state_dir() -> Path:
    return config_base() / ".cw_state"


def component_candidates() -> list[Path]:
    """Where the component is looked for, in order."""
    out: list[Path] = []
    for value in (settings.component_path, os.environ.get("TRAKT_ADAPTER_WASM")):
        if value:
            out.append(Path(value))
    out.append(Path(__file__).resolve().parent / COMPONENT_FILE)
    out.append(config_base() / "wasm" / COMPONENT_FILE)
    return out


def component_path() -> Path:
    candidates = component_candidates()
    for p in candidates:
        if p.is_file():
            return p
    raise ConfigError(
        "the Trakt adapter component (trakt_adapter.wasm) was not found; looked in: "
        + ", ".join(str(p) for p in candidates)
        + " (set TRAKT_ADAPTER_WASM to its path)"
    )


def cache_dir() -> Optional[Path]:
    """``settings.cache_dir`` > env ``CW_TRAKT_WASM_CACHE`` > ``$XDG_CACHE_HOME`` or
    ``~/.cache`` + ``/crosswatch-trakt-wasm``; an empty string disables the cache."""
    for value in (settings.cache_dir, os.environ.get("CW_TRAKT_WASM_CACHE")):
        if value is not None:
            return Path(value) if value else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "crosswatch-trakt-wasm"
    home = os.environ.get("HOME")
    if home:
        return Path(home) / ".cache" / "crosswatch-trakt-wasm"
    return None


@dataclass
class Credentials:
    """OAuth credentials as the host holds them. Never passed to the component."""

    client_id: str = ""
    client_secret: str = ""
    access_token: str = ""
    refresh_token: str = ""
    #: Unix seconds; 0 when unknown.
    expires_at: int = 0
    #: When the access token was issued (Unix seconds; 0 when unknown).
    created_at: int = 0

    def __repr__(self) -> str:  # secrets never reach a log line, even by accident
        def r(s: str) -> str:
            return "<set>" if s else "<empty>"

        return (
            f"Credentials(client_id={r(self.client_id)}, client_secret={r(self.client_secret)}, "
            f"access_token={r(self.access_token)}, refresh_token={r(self.refresh_token)}, "
            f"expires_at={self.expires_at}, created_at={self.created_at})"
        )


@dataclass
class TokenUpdate:
    access_token: str
    refresh_token: str
    expires_at: int
    created_at: int = 0
    token_type: Optional[str] = None
    scope: Optional[str] = None


def trakt_block(cfg: Any) -> Mapping:
    if cfg is None:
        return {}
    if not isinstance(cfg, Mapping):
        raise ConfigError("the config passed to the Trakt provider must be a mapping")
    block = cfg.get("trakt")
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise ConfigError('config: "trakt" must be an object')
    return block


def _string(block: Mapping, key: str) -> str:
    v = block.get(key)
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    raise ConfigError(f"config: trakt.{key} must be a string, found {json.dumps(v, default=str)}")


def _seconds(block: Mapping, key: str) -> int:
    v = block.get(key)
    if v is None or v == "":
        return 0
    if isinstance(v, bool):
        raise ConfigError(f"config: trakt.{key} must be a number (unix seconds)")
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, str):
        try:
            return int(float(v.strip()))
        except ValueError:
            pass
    raise ConfigError(f"config: trakt.{key} must be a number (unix seconds)")


def _dig(cfg: Mapping, *path: str) -> Any:
    cur: Any = cfg
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


#: Where CrossWatch may keep the Trakt access token (docs/crosswatch.md 1.1, is_configured).
TOKEN_PATHS = (
    ("trakt", "access_token"),
    ("trakt", "token"),
    ("trakt", "oauth", "access_token"),
    ("auth", "trakt", "access_token"),
    ("auth", "trakt", "token"),
    ("auth", "trakt", "oauth", "access_token"),
)


def find_access_token(cfg: Any) -> str:
    if not isinstance(cfg, Mapping):
        return ""
    for path in TOKEN_PATHS:
        v = _dig(cfg, *path)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def credentials_from_cfg(cfg: Any) -> Credentials:
    block = trakt_block(cfg)
    return Credentials(
        client_id=_string(block, "client_id"),
        client_secret=_string(block, "client_secret"),
        access_token=_string(block, "access_token") or find_access_token(cfg),
        refresh_token=_string(block, "refresh_token"),
        expires_at=_seconds(block, "expires_at"),
        created_at=_seconds(block, "token_created_at"),
    )


def refresh_margin_secs(cfg: Any) -> int:
    """``trakt.refresh_margin_minutes`` (default 60): refresh ahead when fewer minutes remain."""
    v = trakt_block(cfg).get("refresh_margin_minutes")
    if v is None:
        return 3600
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError("config: trakt.refresh_margin_minutes must be a number >= 0")
    return int(v * 60)


def api_origin(cfg: Any) -> Origin:
    url = _string(trakt_block(cfg), "api_url") or DEFAULT_API_URL
    try:
        return Origin.parse(url)
    except PolicyError as e:
        raise ConfigError(f"config: trakt.api_url: {e}") from None


def oauth_origin(cfg: Any, api: Origin) -> Origin:
    url = _string(trakt_block(cfg), "auth_url")
    try:
        return oauth_origin_for(api, url or None)
    except PolicyError as e:
        raise ConfigError(f"config: trakt.auth_url: {e}") from None


def adapter_options(cfg: Any, api_base_url: str) -> dict:
    """The options handed to the component's ``configure``: the ``trakt`` block without
    credentials and host settings, per-pair options found elsewhere in the mapping, and the
    API base URL it must build requests on."""
    block = trakt_block(cfg)
    opts = {k: v for k, v in block.items() if k not in HOST_ONLY_KEYS}
    if isinstance(cfg, Mapping):
        for key in PER_PAIR_KEYS:
            if key in opts:
                continue
            for source in (_dig(cfg, "providers", "trakt"), cfg):
                if isinstance(source, Mapping) and key in source:
                    opts[key] = source[key]
                    break
    opts["api_url"] = api_base_url
    return opts


def write_atomic(path: Path, contents: bytes) -> None:
    """Replace ``path`` so that a reader (or a crash) sees the old or the new file, never a
    mix: temporary file in the same directory, fsync, rename, fsync of the directory. The
    permissions of the file being replaced are kept."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(contents)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def apply_update(block: MutableMapping, update: TokenUpdate) -> None:
    block["access_token"] = update.access_token
    block["refresh_token"] = update.refresh_token
    block["expires_at"] = update.expires_at
    if update.created_at > 0:
        block["token_created_at"] = update.created_at
    if update.token_type is not None:
        block["token_type"] = update.token_type
    if update.scope is not None:
        block["scope"] = update.scope


@dataclass
class Context:
    """Everything one OPS call needs from CrossWatch's config mapping."""

    credentials: Credentials
    api: Origin
    oauth: Origin
    options_json: str
    refresh_margin_secs: int
    config_path: Path
    state_dir: Path
    component_path: Path
    #: ``trakt.component_sha256``: the component must have this digest (preflight.py).
    component_sha256: Optional[str] = None
    #: Where the pin came from, for messages.
    component_sha256_origin: str = "trakt.component_sha256"
    #: ``trakt.component_trusted_keys``: one of these public keys must have signed it.
    component_trusted_keys: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def context_from_cfg(cfg: Any) -> Context:
    api = api_origin(cfg)
    oauth = oauth_origin(cfg, api)
    options = adapter_options(cfg, api.base_url())
    path = component_path()
    pin = preflight.sha256_pin(trakt_block(cfg))
    bundled = None if pin else preflight.bundled_pin(path)
    return Context(
        credentials=credentials_from_cfg(cfg),
        api=api,
        oauth=oauth,
        options_json=json.dumps(options, sort_keys=True, ensure_ascii=False, default=str),
        refresh_margin_secs=refresh_margin_secs(cfg),
        config_path=config_path(),
        state_dir=state_dir(),
        component_path=path,
        component_sha256=pin or bundled,
        component_sha256_origin="trakt.component_sha256" if pin else f"the wheel's {path.name}.sha256",
        component_trusted_keys=preflight.trusted_keys(trakt_block(cfg), config_base()),
    )
