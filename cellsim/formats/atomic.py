"""Files the user asked for, written next to their place and renamed into it: a reader (QGIS,
an OSS import) never sees half a file, and a failed export leaves the old file as it was."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """`write(tmp)` fills a temporary file in `path`'s folder, which then replaces `path`. The
    temporary name ends in `path`'s suffix, for writers that pick a format by it (SB3's
    model.save appends .zip to any other name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                suffix=f".tmp{path.suffix}")  # fmt: skip
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`text` (UTF-8) written atomically to `path`."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
