"""The host's ``auth`` import and the credentials behind it (wit/host.wit): the shared
credentials the http broker signs with, the refresh-token grant, and the token service that
refreshes ahead of expiry or on the component's request, one refresher at a time, with the
rotated pair saved into the account's own block of config.json (tokenstore.py) before it is
used. Mirrors host-harness/host/src/imports/auth.rs and oauth.rs.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union
from urllib.parse import urlsplit

from . import __version__
from .config import ConfigError, Credentials, TokenUpdate
from .encryption import PREFIX as ENC_PREFIX
from .tokenstore import TokenStore

#: The clock of the refresh-ahead rule (tests move it).
now: Callable[[], float] = time.time



class SharedCredentials:
    """Credentials plus a generation counter, so a refresh request can tell whether the
    token that failed has already been replaced. Shared by the http broker (which signs) and
    the token service (which refreshes)."""

    def __init__(self, creds: Credentials):
        self.lock = threading.RLock()
        self.creds = creds
        self.generation = 0
        self.used_generation = 0
        #: Access tokens this holder replaced: a config mapping that still carries one of
        #: them is stale, not a new login.
        self.retired: set = set()

    def snapshot(self) -> Credentials:
        with self.lock:
            c = self.creds
            return Credentials(**vars(c))

    def mark_used(self) -> None:
        self.used_generation = self.generation

    def install(self, update: TokenUpdate) -> None:
        with self.lock:
            if self.creds.access_token and self.creds.access_token != update.access_token:
                self.retired.add(self.creds.access_token)
            self.creds.access_token = update.access_token
            self.creds.refresh_token = update.refresh_token
            self.creds.expires_at = update.expires_at
            self.creds.created_at = update.created_at
            self.generation += 1

    def adopt_from_config(self, given: Credentials) -> bool:
        """Take credentials from CrossWatch's config mapping for a later call: a new login
        (an access token this holder never retired) replaces the pair; a stale copy of a
        token rotated since is ignored. True when something changed."""
        with self.lock:
            c = self.creds
            changed = False
            if given.client_id and given.client_id != c.client_id:
                c.client_id, changed = given.client_id, True
            if given.client_secret and given.client_secret != c.client_secret:
                c.client_secret, changed = given.client_secret, True
            if (
                given.access_token
                and given.access_token != c.access_token
                and given.access_token not in self.retired
            ):
                self.install(
                    TokenUpdate(
                        access_token=given.access_token,
                        refresh_token=given.refresh_token,
                        expires_at=given.expires_at,
                        created_at=given.created_at,
                    )
                )
                changed = True
            return changed


class AuthFault(Exception):
    """Mirrors the WIT ``auth-error``: kind not-configured, invalid-grant or failed."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def needs_refresh(creds: Credentials, now: int, margin_secs: int) -> bool:
    """True when fewer than ``margin_secs`` (or a tenth of the token's lifetime, when its
    issue time is known) remain. An unknown expiry waits for a 401."""
    if creds.expires_at <= 0:
        return False
    remaining = creds.expires_at - now
    tenth = 0
    if creds.created_at > 0 and creds.expires_at > creds.created_at:
        tenth = (creds.expires_at - creds.created_at) // 10
    return remaining < max(margin_secs, tenth)


USER_AGENT = f"crosswatch-trakt-wasm/{__version__}"

#: Rotations made in this process: (OAuth origin, client id, retired access token) -> the
#: pair that replaced it, so a later call that is handed a stale config mapping uses the new
#: pair.
ROTATIONS: Dict[Tuple[str, str, str], TokenUpdate] = {}
_ROTATIONS_LOCK = threading.Lock()
_PROCESS_REFRESH_LOCK = threading.Lock()


def latest_rotation(oauth_base: str, client_id: str, access_token: str) -> Optional[TokenUpdate]:
    with _ROTATIONS_LOCK:
        seen = set()
        update = None
        token = access_token
        while (oauth_base, client_id, token) in ROTATIONS and token not in seen:
            seen.add(token)
            update = ROTATIONS[(oauth_base, client_id, token)]
            token = update.access_token
        return update


def parse_token(text: str) -> TokenUpdate:
    try:
        v = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the token endpoint answered invalid JSON: {e}") from None
    if not isinstance(v, dict):
        raise ValueError("the token endpoint answered invalid JSON: not an object")
    access = v.get("access_token")
    refresh = v.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise ValueError("the token answer has no access_token")
    if not isinstance(refresh, str) or not refresh:
        raise ValueError("the token answer has no refresh_token")
    expires_in = v.get("expires_in")
    expires_in = int(expires_in) if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) else 0
    created = v.get("created_at")
    created = int(created) if isinstance(created, (int, float)) and not isinstance(created, bool) else int(time.time())
    return TokenUpdate(
        access_token=access,
        refresh_token=refresh,
        expires_at=created + expires_in if expires_in > 0 else 0,
        created_at=created,
        token_type=v.get("token_type") if isinstance(v.get("token_type"), str) else None,
        scope=v.get("scope") if isinstance(v.get("scope"), str) else None,
    )


def _post_json(base_url: str, path: str, body: dict, timeout: float = 30.0) -> Tuple[int, str]:
    """POST JSON with no redirects; (status, body text). Raises OSError-like on failures."""
    url = base_url.rstrip("/") + path
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"timeout": timeout}
    if parts.scheme == "https":
        kwargs["context"] = ssl.create_default_context()
    conn = conn_cls(parts.hostname, parts.port, **kwargs)
    try:
        data = json.dumps(body).encode("utf-8")
        conn.request(
            "POST",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            body=data,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        return resp.status, text
    finally:
        conn.close()


def refresh_grant(oauth_base: str, creds: Credentials) -> TokenUpdate:
    """The refresh-token grant. Trakt rotates refresh tokens: the old one is dead once this
    succeeds, so the caller must persist the answer before anything else."""
    if not (creds.refresh_token and creds.client_secret and creds.client_id):
        raise AuthFault(
            "not-configured",
            "cannot refresh the Trakt token: trakt.client_id, trakt.client_secret and "
            "trakt.refresh_token are needed in the config; log in to Trakt again in CrossWatch",
        )
    encrypted = [k for k in ("refresh_token", "client_secret") if getattr(creds, k).startswith(ENC_PREFIX)]
    if encrypted:
        # Never present ciphertext to Trakt: it answers 400 and the user is logged out.
        raise AuthFault(
            "not-configured",
            f"cannot refresh the Trakt token: trakt.{' and trakt.'.join(encrypted)} is still encrypted "
            f"({ENC_PREFIX}...); the provider needs the config key to read it",
        )
    body = {
        "refresh_token": creds.refresh_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        "grant_type": "refresh_token",
    }
    try:
        status, text = _post_json(oauth_base, "/oauth/token", body)
    except (OSError, http.client.HTTPException, ssl.SSLError) as e:
        raise AuthFault("failed", f"cannot reach {oauth_base.rstrip('/')}/oauth/token: {e}") from None
    if 200 <= status < 300:
        try:
            return parse_token(text)
        except ValueError as e:
            raise AuthFault("failed", str(e)) from None
    if status in (400, 401):
        code = "invalid_grant"
        try:
            err = json.loads(text).get("error")
            if isinstance(err, str) and err:
                code = err
        except (ValueError, AttributeError):
            pass
        raise AuthFault(
            "invalid-grant",
            f"Trakt rejected the refresh token (HTTP {status} {code}): log in to Trakt again in CrossWatch",
        )
    raise AuthFault("failed", f"token refresh failed with HTTP {status}: {text[:200]}")




class TokenService:
    """Refresh ahead of expiry and on the component's request, one refresher at a time, the
    rotated pair persisted into the account's block of config.json before it is used.

    ``store`` is that block (tokenstore.TokenStore), or None when there is no config to save
    into (the manifest's instance, tests)."""

    REJECTED = "rejected"
    EXPIRING = "expiring"

    def __init__(
        self,
        creds: SharedCredentials,
        store: Union[TokenStore, Path, None],
        oauth_base: str,
        log,
        on_rotated: Optional[Callable[[TokenUpdate], None]] = None,
    ):
        self.creds = creds
        self.store = TokenStore(store, log=log) if isinstance(store, Path) else store
        self.oauth_base = oauth_base
        self.log = log
        self.on_rotated = on_rotated

    def refresh_if_expiring(self, margin_secs: int) -> bool:
        if not needs_refresh(self.creds.snapshot(), int(now()), margin_secs):
            return False
        self.refresh(self.EXPIRING)
        return True

    def refresh(self, reason: str) -> None:
        with _PROCESS_REFRESH_LOCK, self.creds.lock:
            if reason == self.REJECTED and self.creds.generation > self.creds.used_generation:
                self.log.event("debug", "auth", "token_refresh_skipped", [("reason", "already_refreshed")])
                return
            current = self.creds.snapshot()
            # Another session of this process rotated this token already.
            done = latest_rotation(self.oauth_base, current.client_id, current.access_token)
            if done is not None:
                self.creds.install(done)
                self.log.event("info", "auth", "token_adopted", [("source", "process"), ("expires_at", str(done.expires_at))])
                return
            store = self.store if self.store is not None and self.store.exists() else None
            if store is None:
                self._grant(current, reason, None)
                return
            try:
                with store.locked():
                    try:
                        disk = store.read()
                    except ConfigError as e:
                        self.log.event("error", "auth", "token_refresh_failed", [("result", "not_configured"), ("error", str(e))])
                        raise AuthFault("not-configured", str(e)) from None
                    if disk is not None and disk.access_token and disk.access_token != current.access_token:
                        # Another process refreshed since we read the config: use its pair.
                        update = TokenUpdate(disk.access_token, disk.refresh_token, disk.expires_at, disk.created_at)
                        self._record(current, update)
                        self.creds.install(update)
                        self.log.event(
                            "info",
                            "auth",
                            "token_adopted",
                            [("source", "config"), ("block", store.name), ("expires_at", str(update.expires_at))],
                        )
                        return
                    self._grant(current, reason, store)
            except ConfigError as e:  # the lock could not be taken
                self.log.event("error", "auth", "token_refresh_failed", [("result", "failed"), ("error", str(e))])
                raise AuthFault("failed", str(e)) from None

    def _grant(self, current: Credentials, reason: str, store: Optional[TokenStore]) -> None:
        try:
            update = refresh_grant(self.oauth_base, current)
        except AuthFault as e:
            result = {"invalid-grant": "rejected", "not-configured": "not_configured"}.get(e.kind, "failed")
            self.log.event("error", "auth", "token_refresh_failed", [("result", result), ("error", e.message)])
            raise
        # The old refresh token is dead now: the new pair reaches disk before use.
        if store is not None:
            try:
                store.write(update)
            except ConfigError as e:
                self.log.event("error", "auth", "token_save_failed", [("block", store.name), ("error", str(e))])
        else:
            path = self.store.path if self.store is not None else ""
            self.log.event("warn", "auth", "token_not_saved", [("reason", "no_config_file"), ("config", str(path))])
        self._record(current, update)
        self.creds.install(update)
        fields = [("reason", reason), ("expires_at", str(update.expires_at))]
        if store is not None:
            fields.insert(1, ("block", store.name))
        self.log.event("info", "auth", "token_refreshed", fields)

    def _record(self, old: Credentials, update: TokenUpdate) -> None:
        if old.access_token:
            with _ROTATIONS_LOCK:
                ROTATIONS[(self.oauth_base, old.client_id, old.access_token)] = update
        if self.on_rotated is not None:
            try:
                self.on_rotated(update)
            except Exception:
                pass
