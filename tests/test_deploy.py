"""The model one deploys: ``--protocol all`` trains on every utterance
without a test split (its results, report, and the checkpoint predict and
export take)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch

from glam_py import export, report
from glam_py.checkpoints import Checkpoint
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.predict import main as predict_main
from glam_py.train import results as tables
from glam_py.train.__main__ import main as train_main


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Path:
    """A --protocol all run of GLAM choosing its epoch on a validation
    split (6 speakers: one held out), two epochs on a small demo corpus,
    its report written by training itself."""
    root = tmp_path_factory.mktemp("deploy")
    generate_demo_corpus(root / "demo", n_speakers=6, per_class_per_speaker=2)
    out = root / "run"
    argv = ["--corpus", "csv", "--root", str(root / "demo"), "--protocol", "all", "--select", "val"]
    argv += ["--models", "glam", "--epochs", "2", "--lr", "3e-3", "--alpha", "0", "--pad", "tile"]
    argv += ["--cache", str(root / "cache"), "--threads", "2", "--out", str(out), "--quiet"]
    assert train_main(argv) == 0
    return out


@pytest.fixture(scope="module")
def wavs(deployed) -> list[Path]:
    return sorted((deployed.parent / "demo" / "wav").glob("*.wav"))


# -- --protocol all ---------------------------------------------------------------------------


def test_protocol_all_trains_on_every_utterance_and_claims_no_test_metric(deployed):
    results = json.loads((deployed / "results.json").read_text())
    assert results["protocol"] == "all" and "all protocol (no test split)" in results["title"]
    (split,) = results["models"]["glam"]["splits"]
    assert split["split"] == "all"
    assert not {"WA", "UA", "macro_F1", "weighted_F1", "confusion"} & set(split)
    assert all("test" not in epoch for epoch in split["history"])
    # One of the six speakers (8 utterances) chose the epoch; the other 40 trained.
    summary = results["models"]["glam"]["summary"]
    assert (summary["train_utterances"], summary["val_utterances"], summary["validation"]) == (
        40,
        8,
        "speaker",
    )
    kept = split["history"][summary["selected_epoch"] - 1]
    assert summary["val_UA"] == kept["val"]["UA"] == max(e["val"]["UA"] for e in split["history"])
    assert json.loads((deployed / "splits" / "glam__all.json").read_text())["test_ids"] == []
    table = (deployed / "results.md").read_text()
    assert tables.NO_TEST_SPLIT in table and "weighted F1" not in table
    assert f"| glam | 40 | 8 (by speaker) | {summary['val_WA']:.2f} | {summary['val_UA']:.2f} |" in table
    rows = list(csv.reader(io.StringIO((deployed / "results.csv").read_text())))
    assert rows[0] == ["model", *tables.DEPLOYMENT_COLUMNS] and rows[1][:4] == ["glam", "40", "8", "speaker"]


def test_the_report_of_a_run_without_test_split_has_its_table_and_curves_only(deployed, tmp_path):
    page = (deployed / "report" / "report.md").read_text()
    assert [p.name for p in (deployed / "report").glob("*.png")] == ["curves_glam.png"]
    assert (deployed / "results.md").read_text().strip() in page
    assert "No confusion matrix: the run has no test split" in page
    assert "No t-SNE map: the run has no test split" in page
    assert report.main([str(deployed), "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "report.md").read_text() == page


def test_predict_and_export_take_the_protocol_all_checkpoint(deployed, wavs, tmp_path, capsys):
    assert predict_main(["--checkpoint", str(deployed), *map(str, wavs[:4]), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert [r["status"] for r in csv.DictReader(io.StringIO(out))] == ["ok"] * 4
    assert "models/glam__all.pt: glam" in err
    assert export.main(["--checkpoint", str(deployed), "--out", str(tmp_path / "m.pt"), "--quiet"]) == 0
    module, meta = export.load_torchscript(tmp_path / "m.pt")
    checkpoint = Checkpoint.load(deployed / "models" / "glam__all.pt")
    assert meta["labels"] == list(checkpoint.labels)
    x = torch.randn(3, 1, *checkpoint.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(module(x), checkpoint.build_model()(x), rtol=1e-4, atol=1e-4)
