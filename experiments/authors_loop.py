"""Our trainer against the GLAM authors' training loop on the same data:
for each GLAM split of a finished run, the same training and test
utterances (same stored windows) are trained again with a plain
transcription of the authors' procedure, and its test accuracy is set
beside ours, split by split.

The transcription follows the authors' train.py as a reader would restate
it, not as shipped code: their model structure (``ReferenceGLAM``), their
class order (neutral, happy, sad, angry), ``torch.manual_seed`` and
``np.random.seed`` from the split seed, a shuffling ``DataLoader`` of batch
32 that keeps the last partial batch, mixup with ``np.random.beta`` and
``torch.randperm``, Adam (weight decay 1e-6), ``ExponentialLR(0.95)``
stepped after each epoch while the rate is at least 1e-6, and the
utterance decision as the argmax of the mean logits. It answers one
question: does the gap between a run's mean accuracy and the authors'
published anchor come from our training code, or from which utterances
land in the test set?

    .venv/bin/python -m experiments.authors_loop runs/emodb --out runs/authors_loop.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from glam_py.rundir import RunDir
from glam_py.store import FeatureStore
from glam_py.train.data import stack
from glam_py.train.metrics import evaluate
from tests.support.reference_glam import ReferenceGLAM

AUTHORS_CLASSES = ["neutral", "happy", "sad", "angry"]


def authors_training(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test: list[np.ndarray],
    test_y: np.ndarray,
    seed: int,
    epochs: int,
    lr: float,
    alpha: float,
    evaluate_epochs: bool = True,
) -> list[dict]:
    """Trains one model the authors' way; returns the test metrics after
    every epoch, or nothing with ``evaluate_epochs=False`` (their training
    steps alone, which benches/test_protocol_speed.py times)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    model = ReferenceGLAM(train_x.shape[1:], len(AUTHORS_CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-6)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.95)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_y)), batch_size=32, shuffle=True
    )
    history = []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            lam = np.random.beta(alpha, alpha) if alpha > 0 else 1.0
            index = torch.randperm(x.shape[0])
            out = model((lam * x + (1 - lam) * x[index]).unsqueeze(1))
            loss = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if optimizer.param_groups[0]["lr"] >= 1e-6:
            scheduler.step()
        if not evaluate_epochs:
            continue
        model.eval()
        with torch.no_grad():
            pred = [int(model(torch.from_numpy(w).unsqueeze(1)).mean(0).argmax()) for w in test]
        history.append(evaluate(test_y, np.array(pred), len(AUTHORS_CLASSES)))
    return history


def compare(run_dir: Path, model_key: str, epochs: int, lr: float, alpha: float) -> dict:
    run = RunDir(run_dir)
    stores = run.read_stores()
    train_store, test_store = FeatureStore(stores["train"]), FeatureStore(stores["test"])
    train_rows = {r["utterance_id"]: i for i, r in enumerate(train_store.index)}
    test_rows = {r["utterance_id"]: i for i, r in enumerate(test_store.index)}
    label = {r["utterance_id"]: AUTHORS_CLASSES.index(r["label"]) for r in test_store.index}
    splits = []
    for training in run.split_results(model_key):
        ours = json.loads(training.path.read_text())
        test_ids = set(ours["test_ids"])
        train_ids = [u for u in train_rows if u in test_rows and u not in test_ids]
        train_x, train_y, _ = stack(
            [train_store.windows(train_rows[u]) for u in train_ids],
            np.array([label[u] for u in train_ids]),
            tuple(range(len(train_ids))),
        )
        train_y = train_y.astype(np.int64)
        test = [np.array(test_store.windows(test_rows[u]), dtype=np.float32) for u in ours["test_ids"]]
        test_y = np.array([label[u] for u in ours["test_ids"]])
        started = time.perf_counter()
        history = authors_training(train_x, train_y, test, test_y, ours["seed"], epochs, lr, alpha)
        record = {
            "split": ours["split"],
            "seed": ours["seed"],
            "ours": {"WA": ours["WA"], "UA": ours["UA"]},
            "authors_loop": {"WA": history[-1]["WA"], "UA": history[-1]["UA"]},
            "authors_loop_best_on_test": max((h["WA"] + h["UA"]) / 2 for h in history),
            "authors_loop_test_WA_per_epoch": [round(h["WA"], 2) for h in history],
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(
            json.dumps({k: v for k, v in record.items() if k != "authors_loop_test_WA_per_epoch"}), flush=True
        )
        splits.append(record)
    return {
        "run": str(run_dir),
        "model": model_key,
        "epochs": epochs,
        "lr": lr,
        "alpha": alpha,
        "threads": torch.get_num_threads(),
        "splits": splits,
    }


def table(result: dict) -> str:
    lines = ["| split | ours WA | authors' loop WA | ours UA | authors' loop UA |", "|---|---|---|---|---|"]
    for s in result["splits"]:
        lines.append(
            f"| {s['split']} | {s['ours']['WA']:.1f} | {s['authors_loop']['WA']:.1f} | "
            f"{s['ours']['UA']:.1f} | {s['authors_loop']['UA']:.1f} |"
        )
    for who in ("ours", "authors_loop"):
        wa = np.array([s[who]["WA"] for s in result["splits"]])
        ua = np.array([s[who]["UA"] for s in result["splits"]])
        lines.append(
            f"| mean {who} | WA {wa.mean():.1f} +- {wa.std(ddof=1) if len(wa) > 1 else 0:.1f} "
            f"| UA {ua.mean():.1f} | | |"
        )
    diff = np.array([s["ours"]["WA"] - s["authors_loop"]["WA"] for s in result["splits"]])
    if len(diff) > 1:
        lines.append(
            f"| ours - authors' loop | WA {diff.mean():+.1f}, paired SE "
            f"{diff.std(ddof=1) / np.sqrt(len(diff)):.1f} | | | |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run directory of python -m glam_py.train.")
    parser.add_argument("--model", default="glam", help="result key whose splits to retrain (default glam).")
    parser.add_argument("--epochs", type=int, default=50, help="epochs (the paper's 50).")
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (the paper's 1e-4).")
    parser.add_argument("--alpha", type=float, default=0.5, help="mixup alpha (the paper's 0.5).")
    parser.add_argument("--threads", type=int, default=2, help="torch threads.")
    parser.add_argument("--out", type=Path, default=None, help="write the comparison as JSON here.")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = compare(args.run_dir, args.model, args.epochs, args.lr, args.alpha)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    sys.stdout.write(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
