"""Featurising many short files: ``python -m glam_py.featurize --out`` on
N synthetic 0.5 s WAVs (``--pad tile``, so each gives one window), sampling
the command's resident memory (VmRSS) and open file descriptors
(/proc/PID/fd) every 20 ms. Time per file, peak memory and descriptors
should stay flat as N grows (a shard of files at a time).

    .venv/bin/python -m benches.featurize_scaling [--files 1000 10000] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from benches.benchutil import sampled

RATE = 16000
SECONDS = 0.5


def make_corpus(root: Path, n_files: int) -> Path:
    """``n_files`` tones in noise of 0.5 s, 16-bit WAV, with a manifest."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE)) / RATE
    labels = ("neutral", "happy", "sad", "angry")
    with (root / "manifest.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        for i in range(n_files):
            y = 0.3 * np.sin(2 * np.pi * (100 + i % 400) * t) + 0.05 * rng.standard_normal(t.size)
            name = f"w{i // 1000:03d}/f{i:06d}.wav"
            (root / name).parent.mkdir(exist_ok=True)
            sf.write(root / name, y.astype(np.float32), RATE, subtype="PCM_16")
            writer.writerow([name, labels[i % 4], f"s{i % 10}"])
    return root


def featurize(corpus: Path, out: Path, threads: int) -> dict:
    """Wall seconds, peak memory (MiB) and most open descriptors of one command
    (:func:`benches.benchutil.sampled`)."""
    return sampled(
        [
            sys.executable,
            "-m",
            "glam_py.featurize",
            "--corpus",
            "csv",
            "--root",
            str(corpus),
            "--out",
            str(out),
            "--threads",
            str(threads),
            "--pad",
            "tile",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="featurize --out on many short files: time, memory, descriptors."
    )
    parser.add_argument(
        "--files",
        type=int,
        nargs="+",
        default=[1000, 10000],
        help="corpus sizes in files (default 1000 10000).",
    )
    parser.add_argument("--threads", type=int, default=2, help="featurising threads (default 2).")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch folder (default: a temporary one, removed afterwards).",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="glam_featurize_scaling_"))
    print("| files | wall s | ms per file | peak RSS MiB | most open fds |")
    print("|---|---|---|---|---|")
    try:
        for n in sorted(args.files):
            corpus = make_corpus(work / f"corpus_{n}", n)
            r = featurize(corpus, work / f"store_{n}", args.threads)
            print(
                f"| {n} | {r['wall_s']:.1f} | {1000 * r['wall_s'] / n:.2f} | {r['VmRSS']:.0f} | {r['fds']} |",
                flush=True,
            )
            shutil.rmtree(corpus)
            shutil.rmtree(work / f"store_{n}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
