"""Checkpoints written atomically and read without unpickling arbitrary
objects (``torch.load(weights_only=True)``)."""

from __future__ import annotations

import os
from pathlib import Path

import torch


# The "format" of a model checkpoint written by a training run (train/run.py)
# and read by prediction (glam_py/checkpoints.py); bumped when its keys change.
MODEL_FORMAT = "glam-checkpoint-1"


class CheckpointError(ValueError):
    pass


def save(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # a corrupt file or one that asks to run code
        raise CheckpointError(f"{path}: not a loadable glam checkpoint ({type(e).__name__}: {e})") from e
