"""The one way files are written: atomically, so a crash (or a kill) leaves
either the old file or the new one, never half of it. Feature stores,
checkpoints, training state and run directories all write through here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Writes ``path`` through ``write``, which gets an open binary file.

    The bytes go to a temporary file next to ``path`` (named after the
    process, so concurrent writers do not collide), are flushed to disk
    (``fsync``) and only then renamed over ``path`` (``os.replace``).

    Parameters
    ----------
    path : Path
        The file to write; its folder is created when missing.
    write : callable
        Called once with the temporary file, opened ``"wb"``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: Path, value: dict) -> None:
    """``value`` as JSON (keys sorted, indent 1), atomically."""
    write_text(path, json.dumps(value, indent=1, sort_keys=True))
