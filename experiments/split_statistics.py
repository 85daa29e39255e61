"""How far a handful of random splits can pin a model's mean accuracy down:
pools one model's per-split WA from one or more run directories, and sets
it against an anchor given as its own per-split figures (``--anchor``).

It prints the pooled mean, standard deviation, standard error and a 95%
interval; Welch's t against the anchor; and, drawing subsets of the pooled
splits, how often a mean over 3 or 5 of them reaches the anchor's mean,
which is what a table of that many splits would show by chance alone.

    .venv/bin/python -m experiments.split_statistics runs/emodb runs/emodb-seeds6-20 --model glam \
        --anchor 83.8,82.4,79.4

The anchor the README compares with, 83.8, 82.4 and 79.4, is the GLAM
authors' code on EmoDB (their three splits, last epoch) as quoted in the
project's trainer issue; it is not a published figure and not in
shared/REFERENCE.md (whose tables are the paper's IEMOCAP means), so the
command asks for it rather than assuming it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from glam_py.rundir import RunDir


def pooled_wa(run_dirs: list[Path], model: str) -> dict[str, float]:
    """The model's test WA per split; a split that appears in two runs (same
    protocol, seed and settings) counts once."""
    out: dict[str, float] = {}
    for run_dir in run_dirs:
        run = RunDir(run_dir)
        config = run.read_config()
        splits = run.split_results(model)
        if not splits:
            raise SystemExit(f"{run_dir}: no finished split of {model!r}")
        recipe = config["train"][model]
        for training in splits:
            record = json.loads(training.path.read_text())
            key = json.dumps(
                [
                    record["split"],
                    record.get("train_seed"),
                    config["features"],
                    config["run"]["protocol"],
                    config["run"]["stratify"],
                    [recipe.get(k) for k in ("lr", "epochs", "alpha", "select")],
                ],
                sort_keys=True,
            )
            out[key] = record["WA"]
    return out


def subset_means(values: np.ndarray, k: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Means of every k-subset, or of ``limit`` random ones when there are more."""
    if math.comb(len(values), k) <= limit:
        return np.array([values[list(c)].mean() for c in itertools.combinations(range(len(values)), k)])
    return np.array([rng.choice(values, k, replace=False).mean() for _ in range(limit)])


def report(values: np.ndarray, anchor: np.ndarray) -> str:
    n = len(values)
    mean, sd = values.mean(), values.std(ddof=1)
    se = sd / np.sqrt(n)
    half = stats.t.ppf(0.975, n - 1) * se
    welch = stats.ttest_ind(values, anchor, equal_var=False)
    rng = np.random.default_rng(0)
    lines = [
        f"splits pooled: {n}; per split WA: {', '.join(f'{v:.1f}' for v in values)}",
        f"mean WA {mean:.2f}, SD {sd:.2f}, SE {se:.2f}, 95% interval {mean - half:.1f} to {mean + half:.1f}",
        f"anchor: {len(anchor)} splits, mean {anchor.mean():.2f} (SD {anchor.std(ddof=1):.2f}); "
        f"Welch t {welch.statistic:.2f}, p {welch.pvalue:.2f}",
    ]
    for k in (3, 5):
        if n > k:
            means = subset_means(values, k, 20000, rng)
            lines.append(
                f"means over {k} of these splits: {100 * (means >= anchor.mean()).mean():.0f}% reach "
                f"{anchor.mean():.1f} (range {means.min():.1f} to {means.max():.1f})"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, help="run directories of python -m glam_py.train.")
    parser.add_argument("--model", default="glam", help="result key (default glam).")
    parser.add_argument(
        "--anchor",
        required=True,
        help="the anchor's per-split WA in %%, comma-separated, e.g. 83.8,82.4,79.4 "
        "(the authors' GLAM on EmoDB, last epoch, as quoted in the trainer issue).",
    )
    args = parser.parse_args(argv)
    values = np.array(list(pooled_wa(args.run_dirs, args.model).values()))
    anchor = np.array([float(v) for v in args.anchor.split(",")])
    sys.stdout.write(report(values, anchor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
