"""Feature-store scaling: featurise a 1-hour and a 10-hour synthetic corpus
through ``python -m glam_py.featurize --out`` (2 threads) and report wall
time, audio hours per second and the peak memory (max RSS) of the command.
Memory should stay flat (bounded by one shard), time grow linearly.

    .venv/bin/python -m benches.store_scaling [--hours 1 10] [--work DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benches.benchutil import tone_corpus

SECONDS_PER_FILE = 10.0


def featurize(corpus: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one featurize command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
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
            "2",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: run the
    # small corpus first so its figure is its own.
    return wall, max(peak, before) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Feature-store memory and time scaling.")
    parser.add_argument(
        "--hours",
        type=float,
        nargs="+",
        default=[1.0, 10.0],
        help="corpus sizes in hours of audio, smallest first (default 1 10).",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch folder (default: a temporary one, removed afterwards).",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="glam_store_scaling_"))
    print("| audio hours | files | wall s | audio hours / s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    try:
        for hours in sorted(args.hours):
            n_files = int(round(hours * 3600 / SECONDS_PER_FILE))
            corpus = tone_corpus(work / f"corpus_{hours:g}h", n_files, SECONDS_PER_FILE)
            wall, peak = featurize(corpus, work / f"store_{hours:g}h")
            print(f"| {hours:g} | {n_files} | {wall:.1f} | {hours / wall:.3f} | {peak:.0f} |", flush=True)
            shutil.rmtree(corpus)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
