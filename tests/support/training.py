"""The training-run command line and results digest that the trainer and
the distributed tests both compare runs with."""

from __future__ import annotations

import sys
from pathlib import Path


def train_command(root: Path, out: Path) -> list[str]:
    """``python -m glam_py.train`` on the CSV corpus at ``root``: APCNN and
    MHCNN under the paper's recipe, two splits of three epochs, results
    into ``out``."""
    return [
        sys.executable,
        "-m",
        "glam_py.train",
        "--preset",
        "paper",
        "--corpus",
        "csv",
        "--root",
        str(root),
        "--models",
        "apcnn,mhcnn",
        "--repeats",
        "2",
        "--epochs",
        "3",
        "--lr",
        "5e-4",
        "--pad",
        "tile",
        "--cache",
        str(root / "cache"),
        "--threads",
        "2",
        "--out",
        str(out),
        "--quiet",
        "--no-report",
    ]


def split_metrics(results: dict) -> dict:
    """WA, UA and confusion matrix per model and split of a results.json."""
    return {
        k: [(s["WA"], s["UA"], s["confusion"]) for s in v["splits"]] for k, v in results["models"].items()
    }
