"""A small on-disk cache of computed plans (arrays), so that an expensive search pays once per
machine, not once per process.

Where: `$CELLSIM_CACHE_DIR`, else `$XDG_CACHE_HOME/cellsim`, else `~/.cache/cellsim`; one
sub-folder per kind of plan (e.g. `reference/`). `CELLSIM_CACHE_DIR=""` (set but empty) turns the
disk cache off.

Decisions:
- An entry is one `.npz` file named by the SHA-256 of its key text (the caller's description of
  everything the plan depends on); the key text is stored inside too and compared on load, so a
  hash collision or a stale file of another format is a miss, not a wrong plan.
- Written to a temporary file in the same folder, then `os.replace`d: a reader never sees half a
  file, and two processes computing the same plan both write a whole one.
- Anything wrong with a file (truncated, not a zip, missing arrays, unreadable) is a miss: the
  plan is recomputed and the file rewritten. A cache that cannot be written (read-only disk) is
  skipped silently: the plan is still returned, only not kept.
- Arrays only (`allow_pickle=False`): loading a cache file can never run code.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CACHE_DIR_ENV = "CELLSIM_CACHE_DIR"
_KEY = "__key__"


def cache_root() -> Path | None:
    """The cache folder, or None when the disk cache is turned off."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen is not None:
        return Path(chosen).expanduser() if chosen else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cellsim"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def entry_path(kind: str, key: str) -> Path | None:
    """Where the entry of `key` lives (None: disk cache off)."""
    root = cache_root()
    return None if root is None else root / kind / f"{key_digest(key)[:40]}.npz"


def load(kind: str, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays `names` stored under `key`, or None when absent, damaged or another key's."""
    path = entry_path(kind, key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data[_KEY]) != key:
                return None
            return {name: np.array(data[name]) for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def store(kind: str, key: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Write `arrays` under `key` atomically; returns the file, or None if not written."""
    path = entry_path(kind, key)
    if path is None:
        return None
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            np.savez(out, allow_pickle=False, **{_KEY: np.array(key), **arrays})
        os.replace(tmp, path)
        return path
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return None
