"""A 100-hour corpus (issue 26): 1, 10 and 100 hours of speech-like audio,
given once as long recordings with a manifest of segments and once as many
short files, each featurised (``python -m glam_py.featurize --out``), then
GLAM trained for one epoch from the store (``python -m glam_py.train
--store``), measuring how time, memory and disk grow with the corpus.

    .venv/bin/python -m benches.hundred_hours --hours 1 10 100 --generate-only   # the audio, once
    .venv/bin/python -m benches.hundred_hours --hours 1 10 100 --train-timeout 25 --json FILE

The audio is generated once into ``--data`` (default data/hundred_hours,
git-ignored) and reused, each size taking the smaller ones' files and more:

- ``long/rec_NNN.wav``: one-hour 16 kHz 16-bit mono recordings of
  speech-like noise (:func:`benches.segments_speed.write_recording`), each
  cut into consecutive segments of 2 to 4 s with pauses of 0.1 to 0.5 s
  between them (91% of a recording); ``long/manifest_<H>h.csv``
  (``path,label,speaker,start,end``: four labels, four speakers a
  recording) lists the first segments that together last H hours;
- ``short/rNNN/sNNNNN.wav``: the same segments cut into files, with
  ``short/manifest_<H>h.csv`` (``path,label,speaker``).

The two layouts so hold the same audio and give the same windows; 100 hours
take 12.8 GB as recordings and 11.6 GB as files. For each size, smallest
first: each layout's ``featurize --out`` (wall time, audio hours per second
of wall time, peak memory, megabytes read from storage rather than the page
cache, the store's size on disk), then one epoch of ``train --store`` on the
recordings' store (the files' store holds the same windows): one random
80/20 split, GLAM, the paper preset on the store's own windows
(``--train-overlap-s 1.6``), one worker, so one process holds it all.
Memory is sampled from /proc every 50 ms, summed over the process and its
children: the peak resident memory (VmRSS) and its private part (RssAnon;
the rest is file-backed, mostly torch's libraries), with a trace every 30
s. The stores and run
folders go to ``--work`` and are removed after each size.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benches.benchutil import sampled
from benches.segments_speed import LABELS, RATE, write_recording
from glam_py.rundir import RunDir
from glam_py.store import FeatureStore

RECORDING_S = 3600.0
SPEAKERS_PER_RECORDING = 4
# Seconds in an hour: audio hours per second times this is the x real time.
HOUR_S = 3600.0


def segments(recording: int) -> list[tuple[float, float, str, str]]:
    """``(start, end, label, speaker)`` of every segment of a recording:
    consecutive segments of 2 to 4 s after pauses of 0.1 to 0.5 s, to the
    recording's end; labels drawn at random, speakers taking turns among
    the recording's four (of 40 in all)."""
    rng = np.random.default_rng(1000 + recording)
    out, t, j = [], 0.0, 0
    while True:
        start = round(t + rng.uniform(0.1, 0.5), 3)
        end = round(start + rng.uniform(2.0, 4.0), 3)
        if end > RECORDING_S:
            return out
        speaker = (recording * SPEAKERS_PER_RECORDING + j % SPEAKERS_PER_RECORDING) % 40
        out.append((start, end, LABELS[rng.integers(len(LABELS))], f"spk{speaker:02d}"))
        t, j = end, j + 1


def plan(hours: float) -> list[tuple[int, int, float, float, str, str]]:
    """The first segments, recording after recording, that together last
    ``hours``: ``(recording, segment, start, end, label, speaker)``."""
    rows, total, k = [], 0.0, 0
    while total < hours * HOUR_S:
        for j, (start, end, label, speaker) in enumerate(segments(k)):
            rows.append((k, j, start, end, label, speaker))
            total += end - start
            if total >= hours * HOUR_S:
                break
        k += 1
    return rows


def recording_name(k: int) -> str:
    return f"rec_{k:03d}.wav"


def file_name(k: int, j: int) -> str:
    return f"r{k:03d}/s{j:05d}.wav"


def cut(recording: Path, k: int, folder: Path) -> None:
    """Every segment of recording ``k`` into its own WAV file under
    ``folder``, marked done by a ``.done`` file beside them (so an
    interrupted cut is redone)."""
    done = (folder / file_name(k, 0)).parent / ".done"
    if done.is_file():
        return
    done.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(recording) as f:
        for j, (start, end, _, _) in enumerate(segments(k)):
            # The frames the reader cuts at: nearest, halves away from zero.
            first, last = (int(np.floor(t * RATE + 0.5)) for t in (start, end))
            f.seek(first)
            sf.write(folder / file_name(k, j), f.read(last - first, dtype="int16"), RATE, subtype="PCM_16")
    done.touch()


def write_csv(path: Path, header: list[str], rows) -> None:
    part = path.with_suffix(".part")
    with part.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    part.rename(path)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def prepare(data: Path, hours: float) -> tuple[Path, Path]:
    """The recordings, the short files and both manifests for ``hours``
    under ``data`` (what exists is reused); returns the recordings' and the
    files' manifests."""
    long, short = data / "long", data / "short"
    long_csv, short_csv = long / f"manifest_{hours:g}h.csv", short / f"manifest_{hours:g}h.csv"
    if long_csv.is_file() and short_csv.is_file():
        return long_csv, short_csv
    rows = plan(hours)
    long.mkdir(parents=True, exist_ok=True)
    for k in range(rows[-1][0] + 1):
        recording = long / recording_name(k)
        if not recording.is_file():
            print(f"writing {recording}", file=sys.stderr, flush=True)
            write_recording(recording, RECORDING_S, seed=k)
        cut(recording, k, short)
    write_csv(
        long_csv,
        ["path", "label", "speaker", "start", "end"],
        ([recording_name(k), label, speaker, start, end] for k, _, start, end, label, speaker in rows),
    )
    write_csv(
        short_csv,
        ["path", "label", "speaker"],
        ([file_name(k, j), label, speaker] for k, j, _, _, label, speaker in rows),
    )
    return long_csv, short_csv


def disk_mb(folder: Path) -> float:
    """Megabytes the files under ``folder`` take on disk (allocated blocks)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 1e6


def featurize(manifest: Path, out: Path, threads: int) -> dict:
    """``featurize --out`` on ``manifest`` (:func:`benches.benchutil.sampled`),
    with the store's windows and size on disk."""
    shutil.rmtree(out, ignore_errors=True)
    result = sampled(
        [sys.executable, "-m", "glam_py.featurize", "--corpus", "csv", "--root", str(manifest.parent)]
        + ["--manifest", str(manifest), "--out", str(out), "--threads", str(threads), "--quiet"],
        every_s=0.05,
        tree=True,
    )
    store = FeatureStore(out)
    return {**result, "utterances": len(store), "windows": store.n_windows, "store_mb": disk_mb(out)}


def train(store: Path, out: Path, threads: int, timeout_s: float | None) -> dict:
    """One epoch of GLAM on one random 80/20 split of ``store``, with the
    training windows and their rate (the epoch's training steps alone, as
    the run records it) unless stopped at ``timeout_s``."""
    shutil.rmtree(out, ignore_errors=True)
    result = sampled(
        [sys.executable, "-m", "glam_py.train", "--store", str(store), "--models", "glam"]
        + ["--preset", "paper", "--protocol", "random", "--repeats", "1", "--epochs", "1"]
        # The store's own windows: the paper's 1 s training overlap would be
        # a variant of its own (featurize --preset paper), twice the windows.
        + ["--train-overlap-s", "1.6"]
        + ["--threads", str(threads), "--workers", "1", "--out", str(out), "--quiet", "--no-report"],
        every_s=0.05,
        tree=True,
        timeout_s=timeout_s,
        trace_every_s=30.0,
    )
    if result["stopped"]:
        return {**result, "train_windows": None, "windows_per_s": None}
    run = RunDir(out)
    (training,) = run.split_results()
    split = run.read_split(training.key, training.split)
    return {
        **result,
        "train_windows": split["train_windows"],
        "windows_per_s": split["history"][0]["windows_per_s"],
    }


def machine() -> str:
    """The CPU, its cores and the load when this is called."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, load average {load}"


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(rows: list[dict]) -> str:
    lines = [
        "| hours | layout | files | windows | featurize wall s (CPU s) | audio h/s | x real time "
        "| featurize peak RSS MiB | read from disk MB | store MB | train windows | train windows/s "
        "| train wall s | train peak RSS MiB (private) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, t = r["featurize"], r.get("train")
        trained = "| - | - | - | - |"
        if t is not None:
            rate = "-" if t["windows_per_s"] is None else f"{t['windows_per_s']:.0f}"
            windows = "-" if t["train_windows"] is None else f"{t['train_windows']:,}"
            wall = f"{t['wall_s']:.0f}" + (" (stopped)" if t["stopped"] else "")
            trained = f"| {windows} | {rate} | {wall} | {mib(t['VmRSS'])} ({mib(t['RssAnon'])}) |"
        per_s = r["audio_h"] / f["wall_s"]
        lines.append(
            f"| {r['audio_h']:.2f} | {r['layout']} | {r['files']:,} | {f['windows']:,} "
            f"| {f['wall_s']:.1f} ({f['cpu_s']:.1f}) "
            f"| {per_s:.2f} | {per_s * HOUR_S:,.0f} | {mib(f['VmRSS'])} | {f['read_mb']:,.0f} "
            f"| {f['store_mb']:,.0f} {trained}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hours", type=float, nargs="+", default=[1.0, 10.0, 100.0], help="corpus sizes (default 1 10 100)."
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/hundred_hours"),
        help="where the audio is generated and kept (default data/hundred_hours).",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="where the stores and training runs go, removed after each size (default DATA/work).",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="featurising and training threads (default 2)."
    )
    parser.add_argument(
        "--train-timeout",
        type=float,
        default=None,
        metavar="MIN",
        help="stop a training that runs longer than this many minutes; its row then gives the memory "
        "up to the stop and no rate (default: no limit).",
    )
    parser.add_argument("--generate-only", action="store_true", help="generate the audio, measure nothing.")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file.")
    args = parser.parse_args(argv)
    if any(h <= 0 for h in args.hours):
        parser.error("--hours: sizes must be above 0")
    if args.threads < 1:
        parser.error("--threads: at least 1")
    if args.train_timeout is not None and args.train_timeout <= 0:
        parser.error("--train-timeout: above 0 minutes")
    work = args.work or args.data / "work"
    sizes = sorted(args.hours)
    manifests = {hours: prepare(args.data, hours) for hours in sizes}
    if args.generate_only:
        return 0
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "threads": args.threads, "rows": []}
    for hours in sizes:
        long_csv, short_csv = manifests[hours]
        audio_h = sum(float(r["end"]) - float(r["start"]) for r in read_csv(long_csv)) / HOUR_S
        stores = {"recordings": work / "store_long", "files": work / "store_short"}
        for layout, manifest in (("recordings", long_csv), ("files", short_csv)):
            row = {
                "hours": hours,
                "audio_h": audio_h,
                "layout": layout,
                "files": len({r["path"] for r in read_csv(manifest)}),
                "featurize": featurize(manifest, stores[layout], args.threads),
            }
            report["rows"].append(row)
            print(f"{hours:g} h, {layout}: featurised", file=sys.stderr, flush=True)
        shutil.rmtree(stores["files"])
        timeout = None if args.train_timeout is None else args.train_timeout * 60
        report["rows"][-2]["train"] = train(stores["recordings"], work / "run", args.threads, timeout)
        print(f"{hours:g} h: trained", file=sys.stderr, flush=True)
        shutil.rmtree(stores["recordings"])
        shutil.rmtree(work / "run")
        if args.json is not None:  # after each size, so that a stopped run keeps the sizes done
            args.json.write_text(json.dumps(report, indent=1) + "\n")
    report["machine_after"] = machine()
    print(f"{report['date']}, {report['machine']} at the start ({report['machine_after']} at the end)")
    print(table(report["rows"]))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
