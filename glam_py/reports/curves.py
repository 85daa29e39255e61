"""Training curves per model: the training loss after every epoch and the
test WA and UA after each evaluated epoch (every --eval-every epochs and
the last), the mean over splits with the range of the splits as a band.
The test curves are recorded for inspection; training selects on them only
with --select-on-test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from glam_py.reports.canvas import new_figure, save


def _series(splits: list[dict], get) -> np.ndarray:
    """[n_splits, n_epochs], NaN where a split has fewer epochs or ``get``
    finds no value (an epoch without evaluation)."""
    n_epochs = max(len(s["history"]) for s in splits)
    out = np.full((len(splits), n_epochs), np.nan)
    for i, s in enumerate(splits):
        for record in s["history"]:
            value = get(record)
            if value is not None:
                out[i, record["epoch"] - 1] = value
    return out


def curve_data(splits: list[dict]) -> dict[str, np.ndarray]:
    data = {
        "epoch": np.arange(1, max(len(s["history"]) for s in splits) + 1),
        "loss": _series(splits, lambda r: r["loss"]),
        "test_WA": _series(splits, lambda r: r.get("test", {}).get("WA")),
        "test_UA": _series(splits, lambda r: r.get("test", {}).get("UA")),
    }
    if any("val" in r for s in splits for r in s["history"]):
        data["val_UA"] = _series(splits, lambda r: r.get("val", {}).get("UA"))
    return data


def _mean_and_band(ax, epochs: np.ndarray, values: np.ndarray, colour: str, label: str | None) -> None:
    # Only the evaluated epochs: a line through them, not gaps between them.
    shown = ~np.isnan(values).all(axis=0)
    epochs, values = epochs[shown], values[:, shown]
    # Markers show the points of short or sparse curves; on long ones they blur the line.
    ax.plot(
        epochs,
        np.nanmean(values, axis=0),
        color=colour,
        marker="o" if len(epochs) <= 20 else None,
        markersize=3,
        label=label,
    )
    if len(values) > 1:
        ax.fill_between(
            epochs, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=colour, alpha=0.2, linewidth=0
        )


def plot_curves(splits: list[dict], n_classes: int, model: str, path: Path) -> dict:
    """Draws the figure at ``path``; returns the arrays it shows."""
    data = curve_data(splits)
    epochs, n = data["epoch"], len(splits)
    fig = new_figure(11, 4.2)
    loss_ax, score_ax = fig.subplots(1, 2)
    _mean_and_band(loss_ax, epochs, data["loss"], "C0", None)
    loss_ax.set_title("training loss")
    loss_ax.set_ylabel("cross-entropy, mean over the epoch")
    for key, colour, label in [
        ("test_WA", "C1", "test WA (accuracy)"),
        ("test_UA", "C2", "test UA (mean class recall)"),
        ("val_UA", "C3", "validation UA"),
    ]:
        # A run without a test split (--protocol all) has no test curves.
        if key in data and not np.isnan(data[key]).all():
            _mean_and_band(score_ax, epochs, data[key], colour, label)
    score_ax.axhline(
        100 / n_classes,
        color="grey",
        linestyle="--",
        linewidth=1,
        label=f"chance UA ({100 / n_classes:.0f}%)",
    )
    score_ax.set_title("utterance-level accuracy after the evaluated epochs")
    score_ax.set_ylabel("%")
    score_ax.set_ylim(0, 100)
    for ax in (loss_ax, score_ax):
        ax.set_xlabel("epoch")
        # Whole epochs only, and room around a lone first epoch.
        ax.set_xlim(0.5, epochs[-1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
    score_ax.legend(loc="best", fontsize=9)
    spread = f"mean over {n} splits, band: min to max" if n > 1 else "1 split"
    fig.suptitle(f"{model}: training curves ({spread})")
    save(fig, path)
    return data
