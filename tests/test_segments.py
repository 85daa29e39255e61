"""Segments of long recordings: a manifest's ``start`` and ``end`` columns
make each row a part of its file, featurised, stored, trained on and
predicted as if it had been cut into a file of its own."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from glam_py import EmotionRecognizer, cli, features
from glam_py.corpora import LayoutError, load
from glam_py.corpora.manifest import read_manifest
from glam_py.predict import main as predict_main
from glam_py.store import FeatureStore, write_store

RATE = 22050  # not the features' 16 kHz: segments are cut, then resampled


def recording(path: Path, seconds: float, seed: int = 0) -> np.ndarray:
    """A 16-bit WAV of syllable-like bursts of noise; its samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.clip(np.sin(2 * np.pi * 2.7 * t), 0, None) + 0.05
    y = (6000 * envelope * rng.standard_normal(len(t))).astype(np.int16)
    sf.write(path, y, RATE, subtype="PCM_16")
    return y


def frame(t: float) -> int:
    """The frame the reader cuts at: the nearest, halves away from zero
    (Python's ``round`` takes 7.25 s at 22.05 kHz, 159862.5, to the even 159862)."""
    return int(np.floor(t * RATE + 0.5))


def cut(y: np.ndarray, segments, folder: Path) -> list[Path]:
    """Each segment written as a file of its own, at the frames the reader cuts at."""
    paths = []
    for k, (start, end) in enumerate(segments):
        path = folder / f"cut{k}.wav"
        sf.write(path, y[frame(start) : None if end is None else frame(end)], RATE, "PCM_16")
        paths.append(path)
    return paths


SEGMENTS = [(0.0, 3.0), (3.0, 7.25), (7.4, 9.9), (12.0, 12.5), (13.123, None)]


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    y = recording(folder / "talk.wav", 20.0)
    return folder / "talk.wav", y, cut(y, SEGMENTS, folder)


# -- the manifest ------------------------------------------------------------------------------


def write_manifest(path: Path, rows: list[str], header: str = "path,label,start,end") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_manifest_segments_read_with_their_ids(tmp_path):
    manifest = write_manifest(
        tmp_path / "m.csv", ["a.wav,sad,0,2.5", "a.wav,happy,2.5,4", "a.wav,sad,10,", "b.wav,sad,,"]
    )
    utterances = read_manifest(manifest)
    assert [(u.utterance_id, u.segment) for u in utterances] == [
        ("a_0-2.5", (0.0, 2.5)),
        ("a_2.5-4", (2.5, 4.0)),
        ("a_10-end", (10.0, None)),
        ("b", None),
    ]
    # A file listed twice whole is not a segment table (as before segments).
    assert (
        len(read_manifest(write_manifest(tmp_path / "w.csv", ["b.wav,sad", "b.wav,sad"], "path,label"))) == 2
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["a.wav,sad,3,2"], r"m\.csv:2: end 2 s is not after start 3 s$"),
        (["a.wav,sad,1,1"], r"m\.csv:2: end 1 s is not after start 1 s$"),
        (["a.wav,sad,0,1", "a.wav,sad,1:30,2"], r"m\.csv:3: start '1:30' is not a number of seconds$"),
        (["a.wav,sad,-1,2"], r"m\.csv:2: start -1 is not a finite number of seconds >= 0$"),
        (["a.wav,sad,0,inf"], r"m\.csv:2: end inf is not a finite number of seconds >= 0$"),
        (
            ["a.wav,sad,0,2", "b.wav,sad,0,2", "a.wav,happy,1.5,3"],
            r"m\.csv:4: this segment of a\.wav overlaps the one on line 2 \(overlapping segments would "
            r"put the same audio in training and test\)$",
        ),
        (["a.wav,sad,5,", "a.wav,sad,0,"], r"m\.csv:2: this segment of a\.wav overlaps the one on line 3"),
        (["a.wav,sad,,", "a.wav,sad,4,6"], r"m\.csv:3: this segment of a\.wav overlaps the one on line 2"),
    ],
)
def test_bad_segments_are_one_line_errors_naming_the_row(tmp_path, rows, message):
    with pytest.raises(LayoutError, match=message) as caught:
        read_manifest(write_manifest(tmp_path / "m.csv", rows))
    assert "\n" not in str(caught.value)


# -- featurising -------------------------------------------------------------------------------


def test_segments_featurise_as_the_cut_files(long_wav):
    path, _, cuts = long_wav
    config = features.FeatureConfig(pad="tile")
    expected = features.featurize(cuts, config, threads=2)
    got = features.featurize([path] * len(SEGMENTS), config, threads=2, segments=SEGMENTS)
    np.testing.assert_array_equal(got.windows, expected.windows)
    np.testing.assert_array_equal(got.file_index, expected.file_index)
    assert [(f.n_windows, f.duration_s, f.note) for f in got.files] == [
        (f.n_windows, f.duration_s, f.note) for f in expected.files
    ]
    # A chunk at a time, as a long segment is read.
    for segment, cut_file in zip(SEGMENTS, cuts):
        chunks = features.iter_file_windows(path, config, 2, windows_per_chunk=3, segment=segment)
        np.testing.assert_array_equal(
            np.concatenate(list(chunks)), features.featurize(cut_file, config).windows
        )


def test_a_segment_past_the_end_is_that_inputs_error(long_wav):
    path, _, _ = long_wav
    batch = features.featurize([path] * 3, segments=[(1.0, 4.0), (19.0, 21.0), (25.0, None)])
    assert [f.error is None for f in batch.files] == [True, False, False]
    assert batch.files[1].error == f"{path}: segment 19-21 s ends past the end of the file (20 s)"
    assert batch.files[2].error == f"{path}: segment from 25 s starts past the end of the file (20 s)"
    with pytest.raises(ValueError, match=r"segments\[1\]: a segment's end \(1\) must be"):
        features.featurize([path] * 2, segments=[None, (2.0, 1.0)])
    with pytest.raises(ValueError, match="1 segments for 2 paths"):
        features.featurize([path] * 2, segments=[None])


def test_a_store_of_segments_holds_the_cut_files_windows(long_wav, tmp_path, monkeypatch):
    path, _, cuts = long_wav
    manifest = write_manifest(
        tmp_path / "m.csv",
        [
            f"{path},{'sad' if k % 2 else 'happy'},{s},{'' if e is None else e}"
            for k, (s, e) in enumerate(SEGMENTS)
        ],
    )
    config = features.FeatureConfig(pad="tile")
    corpus = load("csv", tmp_path, manifest=manifest)
    for long_file_bytes in (features.LONG_FILE_BYTES, 0):  # in batches, then each alone
        monkeypatch.setattr(features, "LONG_FILE_BYTES", long_file_bytes)
        root = tmp_path / f"store{long_file_bytes}"
        write_store(root, corpus.utterances, config, files_per_shard=2, threads=2)
        store = FeatureStore(root)
        assert [(row["path"], row["start"], row["end"]) for row in store.index] == [
            (str(path), str(s), "" if e is None else str(e)) for s, e in SEGMENTS
        ]
        assert store.index[1]["utterance_id"] == "talk_3.0-7.25"
        for i, cut_file in enumerate(cuts):
            np.testing.assert_array_equal(store.windows(i), features.featurize(cut_file, config).windows)


# -- training ----------------------------------------------------------------------------------


def test_a_corpus_of_segments_trains(small, tmp_path):
    # The demo corpus joined into one recording per speaker, with a table
    # of its utterances: its stores hold the demo files' windows, and a run
    # trains and tests on them.
    from glam_py.train.__main__ import main as train_main

    root, cfg, _ = small
    rows = ["path,label,speaker,start,end"]
    by_speaker: dict[str, list[np.ndarray]] = {}
    with open(root / "manifest.csv", newline="") as f:
        listed = list(csv.DictReader(f))
    for row in listed:
        y, rate = sf.read(root / row["path"], dtype="int16")
        assert rate == 16000
        parts = by_speaker.setdefault(row["speaker"], [])
        offset = sum(len(p) for p in parts)
        parts.append(y)
        span = f"{offset / rate},{(offset + len(y)) / rate}"
        rows.append(f"{row['speaker']}.wav,{row['label']},{row['speaker']},{span}")
    for speaker, parts in by_speaker.items():
        sf.write(tmp_path / f"{speaker}.wav", np.concatenate(parts), 16000, subtype="PCM_16")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    command = ["--preset", "paper", "--corpus", "csv", "--root", str(tmp_path), "--models", "apcnn"]
    command += ["--repeats", "1"]
    command += ["--epochs", "1", "--pad", "tile", "--cache", str(tmp_path / "cache"), "--threads", "2"]
    assert train_main([*command, "--out", str(tmp_path / "run"), "--quiet", "--no-report"]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    split = results["models"]["apcnn"]["splits"][0]
    assert sum(map(sum, split["confusion"])) == math.ceil(0.2 * len(listed))
    # Its stores (training and test overlap) hold the demo files' windows.
    demo = [FeatureStore(p) for p in (root / "cache").iterdir() if (p / "index.csv").is_file()]
    joined = [FeatureStore(p) for p in (tmp_path / "cache").iterdir()]
    assert len(joined) == 2
    for store in joined:
        original = next(d for d in demo if d.config == store.config)
        position = {row["path"]: i for i, row in enumerate(original.index)}
        assert len(store) == len(listed)
        for i, row in enumerate(listed):
            np.testing.assert_array_equal(
                store.windows(i), original.windows(position[str(root / row["path"])])
            )


# -- predicting --------------------------------------------------------------------------------


def test_predict_writes_one_row_per_segment(trained_run, long_wav, tmp_path, capsys, monkeypatch):
    path, _, cuts = long_wav
    manifest = write_manifest(
        tmp_path / "m.csv",
        [f"{path},sad,{s},{'' if e is None else e}" for s, e in SEGMENTS]
        + [f"{path},sad,18,22", f"{path},sad,2,2.5"],
    )
    out = tmp_path / "p.csv"
    argv = ["--checkpoint", str(trained_run), "--model", "apcnn", "--threads", "2", "--precision", "fp32"]
    assert predict_main([*argv, "--out", str(out), str(manifest)]) == 0
    err = capsys.readouterr().err
    # 18-22 s overlaps the segment from 13.123 s to the end, 2-2.5 s the first.
    assert "note: 2 manifest segments overlap another of the same file" in err
    assert f"(first: {manifest}:7 overlaps {manifest}:6); each is predicted on its own" in err
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["start"], r["end"]) for r in rows] == [
        *[(str(s), "" if e is None else str(e)) for s, e in SEGMENTS],
        ("18.0", "22.0"),
        ("2.0", "2.5"),
    ]
    assert rows[5]["status"] == "error"
    assert rows[5]["note"] == f"{manifest}:7: {path}: segment 18-22 s ends past the end of the file (20 s)"
    # The others: as the cut files are predicted.
    recognizer = EmotionRecognizer.from_checkpoint(trained_run, model="apcnn", threads=2, precision="fp32")
    assert rows[6]["status"] == "padded"
    for row, cut_file in zip(rows, cuts):
        alone = recognizer.predict([cut_file])[0]
        assert (row["prediction"], row["status"], int(row["n_windows"])) == (
            alone.label,
            alone.status,
            alone.n_windows,
        )
        for label, p in alone.probabilities.items():
            assert float(row[f"p_{label}"]) == pytest.approx(p, abs=1e-6)
    # JSON and windows: each window's times in the recording.
    out = tmp_path / "p.json"
    assert predict_main([*argv, "--windows", "--quiet", "--out", str(out), str(manifest)]) == 0
    records = json.loads(out.read_text())["predictions"]
    assert [(r["start"], r["end"]) for r in records[:2]] == [(0.0, 3.0), (3.0, 7.25)]
    assert [w["start_s"] for w in records[1]["windows"]] == pytest.approx([3.0, 3.4, 3.8, 4.2, 4.6, 5.0])
    # Each segment alone, a chunk of windows at a time, as a long one is:
    # the same (up to the model's rounding in batches of other windows).
    monkeypatch.setattr(features, "LONG_FILE_BYTES", 0)
    assert predict_main([*argv, "--windows", "--quiet", "--out", str(out), str(manifest)]) == 0
    for alone, together in zip(json.loads(out.read_text())["predictions"], records, strict=True):
        windows = zip(alone.pop("windows"), together.pop("windows"), strict=True)
        for a, b in [(alone, together), *windows]:
            assert a == {**b, "probabilities": pytest.approx(b["probabilities"], abs=1e-6)}
    # Without segments the JSON is as it was.
    assert predict_main([*argv, "--quiet", "--out", str(out), str(cuts[0])]) == 0
    assert "start" not in json.loads(out.read_text())["predictions"][0]


def test_predict_refuses_a_bad_segment_before_any_work(trained_run, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "m.csv", ["a.wav,sad,4,3"])
    assert (
        cli.run(lambda: predict_main(["--checkpoint", str(trained_run), "--model", "apcnn", str(manifest)]))
        == 1
    )
    assert capsys.readouterr().err.strip().endswith(f"{manifest}:2: end 3 s is not after start 4 s")
