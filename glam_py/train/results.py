"""The results table in the paper's Table 1 layout (mean ± std over
splits, one row per model) as markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io

from glam_py.train.metrics import METRIC_TITLES, METRICS

SELECTION_NAMES = {
    "last": "last epoch",
    "val": "best epoch on a validation split carved from training",
    "test": "BEST EPOCH ON THE TEST SPLIT (optimistic, the authors' selection)",
}


def title(corpus: str, protocol: str, n_splits: int, select: str) -> str:
    return (
        f"{corpus}, {protocol} protocol, {n_splits} split{'s' * (n_splits != 1)}, "
        f"model selection: {SELECTION_NAMES[select]}"
    )


def cell(stats: dict, n_splits: int) -> str:
    """``mean ± std``; the mean alone for one split, whose std says nothing."""
    return f"{stats['mean']:.2f} ± {stats['std']:.2f}" if n_splits > 1 else f"{stats['mean']:.2f}"


def markdown(results: dict) -> str:
    lines = [
        f"### {results['title']}",
        "",
        "| model | " + " | ".join(METRIC_TITLES[m] for m in METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for name, entry in results["models"].items():
        s = entry["summary"]
        lines.append(f"| {name} | " + " | ".join(cell(s[m], len(entry["splits"])) for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def to_csv(results: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model"] + [f"{m}_{stat}" for m in METRICS for stat in ("mean", "std")] + ["splits"])
    for name, entry in results["models"].items():
        s = entry["summary"]
        writer.writerow(
            [name]
            + [f"{s[m][stat]:.4f}" for m in METRICS for stat in ("mean", "std")]
            + [len(entry["splits"])]
        )
    return out.getvalue()
