"""Featurising many short files: ``python -m glam_py.featurize --out`` on
N synthetic 0.5 s WAVs (``--pad tile``, so each gives one window), sampling
the command's resident memory (VmRSS) and open file descriptors
(/proc/PID/fd) every 20 ms. Time per file, peak memory and descriptors
should stay flat as N grows (a shard of files at a time).

    .venv/bin/python -m benches.featurize_scaling [--files 1000 10000] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from benches.benchutil import sampled, tone_corpus

SECONDS = 0.5


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
            corpus = tone_corpus(work / f"corpus_{n}", n, SECONDS, per_folder=1000)
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
