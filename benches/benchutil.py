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


def interleave(fns: dict, rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds of each call of each of ``fns`` (name: callable), called in
    turn (after ``warmup`` untimed turns), so a shared machine's swings hit
    them all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def record_paired(benchmark, anchor: list[float], ours: list[float], units: float, unit: str) -> None:
    """Tags the interleaved times of an anchor and ours for the summary,
    which quotes the ratio of the medians (the minima are kept too)."""
    benchmark.extra_info.update(
        role="paired",
        anchor_s=float(np.median(anchor)),
        ours_s=float(np.median(ours)),
        ratio=float(np.median(anchor) / np.median(ours)),
        ratio_of_minima=min(anchor) / min(ours),
        units=units,
        unit=unit,
        anchor_times=list(anchor),
        ours_times=list(ours),
    )


def paired(benchmark, anchor, ours, units: float, unit: str, rounds: int = 15) -> None:
    """Anchor and ours alternately (:func:`interleave`), tagged for
    `summarize.py`; ours is then timed once more by pytest-benchmark."""
    times = interleave({"anchor": anchor, "ours": ours}, rounds)
    record_paired(benchmark, times["anchor"], times["ours"], units, unit)
    benchmark.pedantic(ours, rounds=1)
