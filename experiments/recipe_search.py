"""The search for a better GLAM recipe, nested so that it never sees a test
utterance: each candidate recipe trains on the training part of the same
random EmoDB splits, with whole speakers held out of it for validation
(``--select val``, ``val_fraction`` 0.2: two of EmoDB's ten speakers), and
is scored on those speakers at its last epoch, as the recipe would be used.
This script reads the validation scores only; the test split of every
split stays untouched for the final comparison (docs/training.md, "A
better recipe").

The search is a backward elimination from a full recipe: the full recipe,
the full recipe without each ingredient in turn, and the paper's recipe
for reference, on the same splits. An ingredient is kept when removing it
lowers the mean validation UA (the paired difference, with its standard
error, is printed beside).

    .venv/bin/python -m experiments.recipe_search --root ../shared/corpora/emodb \\
        --work runs/recipe-search [--repeats 5] [--only full,paper] [--threads 2]

Each candidate is an ordinary run directory under ``--work`` (the same
command resumes a killed search), with its recipe in ``recipes/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from experiments.paired import compare
from glam_py.rundir import RunDir

# Each ingredient: its TrainConfig settings and what it does.
INGREDIENTS: dict[str, tuple[dict, str]] = {
    "dense": ({"train_overlap_s": 1.6}, "training windows overlapping by 1.6 s (2.5x the windows)"),
    "schedule": (
        {"schedule": "cosine", "warmup_epochs": 2},
        "cosine learning rate after 2 warm-up epochs",
    ),
    "smoothing": ({"label_smoothing": 0.1}, "label smoothing 0.1"),
    "masks": (
        {"time_masks": 2, "time_mask_frames": 8, "freq_masks": 2, "freq_mask_bins": 3},
        "SpecAugment: 2 time masks up to 8 frames, 2 bands up to 3 MFCC coefficients",
    ),
    "ema": ({"ema_decay": 0.99}, "weights averaged with decay 0.99 per step"),
}
# Common to every candidate but the paper's: the length of training. 30
# epochs of the dense windows cost 1.5x the paper's 50 epochs of 1 s overlap
# (the issue allows 2x).
BASE = {"epochs": 30}
# Common to every candidate: how validation is carved.
VALIDATION = {"val_fraction": 0.2}


def candidates() -> dict[str, dict]:
    """Every candidate's TrainConfig overrides, by name: "paper", "full" and
    "full-<ingredient>" for each ingredient."""
    full = dict(BASE)
    for settings, _ in INGREDIENTS.values():
        full.update(settings)
    out = {"paper": dict(VALIDATION), "full": {**full, **VALIDATION}}
    for name in INGREDIENTS:
        without = dict(BASE)
        for other, (settings, _) in INGREDIENTS.items():
            if other != name:
                without.update(settings)
        out[f"full-{name}"] = {**without, **VALIDATION}
    return out


def command(name: str, recipe_file: Path, args: argparse.Namespace) -> list[str]:
    """The train command of one candidate."""
    flags = {
        "--corpus": "emodb",
        "--root": str(args.root),
        "--pad": "tile",
        "--models": "glam",
        "--repeats": str(args.repeats),
        "--select": "val",
        "--config": str(recipe_file),
        "--cache": str(args.work / "cache"),
        "--out": str(args.work / name),
    }
    if args.threads:
        flags["--threads"] = str(args.threads)
    return [
        sys.executable,
        "-m",
        "glam_py.train",
        *(x for kv in flags.items() for x in kv),
        "--no-report",
        "--quiet",
    ]


def validation_scores(run_dir: Path) -> dict[str, dict]:
    """Per finished split: the validation WA and UA of its last epoch, and
    its training windows times epochs (the cost)."""
    run = RunDir(run_dir)
    out = {}
    for t in run.split_results("glam"):
        result = run.read_split(t.key, t.split)
        last = result["history"][-1]
        out[t.split] = {**last["val"], "cost": result["train_windows"] * len(result["history"])}
    return out


def _se(x: np.ndarray) -> float:
    return x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")


def table(scores: dict[str, dict[str, dict]]) -> str:
    """The candidates' mean validation scores, and each one's paired
    difference from the full recipe."""
    lines = [
        "| candidate | splits | val WA | val UA | UA vs full ± SE (p) | cost vs paper |",
        "|---|---|---|---|---|---|",
    ]
    paper_cost = (
        np.mean([s["cost"] for s in scores.get("paper", {}).values()]) if scores.get("paper") else None
    )
    for name, per_split in scores.items():
        if not per_split:
            lines.append(f"| {name} | 0 | | | | |")
            continue
        wa = np.array([s["WA"] for s in per_split.values()])
        ua = np.array([s["UA"] for s in per_split.values()])
        versus = ""
        if name != "full" and len(scores.get("full", {})) > 1:
            try:
                ua_diff = compare(scores["full"], per_split)["UA"]
                versus = f"{ua_diff['diff']:+.2f} ± {ua_diff['se']:.2f} ({ua_diff['p']:.2f})"
            except ValueError:
                pass
        cost = np.mean([s["cost"] for s in per_split.values()])
        relative = f"{cost / paper_cost:.2f}x" if paper_cost else ""
        lines.append(
            f"| {name} | {len(per_split)} | {wa.mean():.2f} ± {_se(wa):.2f} | "
            f"{ua.mean():.2f} ± {_se(ua):.2f} | {versus} | {relative} |"
        )
    return "\n".join(lines) + "\n"


def kept(scores: dict[str, dict[str, dict]]) -> list[str]:
    """The ingredients whose removal lowered the mean validation UA."""
    full = scores.get("full", {})
    out = []
    for name in INGREDIENTS:
        without = scores.get(f"full-{name}", {})
        common = [s for s in full if s in without]
        if common and np.mean([full[s]["UA"] - without[s]["UA"] for s in common]) > 0:
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="the EmoDB folder.")
    parser.add_argument("--work", type=Path, required=True, help="folder of the candidates' runs.")
    parser.add_argument("--repeats", type=int, default=5, help="random splits (seeds 1..N; default 5).")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per run (default: all).")
    parser.add_argument(
        "--only", default=None, help="comma-separated candidates to run (default: all); the table shows all."
    )
    parser.add_argument(
        "--table", action="store_true", help="print the table of what has finished; train nothing."
    )
    args = parser.parse_args(argv)
    recipes = candidates()
    chosen = args.only.split(",") if args.only else list(recipes)
    unknown = [n for n in chosen if n not in recipes]
    if unknown:
        parser.error(f"--only: unknown candidates {', '.join(unknown)}; choose from {', '.join(recipes)}")
    (args.work / "recipes").mkdir(parents=True, exist_ok=True)
    if not args.table:
        for name in chosen:
            recipe_file = args.work / "recipes" / f"{name}.json"
            recipe_file.write_text(json.dumps(recipes[name], indent=1, sort_keys=True) + "\n")
            print(f"{name}: {json.dumps(recipes[name], sort_keys=True)}", flush=True)
            subprocess.run(command(name, recipe_file, args), check=True)
    scores = {
        name: validation_scores(args.work / name) if (args.work / name).exists() else {} for name in recipes
    }
    sys.stdout.write(table(scores))
    print(
        "ingredients kept (removing them lowered the validation UA): " + (", ".join(kept(scores)) or "none")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
