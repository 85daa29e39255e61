"""Segments of one long recording against the same segments cut into WAV
files: ``python -m glam_py.featurize --out`` on a manifest of
``path,label,start,end`` rows into one recording, and on a manifest of the
cut files, run in turn (``--rounds`` times each, alternating, so a shared
machine's swings hit both alike), each command's wall time and peak
resident memory (VmRSS sampled every 20 ms) measured.

    .venv/bin/python -m benches.segments_speed                       # 10 h, 10,000 segments
    .venv/bin/python -m benches.segments_speed --hours 1 --segments 1000

The recording (16 kHz 16-bit mono speech-like noise: syllable-rate bursts
with pauses, 115 MB per hour), its segments (one in each equal slot of the
recording: a random start in the slot's first 0.5 s, 1.5 to 3 s long, so
about 2.25 s of speech per 3.6 s slot at the defaults) and the cut files are
generated once and kept in ``--data`` (default ``data/segments_bench``,
git-ignored); cutting is not timed.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from benches.benchutil import sampled

RATE = 16000
LABELS = ("neutral", "happy", "sad", "angry")


def write_recording(path: Path, seconds: float, seed: int = 0) -> None:
    """The recording, a minute at a time so that writing it takes no memory.

    The samples are converted to 16-bit here and written a minute at a
    time: given floats, libsndfile converts and writes them 8 kB at a time,
    and the kernel then caches the file in small pages that it copies out
    about twice as slowly as the cut files' (measured: 30 against 13 us of
    system time per 72 kB read), which is the file's history, not the
    reader's."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    part = path.with_suffix(".part")
    with sf.SoundFile(part, "w", RATE, 1, "PCM_16", format="WAV") as f:
        for start in range(0, n, 60 * RATE):
            t = np.arange(start, min(start + 60 * RATE, n)) / RATE
            envelope = np.clip(np.sin(2 * np.pi * 3.1 * t) + 0.3 * np.sin(2 * np.pi * 0.37 * t), 0, None)
            y = 0.3 * envelope * rng.standard_normal(len(t))
            f.write(np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16))
    part.rename(path)


def segment_table(seconds: float, n: int, seed: int = 1) -> list[tuple[float, float]]:
    """One segment in each of ``n`` equal slots of the recording, starting
    in the slot's first 0.5 s and lasting 1.5 to 3 s (never past the slot,
    so no two overlap)."""
    rng = np.random.default_rng(seed)
    slot = seconds / n
    out = []
    for k in range(n):
        start = k * slot + rng.uniform(0, min(0.5, slot / 4))
        length = min(rng.uniform(1.5, 3.0), (k + 1) * slot - start)
        out.append((round(start, 3), round(start + length, 3)))
    return out


def prepare(data: Path, hours: float, n_segments: int) -> tuple[Path, Path]:
    """The recording, its segment manifest, the cut files and their
    manifest under ``data`` (made once, then reused); returns the two
    manifests."""
    root = data / f"{hours:g}h_{n_segments}"
    recording = root / "recording.wav"
    segments_csv, cut_csv = root / "segments.csv", root / "cut.csv"
    if cut_csv.is_file():
        return segments_csv, cut_csv
    root.mkdir(parents=True, exist_ok=True)
    seconds = hours * 3600
    if not recording.is_file():
        print(f"writing {recording} ({hours:g} h)", file=sys.stderr)
        write_recording(recording, seconds)
    table = segment_table(seconds, n_segments)
    with segments_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "start", "end"])
        for k, (start, end) in enumerate(table):
            writer.writerow([recording.name, LABELS[k % 4], start, end])
    print(f"cutting {n_segments} segments into files", file=sys.stderr)
    rows = []
    with sf.SoundFile(recording) as f:
        for k, (start, end) in enumerate(table):
            # The frames the reader cuts at: nearest, halves away from zero.
            first, last = (int(np.floor(t * RATE + 0.5)) for t in (start, end))
            f.seek(first)
            name = f"cut/{k // 1000:03d}/{k:06d}.wav"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / name, f.read(last - first, dtype="int16"), RATE, subtype="PCM_16")
            rows.append([name, LABELS[k % 4]])
    part = cut_csv.with_suffix(".part")
    with part.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        writer.writerows(rows)
    part.rename(cut_csv)
    return segments_csv, cut_csv


def featurize(manifest: Path, out: Path, threads: int) -> dict:
    """Wall seconds and peak memory of ``featurize --out`` on ``manifest``
    (:func:`benches.benchutil.sampled`), the store removed before and after."""
    shutil.rmtree(out, ignore_errors=True)
    try:
        return sampled(
            [
                sys.executable,
                "-m",
                "glam_py.featurize",
                "--corpus",
                "csv",
                "--root",
                str(manifest.parent),
                "--manifest",
                str(manifest),
                "--out",
                str(out),
                "--threads",
                str(threads),
                "--quiet",
            ]
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=10.0, help="length of the recording (default 10).")
    parser.add_argument("--segments", type=int, default=10000, help="segments in it (default 10000).")
    parser.add_argument("--threads", type=int, default=2, help="featurising threads (default 2).")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating (default 2).")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/segments_bench"),
        help="where the recording and the cut files are kept (default data/segments_bench).",
    )
    parser.add_argument(
        "--store", type=Path, default=Path("/tmp/glam_segments_bench_store"), help="scratch store folder."
    )
    args = parser.parse_args(argv)
    segments_csv, cut_csv = prepare(args.data, args.hours, args.segments)
    speech_h = (
        sum(float(r["end"]) - float(r["start"]) for r in csv.DictReader(segments_csv.open(newline=""))) / 3600
    )
    runs: dict[str, list[dict]] = {"segments": [], "cut files": []}
    for _ in range(args.rounds):
        for name, manifest in (("cut files", cut_csv), ("segments", segments_csv)):
            runs[name].append(featurize(manifest, args.store, args.threads))
    print(
        f"{args.segments} segments, {speech_h:.2f} h of speech in a {args.hours:g} h recording, "
        f"{args.threads} threads, {args.rounds} rounds"
    )
    print(
        "| input | wall s (each round) | CPU s (each round) | median audio h/s (wall) | peak RSS MiB (max) |"
    )
    print("|---|---|---|---|---|")
    for name, results in runs.items():
        walls, cpus = [r["wall_s"] for r in results], [r["cpu_s"] for r in results]
        print(
            f"| {name} | {', '.join(f'{w:.1f}' for w in walls)} | {', '.join(f'{c:.1f}' for c in cpus)} "
            f"| {speech_h / statistics.median(walls):.3f} | {max(r['VmRSS'] for r in results):.0f} |"
        )
    for key, what in (("wall_s", "wall"), ("cpu_s", "CPU")):
        ratio = statistics.median(r[key] for r in runs["cut files"]) / statistics.median(
            r[key] for r in runs["segments"]
        )
        print(f"segments against cut files, {what} time: {ratio:.2f}x as fast (above 1: segments faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
