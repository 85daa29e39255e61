"""python -m glam_py.report and the report written at the end of training:
figures that show the run's own numbers, a page that links them, and a
note instead of a crash when the test features are gone."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from glam_py import report
from glam_py.checkpoints import Checkpoint
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.reports import curves
from glam_py.reports.embedding import utterance_embeddings
from glam_py.reports.rundir import ReportError
from glam_py.rundir import RunDir
from glam_py.store import FeatureStore
from glam_py.train.__main__ import main as train_main
from glam_py.train.metrics import expected_calibration_error


def _train_args(root: Path, out: Path) -> list[str]:
    return [
        "--preset",
        "paper",
        "--corpus",
        "csv",
        "--root",
        str(root),
        "--models",
        "mhcnn,apcnn",
        "--repeats",
        "2",
        "--epochs",
        "2",
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
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished two-split run on a small demo corpus, its report written
    by training itself."""
    root = tmp_path_factory.mktemp("demo")
    generate_demo_corpus(root, n_speakers=4, per_class_per_speaker=3)
    out = root / "run"
    assert train_main(_train_args(root, out)) == 0
    return root, out


@pytest.fixture(scope="module")
def rendered(trained, tmp_path_factory):
    """The report of the trained run, with the arrays behind each figure."""
    out = tmp_path_factory.mktemp("report")
    _, models = report.write_report(trained[1], out=out, log=lambda _: None)
    return out, {m.key: m.data for m in models}


def _split_files(run_dir: Path) -> list[dict]:
    results = json.loads((run_dir / "results.json").read_text())
    names = [s["split"] for s in results["models"]["apcnn"]["splits"]]
    return [json.loads((run_dir / "splits" / f"apcnn__{n}.json").read_text()) for n in names]


def _copy_without_report(run_dir: Path, to: Path) -> Path:
    shutil.copytree(run_dir, to, ignore=shutil.ignore_patterns("report"))
    return to


def test_training_writes_a_page_that_links_valid_figures(trained):
    _, run_dir = trained
    page = (run_dir / "report" / "report.md").read_text()
    pngs = sorted((run_dir / "report").glob("*.png"))
    assert [p.name for p in pngs] == [
        f"{kind}_{model}.png"
        for kind in ("confusion", "curves", "reliability", "tsne")
        for model in ("apcnn", "mhcnn")
    ]
    for png in pngs:
        assert f"]({png.name})" in page
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG"
        with Image.open(png) as image:
            width, height = image.size
            assert 500 <= width <= 2000 and 400 <= height <= 1200, (png.name, image.size)
            # A figure, not a blank canvas: many distinct colours.
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50
    # The table as training printed it: its rows, and the sections, in the run's order.
    assert (run_dir / "results.md").read_text().strip() in page
    assert page.index("## mhcnn") < page.index("## apcnn")
    assert "mean of its windows' embeddings" in page


def test_confusion_figure_shows_the_splits_summed(trained, rendered):
    _, run_dir = trained
    data = rendered[1]["apcnn"]["confusion"]
    expected = np.sum([s["confusion"] for s in _split_files(run_dir)], axis=0)
    np.testing.assert_array_equal(data["counts"], expected)
    support = expected.sum(axis=1)
    np.testing.assert_allclose(data["normalised"].sum(axis=1), np.where(support > 0, 100.0, 0.0))
    np.testing.assert_allclose(data["normalised"][0, 0], 100 * expected[0, 0] / support[0])


def test_reliability_diagram_pools_every_splits_test_utterances(trained, rendered):
    _, run_dir = trained
    data = rendered[1]["apcnn"]["reliability"]
    splits = _split_files(run_dir)
    confidence = np.concatenate([s["reliability"]["confidence"] for s in splits])
    correct = np.concatenate([s["reliability"]["correct"] for s in splits])
    assert data["count"].sum() == len(confidence) == sum(len(s["test_ids"]) for s in splits)
    assert data["ECE"] == pytest.approx(expected_calibration_error(confidence, correct))
    # The table's ECE is the mean of the splits'; each split's comes from what it records.
    for s in splits:
        assert s["ECE"] == expected_calibration_error(
            s["reliability"]["confidence"], s["reliability"]["correct"]
        )
    right = [s["reliability"]["correct"][i] for s in splits for i in range(len(s["test_ids"]))]
    assert sum(right) == sum(np.trace(s["confusion"]) for s in splits)
    page = (rendered[0] / "report.md").read_text()
    assert page.index("![apcnn confusion matrix]") < page.index("![apcnn reliability diagram]")
    table = (run_dir / "results.md").read_text()
    assert "| ECE (10 bins) |" in table.splitlines()[2]


def test_a_run_without_recorded_confidences_reports_without_the_diagram(trained, tmp_path):
    _, run_dir = trained
    run = _copy_without_report(run_dir, tmp_path / "run")
    results = json.loads((run / "results.json").read_text())
    for path in (run / "splits").glob("*.json"):
        record = json.loads(path.read_text())
        del record["reliability"], record["ECE"]  # as in runs trained before they were recorded
        path.write_text(json.dumps(record))
    for entry in results["models"].values():
        del entry["summary"]["ECE"]
        for split in entry["splits"]:
            del split["ECE"]
    (run / "results.json").write_text(json.dumps(results))
    (run / "report").mkdir()
    (run / "report" / "reliability_apcnn.png").write_bytes(b"left by an earlier report")
    assert report.main([str(run), "--quiet", "--models", "apcnn", "--no-tsne"]) == 0
    page = (run / "report" / "report.md").read_text()
    assert "> No reliability diagram: the split files do not record the test utterances' confidences" in page
    assert "ECE" not in page
    assert not (run / "report" / "reliability_apcnn.png").exists()
    assert (run / "report" / "confusion_apcnn.png").exists()


def test_curves_show_every_epoch_of_every_split(trained, rendered):
    _, run_dir = trained
    data = rendered[1]["apcnn"]["curves"]
    splits = _split_files(run_dir)
    np.testing.assert_array_equal(data["epoch"], [1, 2])
    np.testing.assert_array_equal(data["loss"], [[r["loss"] for r in s["history"]] for s in splits])
    # The test split is evaluated every 5th epoch and after the last: here the second only.
    assert [["test" in r for r in s["history"]] for s in splits] == [[False, True]] * 2
    np.testing.assert_array_equal(data["test_UA"], [[np.nan, s["history"][1]["test"]["UA"]] for s in splits])


def test_curves_of_sparse_evaluations_join_the_evaluated_epochs(tmp_path, monkeypatch):
    def history(offset):
        return [
            {
                "epoch": e,
                "loss": 1.0 / e + offset,
                **({"test": {"WA": 40.0 + e + offset, "UA": 30.0 + e + offset}} if e in (5, 10, 12) else {}),
            }
            for e in range(1, 13)
        ]

    figures = []
    save = curves.save
    monkeypatch.setattr(curves, "save", lambda fig, path: figures.append(fig) or save(fig, path))
    data = curves.plot_curves(
        [{"history": history(0.0)}, {"history": history(2.0)}], 4, "glam", tmp_path / "curves.png"
    )
    assert np.flatnonzero(~np.isnan(data["test_UA"][0])).tolist() == [4, 9, 11]
    assert not np.isnan(data["loss"]).any()
    lines = {line.get_label(): line for ax in figures[0].axes for line in ax.get_lines()}
    # One line through the three evaluated epochs (mean of the splits), and the loss at every epoch.
    np.testing.assert_array_equal(lines["test WA (accuracy)"].get_xdata(), [5, 10, 12])
    np.testing.assert_array_equal(lines["test WA (accuracy)"].get_ydata(), [46.0, 51.0, 53.0])
    assert len(figures[0].axes[0].get_lines()[0].get_xdata()) == 12
    with Image.open(tmp_path / "curves.png") as image:
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50


@pytest.mark.parametrize("which", [0, 1])
def test_tsne_has_one_point_per_test_utterance_with_its_class(trained, rendered, tmp_path, which):
    _, run_dir = trained
    chosen = _split_files(run_dir)[which]
    if which == 0:  # by default the first split is mapped
        out, data = rendered[0], rendered[1]["apcnn"]
    else:
        out = tmp_path
        _, models = report.write_report(
            run_dir, out=out, split=chosen["split"], models=["apcnn"], log=lambda _: None
        )
        data = models[0].data
    tsne = data["tsne"]
    store = FeatureStore(json.loads((run_dir / "stores.json").read_text())["test"])
    label_of = {row["utterance_id"]: row["label"] for row in store.index}
    class_names = json.loads((run_dir / "results.json").read_text())["labels"]
    assert tsne["points"].shape == (len(chosen["test_ids"]), 2)
    assert np.isfinite(tsne["points"]).all()
    assert [class_names[k] for k in tsne["labels"]] == [label_of[u] for u in chosen["test_ids"]]
    assert f"split {chosen['split']}" in (out / "report.md").read_text()


def test_results_json_stays_free_of_test_ids(trained):
    _, run_dir = trained
    results = json.loads((run_dir / "results.json").read_text())
    assert all("test_ids" not in s and "reliability" not in s for s in results["models"]["apcnn"]["splits"])
    assert all(len(s["test_ids"]) == sum(s["per_class"]["support"]) for s in _split_files(run_dir))


def test_a_missing_store_leaves_a_note_instead_of_a_map(trained, tmp_path):
    _, run_dir = trained
    run = _copy_without_report(run_dir, tmp_path / "run")
    first = sorted((run / "splits").glob("*.json"))[0]
    record = json.loads(first.read_text())
    del record["test_ids"]  # as in runs trained before the ids were recorded
    first.write_text(json.dumps(record))
    assert report.main([str(run), "--quiet", "--models", "apcnn"]) == 0
    assert "the run was trained before they were recorded" in (run / "report" / "report.md").read_text()
    gone = tmp_path / "moved-away"
    (run / "stores.json").write_text(json.dumps({"train": str(gone), "test": str(gone)}))
    assert report.main([str(run), "--quiet", "--models", "apcnn"]) == 0
    page = (run / "report" / "report.md").read_text()
    assert "No t-SNE map: the test feature store cannot be opened" in page and str(gone) in page
    assert not (run / "report" / "tsne_apcnn.png").exists()
    assert (run / "report" / "confusion_apcnn.png").exists()
    (run / "stores.json").unlink()
    assert report.main([str(run), "--quiet", "--models", "apcnn", "--no-tsne"]) == 0
    assert "skipped on request (--no-tsne)" in (run / "report" / "report.md").read_text()
    assert report.main([str(run), "--quiet", "--models", "apcnn"]) == 0
    assert "stores.json is missing" in (run / "report" / "report.md").read_text()


def test_no_report_flag_and_resume(trained, tmp_path):
    root, run_dir = trained
    # Every split is done, so these runs only gather the results again.
    run = _copy_without_report(run_dir, tmp_path / "run")
    assert train_main(_train_args(root, run) + ["--no-report"]) == 0
    assert (run / "results.md").exists() and not (run / "report").exists()
    assert train_main(_train_args(root, run)) == 0
    assert (run / "report" / "report.md").exists()


def test_errors_name_the_file_and_the_problem(trained, tmp_path):
    _, run_dir = trained
    with pytest.raises(ReportError, match="results.json is missing"):
        report.main([str(tmp_path), "--quiet"])
    with pytest.raises(ReportError, match="has no split 'seed99'; it has seed1, seed2"):
        report.write_report(run_dir, out=tmp_path, split="seed99", log=lambda _: None)
    with pytest.raises(ReportError, match="has no model 'glam'"):
        report.write_report(run_dir, out=tmp_path, models=["glam"], log=lambda _: None)


def test_principal_components_match_sklearn():
    from sklearn.decomposition import PCA

    from glam_py.reports.embedding import principal_components

    rng = np.random.default_rng(0)
    for shape in [(30, 500), (200, 60)]:  # fewer points than dimensions, and more
        x = rng.normal(size=shape) * np.linspace(1, 3, shape[1])
        ours, ref = principal_components(x, 10), PCA(n_components=10, svd_solver="full").fit_transform(x)
        np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-8)


@pytest.mark.parametrize("mode", ["utterance", "speaker"])
def test_tsne_embeds_the_windows_normalised_as_the_model_was_trained(trained, mode):
    # The run's model, as if trained with --normalize: the map must embed
    # each window less its group's mean over the store, over its std.
    _, run_dir = trained
    chosen = _split_files(run_dir)[0]
    ckpt = Checkpoint.load(RunDir(run_dir).model_file("apcnn", chosen["split"]))
    store = FeatureStore(json.loads((run_dir / "stores.json").read_text())["test"])
    ids = chosen["test_ids"]
    plain, _ = utterance_embeddings(ckpt, store, ids)
    normalised, labels = utterance_embeddings(dataclasses.replace(ckpt, normalize=mode), store, ids)
    row_of = {u: i for i, u in enumerate(store.index.column("utterance_id").tolist())}
    speaker = store.index.column("speaker")
    model = ckpt.build_model()
    for k, u in enumerate(ids):
        i = row_of[u]
        group = [i] if mode == "utterance" else np.flatnonzero(speaker == speaker[i])
        every = np.concatenate([np.asarray(store.windows(j), dtype=np.float64) for j in group])
        mean = every.mean(axis=(0, 2))[:, None]
        std = np.maximum(every.std(axis=(0, 2)), 1e-2)[:, None]
        x = ((np.asarray(store.windows(i)) - mean) / std).astype(np.float32)
        with torch.no_grad():
            expected = model.embed(torch.from_numpy(x).unsqueeze(1)).numpy().mean(axis=0)
        np.testing.assert_allclose(normalised[k], expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(plain, normalised, atol=1e-3)
    assert len(labels) == len(ids)
