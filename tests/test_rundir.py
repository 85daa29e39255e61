"""The run directory's layout (glam_py.rundir), without training anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glam_py.rundir import RunDir, Variant, natural_key, safe_name, variants


def test_layout(tmp_path):
    run = RunDir(tmp_path)
    assert run.config_file == tmp_path / "config.json"
    assert run.stores_file == tmp_path / "stores.json"
    assert run.results_file == tmp_path / "results.json"
    assert run.report_dir == tmp_path / "report"
    assert run.split_file("glam alpha=0.5", "seed3") == tmp_path / "splits" / "glam_alpha=0.5__seed3.json"
    assert run.state_file("glam", "speaker_03") == tmp_path / "state" / "glam__speaker_03.pt"
    assert run.model_file("mhcnn", "Ses01/F") == tmp_path / "models" / "mhcnn__Ses01_F.pt"


def test_safe_names():
    assert safe_name("glam alpha=0.5") == "glam_alpha=0.5"
    assert safe_name("a/b:c d-e_f.g") == "a_b_c_d-e_f.g"
    for text in ("glam alpha=0.5", "x y/z", "seed10"):
        assert safe_name(safe_name(text)) == safe_name(text)


def test_natural_order_and_parsed_listing(tmp_path):
    assert sorted(["seed10", "seed2", "seed1"], key=natural_key) == ["seed1", "seed2", "seed10"]
    assert sorted(["speaker_8", "speaker_03"], key=natural_key) == ["speaker_03", "speaker_8"]
    run = RunDir(tmp_path)
    for key, split in [
        ("glam", "seed10"),
        ("glam", "seed2"),
        ("glam alpha=0.5", "seed1"),
        ("apcnn", "seed1"),
    ]:
        path = run.model_file(key, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert [(t.key, t.split) for t in run.checkpoints()] == [
        ("apcnn", "seed1"),
        ("glam", "seed2"),
        ("glam", "seed10"),
        ("glam_alpha=0.5", "seed1"),
    ]
    assert [t.split for t in run.checkpoints("glam")] == ["seed2", "seed10"]
    only = run.checkpoints("glam alpha=0.5", "seed1")
    assert len(only) == 1 and only[0].path == run.model_file("glam alpha=0.5", "seed1")
    assert run.split_results() == []  # no splits/ folder yet


def test_variants(tmp_path):
    assert variants(["glam", "apcnn"]) == [Variant("glam", "glam", None), Variant("apcnn", "apcnn", None)]
    assert [v.key for v in variants(["glam", "apcnn"], [0.0, 0.5])] == [
        "glam alpha=0",
        "glam alpha=0.5",
        "apcnn alpha=0",
        "apcnn alpha=0.5",
    ]
    run = RunDir(tmp_path)
    run.record_config({"run": {"models": ["mhcnn"], "alphas": [0.2]}, "labels": ["a", "b"]})
    assert run.variants() == [Variant("mhcnn alpha=0.2", "mhcnn", 0.2)]
    run.record_config(run.read_config())  # the same settings: a resumed run
    with pytest.raises(ValueError, match=r"holds a run with other settings \(labels\); use another --out"):
        run.record_config({"run": {"models": ["mhcnn"], "alphas": [0.2]}, "labels": ["a", "c"]})


def test_stores_and_results(tmp_path):
    run = RunDir(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="stores.json is missing"):
        run.read_stores()
    run.write_stores(tmp_path / "train", tmp_path / "test")
    assert run.read_stores() == {
        "train": (tmp_path / "train").resolve(),
        "test": (tmp_path / "test").resolve(),
    }
    run.write_results({"models": {}}, "| table |\n", "model\n")
    assert json.loads(run.results_file.read_text()) == {"models": {}}
    assert (run.root / "results.md").read_text() == "| table |\n"
    assert (run.root / "results.csv").read_text() == "model\n"
    run.results_file.write_text("{")
    with pytest.raises(ValueError, match="results.json: not valid JSON"):
        run.read_results()
    assert not list(Path(run.root).glob("*.tmp*"))


def test_stores_json_records_each_corpus_test_store(tmp_path):
    run = RunDir(tmp_path / "run")
    run.write_stores(
        tmp_path / "a-train", tmp_path / "a-test", {"a": tmp_path / "a-test", "b": tmp_path / "b"}
    )
    stores = run.read_stores()
    assert stores["test"] == (tmp_path / "a-test").resolve()
    assert stores["test_corpora"] == {"a": (tmp_path / "a-test").resolve(), "b": (tmp_path / "b").resolve()}


def test_a_run_begun_before_a_setting_existed_resumes_with_its_default(tmp_path):
    run = RunDir(tmp_path)
    run.record_config(
        {"run": {"models": ["glam"]}, "train": {"glam": {"lr": 1e-4, "features": {"n_mfcc": 26}}}}
    )
    defaults = {"train": {"glam": {"level_db": 0.0, "features": {"speed": 1.0}}}}
    now = {
        "run": {"models": ["glam"]},
        "train": {"glam": {"lr": 1e-4, "level_db": 0.0, "features": {"n_mfcc": 26, "speed": 1.0}}},
    }
    run.record_config(now, defaults)  # the new settings at their defaults: the same run
    with pytest.raises(ValueError, match=r"other settings \(train\)"):
        run.record_config(now)  # without the defaults the old file differs
    now["train"]["glam"]["features"]["speed"] = 0.9
    with pytest.raises(ValueError, match=r"other settings \(train\)"):
        run.record_config(now, defaults)
    assert "level_db" not in run.read_config()["train"]["glam"]  # the file is left as it was
