"""A stand-in for CrossWatch's ``cw_platform.config_base`` (written for these tests from
CrossWatch's documented behaviour, not its code), so the provider can be driven "inside
CrossWatch" without CrossWatch:

* ``config_path()`` is ``<base>/config.json``;
* ``load_config()`` reads it and returns it with every ``enc:v1:`` value decrypted;
* ``save_config(cfg)`` writes it atomically with every secret (``*_token``, ``client_secret``,
  ``token``, ``password``, ...) encrypted as ``enc:v1:`` + Fernet token, keeping the previous
  ciphertext of a value that did not change;
* the key is env ``CW_CONFIG_KEY``/``CROSSWATCH_CONFIG_KEY`` or ``<base>/.cw_master_key``
  (created on first save when missing); a key text that base64-decodes to 32 bytes is used as
  it is, any other text through SHA-256;
* both run under ``_config_io_lock()``: a process-wide RLock plus an flock on
  ``config.json.lock``, reentrant per thread. The flock is taken without blocking and gives up
  after a few seconds with an error instead of hanging, so a provider that holds its own flock
  on the same file while calling save_config fails the test instead of deadlocking it.

``install(monkeypatch, base)`` puts it into ``sys.modules`` as ``cw_platform.config_base``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Iterator, List, Optional

PREFIX = "enc:v1:"
SECRET_LEAVES = {"access_token", "refresh_token", "client_secret", "token", "password", "secret", "api_key", "account_token"}


def fernet_key(text: str) -> bytes:
    data = text.strip().encode("utf-8")
    try:
        if len(base64.urlsafe_b64decode(data)) == 32:
            return data
    except Exception:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest())


def is_secret(path: tuple) -> bool:
    leaf = str(path[-1]).lower() if path else ""
    return leaf in SECRET_LEAVES or (leaf.endswith("_token") and leaf not in ("token_url", "token_endpoint"))


def transform(obj: Any, fn, path: tuple = ()) -> Any:
    if isinstance(obj, dict):
        return {k: transform(v, fn, path + (k,)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [transform(v, fn, path + (str(i),)) for i, v in enumerate(obj)]
    if isinstance(obj, str) and is_secret(path):
        return fn(obj, path)
    return obj


class ConfigBase:
    """The module's state and functions; ``module()`` exposes them under CrossWatch's names."""

    def __init__(self, base: Path, with_io_lock: bool = True):
        self.base = Path(base)
        self.with_io_lock = with_io_lock
        self._rlock = threading.RLock()
        self._local = threading.local()
        self.loads = 0
        self.saves = 0
        #: For each save: the lock depth it ran at (2 = inside a caller's _config_io_lock).
        self.save_depths: List[int] = []
        self.lock_timeout = 5.0

    # key and cipher
    def _cipher(self, create: bool):
        from cryptography.fernet import Fernet

        for var in ("CW_CONFIG_KEY", "CROSSWATCH_CONFIG_KEY"):
            if (os.environ.get(var) or "").strip():
                return Fernet(fernet_key(os.environ[var]))
        path = self.base / ".cw_master_key"
        if path.exists():
            return Fernet(fernet_key(path.read_text()))
        if not create:
            raise RuntimeError(f"encrypted config but no key: {path} or env CW_CONFIG_KEY")
        key = Fernet.generate_key()
        path.write_text(key.decode("ascii"))
        os.chmod(path, 0o600)
        return Fernet(key)

    # lock
    @contextlib.contextmanager
    def _config_io_lock(self) -> Iterator[None]:
        with self._rlock:
            depth = getattr(self._local, "depth", 0)
            if depth:
                self._local.depth = depth + 1
                try:
                    yield
                finally:
                    self._local.depth = depth
                return
            f = open(self.base / "config.json.lock", "a+b")
            try:
                deadline = time.monotonic() + self.lock_timeout
                while True:
                    try:
                        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise RuntimeError("config.json.lock is held by another lock: save_config would deadlock")
                        time.sleep(0.05)
                self._local.depth = 1
                try:
                    yield
                finally:
                    self._local.depth = 0
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            finally:
                f.close()

    # CrossWatch's API
    def config_path(self) -> Path:
        return self.base / "config.json"

    def load_config(self) -> dict:
        with self._config_io_lock():
            self.loads += 1
            raw = json.loads(self.config_path().read_text(encoding="utf-8"))
        cipher = None

        def dec(v: str, path: tuple) -> str:
            nonlocal cipher
            if not v.startswith(PREFIX):
                return v
            cipher = cipher or self._cipher(create=False)
            return cipher.decrypt(v[len(PREFIX):].encode("ascii")).decode("utf-8")

        return transform(raw, dec)

    def save_config(self, cfg: dict) -> None:
        with self._config_io_lock():
            self.saves += 1
            self.save_depths.append(self._local.depth)
            try:
                prev = json.loads(self.config_path().read_text(encoding="utf-8"))
            except (OSError, ValueError):
                prev = {}
            cipher = self._cipher(create=True)

            def old(path: tuple) -> Optional[str]:
                cur: Any = prev
                for p in path:
                    if not isinstance(cur, dict):
                        return None
                    cur = cur.get(p)
                return cur if isinstance(cur, str) else None

            def enc(v: str, path: tuple) -> str:
                if not v or v.startswith(PREFIX):
                    return v
                was = old(path)
                if was and was.startswith(PREFIX):
                    try:
                        if cipher.decrypt(was[len(PREFIX):].encode("ascii")).decode("utf-8") == v:
                            return was
                    except Exception:
                        pass
                return PREFIX + cipher.encrypt(v.encode("utf-8")).decode("ascii")

            data = transform(cfg, enc)
            tmp = self.config_path().with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, self.config_path())

    def module(self) -> types.ModuleType:
        m = types.ModuleType("cw_platform.config_base")
        m.config_path = self.config_path
        m.load_config = self.load_config
        m.save_config = self.save_config
        if self.with_io_lock:
            m._config_io_lock = self._config_io_lock
        m.standin = self
        return m


def install(monkeypatch: Any, base: Path, with_io_lock: bool = True) -> ConfigBase:
    cb = ConfigBase(base, with_io_lock)
    pkg = types.ModuleType("cw_platform")
    mod = cb.module()
    pkg.config_base = mod
    monkeypatch.setitem(sys.modules, "cw_platform", pkg)
    monkeypatch.setitem(sys.modules, "cw_platform.config_base", mod)
    return cb


def encrypt_file(base: Path, key: Optional[str] = None) -> str:
    """Encrypt the secrets of ``<base>/config.json`` in place the way CrossWatch saves them,
    with a new key in ``<base>/.cw_master_key`` (or ``key``); returns the key text."""
    from cryptography.fernet import Fernet

    text = key or Fernet.generate_key().decode("ascii")
    if key is None:
        (base / ".cw_master_key").write_text(text)
    cipher = Fernet(fernet_key(text))
    raw = json.loads((base / "config.json").read_text())

    def enc(v: str, path: tuple) -> str:
        return PREFIX + cipher.encrypt(v.encode("utf-8")).decode("ascii") if v else v

    (base / "config.json").write_text(json.dumps(transform(raw, enc), indent=2) + "\n")
    return text


def decrypt(value: str, key_text: str) -> str:
    from cryptography.fernet import Fernet

    assert value.startswith(PREFIX), value
    return Fernet(fernet_key(key_text)).decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
