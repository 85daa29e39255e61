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
from pathlib import Path
from typing import Iterable

import numpy as np

from glam_py.atomic import CHECK_SUFFIX, DamagedFile, Record, atomic_write, damaged, write_text

SETTINGS = "features.json"
INDEX = "index.csv"
SKIPPED = "skipped.csv"
LEFT_OUT = "left_out.csv"  # files the reader or label map dropped before featurising
INDEX_COLUMNS = ["utterance_id", "path", "label", "speaker", "session", "subset", "shard",
                 "first_window", "n_windows", "duration_s", "sample_rate", "note"]
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


def write_array(path: Path, array: np.ndarray) -> Record:
    """``array`` as ``.npy`` (format 1.0, as ``np.save`` writes it)."""
    def write(f):
        # Through f.write, not np.save: to a real file it uses tofile(),
        # whose error on a full disk has no errno to name the cause by.
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(array))
        f.write(memoryview(np.ascontiguousarray(array)).cast("B"))

    return atomic_write(path, write)


def write_csv(path: Path, columns: list[str], rows: Iterable[dict]) -> Record:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, text.getvalue())


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
