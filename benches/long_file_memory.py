"""Peak resident memory and time of ``predict --windows`` and of
``featurize`` into a store, for one long recording.

    python benches/long_file_memory.py --hours 10 --checkpoint /tmp/j1run
    python benches/long_file_memory.py --minutes 10 --checkpoint /tmp/j1run

Writes a 16 kHz 16-bit WAV of speech-like noise (a syllable-rate envelope
with pauses over white noise; 115 MB per hour) into --tmp, then runs each
command under ``/usr/bin/time -v`` and prints its peak RSS (torch included)
and its time per audio hour. Without --checkpoint a tiny APCNN is trained
on the demo corpus first (about a minute)."""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

RATE = 16000


def write_recording(path: Path, seconds: float, seed: int = 0) -> None:
    """The recording, a minute at a time so that writing it takes no memory."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    with soundfile.SoundFile(path, "w", RATE, 1, "PCM_16") as f:
        for start in range(0, n, 60 * RATE):
            t = np.arange(start, min(start + 60 * RATE, n)) / RATE
            envelope = np.clip(np.sin(2 * np.pi * 3.1 * t) + 0.3 * np.sin(2 * np.pi * 0.37 * t), 0, None)
            f.write(0.3 * envelope * rng.standard_normal(len(t)))


def measured(command: list[str]) -> tuple[float, float]:
    """Peak RSS in MB and wall seconds of ``command`` under /usr/bin/time -v."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return rss_kb / 1024, wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=0.0)
    p.add_argument("--minutes", type=float, default=0.0)
    p.add_argument("--checkpoint", type=Path, default=None, help="run directory or .pt (default: train one)")
    p.add_argument("--tmp", type=Path, default=Path("/tmp/glam_long"), help="where the recording goes")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--skip-featurize", action="store_true")
    args = p.parse_args(argv)
    seconds = args.hours * 3600 + args.minutes * 60
    if seconds <= 0:
        p.error("give --hours or --minutes")
    args.tmp.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = args.tmp / "run"
        if not (checkpoint / "models").is_dir():
            subprocess.run(
                [
                    python,
                    "-m",
                    "glam_py.train",
                    "--models",
                    "apcnn",
                    "--epochs",
                    "1",
                    "--out",
                    str(checkpoint),
                    "--quiet",
                    "--no-report",
                ],
                check=True,
            )
    wav = args.tmp / f"speech_{seconds:g}s.wav"
    if not wav.exists():
        write_recording(wav, seconds)
    hours = seconds / 3600
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    timeline = args.tmp / "timeline.csv"
    rss, wall = measured(
        [
            python,
            "-m",
            "glam_py.predict",
            "--checkpoint",
            str(checkpoint),
            "--windows",
            "--out",
            str(timeline),
            "--quiet",
            *threads,
            str(wav),
        ]
    )
    with timeline.open() as f:
        rows = sum(1 for _ in csv.reader(f)) - 2  # header and the utterance row
    print(
        f"predict --windows: {hours:g} h audio, {rows} window rows, peak RSS {rss:.0f} MB, "
        f"{wall:.1f} s ({wall / hours:.1f} s per audio hour)"
    )
    if not args.skip_featurize:
        manifest = args.tmp / "manifest.csv"
        manifest.write_text(f"path,label\n{wav.name},neutral\n")
        store = args.tmp / "store"
        shutil.rmtree(store, ignore_errors=True)
        rss, wall = measured(
            [
                python,
                "-m",
                "glam_py.featurize",
                "--corpus",
                "csv",
                "--root",
                str(args.tmp),
                "--manifest",
                str(manifest),
                "--out",
                str(store),
                *threads,
            ]
        )
        print(
            f"featurize --out: {hours:g} h audio, store of "
            f"{sum(f.stat().st_size for f in store.glob('shard_*.npy')) / 1e6:.0f} MB, peak RSS {rss:.0f} MB, "
            f"{wall:.1f} s ({wall / hours:.1f} s per audio hour)"
        )
        shutil.rmtree(store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
