"""Confusion matrices as in the GLAM paper's Fig. 2: utterance counts summed
over every split next to the same matrix normalised by row (the share of
each true class predicted as each class)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glam_py.reports.canvas import new_figure, save


def summed_confusion(splits: list[dict]) -> np.ndarray:
    return np.sum([np.asarray(s["confusion"], dtype=np.int64) for s in splits], axis=0)


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Percent of each true class; a class absent from every test set stays 0."""
    support = counts.sum(axis=1, keepdims=True)
    return np.divide(100.0 * counts, support, out=np.zeros(counts.shape), where=support > 0)


def _matrix(
    ax,
    values: np.ndarray,
    class_names: list[str],
    title: str,
    fmt: str,
    bar_label: str,
    vmax: float | None = None,
):
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45 if len(class_names) > 4 else 0, ha="center")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    # White text on the dark half of the colour map keeps every cell readable.
    top = vmax if vmax is not None else values.max()
    threshold = top / 2 if top > 0 else 1
    for (i, j), v in np.ndenumerate(values):
        ax.text(
            j,
            i,
            format(v, fmt),
            ha="center",
            va="center",
            color="white" if v > threshold else "black",
            fontsize=10,
        )
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label=bar_label)


def plot_confusion(splits: list[dict], class_names: list[str], model: str, path: Path) -> dict:
    """Draws the figure at ``path``; returns the arrays it shows."""
    counts = summed_confusion(splits)
    normalised = row_normalised(counts)
    n = len(splits)
    side = 2.2 + 0.75 * len(class_names)
    fig = new_figure(2 * side + 1.5, side)
    left, right = fig.subplots(1, 2)
    _matrix(left, counts, class_names, "counts", "d", "utterances")
    # A fixed 0-100 scale makes the shades comparable between models.
    _matrix(right, normalised, class_names, "normalised by row", ".1f", "% of the true class", vmax=100)
    fig.suptitle(f"{model}: test confusion matrix, summed over {n} split{'s' * (n != 1)}")
    save(fig, path)
    return {"counts": counts, "normalised": normalised}
