"""File names of a feature store, and its files written through
:func:`glam_py.atomic.atomic_write`: a crash leaves either the old file or
the new one, never half."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable

import numpy as np

from glam_py.atomic import atomic_write, write_text

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


def shard_complete(root: Path, k: int) -> bool:
    """A shard counts once its index is written, which happens after its
    array and skip list."""
    return shard_index(root, k).is_file()


def write_array(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def write_csv(path: Path, columns: list[str], rows: Iterable[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
