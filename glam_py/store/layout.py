"""File names of a feature store, and its files written through
:func:`glam_py.atomic.atomic_write`: a crash leaves either the old file or
the new one, never half.

Each shard is its array, skip list and index, then its check file recording
the three files' sizes and SHA-256 (:func:`glam_py.atomic.write_checks`),
written last: a shard is complete when its check file is there and its files
have the recorded sizes."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from glam_py.atomic import CHECK_SUFFIX, DamagedFile, Record, atomic_write, damaged, write_text

SETTINGS = "features.json"
INDEX = "index.csv"
SKIPPED = "skipped.csv"
LEFT_OUT = "left_out.csv"  # files the reader or label map dropped before featurising
# start and end: the segment of the file that is the utterance (seconds;
# empty for the whole file). Stores written before they existed lack them
# and are read as whole files (glam_py.store.reader.utterance_key).
INDEX_COLUMNS = [
    "utterance_id",
    "path",
    "start",
    "end",
    "label",
    "speaker",
    "session",
    "subset",
    "shard",
    "first_window",
    "n_windows",
    "duration_s",
    "sample_rate",
    "note",
]
SKIPPED_COLUMNS = ["path", "reason"]


def shard_array(root: Path, k: int) -> Path:
    return root / f"shard_{k:05d}.npy"


def shard_index(root: Path, k: int) -> Path:
    return root / f"shard_{k:05d}.csv"


def shard_skipped(root: Path, k: int) -> Path:
    return root / f"shard_{k:05d}.skipped.csv"


def shard_check(root: Path, k: int) -> Path:
    return root / f"shard_{k:05d}{CHECK_SUFFIX}"


def shard_damage(root: Path, k: int, full: bool = False) -> list[DamagedFile]:
    """The files of complete shard ``k`` that differ from their record (in
    size; in SHA-256 too when ``full``)."""
    return damaged(shard_check(root, k), full)


def shard_complete(root: Path, k: int) -> bool:
    """Whether shard ``k`` was written whole: its check file is there and
    its files have the sizes it records (a damaged shard is written again)."""
    return shard_check(root, k).is_file() and not shard_damage(root, k)


class WindowAppender:
    """An ``.npy`` file of ``[n, n_features, n_frames]`` float32 windows
    written as they come, into the open file ``f``: the header is written
    for 0 windows and rewritten for ``n`` by :meth:`close` (numpy pads it
    to 64 bytes, so its length does not change). The bytes are
    ``np.save``'s for the same array. Written inside
    :func:`glam_py.atomic.atomic_write`, which gives the file's
    :class:`~glam_py.atomic.Record` for the shard's check file."""

    def __init__(self, f: BinaryIO, n_features: int, n_frames: int):
        self.f, self.tail, self.n = f, (n_features, n_frames), 0
        self.header = self._header()
        f.write(self.header)

    def _header(self) -> bytes:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf,
            {
                "descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
                "fortran_order": False,
                "shape": (self.n, *self.tail),
            },
        )
        return buf.getvalue()

    def append(self, windows: np.ndarray) -> None:
        # Through f.write, not ndarray.tofile: tofile's error on a full disk
        # has no errno to name the cause by.
        self.f.write(memoryview(np.ascontiguousarray(windows, dtype="<f4")).cast("B"))
        self.n += len(windows)

    def mark(self) -> int:
        """The window count to :meth:`rollback` to."""
        return self.n

    def rollback(self, n: int) -> None:
        """Forgets the windows appended after :meth:`mark` returned ``n``."""
        self.n = n
        self.f.seek(len(self.header) + n * 4 * self.tail[0] * self.tail[1])
        self.f.truncate()

    def close(self) -> None:
        header = self._header()
        assert len(header) == len(self.header), "npy header grew"
        self.f.seek(0)
        self.f.write(header)
        self.f.seek(0, io.SEEK_END)


def write_csv(path: Path, columns: list[str], rows: Iterable[dict]) -> Record:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, text.getvalue())


def concatenate_csv(path: Path, columns: list[str], parts: Iterable[Path]) -> Record:
    """The rows of the CSV files ``parts`` (each written by :func:`write_csv`
    with ``columns``) under one header, copied a block at a time: a store
    of any number of files assembles in constant memory.

    Raises
    ------
    DamagedFile
        A part's header is not ``columns`` (the part is named).
    """
    header = ",".join(columns) + "\n"

    def write(out: BinaryIO) -> None:
        out.write(header.encode("utf-8"))
        for part in parts:
            with part.open("rb") as f:
                if f.readline().decode("utf-8") != header:
                    raise DamagedFile(part, f"{part}: not the header {header.strip()!r}; featurise again")
                shutil.copyfileobj(f, out)

    return atomic_write(path, write)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
