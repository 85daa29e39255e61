"""The model one deploys: ``--protocol all`` trains on every utterance
without a test split (its results, report, and the checkpoint predict and
export take), and the bundled model made from such a run
(``glam_py.pretrained``, ``python -m experiments.bundle_model``): float16
weights that predict as float32 ones, under 5 MB, loaded by
``EmotionRecognizer.pretrained()`` and by predict without --checkpoint."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments import bundle_model
from glam_py import EmotionRecognizer, cli, corpora, export, features, pretrained, report
from glam_py.checkpoints import Checkpoint
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.predict import main as predict_main
from glam_py.train import results as tables
from glam_py.train.__main__ import main as train_main
from glam_py.train.config import preset
from tests.support.inputs import corpora_root

TITLE = "GLAM trained on EmoDB-4 (German acted speech; docs/model-card.md)"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Path:
    """A --protocol all run of GLAM choosing its epoch on a validation
    split (6 speakers: one held out), two epochs on a small demo corpus,
    its report written by training itself."""
    root = tmp_path_factory.mktemp("deploy")
    generate_demo_corpus(root / "demo", n_speakers=6, per_class_per_speaker=2)
    out = root / "run"
    argv = ["--preset", "paper", "--corpus", "csv", "--root", str(root / "demo"), "--protocol", "all"]
    argv += ["--select", "val"]
    argv += ["--models", "glam", "--epochs", "2", "--lr", "3e-3", "--alpha", "0", "--pad", "tile"]
    argv += ["--cache", str(root / "cache"), "--threads", "2", "--out", str(out), "--quiet"]
    assert train_main(argv) == 0
    return out


@pytest.fixture(scope="module")
def wavs(deployed) -> list[Path]:
    return sorted((deployed.parent / "demo" / "wav").glob("*.wav"))


@pytest.fixture(scope="module")
def bundle(deployed, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "glam-emodb4.pt"
    argv = [str(deployed), "--out", str(out), "--train-command", "python -m glam_py.train --protocol all"]
    assert cli.run(lambda: bundle_model.main(argv + ["--date", "2026-12-02"])) == 0
    return out


# -- --protocol all ---------------------------------------------------------------------------


def test_protocol_all_trains_on_every_utterance_and_claims_no_test_metric(deployed):
    results = json.loads((deployed / "results.json").read_text())
    assert results["protocol"] == "all" and "all protocol (no test split)" in results["title"]
    (split,) = results["models"]["glam"]["splits"]
    assert split["split"] == "all"
    assert not {"WA", "UA", "macro_F1", "weighted_F1", "confusion", "ECE", "reliability"} & set(split)
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
    assert "No reliability diagram: the run has no test split" in page
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


# -- the bundled model ------------------------------------------------------------------------


def test_the_bundle_is_float16_under_5_mb_with_its_provenance(deployed, bundle):
    assert bundle.stat().st_size < pretrained.MAX_BYTES
    stored = torch.load(bundle, weights_only=True)["state_dict"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    loaded = Checkpoint.load(bundle)
    assert {v.dtype for v in loaded.state_dict.values() if v.is_floating_point()} == {torch.float32}
    p = loaded.provenance
    assert (p["title"], p["model"], p["weights"], p["date"]) == (TITLE, "glam", "float16", "2026-12-02")
    assert (
        p["loso_accuracy"] == "TO BE FILLED"
        and p["train_command"] == "python -m glam_py.train --protocol all"
    )
    assert p["recipe"] == json.loads((deployed / "config.json").read_text())["train"]["glam"]
    assert p["training"]["validation"] == "speaker" and p["run"]["protocol"] == "all"
    assert pretrained.describe(loaded) == f"using the bundled model: {TITLE}"


def test_the_bundle_predicts_emodb_as_the_float32_checkpoint(deployed, bundle, emodb_files):
    reference = EmotionRecognizer.from_checkpoint(deployed, threads=2, precision="fp32")
    bundled = EmotionRecognizer(Checkpoint.load(bundle), threads=2, precision="fp32")
    files = emodb_files[::10]
    windows = features.featurize(files, reference.features, threads=2).windows
    a, b = reference.window_logits(windows), bundled.window_logits(windows)
    assert not np.array_equal(a, b)  # the weights were rounded,
    np.testing.assert_array_equal(a.argmax(1), b.argmax(1))  # yet every window keeps its label
    np.testing.assert_allclose(b, a, rtol=0, atol=pretrained.LOGIT_TOLERANCE * max(1.0, np.abs(a).max()))
    assert [p.label for p in reference.predict(files)] == [p.label for p in bundled.predict(files)]


def test_a_bundle_that_would_differ_or_grow_too_large_is_not_written(deployed, tmp_path, monkeypatch):
    checkpoint = Checkpoint.load(deployed / "models" / "glam__all.pt")
    windows = torch.randn(8, *checkpoint.input_shape).numpy()
    owner = np.repeat(np.arange(4), 2)
    out = tmp_path / "b.pt"
    monkeypatch.setattr(pretrained, "LOGIT_TOLERANCE", 0.0)
    with pytest.raises(pretrained.BundleError, match="window logits move by up to .*float32"):
        pretrained.write_bundle(checkpoint, out, {}, windows, owner)
    monkeypatch.undo()
    monkeypatch.setattr(pretrained, "MAX_BYTES", 1000)
    with pytest.raises(pretrained.BundleError, match="over the 0.001 MB allowed"):
        pretrained.write_bundle(checkpoint, out, {}, windows, owner)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    fidelity = pretrained.write_bundle(checkpoint, out, {}, windows, owner, dtype=torch.float32)
    assert (fidelity.max_logit_difference, fidelity.utterance_labels_changed) == (0.0, 0)
    assert fidelity.size_bytes == out.stat().st_size


def test_bundling_refuses_a_run_with_a_test_split(trained_run, capsys):
    assert cli.run(lambda: bundle_model.main([str(trained_run), "--out", "x.pt"])) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {trained_run}: a --protocol random run; the bundle is trained on every " + (
        "utterance: train it with --protocol all"
    )


def test_predict_without_checkpoint_uses_the_bundle_and_says_so_in_one_line(
    deployed, bundle, wavs, monkeypatch, capsys
):
    monkeypatch.setenv(pretrained.ENV, str(bundle))
    files = list(map(str, wavs[:3]))
    assert predict_main([*files, "--format", "csv", "--threads", "2"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["path"] for r in rows] == files
    lines = err.strip().splitlines()
    assert lines[0] == f"using the bundled model: {TITLE}"
    assert not any("checkpoint" in line or "bundled" in line for line in lines[1:])
    reference = EmotionRecognizer.from_checkpoint(deployed, threads=2)
    assert [r["prediction"] for r in rows] == [p.label for p in reference.predict(files)]
    # --quiet: nothing on stderr, and the JSON on stdout names the model it came from.
    assert predict_main([files[0], "--format", "json", "--quiet", "--threads", "2"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert err == "" and doc["checkpoint"] == str(bundle) and doc["provenance"]["title"] == TITLE
    assert [p["label"] for p in doc["predictions"]] == [rows[0]["prediction"]]


def test_a_missing_bundle_is_one_line_that_says_how_to_make_it(wavs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(pretrained.ENV, str(tmp_path / "none.pt"))
    with pytest.raises(pretrained.MissingBundle, match=r"GLAM_PRETRAINED=.*none\.pt: no such file"):
        EmotionRecognizer.pretrained()
    monkeypatch.delenv(pretrained.ENV)
    monkeypatch.setattr(pretrained, "PACKAGED", tmp_path / "glam-emodb4.pt")
    with pytest.raises(pretrained.MissingBundle, match="glam-emodb4.pt is missing; make it .*bundle_model"):
        EmotionRecognizer.pretrained()
    assert cli.run(lambda: predict_main([str(wavs[0])])) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no bundled model: ") and len(err.strip().splitlines()) == 1
    assert "README.md, 'Bundled model'" in err and "--checkpoint RUN" in err


def test_the_bundle_file_is_not_git_ignored_so_the_wheel_ships_it():
    # maturin puts every file of glam_py/ that git does not ignore into the wheel.
    repo = Path(pretrained.__file__).resolve().parents[2]
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout of glam")
    for path in (pretrained.PACKAGED, pretrained.PACKAGED.with_name(pretrained.FILE_NAME + ".check.json")):
        assert subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=repo).returncode == 1, path


# -- the bundle the package ships ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Checkpoint:
    if not pretrained.PACKAGED.is_file():
        pytest.fail(f"{pretrained.PACKAGED} is missing: the package ships it")
    return Checkpoint.load(pretrained.PACKAGED)


def test_the_shipped_bundle_is_glam_with_the_best_recipe_on_every_emodb4_utterance(shipped):
    assert pretrained.PACKAGED.stat().st_size < pretrained.MAX_BYTES
    assert shipped.model_name == "glam" and shipped.labels == ("neutral", "happy", "sad", "angry")
    made = shipped.provenance
    assert made["title"] == TITLE and made["model_card"] == "docs/model-card.md"
    assert made["corpus"]["name"] == "emodb" and made["n_utterances"] == 339
    assert made["run"]["protocol"] == "all" and made["run"]["preset"] == "best"
    best, paper = preset("best", "glam").to_dict(), preset("paper", "glam").to_dict()
    recipe = [k for k in best if best[k] != paper[k]]
    # The provenance is JSON: the preset's tuples (speeds) read back as lists.
    assert recipe and {k: made["recipe"][k] for k in recipe} == json.loads(
        json.dumps({k: best[k] for k in recipe})
    )
    assert "--preset best --protocol all" in made["train_command"]
    assert made["loso_accuracy"] != bundle_model.TO_BE_FILLED


def test_the_shipped_bundle_recognises_the_emodb_utterances_it_learnt(shipped, monkeypatch):
    root = corpora_root() / "emodb"
    if not (root / "wav").is_dir():
        pytest.skip(f"EmoDB recordings not found under {root} (set GLAM_CORPORA)")
    # Two utterances of each class from each speaker: a model that learnt
    # them gets nearly all right, one mangled on the way in (weights,
    # features, class order) far fewer.
    taken: dict[tuple[str, str], int] = {}
    chosen = []
    for u in corpora.load("emodb", root).utterances:
        if taken.get((u.speaker, u.label), 0) < 2:
            taken[(u.speaker, u.label)] = taken.get((u.speaker, u.label), 0) + 1
            chosen.append(u)
    monkeypatch.delenv(pretrained.ENV, raising=False)
    predictions = EmotionRecognizer.pretrained(threads=2).predict([str(u.path) for u in chosen])
    correct = sum(p.label == u.label for p, u in zip(predictions, chosen))
    assert correct >= 0.9 * len(chosen), f"{correct} of {len(chosen)}"
