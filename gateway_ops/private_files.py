"""Files that hold credentials (attendee keys, printable key cards, ``.env``): owner-only, always.

``Path.write_text`` creates a file with the process's umask (usually 0644: readable by every user
of the machine) and keeps the mode of a file that already exists. :func:`write_private` never lets
the content exist with a wider mode: it writes a new file created 0600 beside the target, flushes
it, and renames it over the target, so a reader sees the old file or the whole new one, never a
half-written or world-readable one.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

PRIVATE_MODE = 0o600


def write_private(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Writes ``text`` to ``path``, readable and writable by its owner only (mode 0600)."""
    return write_private_with(path, lambda handle: handle.write(text), encoding=encoding)


def write_private_with(path: str | Path, write: Callable[[IO[str]], object], *, encoding: str = "utf-8",
                       newline: str | None = None) -> Path:
    """Calls ``write`` with a text handle on a new owner-only file that then replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        os.fchmod(descriptor, PRIVATE_MODE)
        with os.fdopen(descriptor, "w", encoding=encoding, newline=newline) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def is_private(path: str | Path) -> bool:
    """True when nobody but the owner may read or write ``path``."""
    return Path(path).stat().st_mode & 0o077 == 0
