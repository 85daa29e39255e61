"""Two recipes compared on the same splits: each split's WA and UA in two
run directories (the same protocol, splits and seeds, one setting changed),
their means, the paired differences (B - A) with their standard errors, and
a paired t-test. Only splits finished in both runs count.

    .venv/bin/python -m experiments.paired runs/prec-fp32 runs/prec-bf16 --model glam

``--markdown`` prints the table as docs/ records it (one row per split,
then the means, the difference and the test).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from glam_py.rundir import RunDir

METRICS = ("WA", "UA")


def per_split(run_dir: Path, model: str) -> dict[str, dict]:
    """The model's finished splits in ``run_dir``: split name -> its record."""
    run = RunDir(run_dir)
    return {t.split: run.read_split(t.key, t.split) for t in run.split_results(model)}


def compare(a: dict[str, dict], b: dict[str, dict]) -> dict:
    """Per metric: the paired values, their means, the mean difference
    (b - a) with its standard error, and the paired t-test's t and p.

    Raises
    ------
    ValueError
        Fewer than two splits are finished in both.
    """
    common = [s for s in a if s in b]
    if len(common) < 2:
        raise ValueError(f"{len(common)} split(s) finished in both runs; a paired test needs at least 2")
    out = {"splits": common}
    for metric in METRICS:
        x = np.array([a[s][metric] for s in common])
        y = np.array([b[s][metric] for s in common])
        d = y - x
        test = stats.ttest_rel(y, x)
        out[metric] = {
            "a": x,
            "b": y,
            "mean_a": x.mean(),
            "mean_b": y.mean(),
            "diff": d.mean(),
            "se": d.std(ddof=1) / np.sqrt(len(d)),
            "t": float(test.statistic),
            "p": float(test.pvalue),
        }
    return out


def se(x: np.ndarray) -> float:
    """The standard error of the mean of ``x`` (NaN for fewer than two values)."""
    return x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")


def difference(a: dict[str, dict], b: dict[str, dict], metric: str, missing: str = "") -> str:
    """``metric``'s paired difference b - a as "+d ± SE (p)", or ``missing``
    where fewer than two splits are finished in both."""
    try:
        d = compare(a, b)[metric]
    except ValueError:
        return missing
    return f"{d['diff']:+.2f} ± {d['se']:.2f} ({d['p']:.2f})"


def markdown(result: dict, name_a: str, name_b: str) -> str:
    wa, ua = result["WA"], result["UA"]
    lines = [
        f"| split | {name_a} WA | {name_b} WA | {name_a} UA | {name_b} UA |",
        "|---|---|---|---|---|",
    ]
    for k, split in enumerate(result["splits"]):
        lines.append(
            f"| {split} | {wa['a'][k]:.1f} | {wa['b'][k]:.1f} | {ua['a'][k]:.1f} | {ua['b'][k]:.1f} |"
        )
    lines += [
        f"| mean | {wa['mean_a']:.2f} | {wa['mean_b']:.2f} | {ua['mean_a']:.2f} | {ua['mean_b']:.2f} |",
        f"| paired difference ({name_b} - {name_a}) ± SE | {wa['diff']:+.2f} ± {wa['se']:.2f} | "
        f"| {ua['diff']:+.2f} ± {ua['se']:.2f} | |",
        f"| paired t-test (n = {len(result['splits'])}) | t {wa['t']:.2f}, p {wa['p']:.2f} | "
        f"| t {ua['t']:.2f}, p {ua['p']:.2f} | |",
    ]
    return "\n".join(lines) + "\n"


def summary(result: dict, name_a: str, name_b: str) -> str:
    lines = [f"splits finished in both: {len(result['splits'])}"]
    for metric in METRICS:
        m = result[metric]
        lines.append(
            f"{metric}: {name_a} {m['mean_a']:.2f}, {name_b} {m['mean_b']:.2f}; "
            f"{name_b} - {name_a} = {m['diff']:+.2f} ± {m['se']:.2f} (SE); "
            f"paired t {m['t']:.2f}, p {m['p']:.3f}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="run directory of recipe A (the baseline).")
    parser.add_argument("b", type=Path, help="run directory of recipe B.")
    parser.add_argument("--model", default="glam", help="result key in both runs (default glam).")
    parser.add_argument(
        "--names", default=None, metavar="A,B", help="names in the output (default: the folders')."
    )
    parser.add_argument("--markdown", action="store_true", help="print the per-split table in markdown.")
    args = parser.parse_args(argv)
    name_a, name_b = args.names.split(",") if args.names else (args.a.name, args.b.name)
    try:
        result = compare(per_split(args.a, args.model), per_split(args.b, args.model))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(markdown(result, name_a, name_b) if args.markdown else summary(result, name_a, name_b))
    return 0


if __name__ == "__main__":
    sys.exit(main())
