"""Helpers for the benchmarks: the authors' segmentation, synthetic corpora,
the EmoDB train command, timing and the tags that `summarize.py` reads."""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.support.inputs import corpora_root


def cut_windows(y: np.ndarray, length: int = 32000, hop: int = 6400) -> list[np.ndarray]:
    """The authors' segmentation: full windows only, the tail left out."""
    return [y[s : s + length] for s in range(0, len(y) - length + 1, hop)]


def tone_corpus(root: Path, n_files: int, seconds: float, per_folder: int | None = None) -> Path:
    """Writes ``n_files`` tones in noise of ``seconds`` each (16 kHz, 16-bit
    WAV, pitches cycling over 100-499 Hz) under ``root`` with a
    ``manifest.csv`` (path, label, speaker: four labels, ten speakers), in
    subfolders of ``per_folder`` files when given; returns ``root``."""
    rate = 16000
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    labels = ("neutral", "happy", "sad", "angry")
    with (root / "manifest.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        for i in range(n_files):
            y = 0.3 * np.sin(2 * np.pi * (100 + i % 400) * t) + 0.05 * rng.standard_normal(t.size)
            name = f"f{i:06d}.wav" if per_folder is None else f"w{i // per_folder:03d}/f{i:06d}.wav"
            (root / name).parent.mkdir(exist_ok=True)
            sf.write(root / name, y.astype(np.float32), rate, subtype="PCM_16")
            writer.writerow([name, labels[i % 4], f"s{i % 10}"])
    return root


def emodb_train_command(
    out: Path, cache: Path, *flags: str, model: str = "glam", threads: int = 2
) -> list[str]:
    """``python -m glam_py.train`` on EmoDB as the protocol benchmarks run it:
    short utterances tiled (the README's EmoDB command), quiet, no report,
    into run directory ``out`` with feature cache ``cache``, under the
    paper preset unless ``flags``, which add to it (``--repeats``,
    ``--preset``...), say otherwise."""
    return [
        sys.executable,
        "-m",
        "glam_py.train",
        "--corpus",
        "emodb",
        "--root",
        str(corpora_root() / "emodb"),
        "--pad",
        "tile",
        "--models",
        model,
        "--threads",
        str(threads),
        "--quiet",
        "--no-report",
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--preset",
        "paper",
        *flags,
    ]


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


# The /proc/PID/status fields :func:`sampled` tracks, in KiB.
MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/PID/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:  # the thread or the process ended meanwhile
                pass
    return out


def _memory(pid: int) -> dict[str, int] | None:
    """:data:`MEMORY_FIELDS` of ``pid`` in KiB, None once it has ended."""
    now = dict.fromkeys(MEMORY_FIELDS, 0)
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in now:
                    now[key] = int(value.split()[0])
    except (OSError, ValueError):
        return None
    return now


def sampled(
    command: list[str],
    every_s: float = 0.02,
    tree: bool = False,
    timeout_s: float | None = None,
    trace_every_s: float | None = None,
) -> dict:
    """Runs ``command`` (output discarded), sampling its /proc entries
    every ``every_s`` seconds: its wall seconds (``"wall_s"``), its CPU
    seconds, user and system (``"cpu_s"``, steadier than the wall time on a
    shared machine), the megabytes it read from storage rather than the
    page cache (``"read_mb"``), the peak of each of :data:`MEMORY_FIELDS` in
    MiB, the most open descriptors (``"fds"``), whether it was stopped at
    ``timeout_s`` (``"stopped"``) and, with ``trace_every_s``, the memory
    over time (``"trace"``: ``[seconds, VmRSS MiB, RssAnon MiB]`` rows, to
    tell memory that grows through a run from memory that settles).
    Linux only.

    Parameters
    ----------
    command : list of str
        The command line.
    every_s : float
        Seconds between samples (default 0.02).
    tree : bool
        Sum the memory over the process and its descendants at each sample
        (shared pages are then counted once per process); default: the
        process alone. Descriptors are the process's own either way.
    timeout_s : float, optional
        Stop the command (SIGTERM) once it has run this many seconds; the
        figures are then those up to the stop (default: no limit).
    trace_every_s : float, optional
        Record the memory about this often, in seconds (default: not).

    Raises
    ------
    RuntimeError
        The command failed (its last stderr lines in the message).
    """
    start = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = dict.fromkeys(MEMORY_FIELDS, 0)
    fds, stopped, trace = 0, False, []
    while proc.poll() is None:
        if timeout_s is not None and time.perf_counter() - start > timeout_s:
            proc.terminate()
            stopped = True
            break
        own = _memory(proc.pid)
        if own is None:  # ended between poll and read
            break
        for pid in _tree(proc.pid)[1:] if tree else ():
            for key, value in (_memory(pid) or {}).items():
                own[key] += value
        for key, value in own.items():
            peak[key] = max(peak[key], value)
        now = time.perf_counter() - start
        if trace_every_s is not None and (not trace or now - trace[-1][0] >= trace_every_s):
            trace.append([round(now, 1), own["VmRSS"] / 1024, own["RssAnon"] / 1024])
        try:
            fds = max(fds, len(os.listdir(f"/proc/{proc.pid}/fd")))
        except OSError:
            break
        time.sleep(every_s)
    _, err = proc.communicate()
    if proc.returncode != 0 and not stopped:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-2000:]}")
    wall = time.perf_counter() - start
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
    # ru_inblock counts 512-byte blocks read from storage.
    read_mb = (done.ru_inblock - children.ru_inblock) * 512 / 2**20
    return {
        "stopped": stopped,
        "wall_s": wall,
        "cpu_s": cpu,
        "read_mb": read_mb,
        "fds": fds,
        **{k: v / 1024 for k, v in peak.items()},
        **({"trace": trace} if trace_every_s is not None else {}),
    }
