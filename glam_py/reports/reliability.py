"""Reliability diagrams: the test utterances of every split pooled and
binned by their top probability (:data:`glam_py.train.metrics.ECE_BINS`
equal-width bins), each bin's accuracy against its mean confidence, with
the bin's count, and the expected calibration error of the pooled
utterances in the title. A calibrated model's bars meet the diagonal; bars
below it are over-confident."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glam_py.reports.canvas import new_figure, save
from glam_py.train.metrics import expected_calibration_error, reliability_bins


def pooled(splits: list[dict]) -> tuple[np.ndarray, np.ndarray] | None:
    """Every split's test utterances' top probabilities and whether each
    was right, concatenated in split order; None when a split does not
    record them (trained before they were recorded)."""
    if not all(s.get("reliability") for s in splits):
        return None
    confidence = np.concatenate([np.asarray(s["reliability"]["confidence"], dtype=float) for s in splits])
    correct = np.concatenate([np.asarray(s["reliability"]["correct"], dtype=float) for s in splits])
    return confidence, correct


def plot_reliability(splits: list[dict], model: str, path: Path) -> dict | None:
    """Draws the figure at ``path``; returns the bins it shows and the ECE
    (percent), or None (and draws nothing) when :func:`pooled` has no
    utterances to show."""
    found = pooled(splits)
    if found is None or len(found[0]) == 0:
        return None
    confidence, correct = found
    bins = reliability_bins(confidence, correct)
    ece = expected_calibration_error(confidence, correct)
    edges, count = 100 * bins["edges"], bins["count"]
    used = count > 0
    left, width = edges[:-1][used], np.diff(edges)[used]
    accuracy, mean_confidence = 100 * bins["accuracy"][used], 100 * bins["confidence"][used]
    fig = new_figure(6.4, 5.6)
    ax = fig.subplots()
    ax.bar(
        left, accuracy, width=width, align="edge", color="C0", edgecolor="white", label="accuracy of the bin"
    )
    # The gap to the bin's mean confidence: what the ECE weighs and sums.
    ax.bar(
        left,
        mean_confidence - accuracy,
        bottom=accuracy,
        width=width,
        align="edge",
        color="C3",
        alpha=0.3,
        edgecolor="C3",
        hatch="//",
        label="gap to the mean confidence",
    )
    ax.plot([0, 100], [0, 100], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for x, w, n in zip(left, width, count[used]):
        ax.text(x + w / 2, 101, str(n), ha="center", va="bottom", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 108)
    ax.set_xlabel("confidence: top probability (%), 10 equal bins")
    ax.set_ylabel("accuracy (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(0, 0.93), fontsize=9)
    ax.grid(alpha=0.3)
    n, k = len(confidence), len(splits)
    ax.set_title(
        f"{model}: reliability, ECE {ece:.1f}%\n"
        f"{n} test utterances of {k} split{'s' * (k != 1)} pooled; numbers: utterances per bin",
        fontsize=10,
    )
    save(fig, path)
    return {**bins, "ECE": ece}
