"""CrossWatch's sync-provider protocol (``OPS``) on top of the component.

CrossWatch's orchestrator loads a module-level ``OPS`` object with ``name``, ``label``,
``features``, ``capabilities``, ``is_configured``, ``build_index(cfg, *, feature)``,
``add(cfg, items, *, feature, dry_run=False)``, ``remove(...)`` and ``health(cfg)``
(docs/crosswatch.md 1). ``cfg`` is CrossWatch's whole config mapping; everything this
provider needs is read from it (the ``trakt`` block, plus per-pair options).

One instance of the component serves the calls of one account and configuration, so its
pacing state (writes 1/s, the read budget) and in-memory caches carry across the
orchestrator's chunked calls, as the contract intends ("instantiate once per run"). A call
that a sandbox limit or a trap stops returns CrossWatch's error shape and the next call
gets a fresh instance.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import encryption, instances
from . import items as itemsmod
from .config import (
    ConfigError,
    Context,
    Credentials,
    TokenUpdate,
    apply_update,
    cache_dir,
    component_path,
    config_path,
    context_from_cfg,
    credentials_from_cfg,
    find_access_token,
    settings,
    trakt_block,
)
from .imports import HttpBroker, LogSink, ProgressSink, StateStore, parse_level
from .tokens import AuthFault, SharedCredentials, TokenService, latest_rotation
from .tokenstore import TokenStore
from .policy import Origin, Policy
from .preflight import check_pins
from .runtime import Adapter, HostError, HostServices, component_for, parse_index_json

NAME = "TRAKT"
LABEL = "Trakt"
#: CrossWatch's feature names; "progress" is CrossWatch's, not this adapter's.
CROSSWATCH_FEATURES = ("watchlist", "ratings", "history", "progress", "playlists")


class TraktWasmError(RuntimeError):
    """A call that could not produce its result. ``kind`` is the adapter-error case
    (``transport``, ``auth``, ``protocol``, ...), ``config`` or ``invalid_input`` for what
    the caller gave, or ``limit``/``trap``/``host`` when the sandbox stopped the component."""

    def __init__(self, kind: str, message: str, details: Optional[dict] = None):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.details = details or {}


# --------------------------------------------------------------------------------------------
# accounts: which instance a call serves, its own credentials and state directory


@dataclass(frozen=True)
class Account:
    #: CrossWatch's instance id (``default`` = the base ``trakt`` block).
    instance: str
    #: The state scope (instances.state_scope), None for today's unscoped layout.
    scope: Optional[str]
    state_dir: Path
    #: Where legacy unscoped files are adopted from (default instance, scoped dirs only).
    legacy_dir: Optional[Path]


#: Token fields a non-default instance must have in its own block (never the base block's).
_TOKEN_FIELDS = (
    ("access_token", "access_token", ""),
    ("refresh_token", "refresh_token", ""),
    ("expires_at", "expires_at", 0),
    ("token_created_at", "created_at", 0),
)


def _resolve_account(cfg: Any, given: Credentials, path: Path) -> str:
    """The instance this call serves (from CrossWatch's CW_PAIR_* environment), with
    ``given`` turned into that instance's own, decrypted credentials. Raises ConfigError
    (SecretsError) when encrypted values cannot be read."""
    store = TokenStore(path)
    store.check_key()
    for key in ("client_secret", "access_token", "refresh_token"):
        value = getattr(given, key)
        if encryption.is_encrypted(value):
            setattr(given, key, store.cipher.decrypt(value, f"the config handed to the provider: trakt.{key}"))
    instance, other = instances.pair_instances()
    if other is not None:

        def tokens_of(inst: str) -> Optional[Tuple[str, str]]:
            c = TokenStore(path, inst).read()
            return (c.access_token, c.refresh_token) if c is not None else None

        instance = instances.choose(instance, other, (given.access_token, given.refresh_token), tokens_of)
    if instance != instances.DEFAULT:
        # CrossWatch's view merges the instance's block over the base block: a token field
        # the instance's own block lacks is the base account's, never this one's.
        view = trakt_block(cfg).get("access_token")
        if not (isinstance(view, str) and view.strip()):
            given.access_token = ""  # not CrossWatch's other token places: those are the base's
        root = store.raw_root()
        if root is not None:
            own = instances.instance_block(root, instance) or {}
            for key, attr, empty in _TOKEN_FIELDS:
                if not own.get(key):
                    setattr(given, attr, empty)
    return instance


def _account_for(instance: str, state_dir: Path) -> Account:
    scope = instances.state_scope(instance)
    return Account(
        instance=instance,
        scope=scope,
        state_dir=instances.state_dir_for(state_dir, scope),
        legacy_dir=instances.legacy_dir_for(state_dir, instance, scope),
    )


# --------------------------------------------------------------------------------------------
# sessions: one live instance per account, pair scope and configuration


class _Session:
    def __init__(self, ctx: Context, account: Account, log: LogSink):
        self.lock = threading.RLock()
        self.log = log
        self.account = account
        self.creds = SharedCredentials(ctx.credentials)
        self.adapter: Optional[Adapter] = None
        self.component: Any = None
        self.configured_with: Optional[str] = None
        self.cfg: Any = None
        self.load_source = ""

    def _on_rotated(self, update: TokenUpdate) -> None:
        # Keep CrossWatch's in-memory config in step with config.json.
        block = self.cfg.get("trakt") if isinstance(self.cfg, Mapping) else None
        if isinstance(block, MutableMapping):
            apply_update(block, update)

    def ensure(self, ctx: Context) -> Adapter:
        check_pins(ctx)  # the pinned digest and trusted signers, on every load (preflight.py)
        component, source = component_for(ctx.component_path, cache_dir())
        if self.adapter is not None and (self.adapter.limits != settings.limits or self.component is not component):
            self.adapter.close()  # new limits or a replaced .wasm take effect on a new instance
        if self.adapter is None or self.adapter.dead:
            if self.adapter is not None:
                self.adapter.close()
            self.adapter = None
            self.component, self.load_source = component, source
            policy = Policy(ctx.api, ctx.oauth, settings.limits)
            host = HostServices(
                policy=policy,
                creds=self.creds,
                http=HttpBroker(policy, self.creds),
                state=StateStore(
                    self.account.state_dir,
                    policy.limits.state_quota_bytes,
                    self.account.legacy_dir,
                    self.log,
                    max_files=policy.limits.state_max_files,
                ),
                auth=TokenService(
                    self.creds,
                    TokenStore(ctx.config_path, self.account.instance, self.log),
                    ctx.oauth.base_url(),
                    self.log,
                    self._on_rotated,
                ),
                log=self.log,
                progress=ProgressSink(),
            )
            self.adapter = Adapter(component, host)
            self.configured_with = None
            self.log.event(
                "debug",
                "module",
                "component_loaded",
                [("source", self.load_source), ("instance", self.account.instance), ("state", str(self.account.state_dir))],
            )
        if self.configured_with != ctx.options_json:
            err = self.adapter.configure(ctx.options_json)
            if err is not None:
                e = itemsmod.error_to_json(err)
                raise TraktWasmError(e["kind"], f"config {ctx.config_path}: {e['message']}", e)
            self.configured_with = ctx.options_json
        return self.adapter


_SESSIONS: Dict[Tuple[Any, ...], _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _log_for(cfg: Any) -> LogSink:
    log = LogSink()
    try:
        if trakt_block(cfg).get("debug") is True:  # CrossWatch's `trakt.debug`
            log.min_level = min(log.min_level, parse_level("debug") or 0)
    except ConfigError:
        pass
    return log


def _open(cfg: Any, need_credentials: bool = True) -> Tuple[_Session, Context]:
    """Resolve the call's context and its session (with the lock NOT yet held)."""
    try:
        ctx = context_from_cfg(cfg)
    except ConfigError as e:
        raise TraktWasmError("config", str(e)) from None
    given = ctx.credentials
    try:
        instance = _resolve_account(cfg, given, ctx.config_path)
    except ConfigError as e:
        raise TraktWasmError("config", str(e)) from None
    account = _account_for(instance, ctx.state_dir)
    # A mapping that still carries a token this process rotated away is stale: use the pair
    # that replaced it (it is in config.json too).
    newer = latest_rotation(ctx.oauth.base_url(), given.client_id, given.access_token)
    if newer is not None:
        given.access_token, given.refresh_token = newer.access_token, newer.refresh_token
        given.expires_at, given.created_at = newer.expires_at, newer.created_at
    if need_credentials:
        block = "trakt" if instance == instances.DEFAULT else f"trakt.instances.{instance}"
        missing = [k for k, v in (("client_id", given.client_id), ("access_token", given.access_token)) if not v]
        if missing:
            raise TraktWasmError(
                "auth",
                f"{' and '.join(block + '.' + k for k in missing)} missing in the config: connect Trakt in CrossWatch first",
            )
    key = (
        str(ctx.component_path),
        str(ctx.api),
        str(ctx.oauth),
        given.client_id,
        str(ctx.state_dir),
        str(ctx.config_path),
        account.instance,
        account.scope,
    )
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = _Session(ctx, account, _log_for(cfg))
            _SESSIONS[key] = session
    with session.lock:
        session.creds.adopt_from_config(given)
    return session, ctx


def reset_sessions() -> None:
    """Drop every live instance (tests; after replacing the component file)."""
    with _SESSIONS_LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
    for s in sessions:
        with s.lock:
            if s.adapter is not None:
                s.adapter.close()
                s.adapter = None


def _prepare(session: _Session, ctx: Context, cfg: Any) -> Adapter:
    """Instance, options and an ahead-of-expiry refresh; caller holds ``session.lock``."""
    session.cfg = cfg
    adapter = session.ensure(ctx)
    try:
        adapter.host.auth.refresh_if_expiring(ctx.refresh_margin_secs)
    except AuthFault as f:
        if f.kind == "invalid-grant":
            raise TraktWasmError("auth", f.message) from None
        # The token may still work; a 401 will tell, and the message then says what to do.
        session.log.event("warn", "auth", "token_refresh_ahead_failed", [("error", f.message)])
    return adapter


def _host_error(e: HostError) -> TraktWasmError:
    return TraktWasmError(e.kind, e.message)


# --------------------------------------------------------------------------------------------
# manifest (no credentials needed), cached per component file

_MANIFEST: Dict[str, Tuple[float, dict]] = {}
_MANIFEST_LOCK = threading.Lock()


def manifest() -> dict:
    """The component's manifest as JSON (name, version, features and what each supports)."""
    path = component_path()
    mtime = path.stat().st_mtime
    with _MANIFEST_LOCK:
        hit = _MANIFEST.get(str(path))
        if hit is not None and hit[0] == mtime:
            return hit[1]
        component, _ = component_for(path, cache_dir())
        origin = Origin.parse("https://api.trakt.tv")
        policy = Policy(origin, origin, settings.limits)
        creds = SharedCredentials(Credentials())
        log = LogSink()
        host = HostServices(
            policy=policy,
            creds=creds,
            http=HttpBroker(policy, creds),
            state=StateStore(path.parent / ".unused-state", 0),
            auth=TokenService(creds, None, origin.base_url(), log),
            log=log,
            progress=ProgressSink(),
        )
        adapter = Adapter(component, host)
        try:
            m = itemsmod.manifest_to_json(adapter.manifest())
        finally:
            adapter.close()
        _MANIFEST[str(path)] = (mtime, m)
        return m


def _supported(feature: str) -> bool:
    try:
        f = manifest()["features"].get(feature)
    except (ConfigError, HostError, OSError):
        return False
    return bool(f and f.get("supported"))


# --------------------------------------------------------------------------------------------
# OPS


def _write_error(kind: str, message: str, dry_run: bool) -> dict:
    return {"ok": False, "count": 0, "error": f"{kind}: {message}", "error_kind": kind, "dry_run": bool(dry_run)}


def _empty_write(dry_run: bool) -> dict:
    out = {
        "ok": True,
        "count": 0,
        "confirmed_keys": [],
        "skipped_keys": [],
        "skipped": 0,
        "unresolved": [],
        "dry_run": bool(dry_run),
    }
    if dry_run:
        out["requests"] = []
    return out


def _health_failure(status: str, kind: str, message: str) -> dict:
    return {
        "ok": False,
        "status": status,
        "latency_ms": 0,
        "features": {f: False for f in CROSSWATCH_FEATURES},
        "details": {"reason": message},
        "api": {"last_activities": {"status": 0, "retry_after": None, "rate": {"remaining": None}}},
        "error": {"kind": kind, "message": message},
    }


class TraktWasmOps:
    """CrossWatch's provider protocol backed by the Trakt adapter component."""

    def name(self) -> str:
        return NAME

    def label(self) -> str:
        return LABEL

    def manifest(self) -> dict:
        return manifest()

    get_manifest = manifest

    def features(self) -> Dict[str, bool]:
        try:
            m = manifest()["features"]
        except (ConfigError, HostError, OSError) as e:
            LogSink().event("error", "module", "manifest_failed", [("error", str(e))])
            m = {}
        return {f: bool(m.get(f, {}).get("supported")) for f in CROSSWATCH_FEATURES}

    def capabilities(self) -> dict:
        """CrossWatch's capability map (docs/crosswatch.md 1.2) for the features the component
        supports."""
        try:
            feats = manifest()["features"]
        except (ConfigError, HostError, OSError):
            feats = {}
        caps: Dict[str, Any] = {"bidirectional": True, "provides_ids": True, "index_semantics": "present"}

        def types(f: str) -> Dict[str, bool]:
            media = set(feats.get(f, {}).get("media_types") or [])
            return {p: (p[:-1] in media) for p in ("movies", "shows", "seasons", "episodes")}

        if feats.get("watchlist", {}).get("supported"):
            caps["watchlist"] = {"types": types("watchlist"), "add": True, "remove": True}
        if feats.get("ratings", {}).get("supported"):
            caps["ratings"] = {"types": types("ratings"), "upsert": True, "unrate": True, "from_date": True}
        if feats.get("history", {}).get("supported"):
            caps["history"] = {
                "types": types("history"),
                "upsert": True,
                "remove": True,
                "from_date": True,
                "event_history": True,
                "rewatches": {"read": True, "write": True, "account_gate": False},
            }
        return caps

    def is_configured(self, cfg: Any) -> bool:
        """A token for the instance the call serves (a non-default instance's own block)."""
        try:
            given = credentials_from_cfg(cfg)
            _resolve_account(cfg, given, config_path())
            return bool(given.access_token)
        except ConfigError:
            return bool(find_access_token(cfg))

    def index_semantics(self, cfg: Any = None, feature: Optional[str] = None) -> str:
        return "present"

    # -- calls that talk to Trakt

    def health(self, cfg: Any) -> dict:
        """CrossWatch's health dict; never raises."""
        try:
            session, ctx = _open(cfg)
        except TraktWasmError as e:
            return _health_failure("auth_failed" if e.kind == "auth" else "down", e.kind, e.message)
        except HostError as e:
            return _health_failure("down", e.kind, e.message)
        with session.lock:
            try:
                adapter = _prepare(session, ctx, cfg)
                report = adapter.health()
            except TraktWasmError as e:
                return _health_failure("auth_failed" if e.kind == "auth" else "down", e.kind, e.message)
            except HostError as e:
                return _health_failure("down", e.kind, e.message)
        out = itemsmod.health_to_json(report)
        # CrossWatch skips a feature whose health entry is false; its `progress` is not ours.
        out["features"].setdefault("progress", False)
        return out

    def build_index(self, cfg: Any, *, feature: str) -> Dict[str, dict]:
        """The complete present state of ``feature``: ``{canonical key: item}``. Raises
        TraktWasmError when it cannot be read completely; a partial index is never returned."""
        name = str(feature or "").strip().lower()
        if name not in itemsmod.FEATURES:
            LogSink().event("debug", name or "module", "index_skipped", [("reason", "unknown_feature")])
            return {}
        session, ctx = _open(cfg)
        with session.lock:
            try:
                adapter = _prepare(session, ctx, cfg)
                # JSON text: one value across the boundary. A list of records is copied value by
                # value by wasmtime-py, slowly and under a 128 MiB cap (~70,000 plays).
                result = adapter.build_index_json(name)
                if isinstance(result, str):
                    # Bounded: a huge text of tiny entries is refused, not parsed.
                    parsed = parse_index_json(result, adapter.limits, name)
                    result = None
            except HostError as e:
                raise _host_error(e) from None
        if result is None:
            from . import caller_keys  # keys as the running CrossWatch makes them

            return caller_keys.index_keys(parsed, session.log, name)
        e = itemsmod.error_to_json(result)
        raise TraktWasmError(e["kind"], e["message"], e)

    def add(self, cfg: Any, items: Any, *, feature: str, dry_run: bool = False) -> dict:
        return self._write("add", cfg, items, feature, dry_run)

    def remove(self, cfg: Any, items: Any, *, feature: str, dry_run: bool = False) -> dict:
        return self._write("remove", cfg, items, feature, dry_run)

    def _write(self, op: str, cfg: Any, items: Any, feature: str, dry_run: bool) -> dict:
        """``{ok, count, confirmed_keys, skipped_keys, skipped, unresolved, dry_run[,
        requests]}``, keyed as the caller looks items up (caller_keys); failures come back as
        ``{ok: False, error, error_kind, ...}``."""
        name = str(feature or "").strip().lower()
        if name not in itemsmod.FEATURES:
            LogSink().event("info", name or "module", "write_skipped", [("reason", "unknown_feature"), ("op", op)])
            return _empty_write(dry_run)
        from . import caller_keys  # the report in the caller's keys

        inputs = caller_keys.Inputs(items)
        try:
            records = itemsmod.items_from_json(inputs.items)
        except itemsmod.ItemError as e:
            return _write_error("invalid_input", str(e), dry_run)
        if not records:
            return _empty_write(dry_run)
        try:
            session, ctx = _open(cfg)
        except TraktWasmError as e:
            return _write_error(e.kind, e.message, dry_run)
        except HostError as e:
            return _write_error(e.kind, e.message, dry_run)
        with session.lock:
            try:
                adapter = _prepare(session, ctx, cfg)
                call = adapter.add if op == "add" else adapter.remove
                result = call(name, records, bool(dry_run))
            except TraktWasmError as e:
                return _write_error(e.kind, e.message, dry_run)
            except HostError as e:
                return _write_error(e.kind, e.message, dry_run)
        if isinstance(result, itemsmod.Variant):
            e = itemsmod.error_to_json(result)
            out = _write_error(e["kind"], e["message"], dry_run)
            if e["kind"] == "account_limit":
                out["limit"] = e
            return out
        return caller_keys.report_to_json(result, inputs, bool(dry_run), session.log, name)

    def last_ledger(self, cfg: Any) -> List[dict]:
        """The requests the most recent call for this account made (method, path, status,
        attempts, waits, bytes, rate limit)."""
        session, ctx = _open(cfg)
        with session.lock:
            if session.adapter is None or session.adapter.dead:
                return []
            entries = session.adapter.last_ledger()
        out = []
        for e in entries:
            g = e.__dict__
            rate = g["rate-limit"]
            if rate is not None:
                try:
                    rate = json.loads(rate)
                except ValueError:
                    pass
            out.append(
                {
                    "method": g["method"],
                    "path": g["path"],
                    "status": g["status"],
                    "attempts": g["attempts"],
                    "waited_ms": g["waited-ms"],
                    "elapsed_ms": g["elapsed-ms"],
                    "bytes_sent": g["bytes-sent"],
                    "bytes_received": g["bytes-received"],
                    "rate_limit": rate,
                    "error": g["error"],
                }
            )
        return out


OPS = TraktWasmOps()
