"""One Trakt account's tokens in config.json: its block (``trakt`` for the default instance,
``trakt.instances.<id>`` otherwise) read, locked and written back, every other key kept.

Inside CrossWatch (its ``cw_platform.config_base`` is loaded and manages this config.json) the
block is read through CrossWatch's ``load_config()`` and saved through its ``save_config()``,
so secrets stay encrypted the way CrossWatch keeps them, under CrossWatch's own lock (a
CrossWatch without ``_config_io_lock``: our flock for the re-read, from the file, and the
grant, released before ``save_config``, which takes CrossWatch's flock on the same file).
Elsewhere the file is read and replaced atomically here, under an flock on
``config.json.lock``; ``enc:v1:`` values are decrypted with the config key, and rotated tokens
are written back encrypted when the config holds encrypted values.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, Iterator, Optional

from . import encryption, instances
from .config import ConfigError, Credentials, TokenUpdate, apply_update, credentials_from_cfg, write_atomic

CW_MODULE = "cw_platform.config_base"


class LockError(ConfigError):
    pass


class FileLock:
    """An exclusive flock on ``<config>.lock``, so two processes never spend the same refresh
    token. Not reentrant: never take it twice in one process (CrossWatch's save_config takes
    its own flock on the same file)."""

    def __init__(self, config: Path):
        self.path = config.with_name(config.name + ".lock")
        self.fd: Optional[int] = None

    def acquire(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as e:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            raise LockError(f"cannot lock {self.path}: {e}") from None

    def release(self) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def crosswatch_config(path: Optional[Path]) -> Any:
    """CrossWatch's ``cw_platform.config_base`` when it is loaded and its config.json is
    ``path``, else None."""
    mod = sys.modules.get(CW_MODULE)
    if mod is None or path is None:
        return None
    try:
        theirs = Path(mod.config_path())
    except Exception:
        return None
    try:
        return mod if theirs.resolve() == Path(path).resolve() else None
    except OSError:
        return None


def _block_name(instance: str) -> str:
    return "trakt" if instance == instances.DEFAULT else f"trakt.instances.{instance}"


def _token_creds(block: Mapping) -> Credentials:
    c = credentials_from_cfg({"trakt": dict(block)})
    # Only the block's own fields: not CrossWatch's other token places (auth.trakt.*).
    tok = block.get("access_token")
    c.access_token = tok.strip() if isinstance(tok, str) else ""
    return c


class TokenStore:
    """The tokens of one instance in the config file at ``path``."""

    def __init__(self, path: Path, instance: str = instances.DEFAULT, log: Any = None):
        self.path = Path(path)
        self.instance = instance
        self.log = log
        self.cipher = encryption.Cipher(self.path.parent)
        self._held: Optional[FileLock] = None

    @property
    def name(self) -> str:
        return _block_name(self.instance)

    def crosswatch(self) -> Any:
        return crosswatch_config(self.path)

    def exists(self) -> bool:
        return self.crosswatch() is not None or self.path.exists()

    def _event(self, level: str, event: str, fields: list) -> None:
        if self.log is not None:
            self.log.event(level, "auth", event, fields)

    # -- reading

    def raw_root(self) -> Optional[dict]:
        """config.json as stored (encrypted values left as they are), or None."""
        try:
            root = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return root if isinstance(root, dict) else None

    def check_key(self) -> None:
        """Outside CrossWatch: fail now, with the clear message, when config.json holds
        encrypted values this process has no key (or no ``cryptography``) for."""
        if self.crosswatch() is not None:
            return
        root = self.raw_root()
        if root is not None and encryption.any_encrypted(root):
            self.cipher.require(f"config {self.path}")

    def block(self) -> Optional[dict]:
        """This instance's block, secrets decrypted; None when the file or the block is
        missing or unreadable. Raises SecretsError when encrypted values cannot be read."""
        mod = self.crosswatch()
        if mod is not None and self._held is None:
            try:
                root = mod.load_config()
            except Exception as e:
                raise ConfigError(f"CrossWatch's load_config() failed: {e}") from None
            b = instances.instance_block(root, self.instance)
            return dict(b) if b is not None else None
        # Outside CrossWatch, or inside one without _config_io_lock while our flock is held:
        # its load_config may lock config.json.lock too, so the file is read here (same key).
        b = instances.instance_block(self.raw_root(), self.instance)
        if b is None:
            return None
        return encryption.decrypt_fields(b, self.cipher, f"config {self.path}: {self.name}")

    def read(self) -> Optional[Credentials]:
        """This instance's saved token fields, decrypted, or None."""
        b = self.block()
        if b is None:
            return None
        try:
            return _token_creds(b)
        except ConfigError:
            return None

    # -- locking and writing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held for a whole refresh (adopt-or-grant and the write-back)."""
        mod = self.crosswatch()
        if mod is not None:
            cw_lock = getattr(mod, "_config_io_lock", None)
            if callable(cw_lock):
                # Reentrant per thread: save_config inside takes it again without blocking.
                with cw_lock():
                    yield
                return
            self._event("warn", "config_lock_fallback", [("reason", "no_config_io_lock"), ("lock", str(FileLock(self.path).path))])
            lock = FileLock(self.path)
            lock.acquire()
            self._held = lock
            try:
                yield
            finally:
                self._held = None
                lock.release()
            return
        if not self.path.exists():
            yield
            return
        with FileLock(self.path):
            yield

    def write(self, update: TokenUpdate) -> None:
        """Save the rotated pair into this instance's block, every other key kept."""
        mod = self.crosswatch()
        if mod is not None:
            if self._held is not None:
                # Our flock on config.json.lock would deadlock CrossWatch's own in save_config.
                self._held.release()
                self._held = None
                self._event("info", "config_lock_released", [("reason", "before_save_config")])
            try:
                cfg = mod.load_config()
                block = _ensure_block(cfg, self.instance, f"CrossWatch's config ({self.path})")
                apply_update(block, update)
                mod.save_config(cfg)
            except ConfigError:
                raise
            except Exception as e:
                raise ConfigError(f"CrossWatch's save_config() failed: {e}") from None
            return
        persist_tokens(self.path, update, self.instance, self.cipher)


def _ensure_block(root: MutableMapping, instance: str, where: str) -> MutableMapping:
    base = root.setdefault("trakt", {})
    if not isinstance(base, MutableMapping):
        raise ConfigError(f'{where}: "trakt" must be an object')
    if instance == instances.DEFAULT:
        return base
    insts = base.setdefault("instances", {})
    if not isinstance(insts, MutableMapping):
        raise ConfigError(f'{where}: "trakt.instances" must be an object')
    block = insts.setdefault(instance, {})
    if not isinstance(block, MutableMapping):
        raise ConfigError(f'{where}: "trakt.instances.{instance}" must be an object')
    return block


def persist_tokens(
    path: Path,
    update: TokenUpdate,
    instance: str = instances.DEFAULT,
    cipher: Optional[encryption.Cipher] = None,
) -> None:
    """Write rotated tokens into the instance's block of the config file at ``path``,
    atomically, keeping every other key (and the key order) as it is on disk now. When the
    file holds encrypted values, the new tokens are written encrypted too."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot re-read config {path} to save tokens: {e}") from None
    try:
        root = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"config {path} is not valid JSON: {e}") from None
    if not isinstance(root, dict):
        raise ConfigError(f"config {path} must hold a JSON object")
    encrypt = encryption.any_encrypted(root)
    block = _ensure_block(root, instance, f"config {path}")
    apply_update(block, update)
    if encrypt:
        cipher = cipher or encryption.Cipher(path.parent)
        for key in ("access_token", "refresh_token"):
            if isinstance(block.get(key), str):
                block[key] = cipher.encrypt(block[key], f"config {path}: saving {_block_name(instance)}.{key}")
    out = json.dumps(root, indent=2, ensure_ascii=False) + "\n"
    try:
        write_atomic(path, out.encode("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot write config {path}: {e}") from None
