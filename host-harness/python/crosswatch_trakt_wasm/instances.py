"""Which Trakt account (CrossWatch "instance") a call serves, and where its state lives.

CrossWatch supports several Trakt accounts: the base ``trakt`` block is the ``default``
instance and ``trakt.instances.<id>`` blocks are the others. For a pair it hands the provider
a config view whose ``trakt`` block is that instance's block merged over the base block, and
sets ``CW_PAIR_SRC``/``CW_PAIR_DST`` (provider names, upper case), ``CW_PAIR_SRC_INSTANCE``/
``CW_PAIR_DST_INSTANCE`` and the pair scope (``CW_PAIR_KEY``, ``CW_PAIR_SCOPE``,
``CW_SYNC_PAIR``, ``CW_PAIR``; health runs use ``health:TRAKT#<instance>``).

The scope rule below is shared with the Rust host (host-harness/host/src): both must map the same
environment to the same directory.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Optional, Tuple

DEFAULT = "default"
PROVIDER = "TRAKT"
#: Where CrossWatch keeps the pair scope, first non-empty wins.
PAIR_KEY_VARS = ("CW_PAIR_KEY", "CW_PAIR_SCOPE", "CW_SYNC_PAIR", "CW_PAIR")
#: Scoped state directories live here, under the state directory.
SCOPED_ROOT = "trakt-wasm"
SAFE_MAX = 96

_TRAILING_NUMBER = re.compile(r"^(?P<id>.+?):(?P<n>\d+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_UNDERSCORES = re.compile(r"_+")


def normalize_instance_id(value: object) -> str:
    """CrossWatch's rule: empty or "default" (any case) is ``default``; a trailing
    ``:<digits>`` is dropped."""
    s = str(value or "").strip()
    if not s or s.lower() == DEFAULT:
        return DEFAULT
    m = _TRAILING_NUMBER.match(s)
    if m:
        s = m.group("id").strip()
    return DEFAULT if not s or s.lower() == DEFAULT else s


def _env(env: Optional[Mapping], name: str) -> str:
    source = os.environ if env is None else env
    return str(source.get(name) or "").strip()


def pair_instances(env: Optional[Mapping] = None) -> Tuple[str, Optional[str]]:
    """``(instance, other)``: the instance of the side that is Trakt (source first), and the
    destination's instance when both sides are Trakt with different instances (the caller
    then decides by the tokens, see :func:`choose`); ``other`` is None otherwise."""
    src = _env(env, "CW_PAIR_SRC").upper()
    dst = _env(env, "CW_PAIR_DST").upper()
    src_inst = normalize_instance_id(_env(env, "CW_PAIR_SRC_INSTANCE"))
    dst_inst = normalize_instance_id(_env(env, "CW_PAIR_DST_INSTANCE"))
    if src == PROVIDER:
        if dst == PROVIDER and dst_inst != src_inst:
            return src_inst, dst_inst
        return src_inst, None
    if dst == PROVIDER:
        return dst_inst, None
    return DEFAULT, None


def choose(
    src_inst: str,
    dst_inst: str,
    view_tokens: Tuple[str, str],
    tokens_of: Callable[[str], Optional[Tuple[str, str]]],
) -> str:
    """Both sides are Trakt with different instances: the one whose block (on disk, decrypted)
    carries the view's access token or refresh token, else the source."""
    access, refresh = view_tokens
    for inst in (src_inst, dst_inst):
        disk = tokens_of(inst)
        if disk is None:
            continue
        if (access and disk[0] == access) or (refresh and disk[1] == refresh):
            return inst
    return src_inst


def pair_key(env: Optional[Mapping] = None) -> Optional[str]:
    """The first pair-scope variable set; CrossWatch's ``run_pairs`` treats the value
    ``unscoped`` as no scope, and so does this."""
    for name in PAIR_KEY_VARS:
        v = _env(env, name)
        if v and v.strip().lower() != "unscoped":
            return v
    return None


def state_scope(instance: str, env: Optional[Mapping] = None) -> Optional[str]:
    """``<pair key>|TRAKT#<instance>`` for a pair (a key not starting with ``health:``);
    otherwise None for the default instance (the state directory itself, today's layout) and
    ``TRAKT#<instance>`` for the others."""
    key = pair_key(env)
    if key is not None and not key.startswith("health:"):
        return f"{key}|{PROVIDER}#{instance}"
    if instance == DEFAULT:
        return None
    return f"{PROVIDER}#{instance}"


def safe_scope(scope: str) -> str:
    """A directory name for ``scope``: ``[A-Za-z0-9._-]`` kept, anything else ``_``, runs of
    ``_`` collapsed, leading/trailing ``_`` and ``.`` stripped (nothing left: ``scope``); longer
    than 96 characters: the first 83 plus ``-`` and 12 hex digits of the scope's SHA-256."""
    s = _UNDERSCORES.sub("_", _UNSAFE.sub("_", scope)).strip("_.")
    if not s:
        return "scope"  # cannot happen for a real scope (it names the instance)
    if len(s) > SAFE_MAX:
        s = s[:83] + "-" + hashlib.sha256(scope.encode("utf-8")).hexdigest()[:12]
    return s


def state_dir_for(state_dir: Path, scope: Optional[str]) -> Path:
    if scope is None:
        return Path(state_dir)
    return Path(state_dir) / SCOPED_ROOT / safe_scope(scope)


def legacy_dir_for(state_dir: Path, instance: str, scope: Optional[str]) -> Optional[Path]:
    """Where files written before scoping are adopted from: the state directory itself, for
    the default instance's scoped directories only."""
    if scope is None or instance != DEFAULT:
        return None
    return Path(state_dir)


def instance_block(root: object, instance: str) -> Optional[Mapping]:
    """The instance's own block in a config mapping (``trakt`` for default,
    ``trakt.instances.<id>`` otherwise), or None."""
    if not isinstance(root, Mapping):
        return None
    base = root.get("trakt")
    if not isinstance(base, Mapping):
        return None
    if instance == DEFAULT:
        return base
    insts = base.get("instances")
    if not isinstance(insts, Mapping):
        return None
    block = insts.get(instance)
    return block if isinstance(block, Mapping) else None
