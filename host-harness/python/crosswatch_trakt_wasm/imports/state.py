"""The ``state`` import: small named files in the account's state directory, names
validated, writes atomic, total size under a quota, unscoped files adopted once. Mirrors
host-harness/host/src/imports/state.rs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Dict, List, Optional

from ..config import write_atomic
from .log import LogSink

class StateFault(Exception):
    """Mirrors the WIT ``state-error``: ``kind`` is invalid-name, quota-exceeded or io."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


#: Most files the component may keep in one state directory (empty files are not free).
DEFAULT_MAX_FILES = 1000

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

    def __init__(
        self,
        directory: Path,
        quota_bytes: int,
        legacy_dir: Optional[Path] = None,
        log: Optional["LogSink"] = None,
        max_files: int = DEFAULT_MAX_FILES,
    ):
        self.dir = Path(directory)
        self.quota_bytes = quota_bytes
        self.max_files = max_files
        self.legacy_dir = Path(legacy_dir) if legacy_dir is not None else None
        self.log = log
        #: name -> size of the component's files, read from the directory once (first use)
        #: and kept up to date by this store's writes, deletes and adoptions.
        self._sizes: Optional[Dict[str, int]] = None

    def _io(self, what: str, name: str, e: OSError) -> StateFault:
        # Only the file name and the OS's reason: the component never learns the host's paths.
        reason = e.strerror or type(e).__name__
        return StateFault("io", f"cannot {what} state file {name!r}: {reason}" if name else f"cannot {what} the state files: {reason}")

    def _index(self, for_name: str = "") -> Dict[str, int]:
        if self._sizes is None:
            sizes: Dict[str, int] = {}
            for name in self._scan(for_name):
                try:
                    sizes[name] = (self.dir / name).stat().st_size
                except OSError:
                    pass
            self._sizes = sizes
        return self._sizes

    def _adopt(self, name: str) -> None:
        if self.legacy_dir is None:
            return
        old = self.legacy_dir / name
        try:
            if not old.is_file() or old.is_symlink():
                return
            self.dir.mkdir(parents=True, exist_ok=True)
            os.replace(old, self.dir / name)
            if self._sizes is not None:
                self._sizes[name] = (self.dir / name).stat().st_size
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
        sizes = self._index(name)
        if name not in sizes and len(sizes) >= self.max_files:
            raise StateFault(
                "quota-exceeded",
                f"writing {name!r} would exceed the state limit of {self.max_files} files",
            )
        used = sum(sizes.values()) - sizes.get(name, 0)
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
        sizes[name] = len(contents)

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
        if self._sizes is not None:
            self._sizes.pop(name, None)

    def list_names(self) -> List[str]:
        """Valid names present, sorted; anything else in the directory is not the component's."""
        return self._scan()

    def _scan(self, for_name: str = "") -> List[str]:
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise (self._io("write", for_name, e) if for_name else self._io("list", "", e)) from None
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
