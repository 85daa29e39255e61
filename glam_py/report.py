"""``python -m glam_py.report RUN_DIR``: figures and a markdown report of a finished training run.

Per model: the confusion matrices summed over the splits (the paper's
Fig. 2), a reliability diagram of the test utterances' top probabilities
(with the expected calibration error), a t-SNE map of the test utterances' embeddings (Fig. 3) and the
training curves, under the results table. Under --protocol corpus the
confusion matrices and the reliability diagram are drawn per test corpus.
A run without a test split (--protocol all) gets its table and training
curves (loss, validation UA) only.

Training writes this report itself at the end of a run unless given
``--no-report``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

from glam_py import cli
from glam_py.checkpoints import Checkpoint, CheckpointError
from glam_py.cli import add_quiet_flag
from glam_py.errors import InputError, UsageError
from glam_py.lock import writing
from glam_py.reports.confusion import plot_confusion
from glam_py.reports.curves import plot_curves
from glam_py.reports.embedding import MIN_POINTS, plot_tsne, tsne_points, utterance_embeddings
from glam_py.reports.markdown import CorpusFigures, ModelReport, page
from glam_py.reports.reliability import plot_reliability
from glam_py.reports.rundir import ReportError, RunRecord, load_run
from glam_py.rundir import safe_name
from glam_py.store import FeatureStore
from glam_py.train.data import corpus_utterance_id


def _tsne(
    run: RunRecord, key: str, split: dict, store: FeatureStore, path: Path
) -> tuple[dict | None, str | None]:
    """(figure data, None), or (None, why there is no map): a report of a
    finished run is still worth having when its features moved away."""
    if split["test_ids"] is None:
        return None, (
            f"{run.layout.split_file(key, split['split'])} does not list the test utterances "
            f"(the run was trained before they were recorded)"
        )
    if len(split["test_ids"]) < MIN_POINTS:
        return None, f"split {split['split']} has {len(split['test_ids'])} test utterances, too few to map"
    ckpt_path = run.layout.model_file(key, split["split"])
    if not ckpt_path.is_file():
        return None, f"the checkpoint {ckpt_path} is missing"
    ids = split["test_ids"]
    if split["test_corpus"] is not None:
        # A run of several corpora lists each utterance with its corpus's
        # name; the corpus's own store knows it without.
        own = {
            corpus_utterance_id(split["test_corpus"], u): u
            for u in store.index.column("utterance_id").tolist()
        }
        ids = [own.get(u, u) for u in ids]
    try:
        embeddings, labels = utterance_embeddings(Checkpoint.load(ckpt_path), store, ids)
    except (ReportError, CheckpointError) as e:
        return None, str(e)
    points = tsne_points(embeddings, seed=split["seed"])
    return plot_tsne(points, labels, run.labels, key, split["split"], path), None


def _reliability(
    splits: list[dict], key: str, path: Path, test_split: bool
) -> tuple[dict | None, str | None]:
    """Draws the reliability diagram of ``splits`` at ``path``: (its data,
    None), or (None, why there is none), having removed one an earlier
    report left, which would contradict the page."""
    data = plot_reliability(splits, key, path) if test_split else None
    if data is not None:
        return data, None
    path.unlink(missing_ok=True)
    return None, (
        "the run has no test split (--protocol all)"
        if not test_split
        else "the split files do not record the test utterances' confidences (the run was "
        "trained before they were recorded); train it again for a diagram"
    )


def _corpus_figures(run: RunRecord, key: str, corpus: str, out: Path) -> tuple[CorpusFigures, dict]:
    """``key``'s confusion matrix and reliability diagram over the splits
    that test ``corpus``, and the arrays they show."""
    splits = [s for s in run.models[key] if s["test_corpus"] == corpus]
    name = f"{safe_name(key)}_{safe_name(corpus)}"
    c = CorpusFigures(corpus, len(splits), out / f"confusion_{name}.png")
    data = {"confusion": plot_confusion(splits, run.labels, f"{key} on {corpus}", c.confusion)}
    path = out / f"reliability_{name}.png"
    reliability, c.reliability_note = _reliability(splits, f"{key} on {corpus}", path, True)
    if reliability is not None:
        c.reliability, c.ece, data["reliability"] = path, reliability["ECE"], reliability
    return c, data


def _open_store(run: RunRecord, corpus: str | None) -> tuple[FeatureStore | None, str | None]:
    """(store, None) or (None, why the test windows of ``corpus`` (None:
    the run's only corpus) cannot be read)."""
    if run.test_store is None:
        return None, f"{run.layout.stores_file} is missing, so the test features cannot be found"
    path = run.test_store
    if corpus is not None:
        if corpus not in run.corpus_stores:
            return None, (
                f"{run.layout.stores_file} records no test store of {corpus} (a run trained before "
                f"each corpus's was recorded has the first corpus's only)"
            )
        path = run.corpus_stores[corpus]
    try:
        return FeatureStore(path), None
    except (FileNotFoundError, ValueError) as e:
        return None, f"the test feature store cannot be opened: {e}"


def _chosen_split(run: RunRecord, key: str, split: str | None) -> dict:
    names = [s["split"] for s in run.models[key]]
    if split is not None and split not in names:
        raise ReportError(
            f"{run.layout.results_file}: {key} has no split {split!r}; it has {', '.join(names)}"
        )
    return run.models[key][names.index(split) if split is not None else 0]


def write_report(
    run_dir: Path,
    out: Path | None = None,
    split: str | None = None,
    models: list[str] | None = None,
    tsne: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[Path, list[ModelReport]]:
    """Writes the figures and report.md into ``out`` (default
    RUN_DIR/report); returns report.md's path and what each figure shows."""
    run = load_run(run_dir)
    out = out or run.layout.report_dir
    keys = models or list(run.models)
    unknown = [k for k in keys if k not in run.models]
    if unknown:
        raise ReportError(
            f"{run.layout.results_file} has no model {unknown[0]!r}; it has {', '.join(run.models)}"
        )
    chosen = {key: _chosen_split(run, key, split) for key in keys}
    # Per test corpus (None: the run's only one), opened once for every model.
    stores: dict[str | None, tuple[FeatureStore | None, str | None]] = {}
    reports = []
    for key in keys:
        splits = run.models[key]
        started = time.perf_counter()
        if not run.test_split:
            store, store_note = None, "the run has no test split (--protocol all)"
        elif tsne:
            corpus = chosen[key]["test_corpus"]
            if corpus not in stores:
                stores[corpus] = _open_store(run, corpus)
            store, store_note = stores[corpus]
        else:
            store, store_note = None, "skipped on request (--no-tsne)"
        pooled = run.test_split and not run.test_corpora
        m = ModelReport(
            key,
            len(splits),
            out / f"confusion_{safe_name(key)}.png" if pooled else None,
            out / f"curves_{safe_name(key)}.png",
            tsne_split=chosen[key]["split"],
            tsne_note=store_note,
        )
        reliability = out / f"reliability_{safe_name(key)}.png"
        if run.test_corpora:
            # Figures pooled over the corpora would mix unrelated test sets:
            # one per test corpus instead, and none left from an earlier report.
            for stale in (out / f"confusion_{safe_name(key)}.png", reliability):
                stale.unlink(missing_ok=True)
            m.data["corpora"] = {}
            for corpus in run.test_corpora:
                figures, m.data["corpora"][corpus] = _corpus_figures(run, key, corpus, out)
                m.corpora.append(figures)
        else:
            if m.confusion is not None:
                m.data["confusion"] = plot_confusion(splits, run.labels, key, m.confusion)
            data, m.reliability_note = _reliability(splits, key, reliability, run.test_split)
            if data is not None:
                m.reliability, m.data["reliability"] = reliability, data
        m.data["curves"] = plot_curves(splits, len(run.labels), key, m.curves)
        if store is not None:
            path = out / f"tsne_{safe_name(key)}.png"
            data, m.tsne_note = _tsne(run, key, chosen[key], store, path)
            if data is not None:
                m.tsne, m.data["tsne"] = path, data
        if m.tsne is None:  # a map left by an earlier report would contradict the page
            (out / f"tsne_{safe_name(key)}.png").unlink(missing_ok=True)
        reports.append(m)
        log(f"report: {key} drawn in {time.perf_counter() - started:.1f} s")
    markdown = out / "report.md"
    markdown.write_text(page(run_dir, run.table, reports), encoding="utf-8")
    return markdown, reports


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m glam_py.report", description=__doc__.replace("``", ""))
    p.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        help="a finished run directory of python -m glam_py.train (holds results.json).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the PNGs and report.md go (default: RUN_DIR/report).",
    )
    p.add_argument(
        "--split",
        default=None,
        help="the split whose test utterances the t-SNE maps (e.g. seed3) "
        "(default: each model's first split).",
    )
    p.add_argument(
        "--models",
        default=None,
        help="comma-separated result keys to report, as in the results table (default: all).",
    )
    p.add_argument(
        "--no-tsne",
        action="store_true",
        help="skip the t-SNE maps (they re-run every model on its test utterances).",
    )
    add_quiet_flag(p)
    return p


def check(args: argparse.Namespace) -> None:
    """Every argument, before any work (see :func:`glam_py.cli.parse`)."""
    if not args.run_dir.is_dir():
        raise InputError(f"{args.run_dir}: no such run directory")
    if args.models is not None and not all(args.models.split(",")):
        raise UsageError(f"--models {args.models!r}: an empty name; give comma-separated result keys")
    cli.check_output_dir(args.out or args.run_dir / "report", "--out")


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(build_parser(), argv, check)
    log = (lambda _: None) if args.quiet else print
    # The folder written, locked for the report's few seconds: by default the
    # run directory, so a report is refused while a training still writes it
    # (that training reports at its end), and two reports do not mix their
    # figures.
    with writing(args.out or args.run_dir, "report folder" if args.out else "run directory", log=log):
        markdown, _ = write_report(
            args.run_dir,
            args.out,
            args.split,
            args.models.split(",") if args.models else None,
            tsne=not args.no_tsne,
            log=log,
        )
    log(f"report: {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
