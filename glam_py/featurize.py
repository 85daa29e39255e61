"""``python -m glam_py.featurize``: featurise a corpus with the Rust frontend.

With ``--out DIR`` it writes a resumable feature store (see
:mod:`glam_py.store`); without, it prints what the corpus gives. With no
arguments it generates the built-in synthetic demo corpus (no download) and
featurises it.

Several machines: ``--shard K/N`` (or torchrun's RANK/WORLD_SIZE, or a SLURM
array's SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT) writes every N-th shard;
into one shared folder the parts complete the store by themselves, into
separate folders ``--merge PART_DIR ... --out DIR`` joins them.

Training variants: ``--preset``, ``--train-overlap-s``, ``--speeds``,
``--augment`` and ``--augment-copies`` (train's flags) also write into the
store every set of training windows that ``python -m glam_py.train --store
DIR`` with the same flags trains on, each a store of its own in
DIR/variants/; running again with more writes only the missing ones."""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

from glam_py import cli, corpora, features
from glam_py.cli import (
    add_corpus_flags,
    add_feature_flags,
    add_quiet_flag,
    add_threads_flag,
    corpus_root,
    feature_config_from,
    plural,
    positive_int,
)
from glam_py.corpora import hf
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.errors import InputError, UsageError
from glam_py.features import FeatureConfig
from glam_py.lock import writing
from glam_py.progress import counter, interactive
from glam_py.store import WriteReport, left_out_summary, merge, variants, verify_store, write_store


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m glam_py.featurize", description=__doc__.replace("``", ""))
    add_corpus_flags(p)
    add_threads_flag(p, "featurising")
    add_feature_flags(
        p.add_argument_group("features"), FeatureConfig(), leave_out=cli.TRAINING_VARIANT_FIELDS
    )
    p.add_argument(
        "--files-per-chunk",
        type=positive_int,
        default=64,
        metavar="N",
        help="without --out: files featurised per chunk; bounds memory, with each long "
        "recording taken a chunk of windows at a time (default: 64).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write a feature store into this folder (resumable: run the same "
        "command again after an interruption).",
    )
    p.add_argument(
        "--files-per-shard",
        type=positive_int,
        default=256,
        metavar="N",
        help="with --out: files per shard; one shard is the unit of resuming and "
        "bounds memory (default: 256).",
    )
    p.add_argument(
        "--shard",
        type=cli.shard,
        default=None,
        metavar="K/N",
        help="with --out: write only part K of N (0-based) of the shards; default "
        "from RANK/WORLD_SIZE (torchrun) or SLURM_ARRAY_TASK_ID/"
        "SLURM_ARRAY_TASK_COUNT, else 0/1.",
    )
    p.add_argument(
        "--max-shards",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --out: stop after writing this many new shards (time-limited jobs).",
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar="PART_DIR",
        help="join stores written by --shard parts in separate folders into --out.",
    )
    p.add_argument(
        "--verify",
        type=Path,
        default=None,
        metavar="STORE",
        help="check every shard of this store against the sizes and SHA-256 recorded "
        "when it was written; prints each damaged file, exit 1 when any.",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when any file could not be read (they are always "
        "listed: in OUT/skipped.csv, or on stderr without --out).",
    )
    recipe = p.add_argument_group(
        "training variants (with --out)",
        "Given any of these, the store also gets the training windows that python -m glam_py.train "
        "--store OUT with the same flags trains on (the training overlap, the speeds, the augmented "
        "copies), each a store of its own in OUT/variants/; its own windows stay the test windows, "
        "never perturbed. The recipe is train's: its default preset with the flags given.",
    )
    cli.add_recipe_flags(recipe, "none: no training variants; with the other flags of this group, best", True)
    add_quiet_flag(p)
    return p


def part_from(args_shard: tuple[int, int] | None, env: dict[str, str]) -> tuple[int, int]:
    """K/N from the flag, else from torchrun or a SLURM array, else 0/1.

    Raises
    ------
    UsageError
        The environment gives no valid K/N (0 <= K < N).
    """
    if args_shard:
        return args_shard
    if "WORLD_SIZE" in env and "RANK" in env:
        names, values = "RANK/WORLD_SIZE", (env["RANK"], env["WORLD_SIZE"], "0")
    elif "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        names = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"
        values = (
            env["SLURM_ARRAY_TASK_ID"],
            env["SLURM_ARRAY_TASK_COUNT"],
            env.get("SLURM_ARRAY_TASK_MIN", "0"),
        )
    else:
        return 0, 1
    try:
        k, n, first = map(int, values)
    except ValueError:
        raise UsageError(f"{names} in the environment are not integers: {values[0]}/{values[1]}") from None
    if not 0 <= k - first < n:
        raise UsageError(
            f"{names} in the environment give part {k - first} of {n}; need 0 <= K < N (or pass --shard K/N)"
        )
    return k - first, n


def recipe_flags_given(args: argparse.Namespace) -> dict:
    """The training-variant flags the command line gave, by setting name
    (``preset`` included)."""
    # The settings' flags leave no attribute when not given; --preset and
    # --train-overlap-s leave None.
    names = ("preset", *cli.VARIANT_SETTINGS)
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def training_variants(args: argparse.Namespace, test: FeatureConfig) -> list[FeatureConfig]:
    """The settings of every training variant that ``train --store`` with
    the recipe flags needs (``TrainConfig.stored_features()`` but the test
    windows ``test``), for every model under its preset (the authors'
    presets differ by model).

    Raises
    ------
    UsageError
        The flags give invalid training settings; the message names them.
    """
    from glam_py.models import names
    from glam_py.train.config import DEFAULT_PRESET, preset

    values = recipe_flags_given(args)
    name = values.pop("preset", DEFAULT_PRESET)
    configs = []
    for model in names():
        try:
            cfg = preset(name, model).updated({**values, "features": test.to_dict()})
        except ValueError as e:
            raise UsageError(cli.with_flag_names(str(e), cli.VARIANT_SETTINGS)) from None
        configs += cfg.stored_features()
    return [c for c in dict.fromkeys(configs) if c != test]


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every argument, before any work (see :func:`glam_py.cli.parse`)."""
    recipe = recipe_flags_given(args)
    if recipe and (args.verify or args.merge or args.out is None):
        flag = cli.settings_argv({next(iter(recipe)): None})[0]
        if args.verify or args.merge:
            raise UsageError(
                f"{flag} does not apply with {'--verify' if args.verify else '--merge'}, which "
                f"{'checks' if args.verify else 'joins'} every variant the store has"
            )
        raise UsageError(f"{flag} applies only with --out DIR: it writes training variants into the store")
    if args.verify:
        if not args.verify.is_dir():
            raise InputError(f"--verify {args.verify}: no such folder")
        return
    if args.merge:
        if args.out is None:
            raise UsageError("--merge needs --out DIR")
        for part in args.merge:
            if not part.is_dir():
                raise InputError(f"--merge {part}: no such folder")
    else:
        args.features = feature_config_from(args, FeatureConfig())
        cli.check_corpus_flags(parser, args)
        args.variants = training_variants(args, args.features) if recipe else []
        if args.out is not None:
            args.part = part_from(args.shard, dict(os.environ))
            args.corpus_argv = corpus_flags(parser, args)
        else:
            for flag, dest in (("--shard", "shard"), ("--max-shards", "max_shards")):
                if getattr(args, dest) is not None:
                    raise UsageError(f"{flag} applies only with --out DIR")
    if args.out is not None:
        cli.check_output_dir(args.out, "--out")


def write(args: argparse.Namespace, cfg: FeatureConfig, corpus: corpora.Corpus) -> int:
    """The store's own (test) windows, then each training variant
    (``args.variants``) into its folder; each resumes what an earlier run
    left and a complete one is left as it is."""
    args.out.mkdir(parents=True, exist_ok=True)
    variants.record_corpus_argv(args.out, args.corpus_argv)
    max_shards = args.max_shards  # over the test windows and every variant
    reports = []
    for root, config, what in [
        (args.out, cfg, "test windows"),
        *((variants.variant_root(args.out, v), v, variants.describe(v)) for v in args.variants),
    ]:
        if max_shards == 0:
            print(f"{root}: {what}: not begun (--max-shards {args.max_shards} reached)")
            continue
        report = _write_one(args, root, config, corpus, max_shards)
        reports.append(report)
        if max_shards is not None:
            max_shards -= report.shards_written
        # Without variants, the lines of a store of test windows alone.
        name = f"{root}: {what}" if args.variants else str(root)
        if report.shards_written == 0 and report.complete:
            print(f"{name}: {'complete' if args.variants else 'the store is complete'}; nothing to do")
        else:
            print(
                f"{name}: wrote {plural(report.shards_written, 'shard')} ({report.shards_already_done} "
                f"{'was' if report.shards_already_done == 1 else 'were'} already there) of "
                f"{report.shards_total}; {'complete' if report.complete else 'not complete yet'}"
            )
    utterances = corpus.utterances
    # The same files in every store: counted per store, not summed over them.
    failed = max(r.failed_files for r in reports)
    print(
        f"{plural(len(utterances), 'file')} to featurise ({len(corpus.left_out)} left out before); "
        f"this run: {failed} unreadable, {max(r.too_short for r in reports)} shorter than a window "
        f"({cfg.pad}); every skipped file and why: {args.out}/skipped.csv once complete"
    )
    if reports[0].complete and not args.quiet:
        print(left_out_summary(args.out) or f"left out: none of {len(utterances)} utterances")
    if args.strict and failed:
        where = (
            f"{args.out}/skipped.csv"
            if reports[0].complete
            else f"{args.out}/shard_*.skipped.csv (skipped.csv once complete)"
        )
        raise InputError(f"{plural(failed, 'file')} could not be read (--strict); see {where}")
    return 0


def corpus_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The corpus flags of this command, paths made absolute, so that the
    command they are recorded for works from any folder."""
    argv = cli.corpus_argv(parser, args)
    for flag in ("--root", "--manifest"):
        if flag in argv:
            i = argv.index(flag) + 1
            argv[i] = str(Path(argv[i]).resolve())
    return argv


def _write_one(
    args: argparse.Namespace, root: Path, cfg: FeatureConfig, corpus: corpora.Corpus, max_shards: int | None
) -> WriteReport:
    utterances = corpus.utterances
    part = args.part
    start = time.perf_counter()
    seconds = 0.0
    n_mine = sum(
        len(utterances[k : k + args.files_per_shard])
        for k in range(part[0] * args.files_per_shard, len(utterances), part[1] * args.files_per_shard)
    )
    bar = counter(n_mine, f"featurising part {part[0]}/{part[1]}", "file", args.quiet)

    def progress(files):
        nonlocal seconds
        seconds += sum(f.duration_s for f in files)
        bar.set_postfix_str(f"{seconds / 3600 / (time.perf_counter() - start):.3f} audio h/s")
        bar.update(len(files))

    try:
        with cli.resumable():
            return write_store(
                root,
                utterances,
                cfg,
                left_out=corpus.left_out,
                files_per_shard=args.files_per_shard,
                part=part,
                threads=args.threads,
                max_shards=max_shards,
                classes=corpus.classes,
                on_shard=progress,
            )
    finally:
        bar.close()


def verify(store: Path) -> int:
    """``--verify STORE``: one line per damaged file, 1 when any."""
    problems = [p for root in (store, *variants.variant_roots(store)) for p in verify_store(root)]
    for problem in problems:
        print(problem)
    print(f"{store}: {plural(len(problems), 'damaged file')}" if problems else f"{store}: every shard intact")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = cli.parse(parser, argv, lambda a: check(parser, a))
    if args.verify:
        return verify(args.verify)
    if args.out is None:
        return _featurize(args)
    k, n = args.part if not args.merge else (0, 1)
    # Before any work, held to the end: one writer of the store, or of this
    # part of it (other parts proceed alongside).
    with writing(args.out, "feature store", part=(k, n) if n > 1 else None):
        return _featurize(args)


def _featurize(args: argparse.Namespace) -> int:
    if args.merge:
        complete = merge(args.out, args.merge)
        # Each training variant joined as its own store, from the parts that have it.
        names = dict.fromkeys(v.name for part in args.merge for v in variants.variant_roots(part))
        for name in names:
            sources = [part / variants.VARIANTS / name for part in args.merge]
            complete &= merge(args.out / variants.VARIANTS / name, [p for p in sources if p.is_dir()])
        print(
            f"{args.out}: merged {plural(len(args.merge), 'part')}; "
            f"{'complete' if complete else 'shards still missing'}"
        )
        return 0 if complete else 1
    cfg = args.features
    root = corpus_root(args)
    if args.corpus == "demo":
        if not args.quiet:
            print(f"demo corpus: {root} (generated if missing)")
        generate_demo_corpus(root, progress=not args.quiet and interactive())
    corpus = cli.load_corpus(args)
    if corpus.left_out and not args.quiet:
        print(
            f"left out before featurising: {plural(len(corpus.left_out), 'file')} (label not in "
            f"the map, name not in the corpus convention, missing audio)"
        )
    if args.out is not None:
        return write(args, cfg, corpus)
    utterances = corpus.utterances
    paths = [u.file for u in utterances]
    segments = [u.segment for u in utterances]
    windows_per_label: collections.Counter[str] = collections.Counter()
    n_windows = 0
    seconds = 0.0
    errors: list[tuple[str, str]] = []  # (path, problem)
    notes = 0
    start = time.perf_counter()
    bar = counter(len(paths), "featurising", "file", args.quiet)
    try:
        # Small files in parallel chunks, each long one alone a chunk of
        # windows at a time: memory stays flat however long a recording is.
        for long, run in features.split_long(paths, args.files_per_chunk, segments=segments):
            if long:
                chunks = features.iter_file_windows(
                    paths[run.start], cfg, args.threads, segment=segments[run.start]
                )
                counted = sum(len(chunk) for chunk in chunks)
                files = [chunks.info]
                n_windows += counted if chunks.info.error is None else 0
            else:
                mine = paths[run.start : run.stop]
                batch = features.featurize(
                    mine, cfg, args.threads, segments[run.start : run.stop], hf.audio_bytes(mine)
                )
                files = batch.files
                n_windows += len(batch)
            for f, info in enumerate(files, start=run.start):
                if info.error is not None:
                    errors.append((info.path, info.error))
                    continue
                windows_per_label[utterances[f].label] += info.n_windows
                seconds += info.duration_s
                notes += info.note is not None
            bar.set_postfix_str(f"{seconds / 3600:.3f} audio h")
            bar.update(len(files))
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    print(f"files: {len(paths)} ({len(paths) - len(errors)} read, {len(errors)} unreadable)")
    print(
        f"audio: {seconds / 60:.1f} min in {elapsed:.2f} s "
        f"({seconds / 3600 / elapsed:.3f} audio hours per second)"
    )
    print(
        f"windows: {n_windows} of shape {cfg.n_features} x {cfg.n_frames} "
        f"({cfg.window_s} s, overlap {cfg.overlap_s} s); "
        f"{plural(notes, 'utterance')} shorter than a window ({cfg.pad})"
    )
    for label in corpus.classes:
        print(f"  {label:>10}: {plural(windows_per_label[label], 'window')}")
    for path, problem in errors:
        # A file's read errors name it already; others get its path.
        print(f"skipped {problem if problem.startswith(path) else f'{path}: {problem}'}", file=sys.stderr)
    if args.strict and errors:
        raise InputError(f"{plural(len(errors), 'file')} could not be read (--strict); listed above")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
