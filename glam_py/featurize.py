"""``python -m glam_py.featurize``: featurise a corpus with the Rust frontend.

With ``--out DIR`` it writes a resumable feature store (see
:mod:`glam_py.store`); without, it prints what the corpus gives. With no
arguments it generates the built-in synthetic demo corpus (no download) and
featurises it.

Several machines: ``--shard K/N`` (or torchrun's RANK/WORLD_SIZE, or a SLURM
array's SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT) writes every N-th shard;
into one shared folder the parts complete the store by themselves, into
separate folders ``--merge PART_DIR ... --out DIR`` joins them."""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from glam_py import corpora, features
from glam_py.cli import (add_corpus_flags, add_feature_flags, add_threads_flag, corpus_root,
                         feature_config_from, label_map)
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.features import FeatureConfig
from glam_py.lock import LockedError, writing
from glam_py.store import FeatureStore, StoreMismatch, UnsupportedFormat, merge, verify_store, write_store


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m glam_py.featurize",
        description="Featurise a corpus (decode, resample, cut windows, MFCC) with the "
        "Rust frontend and print a summary.",
    )
    add_corpus_flags(p)
    add_threads_flag(p, "featurising")
    add_feature_flags(p.add_argument_group("features"), FeatureConfig())
    p.add_argument("--files-per-chunk", type=int, default=64,
                   help="without --out: files featurised per streamed chunk; bounds memory "
                   "(default 64).")
    p.add_argument("--out", type=Path, default=None,
                   help="write a feature store into this folder (resumable: run the same "
                   "command again after an interruption).")
    p.add_argument("--files-per-shard", type=int, default=256,
                   help="with --out: files per shard; one shard is the unit of resuming and "
                   "bounds memory (default 256).")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="with --out: write only part K of N (0-based) of the shards; default "
                   "from RANK/WORLD_SIZE (torchrun) or SLURM_ARRAY_TASK_ID/"
                   "SLURM_ARRAY_TASK_COUNT, else 0/1.")
    p.add_argument("--max-shards", type=int, default=None,
                   help="with --out: stop after writing this many new shards (time-limited jobs).")
    p.add_argument("--merge", type=Path, nargs="+", default=None, metavar="PART_DIR",
                   help="join stores written by --shard parts in separate folders into --out.")
    p.add_argument("--verify", type=Path, default=None, metavar="STORE",
                   help="check every shard of this store against the sizes and SHA-256 recorded "
                   "when it was written; prints each damaged file, exit 1 when any.")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero when any file could not be read (they are always "
                   "reported in skipped.csv).")
    return p


def part_from(args_shard: str | None, env: dict[str, str]) -> tuple[int, int]:
    """K/N from the flag, else from torchrun or a SLURM array, else 0/1."""
    if args_shard:
        k, _, n = args_shard.partition("/")
        return int(k), int(n)
    if "WORLD_SIZE" in env and "RANK" in env:
        return int(env["RANK"]), int(env["WORLD_SIZE"])
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        return int(env["SLURM_ARRAY_TASK_ID"]) - first, int(env["SLURM_ARRAY_TASK_COUNT"])
    return 0, 1


def write(args: argparse.Namespace, cfg: FeatureConfig, corpus: corpora.Corpus) -> int:
    utterances = corpus.utterances
    part = part_from(args.shard, dict(os.environ))
    start = time.perf_counter()
    seconds = 0.0
    n_mine = sum(len(utterances[k:k + args.files_per_shard])
                 for k in range(part[0] * args.files_per_shard, len(utterances),
                                part[1] * args.files_per_shard))
    with tqdm(total=n_mine, unit="file", desc=f"featurising part {part[0]}/{part[1]}") as bar:
        def progress(batch):
            nonlocal seconds
            seconds += sum(f.duration_s for f in batch.files)
            bar.update(len(batch.files))
            bar.set_postfix(audio_h_per_s=f"{seconds / 3600 / (time.perf_counter() - start):.3f}")

        try:
            report = write_store(args.out, utterances, cfg, left_out=corpus.left_out,
                                 files_per_shard=args.files_per_shard, part=part,
                                 threads=args.threads, max_shards=args.max_shards,
                                 classes=corpus.classes, on_shard=progress)
        except StoreMismatch as e:
            raise SystemExit(f"error: {e}")
    if report.shards_written == 0 and report.complete:
        print(f"{args.out}: the store is complete; nothing to do")
    else:
        print(f"{args.out}: wrote {report.shards_written} shards ({report.shards_already_done} "
              f"were already there) of {report.shards_total}; "
              f"{'complete' if report.complete else 'not complete yet'}")
    print(f"{len(utterances)} files to featurise ({len(corpus.left_out)} left out before); this run: "
          f"{report.failed_files} unreadable, {report.too_short} shorter than a window "
          f"({cfg.pad}); every skipped file and why: {args.out}/skipped.csv once complete")
    if report.complete:
        print(FeatureStore(args.out).skipped_summary() or f"left out: none of {len(utterances)} utterances")
    return 1 if args.strict and report.failed_files else 0


def verify(store: Path) -> int:
    """``--verify STORE``: one line per damaged file, 1 when any."""
    try:
        problems = verify_store(store)
    except (FileNotFoundError, UnsupportedFormat) as e:
        raise SystemExit(f"error: {e}")
    for problem in problems:
        print(problem)
    print(f"{store}: {len(problems)} damaged files" if problems else f"{store}: every shard intact")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verify:
        return verify(args.verify)
    if args.merge and args.out is None:
        raise SystemExit("--merge needs --out DIR")
    if args.out is None:
        return _featurize(args)
    k, n = part_from(args.shard, dict(os.environ))
    try:
        # Before any work, held to the end: one writer of the store, or of
        # this part of it (other parts proceed alongside).
        with writing(args.out, "feature store", part=(k, n) if n > 1 and not args.merge else None):
            return _featurize(args)
    except (LockedError, OSError) as e:  # a full disk included (WriteFailed)
        raise SystemExit(f"error: {e}")


def _featurize(args: argparse.Namespace) -> int:
    if args.merge:
        complete = merge(args.out, args.merge)
        print(f"{args.out}: merged {len(args.merge)} parts; {'complete' if complete else 'shards still missing'}")
        return 0 if complete else 1
    try:
        cfg = feature_config_from(args, FeatureConfig())
        root = corpus_root(args)
        if args.corpus == "demo":
            print(f"demo corpus: {root} (generated if missing)")
            generate_demo_corpus(root, progress=True)
        corpus = corpora.load(args.corpus, root, subset=args.subset, manifest=args.manifest,
                              labels=label_map(args), iemocap_happy=args.iemocap_happy)
    except ValueError as e:  # LayoutError included
        raise SystemExit(f"error: {e}")
    if corpus.left_out:
        print(f"left out before featurising: {len(corpus.left_out)} files (label not in the map, "
              f"name not in the corpus convention, missing audio)")
    if args.out is not None:
        return write(args, cfg, corpus)
    utterances = corpus.utterances
    paths = [u.path for u in utterances]
    windows_per_label: collections.Counter[str] = collections.Counter()
    n_windows = 0
    seconds = 0.0
    errors: list[features.FileError] = []
    notes = 0
    start = time.perf_counter()
    with tqdm(total=len(paths), unit="file", desc="featurising") as bar:
        for batch in features.iter_featurize(paths, cfg, args.threads, args.files_per_chunk):
            n_windows += len(batch)
            for f, info in enumerate(batch.files, start=batch.first_file):
                windows_per_label[utterances[f].label] += info.n_windows
            done = [f for f in batch.files if f.error is None]
            seconds += sum(f.duration_s for f in done)
            notes += sum(f.note is not None for f in done)
            errors.extend(batch.errors)
            bar.update(len(batch.files))
            bar.set_postfix(audio_h=f"{seconds / 3600:.3f}")
    elapsed = time.perf_counter() - start
    print(f"files: {len(paths)} ({len(paths) - len(errors)} read, {len(errors)} unreadable)")
    print(f"audio: {seconds / 60:.1f} min in {elapsed:.2f} s "
          f"({seconds / 3600 / elapsed:.3f} audio hours per second)")
    print(f"windows: {n_windows} of shape {cfg.n_features} x {cfg.n_frames} "
          f"({cfg.window_s} s, overlap {cfg.overlap_s} s); "
          f"{notes} utterances shorter than a window ({cfg.pad})")
    for label in corpus.classes:
        print(f"  {label:>10}: {windows_per_label[label]} windows")
    for e in errors:
        print(f"skipped {e.path}: {e.message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
