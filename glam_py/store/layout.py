"""File names of a feature store and the atomic write every file goes
through: a crash leaves either the old file or the new one, never half."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

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


def atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_array(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def write_csv(path: Path, columns: list[str], rows: Iterable[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda f: f.write(text.getvalue().encode("utf-8")))


def write_json(path: Path, value: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(value, indent=1, sort_keys=True).encode()))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
