"""Helpers for the benchmarks: the authors' segmentation and the tags that
`summarize.py` reads."""

from __future__ import annotations

import numpy as np


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
