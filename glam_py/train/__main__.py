"""``python -m glam_py.train``: train GLAM and the baselines under the
paper's protocol and write the results table.

With no arguments: GLAM on the built-in synthetic demo corpus with a short
protocol (one 80/20 split, 6 epochs at lr 5e-4 without mixup, training
windows overlapping by 1.6 s so the few epochs see enough steps), in about
a minute on 2 CPU cores.

Several processes or machines: ``torchrun --nproc-per-node 2 -m
glam_py.train ...`` (or ``--nnodes N --node-rank R --master-addr HOST``)
spreads the splits over the ranks (gloo on CPU, NCCL where CUDA is used);
with ``--ddp`` all ranks train each split together instead
(DistributedDataParallel), for one model on a large corpus. Rank 0 writes
the table. The run directory must be shared."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from glam_py import cli
from glam_py.cli import (
    TRAINING_VARIANT_FIELDS,
    add_corpus_flags,
    add_device_flag,
    add_feature_flags,
    add_quiet_flag,
    add_threads_flag,
    corpus_root,
    feature_flags_given,
    label_map,
    positive_float,
    positive_int,
)
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.errors import InputError, UsageError
from glam_py.features import FeatureConfig
from glam_py.lock import Job, writing
from glam_py.models import names as model_names
from glam_py.precision import CHOICES
from glam_py.precision import HELP as precision_help
from glam_py.progress import interactive
from glam_py.store import FeatureStore, variants
from glam_py.train import parallel
from glam_py.train.config import BEST, DEFAULT_PRESET, RunConfig, TrainConfig, load_overrides, preset
from glam_py.train.distributed import World
from glam_py.train.progress import for_output
from glam_py.train.run import CorpusSource, execute

DEMO_DEFAULTS = dict(repeats=1, epochs=6, lr=5e-4, alpha=0.0, train_overlap_s=1.6)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m glam_py.train", description=__doc__.replace("``", ""))
    src = p.add_argument_group("data")
    add_corpus_flags(src)
    src.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="train from this feature store (from python -m glam_py.featurize --out) "
        "instead of a corpus (no corpus flags then), exactly as from the corpus: its own "
        "windows are the test windows, and the training windows (the training overlap, "
        "--speeds, --augment) its own where the settings agree, else the training variants "
        "featurize --preset/--speeds/--augment wrote into it; a store lacking one is refused "
        "with the featurize command that adds it. The store's feature settings are used; "
        "feature flags or --config features that differ from them are refused, naming each "
        "difference.",
    )
    src.add_argument(
        "--cache",
        type=Path,
        default=Path("data/cache"),
        metavar="DIR",
        help="where featurised corpora are kept and reused (default: data/cache).",
    )
    feats = p.add_argument_group(
        "features (override the preset's; the defaults shown are the best preset's)",
        "The settings of the test windows; the training windows differ only in their overlap "
        "(--train-overlap-s).",
    )
    add_feature_flags(feats, BEST.features, leave_out=TRAINING_VARIANT_FIELDS)
    run = p.add_argument_group("protocol")
    run.add_argument(
        "--models",
        default="glam",
        help=f"comma-separated models to train: {', '.join(model_names())} (default: glam).",
    )
    run.add_argument(
        "--protocol",
        choices=["random", "speaker", "session", "corpus", "all"],
        default="random",
        help="random 80/20 splits, leave-one-speaker-out, leave-one-session-out, corpus: with "
        "several corpora (--corpus given once per corpus), each in turn tested after training on "
        "the others (leave one corpus out), or all: one training on every utterance (of every "
        "corpus) without a test split, the model to deploy once a recipe is evaluated "
        "(default: random).",
    )
    run.add_argument(
        "--test-corpus",
        default=None,
        metavar="NAME[,NAME...]",
        help="with --protocol corpus: test only these corpora, each after training on all the "
        "others (default: every corpus in turn); names as --corpus-name gives them.",
    )
    run.add_argument(
        "--repeats",
        type=positive_int,
        default=None,
        metavar="N",
        help="random splits, or with --protocol corpus trainings per test corpus (seeds --seed "
        "onwards), at least 1 (the paper: 100; default: 5 random splits, 1 per test corpus, "
        "1 for the demo).",
    )
    run.add_argument(
        "--seed", type=int, default=1, help="seed of the first split; split i uses seed+i (default: 1)."
    )
    run.add_argument(
        "--train-seed",
        type=int,
        default=None,
        help="seed of model initialisation, batch order and mixup, the same for every "
        "split (default: each split's own seed); vary it on a fixed split to measure "
        "run-to-run noise.",
    )
    run.add_argument("--stratify", action="store_true", help="stratify the random splits by class.")
    select = run.add_mutually_exclusive_group()
    select.add_argument(
        "--select",
        choices=["last", "val"],
        default=None,
        help="model selection: last epoch or best validation UA on a split carved "
        "from the training utterances (default: last).",
    )
    select.add_argument(
        "--select-on-test",
        action="store_true",
        help="the authors' optimistic selection: best epoch on the TEST split; tables say so in their title.",
    )
    hp = p.add_argument_group("training (override the preset)")
    hp.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"epochs, at least 1 (default: the preset's: best {BEST.epochs}, paper 50; demo: 6).",
    )
    hp.add_argument(
        "--alpha",
        type=cli.alphas,
        default=None,
        metavar="A[,A...]",
        help="mixup alpha (0: no mixup), or a comma-separated sweep such as "
        "0,0.3,0.5,0.8,1,2,3 (default: the preset's 0.5; demo: 0).",
    )
    hp.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help=f"learning rate (default: the preset's: best {BEST.lr:g}, paper 1e-4; demo: 5e-4).",
    )
    hp.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="batch size (default: the preset's 32).",
    )
    hp.add_argument(
        "--average",
        choices=["logits", "probabilities"],
        default=None,
        help="utterance prediction: mean of the windows' logits or probabilities (default: logits).",
    )
    # The recipe's optional ingredients (off in the paper and authors
    # presets; --preset best turns some on), their flags made from
    # TrainConfig's field metadata; featurize shares those that decide the
    # training windows.
    cli.add_recipe_flags(hp, f"{DEFAULT_PRESET}; the demo corpus: paper, with its short recipe", False)
    hp.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON file of training settings (TrainConfig fields, feature settings "
        'nested under "features") overriding the preset; flags override it.',
    )
    dev = p.add_argument_group("execution")
    add_threads_flag(dev, "torch and featurising")
    add_device_flag(dev)
    dev.add_argument("--precision", choices=CHOICES, default=None, help=precision_help)
    dev.add_argument(
        "--eval-every",
        type=positive_int,
        default=None,
        help="evaluate the test split every N epochs and after the last, for the "
        "curves of the report (default: 5; --select-on-test evaluates every epoch).",
    )
    dev.add_argument(
        "--ddp",
        action="store_true",
        help="under torchrun: every rank trains each split together "
        "(DistributedDataParallel, the global batch split over the ranks) instead "
        "of each rank training its own splits.",
    )
    dev.add_argument(
        "--parallel-splits",
        type=count_or_auto,
        default=1,
        metavar="K|auto",
        help="train K splits of a model at once as one batched network, each exactly "
        "as alone (not for aacnn and multiscale_aa, which use dropout); auto: 1 on the "
        "CPU (slower there: use --workers), on CUDA as many as half the free memory "
        "holds, up to 32 (default: 1).",
    )
    dev.add_argument(
        "--workers",
        type=count_or_auto,
        default="auto",
        metavar="N|auto",
        help="train N splits side by side in worker processes, the --threads shared among "
        "them (two 1-thread trainings outrun one 2-thread training on the CPU); auto: one "
        "per CPU thread, up to 8 and one per pending split; 1 on CUDA, under torchrun, "
        "and with --parallel-splits or --ddp (default: auto).",
    )
    dev.add_argument(
        "--out",
        type=Path,
        default=Path("runs/latest"),
        metavar="DIR",
        help="run directory; the same command resumes a killed run there (default: runs/latest).",
    )
    add_quiet_flag(dev)
    dev.add_argument(
        "--no-report",
        action="store_true",
        help="do not write the figures and report.md into OUT/report at the end "
        "(python -m glam_py.report OUT writes them later).",
    )
    return p


def count_or_auto(text: str) -> int | str:
    """A --parallel-splits or --workers value: a positive count or "auto"."""
    return text if text == "auto" else positive_int(text)


def overrides_from(args: argparse.Namespace, demo: bool, store_features: FeatureConfig | None = None) -> dict:
    """The TrainConfig values (TrainConfig.updated()) that --config, the
    demo's defaults and the flags put over the preset, later ones winning.

    With ``store_features`` (training from a store) the store's settings
    replace the preset's, and those asked for explicitly are kept so that
    the store check names any that the store does not hold.

    Raises
    ------
    InputError
        The --config file cannot be read, is not JSON, names a setting that
        does not exist or gives an invalid value.
    UsageError
        A flag gives an invalid value.
    """
    values = {}
    if args.config:
        try:
            values = load_overrides(str(args.config))
        except FileNotFoundError:
            raise InputError(f"--config {args.config}: no such file") from None
        except OSError as e:
            raise InputError(f"--config {args.config}: {e.strerror.lower()}") from None
        except json.JSONDecodeError as e:
            raise InputError(f"--config {args.config}: not valid JSON ({e})") from None
        except (TypeError, ValueError) as e:
            raise InputError(f"--config {args.config}: {e}") from None
    if demo:
        values.update({k: v for k, v in DEMO_DEFAULTS.items() if k != "repeats"})
    for flag in [
        "epochs",
        "lr",
        "batch_size",
        "train_overlap_s",
        "average",
        "select",
        "train_seed",
        "precision",
        "eval_every",
    ]:
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    values.update(cli.settings_flags_given(args, TrainConfig.recipe_fields()))
    given = {**values.get("features", {}), **feature_flags_given(args)}
    if store_features is not None:
        values["features"] = {**store_features.to_dict(), **given}
    elif given:
        values["features"] = given
    if args.select_on_test:
        values["select"] = "test"
    if args.alpha is not None and len(args.alpha) == 1:
        values["alpha"] = args.alpha[0]
    try:
        TrainConfig().updated(values)
    except ValueError as e:
        recipe = tuple(f.name for f in TrainConfig.recipe_fields())
        raise UsageError(
            cli.with_flag_names(str(e), recipe) + (f" (with --config {args.config})" if args.config else "")
        ) from None
    return values


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every argument, before any work (see :func:`glam_py.cli.parse`):
    leaves the run's settings in ``args.run`` and its corpora (or store)
    in ``args.sources``."""
    unknown = [m for m in args.models.split(",") if m not in model_names()]
    if unknown:
        raise UsageError(f"--models: unknown model {unknown[0]!r}; choose from {', '.join(model_names())}")
    if args.workers not in ("auto", 1):
        if args.ddp or args.parallel_splits != 1:
            raise UsageError(
                f"--workers {args.workers} excludes {'--ddp' if args.ddp else '--parallel-splits'}: "
                f"each worker trains its own splits in its own process"
            )
    if args.parallel_splits != 1:
        if args.ddp:
            raise UsageError(
                "--parallel-splits and --ddp exclude each other: --ddp trains one split "
                "on every rank, --parallel-splits several splits in one process"
            )
    if args.protocol == "all":
        # Test-split settings: refused rather than silently meaningless.
        for flag, given, why in (
            ("--repeats", (args.repeats or 1) > 1, "trains one model; --seed sets its seed"),
            ("--stratify", args.stratify, "draws no test split to stratify"),
            ("--eval-every", args.eval_every is not None, "has no test split to evaluate"),
        ):
            if given:
                raise UsageError(f"{flag} does not apply with --protocol all, which {why}")
    # Feature flags first, so that a mistake is named as the flag.
    cli.feature_config_from(args, BEST.features)
    demo = args.corpus == "demo" and args.store is None
    store_features = None
    if args.store is not None:
        given = cli.corpus_flags_given(parser, args)
        if given:
            raise UsageError(f"--store replaces the corpus; {given[0]} does not apply with it")
        try:
            store_features = FeatureStore(args.store).config
        except FileNotFoundError:
            raise InputError(
                f"--store {args.store}: not a feature store (no features.json; "
                f"python -m glam_py.featurize --out writes one)"
            ) from None
        except ValueError as e:  # another format version, or shards still missing
            raise InputError(f"--store: {e}") from None
        sources = [CorpusSource("store", store=args.store)]
    else:
        sources = corpus_sources(parser, args, demo)
    check_protocol(args, sources)
    overrides = overrides_from(args, demo, store_features)
    try:
        args.run = RunConfig(
            models=tuple(args.models.split(",")),
            preset=args.preset or ("paper" if demo else DEFAULT_PRESET),
            protocol=args.protocol,
            test_corpora=tuple(args.test_corpus.split(",")) if args.test_corpus else (),
            # --protocol all has one split whatever the count; 1 is what config.json then says.
            repeats=1
            if args.protocol == "all"
            else args.repeats or (DEMO_DEFAULTS["repeats"] if demo or args.protocol == "corpus" else 5),
            seed=args.seed,
            stratify=args.stratify,
            alphas=args.alpha if args.alpha and len(args.alpha) > 1 else (),
            overrides=overrides,
            threads=args.threads,
            device=args.device or cli.default_device(),
            ddp=args.ddp,
            parallel_splits=args.parallel_splits,
            workers=args.workers,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.parallel_splits != 1:
        for model in args.run.models:
            problem = parallel.refusal(model, args.run.train_config(model))
            if problem:
                raise UsageError(problem)
    if args.store is not None:
        check_store_variants(args.store, store_features, args.run)
    args.sources, args.demo = sources, demo
    cli.check_output_dir(args.out, "--out")
    cli.check_output_dir(args.cache, "--cache")


def check_store_variants(store: Path, features: FeatureConfig, run: RunConfig) -> None:
    """The store holds every set of windows the run's recipe trains on:
    its own windows at the training overlap, or its variants
    (:mod:`glam_py.store.variants`), as training from the corpus would
    featurise them.

    Raises
    ------
    InputError
        One line naming the first missing variant (and how many more) and
        the featurize command that adds them to the store.
    """
    cfg = run.train_config(run.models[0])
    if cfg.features != features:
        return  # opening the store names each difference (run.stores_for)
    missing = variants.missing(store, features, cfg.stored_features())
    if not missing:
        return
    more = f" and {cli.plural(len(missing) - 1, 'more variant')}" if len(missing) > 1 else ""
    own = (
        f"; or train on the store's own windows with --train-overlap-s {features.overlap_s:g}"
        if missing == [cfg.train_features()]
        else ""
    )
    raise InputError(
        f"--store {store} lacks {variants.describe(missing[0])}{more}, which --preset {run.preset} trains "
        f"on; add {'them' if more else 'it'} with: {featurize_command(store, features, run)}{own}"
    )


def featurize_command(store: Path, features: FeatureConfig, run: RunConfig) -> str:
    """The featurize command that adds the run's training variants to the
    store: the corpus flags that wrote it (recorded by featurize), its
    feature settings as flags, and the recipe's flags that decide the
    training windows where they differ from its preset's."""
    cfg = run.train_config(run.models[0])
    base = preset(run.preset, run.models[0])
    recipe = cli.settings_argv(
        {
            name: getattr(cfg, name)
            for name in cli.VARIANT_SETTINGS
            if getattr(cfg, name) != getattr(base, name)
        }
    )
    return shlex.join(
        [
            "python",
            "-m",
            "glam_py.featurize",
            *(variants.corpus_argv(store) or ["--corpus", "CORPUS", "--root", "ROOT"]),
            *cli.settings_argv(
                {name: new for name, (new, _) in features.differences(FeatureConfig()).items()}
            ),
            "--out",
            str(store),
            "--preset",
            run.preset,
            *recipe,
        ]
    )


def corpus_sources(
    parser: argparse.ArgumentParser, args: argparse.Namespace, demo: bool
) -> list[CorpusSource]:
    """The corpora the flags name (one, or several when --corpus is given
    more than once), checked and read before any work.

    Raises
    ------
    UsageError, InputError
        A corpus's flags are wrong, it gives no utterance, or a corpus has
        a class the first corpus's classes (shared by all) lack.
    """
    several = len(getattr(args, "corpus_groups", None) or ()) > 1
    spaces = cli.check_several_corpora(parser, args) if several else [args]
    if not several:
        cli.check_corpus_flags(parser, args)
    sources, first = [], None
    for ns in spaces:
        if not demo:  # read now, so that a corpus that gives nothing fails before any work
            corpus = cli.load_corpus(ns)
            if first is None:
                first = (cli.corpus_name(ns), corpus.classes)
            extra = [c for c in corpus.classes if c not in first[1]]
            if extra:
                raise UsageError(
                    f"--corpus {ns.corpus} ({cli.corpus_name(ns)}) has the class {extra[0]!r}, which the "
                    f"first corpus ({first[0]}: {', '.join(first[1])}) lacks: the first corpus's classes are "
                    f"shared, so map it onto one of them with that corpus's --labels"
                )
        sources.append(
            CorpusSource(
                ns.corpus,
                corpus_root(ns),
                ns.subset,
                ns.manifest,
                label_map(ns),
                iemocap_happy=ns.iemocap_happy,
                path_column=ns.path_column,
                label_column=ns.label_column,
                speaker_column=ns.speaker_column,
                title=cli.corpus_name(ns) if several else None,
            )
        )
    return sources


def check_protocol(args: argparse.Namespace, sources: list[CorpusSource]) -> None:
    """The protocol fits the corpora: the corpus protocol needs two or
    more, and --test-corpus names some of them.

    Raises
    ------
    UsageError
        Naming the flag and the problem.
    """
    names = [source.shown for source in sources]
    if args.protocol == "corpus" and len(sources) < 2:
        raise UsageError(
            "--protocol corpus needs two or more corpora: give --corpus (with its --root and other "
            "corpus flags) once per corpus"
        )
    if args.test_corpus is not None:
        if args.protocol != "corpus":
            raise UsageError("--test-corpus applies only with --protocol corpus")
        for name in args.test_corpus.split(","):
            if name not in names:
                raise UsageError(
                    f"--test-corpus: no corpus is named {name!r}; the corpora are {', '.join(names)}"
                )


def _report(run_dir: Path, quiet: bool) -> int:
    # Imported late: matplotlib is not needed by runs that skip the report.
    from glam_py.report import write_report

    try:
        markdown, _ = write_report(run_dir, log=(lambda _: None) if quiet else print)
    except Exception as e:  # the trained models and results are saved; say how to retry
        print(
            f"error: the report failed ({type(e).__name__}: {e}); the results are saved, "
            f"python -m glam_py.report {run_dir} retries it",
            file=sys.stderr,
        )
        return 1
    print(f"report: {markdown}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = cli.parse(parser, argv, lambda a: check(parser, a))
    world = World.from_env()
    # The lock comes before any work and is held to the end: one writer of
    # the run directory (the ranks of one torchrun job share it, rank 0
    # holding the lock).
    with (
        cli.resumable(),
        cli.removed_if_left_empty(args.out),
        writing(args.out, "run directory", job=Job.from_env()),
    ):
        return _train(args, world)


def _train(args: argparse.Namespace, world: World) -> int:
    run, sources = args.run, args.sources
    world.init(run.device)
    if args.demo:
        if world.is_main:
            generate_demo_corpus(sources[0].root, progress=not args.quiet and interactive())
        world.barrier()
    if args.threads:
        torch.set_num_threads(args.threads)
    # In DDP mode the ranks train in step, so one of them reports.
    quiet = args.quiet or (args.ddp and not world.is_main)
    progress = for_output(quiet)
    log = progress.log
    log(
        f"training {', '.join(run.models)} on {torch.get_num_threads()} CPU threads, "
        f"device {world.device(run.device)}"
        + (f", rank {world.rank} of {world.size}" + (" (DDP)" if args.ddp else "") if world.size > 1 else "")
    )
    try:
        results = execute(run, sources, args.out, args.cache, world=world, log=log, progress=progress)
        if world.size > 1:
            world.barrier()
            if world.is_main:
                results = execute(run, sources, args.out, args.cache, log=log)
    finally:
        progress.close()
    if results is not None:
        print((args.out / "results.md").read_text())
        print(f"run directory: {args.out} (results.json, results.md, results.csv, models/)")
        if not args.no_report:
            return _report(args.out, args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
