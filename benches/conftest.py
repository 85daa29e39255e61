"""Shared workloads for the benchmarks. Every comparison runs ours and its
anchor (librosa, the authors' pipeline, the reference model) in the same
session on the same data; `summarize.py` turns the JSON into ratios."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.inputs import corpora_root


@pytest.fixture(scope="session")
def emodb_paths() -> list[Path]:
    files = sorted((corpora_root() / "emodb" / "wav").glob("*.wav"))
    if not files:
        pytest.skip("EmoDB recordings not found (set GLAM_CORPORA)")
    return files


@pytest.fixture(scope="session")
def emodb_utterances(emodb_paths) -> list[np.ndarray]:
    """The first 60 EmoDB utterances of at least one window, as float32."""
    out = []
    for path in emodb_paths:
        y, _ = sf.read(path, dtype="float32")
        if len(y) >= 32000:
            out.append(y)
        if len(out) == 60:
            break
    return out


os.environ.setdefault("NUMBA_NUM_THREADS", "1")
