"""``--corpus hf``: Hugging Face datasets built here from EmoDB recordings
(save_to_disk and Parquet; Audio from bytes and from paths; ClassLabel and
string labels) featurise to the windows of the same WAV files, train, and
refuse what is not a dataset in one line. Nothing is downloaded."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from glam_py import cli, corpora, features, featurize
from glam_py.corpora import hf
from glam_py.corpora.emodb import EMOTIONS
from glam_py.features import FeatureConfig
from glam_py.store import FeatureStore
from glam_py.train import __main__ as train

TILE = FeatureConfig(pad="tile")


@pytest.fixture(scope="module")
def datasets():
    module = pytest.importorskip(
        "datasets", reason="the datasets package is not installed (pip install 'glam[hf]')"
    )
    module.disable_progress_bars()  # building the test datasets would print them amid the commands' output
    return module


@pytest.fixture(scope="module")
def files(emodb_files) -> list[Path]:
    """12 recordings of several speakers and emotions."""
    return emodb_files[::40][:12]


def _dataset(
    datasets, files, *, in_bytes=True, class_label=True, speaker="speaker", relative_to=None, replace=None
):
    """A dataset of ``files``: Audio from their bytes (the path then only
    their name) or from paths (relative to ``relative_to``), labels as a
    ClassLabel or text, speakers in column ``speaker`` (None: none);
    ``replace`` maps ``(column, row)`` to a value put there instead."""
    labels = [EMOTIONS[f.name[5]] for f in files]
    names = sorted(set(labels))
    audio = [
        {"bytes": f.read_bytes(), "path": f.name}
        if in_bytes
        else {"bytes": None, "path": os.path.relpath(f, relative_to)}
        for f in files
    ]
    columns = {"audio": audio, "label": [names.index(x) for x in labels] if class_label else labels}
    kinds = {
        "audio": datasets.Audio(),
        "label": datasets.ClassLabel(names=names) if class_label else datasets.Value("string"),
    }
    if speaker:
        columns[speaker] = [f"emodb{f.name[:2]}" for f in files]
        kinds[speaker] = datasets.Value("string")
    for (column, row), value in (replace or {}).items():
        columns[column][row] = value
    # cast, not features=: encoding Audio values would want torchcodec, which glam does not use.
    return datasets.Dataset.from_dict(columns).cast(datasets.Features(kinds))


def _run(command, argv, capsys) -> tuple[int, str, str]:
    try:
        code = cli.run(lambda: command.main(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _windows_by_file(files) -> dict[str, np.ndarray]:
    batch = features.featurize(files, TILE, threads=2)
    return {str(f): batch.windows[batch.file_index == k] for k, f in enumerate(files)}


def test_a_dataset_saved_to_disk_featurises_as_its_wav_files(datasets, files, tmp_path, capsys):
    ds = _dataset(datasets, files)
    root = tmp_path / "emodb_hf"
    splits = datasets.DatasetDict({"train": ds.select(range(8)), "test": ds.select(range(8, 12))})
    splits.save_to_disk(root, num_shards={"train": 2, "test": 1})  # rows 4-7 of train in a second file
    store = tmp_path / "store"
    argv = ["--corpus", "hf", "--root", str(root), "--pad", "tile", "--threads", "2", "--quiet"]
    code, out, err = _run(featurize, [*argv, "--out", str(store)], capsys)
    assert code == 0, err
    expected = _windows_by_file(files)
    read = FeatureStore(store)
    assert len(read) == 12
    for i, row in enumerate(read.index):
        split, k = row["utterance_id"].split("/")
        source = files[int(k) + (8 if split == "test" else 0)]
        assert row["subset"] == split
        table = "data-00000-of-00001.arrow" if split == "test" else f"data-0000{int(k) // 4}-of-00002.arrow"
        assert row["path"] == f"{root / split / table}#audio/{int(k) % 4}"
        assert row["label"] == EMOTIONS[source.name[5]] and row["speaker"] == f"emodb{source.name[:2]}"
        np.testing.assert_array_equal(read.windows(i), expected[str(source)])
    # ClassLabel names, in the order they first appear (as csv's labels).
    assert read.labels == list(dict.fromkeys(EMOTIONS[f.name[5]] for f in files))
    code, out, err = _run(featurize, [*argv, "--subset", "test"], capsys)
    assert code == 0 and "files: 4 (4 read, 0 unreadable)" in out


def test_parquet_files_with_audio_paths_or_bytes(datasets, files, tmp_path):
    root = tmp_path / "parquet"
    expected = _windows_by_file(files)
    # Paths relative to the dataset folder, string labels, speakers under another name.
    paths = _dataset(
        datasets, files[:6], in_bytes=False, class_label=False, speaker="speaker_id", relative_to=root
    )
    paths.to_parquet(root / "data" / "train-00000-of-00001.parquet")
    corpus = corpora.load("hf", root, speaker_column="speaker_id")
    assert [u.file for u in corpus.utterances] == [
        os.path.join(root, os.path.relpath(f, root)) for f in files[:6]
    ]
    assert [u.speaker for u in corpus.utterances] == [f"emodb{f.name[:2]}" for f in files[:6]]
    assert {u.subset for u in corpus.utterances} == {"train"}
    assert corpora.load("hf", root).utterances[0].speaker is None  # no column named speaker
    # Bytes in row groups of 5, one row a path only (its bytes then read to tell which rows have them).
    mixed = _dataset(datasets, files, replace={("audio", 7): {"bytes": None, "path": str(files[7])}})
    table = tmp_path / "bytes" / "test.parquet"
    mixed.to_parquet(table, batch_size=5)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(table).num_row_groups == 3
    corpus = corpora.load("hf", tmp_path / "bytes")
    named = [u.file for u in corpus.utterances]
    assert named[7] == str(files[7]) and named[11] == f"{table}#audio/11"
    # Rows read out of order, across row groups, beside a file on disk.
    wanted = [named[11], named[2], str(files[0]), named[6], named[5]]
    assert hf.audio_bytes(wanted) == [files[11].read_bytes(), files[2].read_bytes(), None] + [
        files[k].read_bytes() for k in (6, 5)
    ]
    assert hf.audio_bytes([str(f) for f in files]) is None
    batch = features.featurize(named, TILE, threads=2, data=hf.audio_bytes(named))
    for k, f in enumerate(files):
        np.testing.assert_array_equal(batch.windows[batch.file_index == k], expected[str(f)])


def test_unreadable_and_unlabelled_rows_are_skipped_with_the_reason(datasets, files, tmp_path, capsys):
    damaged = {
        ("audio", 1): {"bytes": b"RIFF, but not audio", "path": "x.wav"},
        ("audio", 2): {"bytes": None, "path": "gone.wav"},
        ("label", 3): -1,  # a ClassLabel's "no label"
    }
    root = tmp_path / "damaged"
    # Parquet with a batch size: save_to_disk, and to_parquet sizing its batches, look for the missing file.
    _dataset(datasets, files[:6], replace=damaged).to_parquet(root / "train.parquet", batch_size=6)
    store = tmp_path / "store"
    argv = ["--corpus", "hf", "--root", str(root), "--pad", "tile", "--threads", "2", "--quiet"]
    code, out, err = _run(featurize, [*argv, "--out", str(store)], capsys)
    assert code == 0, err
    assert len(FeatureStore(store)) == 3
    with (store / "skipped.csv").open() as f:
        reasons = {r["path"]: r["reason"] for r in csv.DictReader(f)}
    table = root / "train.parquet"
    assert (
        reasons[f"{table}#audio/2"]
        == "no audio: no bytes in column audio, and its path gone.wav is not a file"
    )
    assert reasons[f"{table}#audio/3"] == "no label in column label"
    assert reasons[f"{table}#audio/1"].startswith(f"unreadable: {table}#audio/1: ")


def test_a_tiny_training_run_from_a_dataset(datasets, files, tmp_path, capsys):
    root = tmp_path / "emodb_hf"
    _dataset(datasets, files).save_to_disk(root)
    argv = ["--preset", "paper", "--corpus", "hf", "--root", str(root), "--models", "apcnn", "--repeats", "1"]
    argv += ["--epochs", "1"]
    argv += ["--pad", "tile", "--threads", "2", "--quiet", "--no-report"]
    argv += ["--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run")]
    code, out, err = _run(train, argv, capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "models" / "apcnn__seed1.pt").is_file()
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["n_utterances"] == 12 and config["corpus"]["name"] == "hf"
    assert config["labels"] == list(dict.fromkeys(EMOTIONS[f.name[5]] for f in files))


@pytest.fixture(scope="module")
def unusable(datasets, files, tmp_path_factory) -> Path:
    """A folder holding an empty folder, a dataset, one without an Audio
    column and one whose table is damaged."""
    root = tmp_path_factory.mktemp("unusable")
    (root / "empty").mkdir()
    _dataset(datasets, files[:2]).save_to_disk(root / "ds")
    paths = {"path": [str(f) for f in files[:2]], "label": ["a", "b"]}
    datasets.Dataset.from_dict(paths).save_to_disk(root / "plain")
    shutil.copytree(root / "ds", root / "broken")
    (root / "broken" / "data-00000-of-00001.arrow").write_bytes(b"not an Arrow stream")
    return root


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--root", "{tmp}/empty"], "hf: expected a dataset saved by datasets' save_to_disk"),
        (
            ["--root", "{tmp}/ds", "--label-column", "emotion"],
            "no label column emotion (found audio, label, speaker;",
        ),
        (
            ["--root", "{tmp}/ds", "--path-column", "sound"],
            "no Audio column sound (found audio, label, speaker;",
        ),
        (["--root", "{tmp}/ds", "--path-column", "label"], "column label is not an Audio column"),
        (["--root", "{tmp}/ds", "--speaker-column", "actor"], "no speaker column actor"),
        (["--root", "{tmp}/ds", "--subset", "dev"], "no split 'dev' (--subset); the dataset has no splits"),
        (["--root", "{tmp}/plain"], "no Audio column audio (found path, label;"),
        (
            ["--root", "{tmp}/broken"],
            "data-00000-of-00001.arrow: not an Arrow file written by save_to_disk (",
        ),
    ],
)
def test_what_is_not_a_usable_dataset_is_refused_in_one_line(unusable, capsys, argv, says):
    argv = ["--corpus", "hf", *(a.replace("{tmp}", str(unusable)) for a in argv)]
    code, out, err = _run(featurize, argv, capsys)
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and says in err


def test_without_datasets_one_line_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets then fails
    code, out, err = _run(featurize, ["--corpus", "hf", "--root", str(tmp_path)], capsys)
    assert (code, err) == (1, "error: --corpus hf needs the datasets package: pip install 'glam[hf]'\n")


def test_hf_flags_apply_only_where_they_mean_something(tmp_path, capsys):
    code, _, err = _run(
        featurize, ["--corpus", "emodb", "--root", str(tmp_path), "--speaker-column", "x"], capsys
    )
    assert code == 2 and "--speaker-column applies only with --corpus csv or hf" in err
    code, _, err = _run(
        featurize, ["--corpus", "iemocap", "--root", str(tmp_path), "--subset", "train"], capsys
    )
    assert code == 2 and "--subset train: with --corpus iemocap choose impro, script, full" in err
