"""The results table in the paper's Table 1 layout (mean ± std over
splits, one row per model, with the expected calibration error after the
paper's metrics) as markdown, CSV and JSON; for a run without a
test split (``--protocol all``) a table of what each model trained on and
of the validation scores of the epoch kept, which claims no test metric."""

from __future__ import annotations

import csv
import io

from glam_py.train.metrics import METRIC_TITLES, METRICS

# The ECE is in percent like the others: the mean gap between confidence and
# accuracy over the top-probability bins (glam_py.train.metrics).
COLUMN_TITLES = {**METRIC_TITLES, "ECE": "ECE (10 bins)"}

SELECTION_NAMES = {
    "last": "last epoch",
    "val": "best epoch on a validation split carved from training",
    "test": "BEST EPOCH ON THE TEST SPLIT (optimistic, the authors' selection)",
}


# Said under every --protocol all table, so that nobody reads it as an evaluation.
NO_TEST_SPLIT = (
    "No test split: --protocol all trains the model you deploy on every utterance (but those "
    "held out for validation, where --select val chooses the epoch). The recipe's accuracy is "
    "measured under --protocol random or speaker; validation scores that chose the epoch are "
    "optimistic."
)
DEPLOYMENT_COLUMNS = (
    "train_utterances",
    "val_utterances",
    "validation",
    "val_WA",
    "val_UA",
    "selected_epoch",
    "epochs",
)


def title(corpus: str, protocol: str, n_splits: int, select: str) -> str:
    if protocol == "all":
        return f"{corpus}, all protocol (no test split), model selection: {SELECTION_NAMES[select]}"
    return (
        f"{corpus}, {protocol} protocol, {n_splits} split{'s' * (n_splits != 1)}, "
        f"model selection: {SELECTION_NAMES[select]}"
    )


def cell(stats: dict, n_splits: int) -> str:
    """``mean ± std``; the mean alone for one split, whose std says nothing."""
    return f"{stats['mean']:.2f} ± {stats['std']:.2f}" if n_splits > 1 else f"{stats['mean']:.2f}"


def split_line(metrics: dict) -> str:
    """One finished split's line for the training log."""
    fitted = f", temperature {metrics['temperature']:.3g}" if "calibration" in metrics else ""
    if "WA" in metrics:
        return (
            f"WA {metrics['WA']:.2f} UA {metrics['UA']:.2f} macro F1 {metrics['macro_F1']:.2f} "
            f"ECE {metrics['ECE']:.2f}{fitted}"
        )
    s = deployment_summary([metrics])
    line = f"trained on {s['train_utterances']} utterances, no test split"
    if s["val_UA"] is not None:
        line += (
            f"; validation UA {s['val_UA']:.2f} at the epoch kept ({s['selected_epoch']}), "
            f"{s['val_utterances']} utterances held out by {s['validation']}"
        )
    elif s["val_utterances"]:
        line += f"; {s['val_utterances']} utterances held out by {s['validation']}"
    return line + fitted


def deployment_summary(splits: list[dict]) -> dict:
    """The summary of a ``--protocol all`` training (its one split record):
    how many utterances trained and validated, how the validation set was
    carved, the epoch kept and its validation WA and UA (None without a
    validation set)."""
    (s,) = splits
    kept = next(r for r in s["history"] if r["epoch"] == s["selected_epoch"])
    val = kept.get("val")
    return {
        "train_utterances": s["train_utterances"],
        "val_utterances": s["val_utterances"],
        "validation": s["validation"],
        "val_WA": val["WA"] if val else None,
        "val_UA": val["UA"] if val else None,
        "selected_epoch": s["selected_epoch"],
        "epochs": len(s["history"]),
    }


def _deployment_markdown(results: dict) -> str:
    lines = [
        f"### {results['title']}",
        "",
        NO_TEST_SPLIT,
        "",
        "| model | training utterances | validation utterances | validation WA | validation UA | epoch kept |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in results["models"].items():
        s = entry["summary"]
        held = f"{s['val_utterances']} (by {s['validation']})" if s["validation"] else "none"
        scores = [f"{s[k]:.2f}" if s[k] is not None else "-" for k in ("val_WA", "val_UA")]
        lines.append(
            f"| {name} | {s['train_utterances']} | {held} | {' | '.join(scores)} | "
            f"{s['selected_epoch']} of {s['epochs']} |"
        )
    return "\n".join(lines) + "\n"


def _columns(summaries) -> tuple[str, ...]:
    """The table's metrics: :data:`METRICS`, then the ECE where a model has
    it (a run trained before it was recorded has none)."""
    return (*METRICS, *(["ECE"] if any("ECE" in s for s in summaries) else []))


def _metrics_table(title: str, rows: dict[str, tuple[dict, int]]) -> list[str]:
    """A markdown table with a row per model: its summary and its number of splits."""
    columns = _columns(s for s, _ in rows.values())
    lines = [
        f"### {title}",
        "",
        "| model | " + " | ".join(COLUMN_TITLES[m] for m in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, (s, n_splits) in rows.items():
        cells = [cell(s[m], n_splits) if m in s else "-" for m in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict) -> str:
    if results.get("protocol") == "all":
        return _deployment_markdown(results)
    if "test_corpora" in results:
        # One table per test corpus: an average over corpora would mix unrelated tests.
        tables = [
            "\n".join(
                _metrics_table(entry["title"], {k: (s, entry["splits"]) for k, s in entry["models"].items()})
            )
            for entry in results["test_corpora"].values()
        ]
        return "\n\n".join(tables) + "\n"
    rows = {name: (entry["summary"], len(entry["splits"])) for name, entry in results["models"].items()}
    return "\n".join(_metrics_table(results["title"], rows)) + "\n"


def to_csv(results: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if results.get("protocol") == "all":
        writer.writerow(["model", *DEPLOYMENT_COLUMNS])
        for name, entry in results["models"].items():
            s = entry["summary"]
            writer.writerow(
                [name]
                + [
                    f"{s[c]:.4f}" if isinstance(s[c], float) else ("" if s[c] is None else s[c])
                    for c in DEPLOYMENT_COLUMNS
                ]
            )
        return out.getvalue()
    columns = _columns(entry["summary"] for entry in results["models"].values())
    stats = [f"{m}_{stat}" for m in columns for stat in ("mean", "std")]
    if "test_corpora" in results:
        writer.writerow(["test_corpus", "model", *stats, "splits"])
        for corpus, entry in results["test_corpora"].items():
            for name, s in entry["models"].items():
                writer.writerow(
                    [corpus, name]
                    + [f"{s[m][stat]:.4f}" if m in s else "" for m in columns for stat in ("mean", "std")]
                    + [entry["splits"]]
                )
        return out.getvalue()
    writer.writerow(["model", *stats, "splits"])
    for name, entry in results["models"].items():
        s = entry["summary"]
        writer.writerow(
            [name]
            + [f"{s[m][stat]:.4f}" if m in s else "" for m in columns for stat in ("mean", "std")]
            + [len(entry["splits"])]
        )
    return out.getvalue()
