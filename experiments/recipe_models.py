"""Two recipes across models: for each model, its mean WA and UA under
recipe A and recipe B (two run directories of the same protocol and
splits, e.g. ``--preset paper`` and ``--preset best`` under ``--protocol
speaker``), the paired difference B - A, and under B the paired difference
of a reference model (GLAM) from each other model. Every difference is
paired over the splits finished in both, with its standard error and the
p of a paired t-test (experiments/paired.py).

    .venv/bin/python -m experiments.recipe_models runs/loso-paper runs/loso-best \\
        --names paper,best --models glam,multiscale,aacnn,apcnn,mhcnn

``--reference-run DIR`` reads the reference model's B splits from another
run directory of the same splits (a run of the baselines alone beside one
of GLAM).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from experiments.paired import METRICS, difference, per_split, se


def _mean(splits: dict[str, dict], metric: str) -> str:
    if not splits:
        return "-"
    x = np.array([s[metric] for s in splits.values()])
    return f"{x.mean():.2f} ± {se(x):.2f}"


def table(runs: tuple[dict[str, dict], dict[str, dict]], names: tuple[str, str], reference: str) -> str:
    """The markdown table; ``runs`` maps each model to its splits' records in A and in B.

    Parameters
    ----------
    runs : pair of dict of str to dict
        Per recipe (A, B): model -> {split name -> record with "WA", "UA"}.
    names : pair of str
        The recipes' names in the header.
    reference : str
        The model the last columns compare the others with, under B.
    """
    a, b = runs
    na, nb = names
    head = (
        ["model", "splits"]
        + [f"{n} {m}" for n in names for m in METRICS]
        + [f"{m}: {nb} - {na}" for m in METRICS]
        + [f"{m}: {reference} - model, {nb}" for m in METRICS]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in sorted(b, key=lambda m: m != reference):
        sa, sb = a.get(model, {}), b[model]
        row = [model, f"{len(sa)}, {len(sb)}"]
        row += [_mean(s, m) for s in (sa, sb) for m in METRICS]
        row += [difference(sa, sb, m, "-") for m in METRICS]
        row += ["" if model == reference else difference(sb, b.get(reference, {}), m, "-") for m in METRICS]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="run directory of recipe A (the baseline, e.g. the paper's).")
    parser.add_argument("b", type=Path, help="run directory of recipe B, the same protocol and splits.")
    parser.add_argument("--models", required=True, help="comma-separated result keys (e.g. glam,mhcnn).")
    parser.add_argument("--names", default="A,B", metavar="A,B", help="the recipes' names (default A,B).")
    parser.add_argument(
        "--reference", default="glam", help="the model compared with the others under B (default glam)."
    )
    parser.add_argument(
        "--reference-run",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the reference model trained under B, when not in B's run directory (the same splits).",
    )
    args = parser.parse_args(argv)
    models = args.models.split(",")
    names = tuple(args.names.split(","))
    if len(names) != 2:
        parser.error(f"--names: give two names, A,B (got {args.names!r})")
    try:
        runs = tuple({m: per_split(d, m) for m in models} for d in (args.a, args.b))
        if args.reference_run is not None:
            runs[1][args.reference] = per_split(args.reference_run, args.reference)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(table(runs, names, args.reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
