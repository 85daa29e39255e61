"""report.md: the results table, then per model its confusion matrices,
reliability diagram, t-SNE map and training curves, each figure linked relative to the page
with a caption saying what it shows. Under the corpus protocol the
confusion matrices and the reliability diagram come once per test corpus,
each under its corpus's heading with its ECE."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CorpusFigures:
    """A model's figures for one test corpus of the corpus protocol."""

    corpus: str
    n_splits: int
    confusion: Path
    reliability: Path | None = None
    reliability_note: str | None = None  # why there is no reliability diagram
    ece: float | None = None  # percent, of the corpus's test utterances of every split pooled


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
    # Figure name -> the arrays it shows; under the corpus protocol
    # "corpora" -> test corpus -> figure name -> the arrays.
    data: dict[str, dict] = field(default_factory=dict)
    corpora: list[CorpusFigures] = field(default_factory=list)  # the corpus protocol's, in run order


def _figure(path: Path, alt: str, caption: str) -> list[str]:
    return [f"![{alt}]({path.name})", "", f"*{caption}*", ""]


def _splits(n: int) -> str:
    return f"{n} split{'s' * (n != 1)}"


def _confusion(path: Path, alt: str, splits: str) -> list[str]:
    return _figure(
        path,
        alt,
        f"Test utterances, {splits} pooled: counts (left) and each row as a "
        f"percentage of its true class (right).",
    )


def _reliability(path: Path | None, note: str | None, alt: str, splits: str) -> list[str]:
    if path is None:
        return [f"> No reliability diagram: {note}", ""]
    return _figure(
        path,
        alt,
        f"Test utterances, {splits} pooled, in 10 bins of their top probability (after the "
        f"temperature where training fitted one): each bin's accuracy against its mean "
        f"confidence (the diagonal: calibrated; bars below it: over-confident), the number "
        f"of utterances above each bin. The ECE in the title is the pooled utterances'; the "
        f"table's is the mean over the splits.",
    )


def _corpus_section(key: str, c: CorpusFigures) -> list[str]:
    """One test corpus's figures: pooling them with another corpus's would
    mix unrelated test sets."""
    splits = _splits(c.n_splits)
    ece = (
        f"ECE (10 bins) of its test utterances, {splits} pooled: **{c.ece:.2f}%**."
        if c.ece is not None
        else "No ECE: the split files do not record the test utterances' confidences."
    )
    lines = [
        f"### Tested on {c.corpus}",
        "",
        f"Trained on the other corpora, tested on all of {c.corpus}. {ece}",
        "",
    ]
    lines += ["#### Confusion matrix", ""]
    lines += _confusion(c.confusion, f"{key} confusion matrix on {c.corpus}", splits)
    lines += ["#### Reliability", ""]
    lines += _reliability(
        c.reliability, c.reliability_note, f"{key} reliability diagram on {c.corpus}", splits
    )
    return lines


def _model_section(m: ModelReport) -> list[str]:
    splits = _splits(m.n_splits)
    lines = [f"## {m.key}", ""]
    if m.corpora:
        for c in m.corpora:
            lines += _corpus_section(m.key, c)
    else:
        lines += ["### Confusion matrix", ""]
        if m.confusion is not None:
            lines += _confusion(m.confusion, f"{m.key} confusion matrix", splits)
        else:
            lines += ["> No confusion matrix: the run has no test split (--protocol all).", ""]
        lines += ["### Reliability", ""]
        lines += _reliability(m.reliability, m.reliability_note, f"{m.key} reliability diagram", splits)
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
    tested = m.confusion is not None or bool(m.corpora)
    scores = "test WA / UA after each epoch" if tested else "validation UA, if any"
    lines += _figure(
        m.curves,
        f"{m.key} training curves",
        f"Training loss (cross-entropy; with mixup, against the mixed targets) and "
        f"{scores} ({splits}"
        f"{': mean, band from the lowest to the highest split' if m.n_splits > 1 else ''}). "
        + (
            "The test curves are for inspection: only --select-on-test picks an epoch by them."
            if tested
            else "The run has no test split (--protocol all)."
        ),
    )
    return lines


def page(run_dir: Path, table: str, models: list[ModelReport]) -> str:
    lines = ["# Training report", "", f"Run directory: `{run_dir}`", "", "## Results", "", table.strip(), ""]
    for m in models:
        lines += _model_section(m)
    return "\n".join(lines)
