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
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from glam_py import corpora
from glam_py.cli import (add_corpus_flags, add_feature_flags, add_threads_flag, corpus_root,
                         feature_flags_given, label_map, positive_int)
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.features import FeatureConfig
from glam_py.lock import Job, LockedError, writing
from glam_py.models import names as model_names
from glam_py.precision import CHOICES
from glam_py.precision import HELP as precision_help
from glam_py.store import FeatureStore
from glam_py.train.config import PAPER, RunConfig, TrainConfig, load_overrides
from glam_py.train.distributed import World
from glam_py.train.progress import Bars, Silent
from glam_py.train.run import CorpusSource, execute

DEMO_DEFAULTS = dict(repeats=1, epochs=6, lr=5e-4, alpha=0.0, train_overlap_s=1.6)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m glam_py.train", description=__doc__.splitlines()[0])
    src = p.add_argument_group("data")
    add_corpus_flags(src)
    src.add_argument("--store", type=Path, default=None,
                     help="train from this feature store (from python -m glam_py.featurize --out) "
                     "instead of a corpus; its windows serve training and test. The store's "
                     "feature settings are used; feature flags or --config features that differ "
                     "from them are refused, naming each difference.")
    src.add_argument("--cache", type=Path, default=Path("data/cache"),
                     help="where featurised corpora are kept and reused (default: data/cache).")
    feats = p.add_argument_group(
        "features (override the preset's; the defaults shown are the paper preset's)",
        "The settings of the test windows; the training windows differ only in their overlap "
        "(--train-overlap-s).")
    add_feature_flags(feats, PAPER.features)
    run = p.add_argument_group("protocol")
    run.add_argument("--models", default="glam",
                     help=f"comma-separated models to train: {', '.join(model_names())} "
                     "(default: glam).")
    run.add_argument("--preset", choices=["paper", "authors"], default="paper",
                     help="paper: lr 1e-4, 2 s windows, 1 s training / 1.6 s test overlap; "
                     "authors: the per-model recipes of the authors' scripts (default: paper).")
    run.add_argument("--protocol", choices=["random", "speaker", "session"], default="random",
                     help="random 80/20 splits, leave-one-speaker-out or leave-one-session-out "
                     "(default: random).")
    run.add_argument("--repeats", type=positive_int, default=None,
                     help="random splits (the paper: 100); default 5, or 1 for the demo.")
    run.add_argument("--seed", type=int, default=1,
                     help="seed of the first split; split i uses seed+i (default: 1).")
    run.add_argument("--train-seed", type=int, default=None,
                     help="seed of model initialisation, batch order and mixup, the same for every "
                     "split (default: each split's own seed); vary it on a fixed split to measure "
                     "run-to-run noise.")
    run.add_argument("--stratify", action="store_true", help="stratify the random splits by class.")
    run.add_argument("--select", choices=["last", "val"], default=None,
                     help="model selection: last epoch (default) or best validation UA on a "
                     "split carved from the training utterances.")
    run.add_argument("--select-on-test", action="store_true",
                     help="the authors' optimistic selection: best epoch on the TEST split; "
                     "tables say so in their title.")
    hp = p.add_argument_group("training (override the preset)")
    hp.add_argument("--epochs", type=positive_int, default=None, help="epochs (preset: 50; demo: 6).")
    hp.add_argument("--alpha", default=None,
                    help="mixup alpha, or a comma-separated sweep such as 0,0.3,0.5,0.8,1,2,3 "
                    "(preset: 0.5; demo: 0).")
    hp.add_argument("--lr", type=float, default=None, help="learning rate (paper 1e-4; demo 5e-4).")
    hp.add_argument("--batch-size", type=positive_int, default=None, help="batch size (preset: 32).")
    hp.add_argument("--train-overlap-s", type=float, default=None,
                    help="overlap of consecutive training windows in seconds (paper preset: 1.0; "
                    "the authors' GLAM recipes and the demo: 1.6); --overlap-s sets the test "
                    "windows'.")
    hp.add_argument("--average", choices=["logits", "probabilities"], default=None,
                    help="utterance prediction: mean of the windows' logits (default) or "
                    "probabilities.")
    hp.add_argument("--config", type=Path, default=None,
                    help="JSON file of training settings (TrainConfig fields, feature settings "
                    "nested under \"features\") overriding the preset; flags override it.")
    dev = p.add_argument_group("execution")
    add_threads_flag(dev, "torch and featurising")
    dev.add_argument("--device", default=None, help="default: cuda when present, else cpu.")
    dev.add_argument("--precision", choices=CHOICES, default=None,
                     help=precision_help)
    dev.add_argument("--eval-every", type=positive_int, default=None,
                     help="evaluate the test split every N epochs and after the last, for the "
                     "curves of the report (default: 5; --select-on-test evaluates every epoch).")
    dev.add_argument("--ddp", action="store_true",
                     help="under torchrun: every rank trains each split together "
                     "(DistributedDataParallel, the global batch split over the ranks) instead "
                     "of each rank training its own splits.")
    dev.add_argument("--out", type=Path, default=Path("runs/latest"),
                     help="run directory; the same command resumes a killed run there "
                     "(default: runs/latest).")
    dev.add_argument("--quiet", action="store_true", help="no progress output.")
    dev.add_argument("--no-report", action="store_true",
                     help="do not write the figures and report.md into OUT/report at the end "
                     "(python -m glam_py.report OUT writes them later).")
    return p


def overrides_from(args: argparse.Namespace, demo: bool,
                   store_features: FeatureConfig | None = None) -> dict:
    """The TrainConfig values (TrainConfig.updated()) that --config, the
    demo's defaults and the flags put over the preset, later ones winning.

    With ``store_features`` (training from a store) the store's settings
    replace the preset's, and those asked for explicitly are kept so that
    the store check names any that the store does not hold.

    Raises
    ------
    ValueError
        A setting does not exist or has an invalid value.
    """
    values = load_overrides(str(args.config)) if args.config else {}
    if demo:
        values.update({k: v for k, v in DEMO_DEFAULTS.items() if k != "repeats"})
    for flag in ["epochs", "lr", "batch_size", "train_overlap_s", "average", "select", "train_seed",
                 "precision", "eval_every"]:
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    given = {**values.get("features", {}), **feature_flags_given(args)}
    if store_features is not None:
        values["features"] = {**store_features.to_dict(), **given}
        values["train_overlap_s"] = store_features.overlap_s
    elif given:
        values["features"] = given
    if args.select_on_test:
        values["select"] = "test"
    if args.alpha is not None and "," not in args.alpha:
        values["alpha"] = float(args.alpha)
    TrainConfig().updated(values)
    return values


def _report(run_dir: Path, quiet: bool) -> int:
    # Imported late: matplotlib is not needed by runs that skip the report.
    from glam_py.report import write_report

    try:
        markdown, _ = write_report(run_dir, log=(lambda _: None) if quiet else print)
    except Exception as e:  # the trained models and results are saved; say how to retry
        print(f"error: the report failed ({type(e).__name__}: {e}); the results are saved, "
              f"python -m glam_py.report {run_dir} retries it", file=sys.stderr)
        return 1
    print(f"report: {markdown}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    demo = args.corpus == "demo" and args.store is None
    if args.store is not None and args.train_overlap_s is not None:
        raise SystemExit("error: --train-overlap-s does not apply with --store: the store's "
                         "windows serve training and test")
    unknown = set(args.models.split(",")) - set(model_names())
    if unknown:
        raise SystemExit(f"unknown models {sorted(unknown)}; choose from {', '.join(model_names())}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    alphas = tuple(float(a) for a in args.alpha.split(",")) if args.alpha and "," in args.alpha else ()
    try:
        root = corpus_root(args) if args.store is None else None
        store_features = FeatureStore(args.store).config if args.store is not None else None
        source = (CorpusSource("store", store=args.store) if args.store is not None else
                  CorpusSource(args.corpus, root, args.subset, args.manifest, label_map(args),
                               iemocap_happy=args.iemocap_happy))
        run = RunConfig(models=tuple(args.models.split(",")), preset=args.preset,
                        protocol=args.protocol,
                        repeats=args.repeats or (DEMO_DEFAULTS["repeats"] if demo else 5),
                        seed=args.seed, stratify=args.stratify, alphas=alphas,
                        overrides=overrides_from(args, demo, store_features), threads=args.threads, device=device,
                        ddp=args.ddp)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}")
    world = World.from_env()
    try:
        # Before any work, held to the end: one writer of the run directory
        # (the ranks of one torchrun job share it, rank 0 holding the lock).
        with writing(args.out, "run directory", job=Job.from_env()):
            return _train(args, run, source, root, demo, device, world)
    except (LockedError, OSError) as e:  # a full disk included (WriteFailed)
        raise SystemExit(f"error: {e}")


def _train(args: argparse.Namespace, run: RunConfig, source: CorpusSource, root: Path | None, demo: bool,
           device: str, world: World) -> int:
    world.init(device)
    if demo:
        if world.is_main:
            generate_demo_corpus(root, progress=not args.quiet)
        world.barrier()
    if args.threads:
        torch.set_num_threads(args.threads)
    # In DDP mode the ranks train in step, so one of them reports.
    quiet = args.quiet or (args.ddp and not world.is_main)
    log = (lambda _: None) if quiet else (lambda m: tqdm.write(m))
    log(f"training {', '.join(run.models)} on {torch.get_num_threads()} CPU threads, "
        f"device {world.device(device)}"
        + (f", rank {world.rank} of {world.size}" + (" (DDP)" if args.ddp else "") if world.size > 1 else ""))
    progress = Silent() if quiet else Bars()
    try:
        results = execute(run, source, args.out, args.cache, world=world, log=log, progress=progress)
        if world.size > 1:
            world.barrier()
            if world.is_main:
                results = execute(run, source, args.out, args.cache, log=log)
    except (ValueError, corpora.LayoutError) as e:
        raise SystemExit(f"error: {e}")
    finally:
        progress.close()
    if results is not None:
        print((args.out / "results.md").read_text())
        print(f"run directory: {args.out} (results.json, results.md, results.csv, models/)")
        if not args.no_report:
            return _report(args.out, args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
