"""Shared workloads for the benchmarks. Every comparison runs ours and its
anchor (librosa, the authors' pipeline, the reference model) in the same
session on the same data; `summarize.py` turns the JSON into ratios."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import corpora_root  # noqa: E402


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


def cut_windows(y: np.ndarray, length: int = 32000, hop: int = 6400) -> list[np.ndarray]:
    """The authors' segmentation: full windows only, the tail left out."""
    return [y[s : s + length] for s in range(0, len(y) - length + 1, hop)]


def record(benchmark, role: str, units: float, unit: str) -> None:
    """Tags a benchmark for the summary: 'ours' or 'anchor', and how much
    work one round does (windows, audio seconds...)."""
    benchmark.extra_info.update(role=role, units=units, unit=unit)


def one_thread():
    """Limits BLAS/OpenMP pools (numpy, scipy, torch) to one thread."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


os.environ.setdefault("NUMBA_NUM_THREADS", "1")
