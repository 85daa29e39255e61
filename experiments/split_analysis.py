"""Where a run's accuracy differs from split to split: per model and split,
the test set's make-up (utterances, classes, how many are shorter than one
window and were padded) and the accuracy on short and on full-length test
utterances, from each split's saved checkpoint and the run's test store.

    .venv/bin/python -m experiments.split_analysis runs/emodb [--models glam,aacnn]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from glam_py.checkpoints import Checkpoint
from glam_py.rundir import RunDir, safe_name
from glam_py.store import FeatureStore
from glam_py.train.trainer import predict_utterances


def analyse(run_dir: Path, models: list[str] | None) -> str:
    run = RunDir(run_dir)
    store = FeatureStore(run.read_stores()["test"])
    rows = {row["utterance_id"]: i for i, row in enumerate(store.index)}
    windows = [store.windows(i) for i in range(len(store.index))]  # memory-mapped views
    lines = [
        "| model | split | test utts | classes | short (padded) | WA | WA on short | WA on full length |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, split, path in run.split_results():
        if models and key not in map(safe_name, models):
            continue
        record = json.loads(path.read_text())
        checkpoint = Checkpoint.load(run.model_file(key, split))
        model = checkpoint.build_model()
        which = [rows[u] for u in record["test_ids"]]
        scores = predict_utterances(model, windows, tuple(which), checkpoint.average, "cpu")
        labels = list(checkpoint.labels)
        truth = np.array([labels.index(store.index[i]["label"]) for i in which])
        correct = scores.argmax(1) == truth
        short = np.array([bool(store.index[i]["note"]) for i in which])
        classes = Counter(store.index[i]["label"] for i in which)

        def accuracy(mask: np.ndarray, correct: np.ndarray = correct) -> str:
            return f"{100 * correct[mask].mean():.1f} ({mask.sum()})" if mask.any() else "-"

        lines.append(
            f"| {key} | {split} | {len(which)} | "
            + ", ".join(f"{c} {classes[c]}" for c in labels)
            + f" | {short.sum()} | {100 * correct.mean():.1f} | {accuracy(short)} | {accuracy(~short)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run directory of python -m glam_py.train.")
    parser.add_argument("--models", default=None, help="comma-separated result keys (default: all).")
    args = parser.parse_args(argv)
    sys.stdout.write(analyse(args.run_dir, args.models.split(",") if args.models else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
