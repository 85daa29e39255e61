"""The one way files are written: atomically, so a crash (or a kill) leaves
either the old file or the new one, never half of it. Feature stores,
checkpoints, training state and run directories all write through here.

Every write also gives the file's :class:`Record` (its size and SHA-256),
which the store's shards and the checkpoints keep in a *check file* beside
them (:func:`write_checks`), so that a file truncated or altered later is
refused when opened (:func:`damaged`) instead of being used.

A full disk (or a file size limit) fails the write with :class:`WriteFailed`:
one line naming the file, and the temporary file removed, so the folder is
as before the write and the same command resumes once there is space."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Mapping, Sequence

CHECK_SUFFIX = ".check.json"
_CHUNK = 1 << 20
# What each error of a full disk or a size limit is called in messages.
_NO_SPACE = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "no space left (disk quota exceeded)",
    errno.EFBIG: "file too large (over the file size limit)",
}


class WriteFailed(OSError):
    """A file could not be written for lack of space; ``str()`` is one line
    naming the file."""

    def __str__(self) -> str:
        return self.strerror


class DamagedFile(ValueError):
    """A file whose size or checksum differs from the record written with
    it; the message names the file.

    Attributes
    ----------
    path : Path
        The damaged file.
    """

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Record:
    """What a file held when it was written.

    Parameters
    ----------
    size : int
        Its length in bytes.
    sha256 : str
        The SHA-256 of its bytes, in hex.
    """

    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Record:
        """The record of ``path`` as it is now (reads the whole file)."""
        h, size = hashlib.sha256(), 0
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
        return cls(size, h.hexdigest())


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Record:
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

    Returns
    -------
    Record
        The size and SHA-256 of the bytes written.

    Raises
    ------
    WriteFailed
        The disk is full, a quota or the file size limit is reached; the
        temporary file is removed and ``path`` left as it was.
    """
    return _written(path, write, lambda tmp, record: os.replace(tmp, path))


def write_checked(path: Path, write: Callable[[BinaryIO], None]) -> Record:
    """:func:`atomic_write`, recording the file in its check file
    :func:`check_file` so that :func:`damaged` finds it once damaged.

    Two files cannot be renamed at once, so the check file first records the
    new bytes beside the old ones, then the file is replaced, then the old
    record dropped: a kill at any point leaves a file its check file
    accepts.

    Raises
    ------
    WriteFailed
        As :func:`atomic_write`, for the file or its check file.
    """
    check = check_file(path)
    try:
        before = _records(check).get(path, [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        before = []

    def commit(tmp: Path, record: Record) -> None:
        write_checks(check, {path: [record, *before]})
        os.replace(tmp, path)
        write_checks(check, {path: [record]})

    return _written(path, write, commit)


def _written(path: Path, write: Callable[[BinaryIO], None], commit: Callable[[Path, Record], None]) -> Record:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        record = Record.of(tmp)  # read back from the page cache
        commit(tmp, record)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, WriteFailed):
            raise
        if isinstance(e, OSError) and e.errno in _NO_SPACE:
            raise WriteFailed(
                e.errno,
                f"{path}: cannot write, {_NO_SPACE[e.errno]}; free some space "
                f"and run the same command again to resume",
            ) from e
        raise
    return record


def write_text(path: Path, text: str) -> Record:
    """``text`` as UTF-8, atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: Path, value: dict) -> Record:
    """``value`` as JSON (keys sorted, indent 1), atomically."""
    return write_text(path, json.dumps(value, indent=1, sort_keys=True))


def check_file(path: Path) -> Path:
    """The check file of ``path`` (a checkpoint): ``PATH.check.json``."""
    return path.with_name(path.name + CHECK_SUFFIX)


def write_checks(check: Path, records: Mapping[Path, Record | Sequence[Record]]) -> None:
    """Records the files of ``records`` (all in the folder of ``check``) in
    the check file ``check``, atomically: ``{name: {"size", "sha256"}}``, or
    a list of such where a file may hold either (while it is replaced)."""

    def entry(r: Record) -> dict:
        return {"size": r.size, "sha256": r.sha256}

    write_json(
        check,
        {p.name: entry(r) if isinstance(r, Record) else [entry(x) for x in r] for p, r in records.items()},
    )


def _records(check: Path) -> dict[Path, list[Record]]:
    recorded = json.loads(check.read_text(encoding="utf-8"))
    return {
        check.parent / name: [
            Record(int(x["size"]), str(x["sha256"])) for x in (r if isinstance(r, list) else [r])
        ]
        for name, r in recorded.items()
    }


def damaged(check: Path, full: bool = True) -> list[DamagedFile]:
    """The files that the check file ``check`` records and that differ from
    their record: in size always, in SHA-256 too when ``full``; a missing
    file, or ``check`` itself unreadable, counts as damaged."""
    try:
        records = _records(check)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return [DamagedFile(check, f"{check}: damaged check file ({type(e).__name__}: {e})")]
    found = []
    for path, alternatives in records.items():
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            found.append(DamagedFile(path, f"{path}: missing, though {check.name} records it"))
            continue
        if size not in {r.size for r in alternatives}:
            found.append(
                DamagedFile(
                    path,
                    f"{path}: damaged: {size} bytes where "
                    f"{' or '.join(str(r.size) for r in alternatives)} were written "
                    f"(truncated or altered)",
                )
            )
        elif full and Record.of(path).sha256 not in {r.sha256 for r in alternatives}:
            found.append(
                DamagedFile(
                    path,
                    f"{path}: damaged: its SHA-256 differs from the one recorded "
                    f"when it was written (altered)",
                )
            )
    return found
