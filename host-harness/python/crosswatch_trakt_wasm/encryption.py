"""CrossWatch's encrypted config values: ``enc:v1:`` followed by a Fernet token.

CrossWatch (0.11.3 and later) saves secrets in config.json encrypted. The key is the text of
env ``CW_CONFIG_KEY`` or ``CROSSWATCH_CONFIG_KEY``, else of the file ``.cw_master_key`` in
CONFIG_BASE (beside config.json). A key text that urlsafe-base64-decodes to 32 bytes is the
Fernet key as it is; any other text is hashed: urlsafe_b64encode(sha256(text)).

Inside CrossWatch the provider leaves all of this to CrossWatch (its load_config/save_config);
this module is for running outside it (cw-host's config files, tests, other embedders). It
needs the ``cryptography`` package only when a value is actually encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Tuple

from .config import ConfigError

PREFIX = "enc:v1:"
KEY_ENV_VARS = ("CW_CONFIG_KEY", "CROSSWATCH_CONFIG_KEY")
KEY_FILE = ".cw_master_key"
#: Fields this provider reads or writes that CrossWatch keeps encrypted.
SECRET_FIELDS = ("client_secret", "access_token", "refresh_token")


class SecretsError(ConfigError):
    """Encrypted values that cannot be read or written: no key, no ``cryptography``, or a
    key that does not fit. The text says where the key was looked for and what to set."""


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def any_encrypted(obj: Any) -> bool:
    """True when any string in ``obj`` (recursively) is an encrypted value."""
    if isinstance(obj, Mapping):
        return any(any_encrypted(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(any_encrypted(v) for v in obj)
    return is_encrypted(obj)


def normalize_key(raw: Any) -> bytes:
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    data = data.strip()
    if not data:
        raise ValueError("empty key")
    try:
        if len(base64.urlsafe_b64decode(data)) == 32:
            return data
    except Exception:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest())


def _where(config_dir: Path) -> str:
    return f"env {' and '.join(KEY_ENV_VARS)} and the file {Path(config_dir) / KEY_FILE}"


def load_key(config_dir: Path) -> Optional[Tuple[bytes, str]]:
    """``(Fernet key, where it came from)``, or None when no key is set."""
    for var in KEY_ENV_VARS:
        raw = (os.environ.get(var) or "").strip()
        if raw:
            return normalize_key(raw), f"env {var}"
    path = Path(config_dir) / KEY_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SecretsError(f"cannot read the config key {path}: {e}") from None
    if not raw.strip():
        raise SecretsError(f"the config key file {path} is empty")
    return normalize_key(raw), str(path)


class Cipher:
    """The Fernet cipher of the config in ``config_dir``, loaded on first use."""

    def __init__(self, config_dir: Path):
        self.config_dir = Path(config_dir)
        self._fernet: Any = None
        self._source = ""

    def _get(self, what: str) -> Any:
        if self._fernet is not None:
            return self._fernet
        found = load_key(self.config_dir)
        if found is None:
            raise SecretsError(
                f"{what}: config.json holds encrypted values ({PREFIX}...) but no key was found; "
                f"looked in {_where(self.config_dir)}. Set CW_CONFIG_KEY to CrossWatch's key (the "
                f"text of its {KEY_FILE}) or put {KEY_FILE} beside config.json"
            )
        key, source = found
        try:
            from cryptography.fernet import Fernet
        except ImportError:
            raise SecretsError(
                f"{what}: config.json holds encrypted values ({PREFIX}...), which need the Python "
                "package `cryptography`: pip install cryptography"
            ) from None
        try:
            self._fernet = Fernet(key)
        except Exception as e:
            raise SecretsError(f"{what}: the config key from {source} is not usable: {e}") from None
        self._source = source
        return self._fernet

    def require(self, what: str) -> None:
        """Fail now, with the clear message, when values could not be decrypted."""
        self._get(what)

    def decrypt(self, value: Any, what: str) -> Any:
        """The plain text of an encrypted value; anything else as it is."""
        if not is_encrypted(value):
            return value
        fernet = self._get(what)
        try:
            return fernet.decrypt(value[len(PREFIX):].strip().encode("ascii")).decode("utf-8")
        except Exception:
            raise SecretsError(
                f"{what} is encrypted with another key than the one from {self._source}: set "
                f"CW_CONFIG_KEY to the key CrossWatch uses (its {KEY_FILE})"
            ) from None

    def encrypt(self, value: str, what: str) -> str:
        if not value or is_encrypted(value):
            return value
        token = self._get(what).encrypt(value.encode("utf-8")).decode("ascii")
        return PREFIX + token


def decrypt_fields(block: Mapping, cipher: Cipher, where: str) -> dict:
    """A copy of ``block`` with its secret fields decrypted (``where`` names the block)."""
    out = dict(block)
    for key in SECRET_FIELDS:
        if is_encrypted(out.get(key)):
            out[key] = cipher.decrypt(out[key], f"{where}.{key}")
    return out
