"""The GLAM authors' reference checkpoints (shared/reference/*.npz) and the
model groups that several model tests and benchmarks share."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support.inputs import REPO

WITH_MULTISCALE_BLOCKS = ["glam", "multiscale", "multiscale_mha", "multiscale_aa"]


def reference_dir() -> Path:
    """``$GLAM_REFERENCE``, else ``../shared/reference`` beside the checkout."""
    return Path(os.environ.get("GLAM_REFERENCE", REPO.parent / "shared" / "reference"))


def fixture(name: str) -> tuple[dict, torch.Tensor, np.ndarray]:
    """The authors' state dict, input and eval-mode logits for ``name``;
    skips the calling test when the file is absent."""
    path = reference_dir() / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"authors' fixture {path} not found (set GLAM_REFERENCE)")
    data = np.load(path)
    state = {k[3:]: data[k] for k in data.files if k.startswith("sd/")}
    return state, torch.from_numpy(data["input"]), data["logits"]
