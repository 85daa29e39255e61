"""Writes the bundled model (glam_py/pretrained/glam-emodb4.pt, what
``EmotionRecognizer.pretrained()`` and ``python -m glam_py.predict`` without
``--checkpoint`` use) from a ``python -m glam_py.train --protocol all`` run.

    .venv/bin/python -m experiments.bundle_model runs/bundled \\
        --loso "WA .. ± .., UA .. ± .. (10 speakers, runs/loso)" \\
        --train-command "python -m glam_py.train ... --protocol all --out runs/bundled"

The weights are stored as float16 (``--dtype float32`` keeps them whole)
once the bundle is shown to predict as the run's float32 checkpoint does on
every utterance of the run's corpus (no utterance label changes, window
logits within 1% of the largest); the file must stay under 5 MB. Its
provenance records the corpus, the recipe (the run's config.json), the
commands, the date and the leave-one-speaker-out accuracy given with
``--loso`` (measured by a separate ``--protocol speaker`` run of the same
recipe; "TO BE FILLED" until given). README.md, "Bundled model", gives the
commands; docs/model-card.md describes the model.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from glam_py import checkpoints, cli, pretrained
from glam_py.checkpoints import Checkpoint
from glam_py.errors import InputError
from glam_py.rundir import RunDir, safe_name
from glam_py.store import FeatureStore
from glam_py.train.results import deployment_summary

DTYPES = {"float16": torch.float16, "float32": torch.float32}
TITLE = "GLAM trained on EmoDB-4 (German acted speech; docs/model-card.md)"
TO_BE_FILLED = "TO BE FILLED"


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m experiments.bundle_model", description=__doc__.replace("``", ""))
    p.add_argument("run_dir", type=Path, metavar="RUN", help="a finished --protocol all run directory.")
    p.add_argument("--model", default=None, help="in a run of several models: which one (e.g. glam).")
    p.add_argument(
        "--out",
        type=Path,
        default=pretrained.PACKAGED,
        metavar="FILE",
        help="the bundle to write (default: the package's, glam_py/pretrained/glam-emodb4.pt).",
    )
    p.add_argument(
        "--dtype", choices=sorted(DTYPES), default="float16", help="the weights' dtype (default: float16)."
    )
    p.add_argument(
        "--title",
        default=TITLE,
        help=f"what predict's line 'using the bundled model: ...' names (default: '{TITLE}').",
    )
    p.add_argument(
        "--loso",
        default=TO_BE_FILLED,
        metavar="TEXT",
        help="the recipe's leave-one-speaker-out accuracy on the corpus, as it is to be quoted "
        f"(default: '{TO_BE_FILLED}').",
    )
    p.add_argument(
        "--train-command",
        default=None,
        metavar="TEXT",
        help="the python -m glam_py.train command that wrote RUN, recorded as given.",
    )
    p.add_argument(
        "--date",
        type=datetime.date.fromisoformat,
        default=datetime.date.today(),
        metavar="YYYY-MM-DD",
        help="the date recorded (default: today).",
    )
    return p


def corpus_windows(run: RunDir, checkpoint: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """Every window of the run's test store (the corpus at the checkpoint's
    feature settings), with the utterance of each.

    Raises
    ------
    InputError
        stores.json is missing, or its store is gone or holds other settings.
    """
    try:
        store = FeatureStore(run.read_stores()["test"], expected=checkpoint.features)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(
            f"{run.root}: the corpus windows to check the bundle on cannot be read: {e}"
        ) from None
    parts = [store.windows(i) for i in range(len(store))]
    owner = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    return np.concatenate(parts).astype(np.float32, copy=False), owner


def provenance(run: RunDir, key: str, args: argparse.Namespace, argv: list[str]) -> dict:
    """What the bundle records of where it comes from (JSON-compatible)."""
    config = run.read_config()
    return {
        "title": args.title,
        "model": key,
        "corpus": config["corpus"],
        "n_utterances": config["n_utterances"],
        "labels": config["labels"],
        "recipe": config["train"][key],
        "run": config["run"],
        "training": deployment_summary([run.read_split(key, "all")]),
        "train_command": args.train_command,
        "bundle_command": shlex.join(["python", "-m", "experiments.bundle_model", *argv]),
        "date": args.date.isoformat(),
        "loso_accuracy": args.loso,
        "weights": args.dtype,
        "model_card": "docs/model-card.md",
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    run = RunDir(args.run_dir)
    try:
        config = run.read_config()
    except FileNotFoundError:
        raise InputError(f"{args.run_dir}: not a training run directory (no config.json)") from None
    protocol = config["run"]["protocol"]
    if protocol != "all":
        raise InputError(
            f"{args.run_dir}: a --protocol {protocol} run; the bundle is trained on every "
            f"utterance: train it with --protocol all"
        )
    path = checkpoints.find(args.run_dir, args.model)
    key = {safe_name(k): k for k in config["train"]}[path.stem.partition("__")[0]]
    checkpoint = Checkpoint.load(path)
    windows, owner = corpus_windows(run, checkpoint)
    fidelity = pretrained.write_bundle(
        checkpoint, args.out, provenance(run, key, args, argv), windows, owner, DTYPES[args.dtype]
    )
    print(
        f"{args.out}: {fidelity.size_bytes / 1e6:.2f} MB, {args.dtype} weights of {path}; on the "
        f"{fidelity.n_utterances} utterances ({fidelity.n_windows} windows) of its corpus: "
        f"{fidelity.utterance_labels_changed} utterance and {fidelity.window_labels_changed} window "
        f"labels changed, window logits within {fidelity.max_logit_difference:.2g} "
        f"(largest {fidelity.logit_scale:.3g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
