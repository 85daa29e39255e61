"""Helpers for the benchmarks: the authors' segmentation and the tags that
`summarize.py` reads."""

from __future__ import annotations

import time

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


def paired(benchmark, anchor, ours, units: float, unit: str, rounds: int = 15) -> None:
    """Anchor and ours alternately, so a shared machine's swings hit both
    alike; `summarize.py` quotes the ratio of the medians (the minima are
    kept too)."""
    times: dict[str, list[float]] = {"anchor": [], "ours": []}
    for _ in range(2):
        anchor(), ours()
    for _ in range(rounds):
        for name, fn in (("anchor", anchor), ("ours", ours)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    benchmark.extra_info.update(
        role="paired", anchor_s=medians["anchor"], ours_s=medians["ours"],
        ratio=medians["anchor"] / medians["ours"], ratio_of_minima=min(times["anchor"]) / min(times["ours"]),
        units=units, unit=unit)
    benchmark.pedantic(ours, rounds=1)
