"""report.md: the results table, then per model its confusion matrices,
reliability diagram, t-SNE map and training curves, each figure linked relative to the page
with a caption saying what it shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ModelReport:
    key: str
    n_splits: int
    confusion: Path | None  # None: no test split (--protocol all)
    curves: Path
    reliability: Path | None = None
    reliability_note: str | None = None  # why there is no reliability diagram
    tsne: Path | None = None
    tsne_split: str | None = None
    tsne_note: str | None = None  # why there is no t-SNE map
    data: dict[str, dict] = field(default_factory=dict)  # figure name -> the arrays it shows


def _figure(path: Path, alt: str, caption: str) -> list[str]:
    return [f"![{alt}]({path.name})", "", f"*{caption}*", ""]


def _model_section(m: ModelReport) -> list[str]:
    splits = f"{m.n_splits} split{'s' * (m.n_splits != 1)}"
    lines = [f"## {m.key}", "", "### Confusion matrix", ""]
    if m.confusion is not None:
        lines += _figure(
            m.confusion,
            f"{m.key} confusion matrix",
            f"Test utterances, {splits} pooled: counts (left) and each row as a "
            f"percentage of its true class (right).",
        )
    else:
        lines += ["> No confusion matrix: the run has no test split (--protocol all).", ""]
    lines += ["### Reliability", ""]
    if m.reliability is not None:
        lines += _figure(
            m.reliability,
            f"{m.key} reliability diagram",
            f"Test utterances, {splits} pooled, in 10 bins of their top probability (after the "
            f"temperature where training fitted one): each bin's accuracy against its mean "
            f"confidence (the diagonal: calibrated; bars below it: over-confident), the number "
            f"of utterances above each bin. The ECE in the title is the pooled utterances'; the "
            f"table's is the mean over the splits.",
        )
    else:
        lines += [f"> No reliability diagram: {m.reliability_note}", ""]
    lines += ["### Embeddings (t-SNE)", ""]
    if m.tsne is not None:
        n = len(m.data["tsne"]["points"])
        lines += _figure(
            m.tsne,
            f"{m.key} t-SNE",
            f"t-SNE of the penultimate-layer embeddings of the {n} test utterances of "
            f"split {m.tsne_split}; an utterance's embedding is the mean of its windows' "
            f"embeddings. Colour: true class.",
        )
    else:
        lines += [f"> No t-SNE map: {m.tsne_note}", ""]
    lines += ["### Training curves", ""]
    scores = "test WA / UA after each epoch" if m.confusion is not None else "validation UA, if any"
    lines += _figure(
        m.curves,
        f"{m.key} training curves",
        f"Training loss (cross-entropy; with mixup, against the mixed targets) and "
        f"{scores} ({splits}"
        f"{': mean, band from the lowest to the highest split' if m.n_splits > 1 else ''}). "
        + (
            "The test curves are for inspection: only --select-on-test picks an epoch by them."
            if m.confusion is not None
            else "The run has no test split (--protocol all)."
        ),
    )
    return lines


def page(run_dir: Path, table: str, models: list[ModelReport]) -> str:
    lines = ["# Training report", "", f"Run directory: `{run_dir}`", "", "## Results", "", table.strip(), ""]
    for m in models:
        lines += _model_section(m)
    return "\n".join(lines)
