"""Predicting from a trained checkpoint: the Python API
(glam_py.EmotionRecognizer), the checkpoint checks and the command line
(python -m glam_py.predict)."""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import glam_py.recognizer as recognizer_module
from glam_py import EmotionRecognizer, cli, features, precision
from glam_py.audio_inputs import expand
from glam_py.checkpoints import Checkpoint, CheckpointError, find, save_tensors
from glam_py.corpora.utterance import LayoutError
from glam_py.pooling import probabilities
from glam_py.predict import main as predict_main
from glam_py.recognizer import MIN_CONFIDENCE
from glam_py.train.trainer import predict_utterances


@pytest.fixture(scope="module")
def demo_wavs(trained_run) -> list[Path]:
    return sorted((trained_run.parent / "demo" / "wav").glob("*.wav"))


@pytest.fixture(scope="module")
def glam(trained_run) -> EmotionRecognizer:
    return EmotionRecognizer.from_checkpoint(trained_run, model="glam", threads=2, precision="fp32")


@pytest.fixture(scope="module")
def apcnn(trained_run) -> EmotionRecognizer:
    # Its outputs are far from saturated, so small feature differences show
    # (in fp32: bf16's rounding would hide them).
    return EmotionRecognizer.from_checkpoint(trained_run, model="apcnn", threads=2, precision="fp32")


def variant(trained_run: Path, out: Path, model: str = "glam", **changes) -> Path:
    """A copy of one of the run's checkpoints with some entries changed
    (``features`` entries are merged into the feature settings)."""
    state = torch.load(trained_run / "models" / f"{model}__seed1.pt", weights_only=True)
    state["features"] = {**state["features"], **changes.pop("features", {})}
    state.update(changes)
    save_tensors(out, state)
    return out


def band_limited(path: Path) -> np.ndarray:
    """The file at 16 kHz with nothing above 3.5 kHz, so that 8 kHz holds
    the same audio."""
    y = features.load(path, 16000)
    return features.resample(features.resample(y, 16000, 7000), 7000, 16000)[: len(y)]


# -- choosing and reading checkpoints ---------------------------------------------------------


def test_a_checkpoint_written_by_training_reads(trained_run):
    assert Checkpoint.load(trained_run / "models" / "glam__seed1.pt").labels == (
        "neutral",
        "happy",
        "sad",
        "angry",
    )


def test_checkpoint_save_load_round_trip_and_format_check(trained_run, tmp_path):
    original = Checkpoint.load(trained_run / "models" / "apcnn__seed1.pt")
    copy = replace(original, average="probabilities", path=None)
    copy.save(tmp_path / "sub" / "copy.pt")
    back = Checkpoint.load(tmp_path / "sub" / "copy.pt")
    assert back.path == tmp_path / "sub" / "copy.pt" and back.average == "probabilities"
    assert (back.model_name, back.n_classes, back.input_shape, back.labels, back.features) == (
        original.model_name,
        original.n_classes,
        original.input_shape,
        original.labels,
        original.features,
    )
    assert back.state_dict.keys() == original.state_dict.keys()
    assert all(torch.equal(back.state_dict[k], original.state_dict[k]) for k in original.state_dict)
    assert not list((tmp_path / "sub").glob("*.tmp*"))  # the atomic write leaves no temporary file
    state = torch.load(tmp_path / "sub" / "copy.pt", weights_only=True)
    save_tensors(tmp_path / "other.pt", {**state, "format": "glam-checkpoint-2"})
    with pytest.raises(
        CheckpointError, match="other.pt: format 'glam-checkpoint-2' is not 'glam-checkpoint-1'"
    ):
        Checkpoint.load(tmp_path / "other.pt")


def test_weights_stored_in_float16_read_back_as_float32_with_the_provenance(trained_run, tmp_path):
    original = Checkpoint.load(trained_run / "models" / "glam__seed1.pt")
    record = {"title": "GLAM on the demo corpus", "loso_accuracy": None, "labels": ["a", "b"]}
    replace(original, provenance=record).save(tmp_path / "half.pt", dtype=torch.float16)
    stored = torch.load(tmp_path / "half.pt", weights_only=True)
    assert {v.dtype for v in stored["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert stored["state_dict"]["trunk.stem.bn_a.num_batches_tracked"].dtype == torch.int64
    back = Checkpoint.load(tmp_path / "half.pt")
    assert back.provenance == record and original.provenance is None
    for key, weight in original.state_dict.items():
        rounded = weight.half().to(weight.dtype) if weight.is_floating_point() else weight
        assert back.state_dict[key].dtype == weight.dtype and torch.equal(back.state_dict[key], rounded), key
    full = (trained_run / "models" / "glam__seed1.pt").stat().st_size
    assert (tmp_path / "half.pt").stat().st_size < 0.55 * full
    with pytest.raises(ValueError, match="dtype=torch.int8: weights are stored in a floating-point dtype"):
        original.save(tmp_path / "int.pt", dtype=torch.int8)


def test_the_temperature_round_trips_and_an_older_file_without_one_reads_as_1(trained_run, tmp_path):
    original = Checkpoint.load(trained_run / "models" / "glam__seed1.pt")
    assert original.temperature == 1.0  # trained without --calibrate
    replace(original, temperature=2.5).save(tmp_path / "warm.pt", dtype=torch.float16)
    assert torch.load(tmp_path / "warm.pt", weights_only=True)["temperature"] == 2.5
    assert Checkpoint.load(tmp_path / "warm.pt").temperature == 2.5
    # As written before checkpoints carried a temperature.
    state = torch.load(trained_run / "models" / "glam__seed1.pt", weights_only=True)
    del state["temperature"]
    save_tensors(tmp_path / "older.pt", state)
    assert Checkpoint.load(tmp_path / "older.pt").temperature == 1.0


def test_run_directory_choice(trained_run, tmp_path):
    with pytest.raises(CheckpointError, match="model=apcnn split=seed1; model=glam split=seed1") as e:
        find(trained_run)
    assert str(trained_run) in str(e.value)
    assert find(trained_run, model="glam") == trained_run / "models" / "glam__seed1.pt"
    assert find(trained_run, model="apcnn", split="seed1").name == "apcnn__seed1.pt"
    with pytest.raises(CheckpointError, match="no checkpoint with model=glam split=seed9; candidates"):
        find(trained_run, model="glam", split="seed9")
    # One model, several splits: the first in natural order (seed2 before seed10).
    models = tmp_path / "run" / "models"
    models.mkdir(parents=True)
    for split in ("seed10", "seed2"):
        shutil.copy(trained_run / "models" / "glam__seed1.pt", models / f"glam__{split}.pt")
    assert find(tmp_path / "run") == models / "glam__seed2.pt"
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint in this run directory"):
        find(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find(tmp_path / "nowhere")


def _torchscript(path: Path, good: Path) -> None:
    from glam_py.export import export_torchscript

    export_torchscript(Checkpoint.load(good), path)


def _onnx(path: Path, good: Path) -> None:
    pytest.importorskip("onnx", reason="the 'export' extra is not installed")
    from glam_py.export import export_onnx

    export_onnx(Checkpoint.load(good), path)


def _garbage(path: Path, good: Path) -> None:
    # Not a zip, pickle, ONNX or text header, whatever the random bytes.
    path.write_bytes(b"\xff\xfe\x00" + os.urandom(4096))


def _truncated(path: Path, good: Path) -> None:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path, good: Path) -> None:
    path.write_bytes(b"")


def _pickle(path: Path, good: Path) -> None:
    path.write_bytes(pickle.dumps({"format": "glam-checkpoint-1", "labels": ["a"]}))


def _json(path: Path, good: Path) -> None:
    path.write_text(json.dumps({"format": "glam-checkpoint-1"}))


def _no_format(path: Path, good: Path) -> None:
    state = torch.load(good, weights_only=True)
    del state["format"]
    save_tensors(path, state)


def _a_list(path: Path, good: Path) -> None:
    save_tensors(path, [torch.zeros(2)])


def _other_format(path: Path, good: Path) -> None:
    save_tensors(path, {**torch.load(good, weights_only=True), "format": "glam-checkpoint-7"})


def _missing_keys(path: Path, good: Path) -> None:
    state = torch.load(good, weights_only=True)
    del state["labels"]
    save_tensors(path, state)


@pytest.mark.parametrize(
    "make,name,problem",
    [
        (
            _torchscript,
            "model.pt",
            "is a TorchScript export (python -m glam_py.export), not a training checkpoint; "
            "predict takes a checkpoint .pt from a run's models/ folder or the run directory",
        ),
        (
            _onnx,
            "model.onnx",
            "is an ONNX export (python -m glam_py.export), not a training checkpoint; "
            "predict takes a checkpoint .pt from a run's models/ folder or the run directory",
        ),
        (_garbage, "bad.pt", ": not a glam checkpoint (unrecognised content"),
        (_truncated, "bad.pt", ": truncated or damaged"),
        (_empty, "bad.pt", ": empty file (0 bytes), not a glam checkpoint"),
        (_pickle, "bad.pkl", ": a Python pickle (or torch's legacy format), not a glam checkpoint"),
        (_json, "bad.json", ": a JSON file, not a glam checkpoint"),
        (
            _no_format,
            "bad.pt",
            ": not a glam checkpoint (no format record; holds a dict of average, features",
        ),
        (_a_list, "bad.pt", ": not a glam checkpoint (no format record; holds a list)"),
        (_other_format, "bad.pt", ": format 'glam-checkpoint-7' is not 'glam-checkpoint-1'"),
        (_missing_keys, "bad.pt", ": missing keys: labels"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_refused_in_one_line(
    trained_run, tmp_path, capsys, make, name, problem
):
    bad = tmp_path / name
    make(bad, trained_run / "models" / "apcnn__seed1.pt")
    capsys.readouterr()
    wav = str(trained_run.parent / "demo" / "wav" / "spk00_angry_000.wav")
    assert cli.run(lambda: predict_main(["--checkpoint", str(bad), "--quiet", wav])) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}") and problem in lines[0], captured.err
    for raw in ("Traceback", "weights_only", "file an issue", "KeyError", "EOFError", "format None"):
        assert raw not in captured.err


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"format": "glam-checkpoint-0"}, "format 'glam-checkpoint-0' is not 'glam-checkpoint-1'"),
        ({"labels": ["a", "b"]}, "do not name n_classes=4 classes"),
        ({"average": "median"}, "average 'median' is not one of"),
        ({"model_name": "resnet"}, "unknown model 'resnet'"),
        ({"features": {"window_s": 1.8}}, r"input_shape \[26, 63\] does not match"),
        ({"features": {"pad": "mirror"}}, "invalid feature settings"),
        ({"n_classes": 3, "labels": ["a", "b", "c"]}, "weights do not fit model glam with 3 classes"),
        ({"provenance": "EmoDB"}, "provenance is a str, not a dict"),
        ({"temperature": 0.0}, "temperature 0.0 is not a finite number above 0"),
        ({"temperature": float("nan")}, "temperature nan is not a finite number above 0"),
        ({"temperature": "1.5"}, "temperature '1.5' is not a finite number above 0"),
    ],
)
def test_inconsistent_checkpoint_is_a_clear_error(trained_run, tmp_path, changes, problem):
    path = variant(trained_run, tmp_path / "odd.pt", **changes)
    with pytest.raises(CheckpointError, match=problem) as e:
        EmotionRecognizer.from_checkpoint(path)
    assert str(path) in str(e.value)


def test_missing_keys_and_missing_file(trained_run, tmp_path):
    state = torch.load(trained_run / "models" / "glam__seed1.pt", weights_only=True)
    del state["labels"], state["state_dict"]
    save_tensors(tmp_path / "partial.pt", state)
    with pytest.raises(CheckpointError, match="partial.pt: missing keys: labels, state_dict"):
        Checkpoint.load(tmp_path / "partial.pt")
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        EmotionRecognizer.from_checkpoint(tmp_path / "absent.pt")


class _RunsCode:
    """Unpickling this runs a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_untrusted_pickle_is_refused_without_running_it(trained_run, tmp_path):
    marker = tmp_path / "MARKER"
    state = torch.load(trained_run / "models" / "glam__seed1.pt", weights_only=True)
    state["labels"] = _RunsCode(marker)
    evil = tmp_path / "evil.pt"
    torch.save(state, evil)
    with pytest.raises(CheckpointError, match="evil.pt: not a loadable glam checkpoint"):
        EmotionRecognizer.from_checkpoint(evil)
    with pytest.raises(CheckpointError):
        EmotionRecognizer.from_checkpoint(tmp_path)  # the file again, through a run directory
    assert not marker.exists()
    # The payload is real: a plain unpickling would have run it.
    torch.load(evil, weights_only=False)
    assert marker.exists()


# -- predictions ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["glam", "apcnn"])
def test_predictions_are_training_evaluation_with_folded_batchnorm(trained_run, demo_wavs, name):
    rec = EmotionRecognizer.from_checkpoint(trained_run, model=name, threads=2, precision="fp32")
    batch = features.featurize(demo_wavs, rec.features, threads=2)
    per_file = np.split(batch.windows, np.cumsum([f.n_windows for f in batch.files])[:-1])
    unfolded = rec.checkpoint.build_model()
    with torch.inference_mode():
        reference = unfolded(torch.from_numpy(batch.windows).unsqueeze(1)).numpy()
    folded = rec.window_logits(batch.windows)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(folded, reference, rtol=0, atol=1e-5 * max(1.0, scale))
    # The same arg-max and score as the training run's evaluation.
    scores = predict_utterances(unfolded, per_file, tuple(range(len(per_file))), "logits", "cpu")
    predictions = rec.predict(demo_wavs)
    assert [p.label for p in predictions] == [rec.labels[i] for i in scores.argmax(1)]
    for p, s, windows in zip(predictions, scores, per_file):
        expected = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        np.testing.assert_allclose(list(p.probabilities.values()), expected, atol=1e-5)
        assert p.n_windows == len(windows)
        assert p.status == ("padded" if p.duration_s < rec.features.window_s else "ok")


def test_emodb_recordings(apcnn, emodb_files):
    files = emodb_files[:24]
    counts = features.featurize(files, apcnn.features, threads=2)
    predictions = apcnn.predict(files)
    assert [p.source for p in predictions] == [str(f) for f in files]
    for p, info in zip(predictions, counts.files):
        assert p.n_windows == info.n_windows >= 1
        assert p.label in apcnn.labels and p.label == max(p.probabilities, key=p.probabilities.get)
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
        assert p.duration_s == pytest.approx(info.duration_s)
        short = info.duration_s < apcnn.features.window_s
        assert p.status == ("padded" if short else "ok")
        assert (p.note is not None and "tiled to one window" in p.note) == short
    assert {p.status for p in predictions} == {"ok", "padded"}  # EmoDB has both


def test_arrays_at_any_rate_agree_with_16_khz(apcnn, emodb_files):
    signals = [band_limited(f) for f in emodb_files[8:14]]
    at_16k = apcnn.predict(signals, sample_rate=16000)
    for rate in (8000, 44100):
        resampled = [features.resample(y, 16000, rate) for y in signals]
        for p, q in zip(at_16k, apcnn.predict(resampled, sample_rate=rate)):
            assert q.label == p.label and q.n_windows == p.n_windows
            assert q.duration_s == pytest.approx(p.duration_s, abs=1e-3)
            for label in apcnn.labels:
                assert q.probabilities[label] == pytest.approx(p.probabilities[label], abs=1e-4)
    # An array and the file it came from give the same prediction.
    y = features.load(emodb_files[8], 16000)
    from_file, from_array = apcnn.predict([emodb_files[8], y], sample_rate=16000)
    assert from_array.source == "array[1]" and from_array.probabilities == pytest.approx(
        from_file.probabilities
    )
    with pytest.raises(ValueError, match="sample_rate is required"):
        apcnn.predict([emodb_files[8], y])


def test_unreadable_files_are_reported_and_the_rest_predicted(glam, demo_wavs, tmp_path):
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(os.urandom(3000))
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(demo_wavs[0].read_bytes()[:30])
    missing = tmp_path / "missing.wav"
    inputs = [demo_wavs[0], garbage, demo_wavs[1], missing, truncated, demo_wavs[2]]
    predictions = glam.predict(inputs)
    assert [p.status for p in predictions] == ["ok", "error", "ok", "error", "error", "ok"]
    for p, path in zip(predictions, inputs):
        assert p.source == str(path)
        if p.status == "error":
            assert str(path) in p.note and p.label is None and p.probabilities == {}
    alone = glam.predict(demo_wavs[:3])
    assert [p.probabilities for p in alone] == [predictions[i].probabilities for i in (0, 2, 5)]
    bad_array = glam.predict([np.full(20000, np.nan, np.float32)], sample_rate=16000)[0]
    assert bad_array.status == "error" and "array[0]" == bad_array.source


@pytest.mark.parametrize(
    "trained,asked,status,note",
    [
        ("drop", None, "padded", "tiled to one window"),
        ("tile", None, "padded", "tiled to one window"),
        ("zero", None, "padded", "zero-padded to one window"),
        ("tile", "drop", "too_short", "dropped"),
        ("drop", "zero", "padded", "zero-padded to one window"),
    ],
)
def test_short_utterances_are_padded_as_in_training_or_tiled(
    trained_run, tmp_path, demo_wavs, trained, asked, status, note
):
    # A checkpoint whose training dropped short utterances still labels them
    # (tiled); only an explicit pad="drop" leaves them without a label.
    path = variant(trained_run, tmp_path / f"{trained}.pt", "apcnn", features={"pad": trained})
    rec = EmotionRecognizer(Checkpoint.load(path), threads=2, pad=asked)
    assert rec.features.pad == (asked or ("tile" if trained == "drop" else trained))
    y = features.load(demo_wavs[0], 16000)[: int(1.3 * 16000)]
    sf.write(tmp_path / "short.wav", y, 16000)
    for p in (
        rec.predict(y, sample_rate=16000, windows=True)[0],
        rec.predict(tmp_path / "short.wav", windows=True)[0],
    ):
        assert (
            p.status == status and note in p.note and "1.300 s is shorter than one 2.000 s window" in p.note
        )
        assert p.duration_s == pytest.approx(1.3)
        if status == "too_short":
            assert p.label is None and p.probabilities == {} and p.n_windows == 0 and p.windows == []
        else:
            assert p.label in rec.labels and p.n_windows == 1
            assert (p.windows[0].start_s, p.windows[0].end_s) == (0.0, pytest.approx(1.3))
    with pytest.raises(ValueError, match="pad='mirror': choose one of drop, tile, zero, repeat"):
        EmotionRecognizer(Checkpoint.load(path), pad="mirror")


def test_short_emodb_files_get_labels_from_tiled_windows(
    trained_run, emodb_files, tmp_path, capsys, monkeypatch
):
    # A checkpoint trained with pad=drop, as the main job's: EmoDB's short
    # utterances (under the 2 s window) are labelled, from exactly the
    # windows features.featurize gives with pad=tile.
    path = variant(trained_run, tmp_path / "dropped.pt", "apcnn", features={"pad": "drop"})
    short = [f for f in emodb_files if sf.info(f).duration < 2.0][:6]
    assert len(short) == 6
    rec = EmotionRecognizer.from_checkpoint(path, threads=2)
    seen = []
    scored = rec.window_logits
    monkeypatch.setattr(rec, "window_logits", lambda w: seen.append(w.copy()) or scored(w))
    predictions = rec.predict(short)
    assert [p.status for p in predictions] == ["padded"] * 6
    assert all(p.label in rec.labels and p.n_windows == 1 for p in predictions)
    tiled = features.featurize(short, rec.checkpoint.features.replace(pad="tile"), threads=2).windows
    np.testing.assert_array_equal(np.concatenate(seen), tiled)

    out = tmp_path / "p.csv"
    assert predict_main(["--checkpoint", str(path), "--quiet", "--out", str(out), *map(str, short)]) == 0
    assert {row["status"] for row in csv.DictReader(out.open())} == {"padded"}
    assert (
        predict_main(["--checkpoint", str(path), "--pad", "drop", "--out", str(out), *map(str, short)]) == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert {row["status"] for row in rows} == {"too_short"} and {row["prediction"] for row in rows} == {""}
    err = capsys.readouterr().err
    assert "pad=drop" in err and "6 utterances: 6 too short" in err


def test_window_predictions_and_both_averages(trained_run, apcnn, demo_wavs, tmp_path):
    path = max(demo_wavs, key=lambda f: sf.info(f).duration)
    p = apcnn.predict(path, windows=True)[0]
    cfg = apcnn.features
    hop = cfg.window_s - cfg.overlap_s
    assert len(p.windows) == p.n_windows == 1 + int((p.duration_s - cfg.window_s + 1e-9) // hop)
    for k, w in enumerate(p.windows):
        assert w.start_s == pytest.approx(k * hop) and w.end_s == pytest.approx(k * hop + cfg.window_s)
        assert w.label == max(w.probabilities, key=w.probabilities.get)
    window_probs = np.array([list(w.probabilities.values()) for w in p.windows])
    # average="logits": softmax of the mean logits, which the windows' log-probabilities give back.
    mean_log = np.log(window_probs).mean(0)
    np.testing.assert_allclose(
        list(p.probabilities.values()), np.exp(mean_log) / np.exp(mean_log).sum(), atol=1e-9
    )
    by_probs = EmotionRecognizer(
        Checkpoint.load(variant(trained_run, tmp_path / "p.pt", "apcnn", average="probabilities")),
        precision="fp32",
    )
    q = by_probs.predict(path)[0]
    np.testing.assert_allclose(list(q.probabilities.values()), window_probs.mean(0), atol=1e-6)
    assert q.windows is None


def test_streaming_featurises_chunk_by_chunk(apcnn, demo_wavs, monkeypatch):
    chunks = []

    def counted(*args, **kwargs):
        batch = featurize(*args, **kwargs)
        chunks.append(len(batch.files))
        return batch

    featurize = features.featurize
    monkeypatch.setattr(features, "featurize", counted)
    rec = EmotionRecognizer(apcnn.checkpoint, threads=2, files_per_chunk=3, precision="fp32")
    stream = rec.iter_predict(demo_wavs)
    first = next(stream)
    assert chunks == [3] and first.source == str(demo_wavs[0])
    rest = list(stream)
    assert sum(chunks) == len(demo_wavs) and max(chunks) == 3
    whole = apcnn.predict(demo_wavs)
    assert [p.source for p in [first] + rest] == [p.source for p in whole]
    for mine, theirs in zip([first] + rest, whole):
        assert mine.probabilities == pytest.approx(theirs.probabilities)


# -- inputs and the command line --------------------------------------------------------------


def test_directories_and_manifests_expand_to_files(demo_wavs, tmp_path):
    nested = tmp_path / "corpus" / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(demo_wavs[0], nested / "x.wav")
    shutil.copy(demo_wavs[1], tmp_path / "corpus" / "y.WAV")
    (tmp_path / "corpus" / "notes.txt").write_text("not audio")
    (tmp_path / "none").mkdir()
    found = expand([tmp_path / "corpus", tmp_path / "none", demo_wavs[2]])
    assert [i.path for i in found] == [
        nested / "x.wav",
        tmp_path / "corpus" / "y.WAV",
        tmp_path / "none",
        demo_wavs[2],
    ]
    assert found[2].error and "no audio files" in found[2].error
    manifest = tmp_path / "corpus" / "list.csv"
    manifest.write_text("path,label\na/b/x.wav,angry\ny.WAV,\n")
    rows = expand([manifest])
    assert [(i.path, i.reference) for i in rows] == [
        (nested / "x.wav", "angry"),
        (tmp_path / "corpus" / "y.WAV", None),
    ]
    (tmp_path / "bad.csv").write_text("file,label\nx.wav,angry\n")
    with pytest.raises(LayoutError, match="bad.csv: expected a CSV manifest with a 'path' column"):
        expand([tmp_path / "bad.csv"])


def test_cli_writes_csv_with_windows_and_error_rows(trained_run, demo_wavs, tmp_path, capsys):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt ")
    out = tmp_path / "pred.csv"
    code = predict_main(
        [
            "--checkpoint",
            str(trained_run),
            "--model",
            "glam",
            "--threads",
            "2",
            "--quiet",
            "--windows",
            "--out",
            str(out),
            str(demo_wavs[0]),
            str(tmp_path / "broken.wav"),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    labels = ["neutral", "happy", "sad", "angry"]
    assert list(rows[0]) == [
        "path",
        "window",
        "start_s",
        "end_s",
        "prediction",
        "uncertain",
        *[f"p_{c}" for c in labels],
        "n_windows",
        "duration_s",
        "status",
        "note",
    ]
    # Window rows are written as they are computed, before their utterance's row.
    windows, utterance, broken = rows[:-2], rows[-2], rows[-1]
    assert (
        utterance["status"] == "ok"
        and utterance["window"] == ""
        and int(utterance["n_windows"]) == len(windows)
    )
    assert [float(w["start_s"]) for w in windows] == pytest.approx([0.4 * k for k in range(len(windows))])
    assert sum(float(utterance[f"p_{c}"]) for c in labels) == pytest.approx(1.0, abs=1e-5)
    assert broken["status"] == "error" and "broken.wav" in broken["note"] and broken["prediction"] == ""
    assert broken["uncertain"] == "" and all(w["uncertain"] == "" for w in windows)
    assert utterance["uncertain"] in ("true", "false")
    assert "1 ok, 1 error" in capsys.readouterr().err


def test_cli_json_and_table_from_a_directory_and_a_manifest(trained_run, demo_wavs, tmp_path, capsys):
    manifest = demo_wavs[0].parent.parent / "manifest.csv"
    out = tmp_path / "pred.json"
    assert (
        predict_main(
            [
                "--checkpoint",
                str(trained_run / "models" / "apcnn__seed1.pt"),
                "--quiet",
                "--out",
                str(out),
                str(manifest),
            ]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    assert doc["model"] == "apcnn" and doc["labels"] == ["neutral", "happy", "sad", "angry"]
    assert doc["features"]["pad"] == "tile" and doc["average"] == "logits"
    assert len(doc["predictions"]) == len(demo_wavs)
    first = doc["predictions"][0]
    assert {
        "source",
        "label",
        "probabilities",
        "n_windows",
        "duration_s",
        "status",
        "note",
        "reference",
        "uncertain",
    } == set(first)
    assert doc["temperature"] == 1.0 and doc["min_confidence"] == MIN_CONFIDENCE
    truth = {r["path"]: r["label"] for r in csv.DictReader(manifest.open())}
    assert [p["reference"] for p in doc["predictions"]] == list(truth.values())
    # The table on stdout: a header and one line per file of the folder.
    assert (
        predict_main(
            ["--checkpoint", str(trained_run), "--model", "apcnn", "--quiet", str(demo_wavs[0].parent)]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["path", "prediction", "neutral", "happy", "sad", "angry", "windows", "status"]
    assert [line.split()[0] for line in lines[1:]] == [str(f) for f in demo_wavs]
    assert [line.split()[1] for line in lines[1:]] == [
        p["label"] + "?" * p["uncertain"] for p in doc["predictions"]
    ]


def test_cli_fatal_errors_exit_non_zero(trained_run, tmp_path, capsys):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    wav = str(trained_run.parent / "demo" / "wav" / "spk00_angry_000.wav")
    assert cli.run(lambda: predict_main(["--checkpoint", str(tmp_path / "junk.pt"), wav])) == 1
    assert "junk.pt: a text file, not a glam checkpoint" in capsys.readouterr().err
    assert cli.run(lambda: predict_main(["--checkpoint", str(trained_run), wav])) == 1
    assert "choose one with model=" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        predict_main(["--checkpoint", str(trained_run), "--out", str(tmp_path / "x.txt"), wav])
    assert e.value.code == 2 and "pass --format" in capsys.readouterr().err


def test_cli_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        predict_main(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--checkpoint",
        "--model",
        "--split",
        "--out",
        "--format",
        "--windows",
        "--threads",
        "--device",
        "--batch-size",
        "--pad",
        "--min-confidence",
        "--quiet",
    ):
        assert flag in text
    assert text.count("\n  --") >= 10


@pytest.mark.parametrize(
    "flags,asked,expected",
    [
        (frozenset({"avx512f", "amx_bf16"}), "auto", "bf16"),
        (frozenset({"avx512f"}), "auto", "fp32"),
        (frozenset({"avx512f", "amx_bf16"}), "fp32", "fp32"),
    ],
)
def test_precision_reaches_the_recognizer(trained_run, demo_wavs, monkeypatch, flags, asked, expected):
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    calls = []
    autocast = precision.autocast
    monkeypatch.setattr(recognizer_module, "autocast", lambda *a: calls.append(a) or autocast(*a))
    rec = EmotionRecognizer.from_checkpoint(
        trained_run, model="apcnn", device="cpu", threads=2, precision=asked
    )
    assert (rec.precision, rec.precision_note) == (expected, None)
    batch = features.featurize(demo_wavs[:4], rec.features, threads=2)
    logits = rec.window_logits(batch.windows)
    assert calls == [(expected, "cpu")] and logits.dtype == np.float32
    reference = rec.checkpoint.build_model()
    with torch.inference_mode():
        fp32 = reference(torch.from_numpy(batch.windows).unsqueeze(1)).numpy()
    scale = np.abs(fp32).max()
    if expected == "fp32":
        np.testing.assert_allclose(logits, fp32, rtol=0, atol=1e-5 * max(1.0, scale))
    else:  # bf16 products: about 3 significant digits, so close but not equal
        assert not np.array_equal(logits, fp32)
        np.testing.assert_allclose(logits, fp32, rtol=0, atol=0.05 * max(1.0, scale))


def test_bf16_without_native_support_is_noted_by_predict(trained_run, demo_wavs, monkeypatch, capsys):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    assert (
        predict_main(
            [
                str(demo_wavs[0]),
                "--checkpoint",
                str(trained_run),
                "--model",
                "apcnn",
                "--precision",
                "bf16",
                "--device",
                "cpu",
                "--threads",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    assert "note: precision bf16 on cpu: no native bf16" in capsys.readouterr().err


# -- calibrated probabilities and uncertain predictions -----------------------------------------


def test_the_checkpoints_temperature_divides_the_logits(trained_run, demo_wavs, tmp_path):
    original = Checkpoint.load(trained_run / "models" / "apcnn__seed1.pt")
    for average in ("logits", "probabilities"):
        plain = EmotionRecognizer(replace(original, average=average), "cpu", precision="fp32")
        warm = EmotionRecognizer(replace(original, average=average, temperature=2.5), "cpu", precision="fp32")
        assert warm.temperature == 2.5 and plain.temperature == 1.0
        for p, q in zip(
            plain.predict(demo_wavs[:6], windows=True), warm.predict(demo_wavs[:6], windows=True)
        ):
            before, after = np.array(list(p.probabilities.values())), np.array(list(q.probabilities.values()))
            # What pooling.probabilities does to the mean logits, or to the
            # mean probabilities (their logarithm divided): labels unchanged,
            # the top probability lower.
            np.testing.assert_allclose(after, probabilities(before, "probabilities", 2.5), atol=1e-6)
            assert q.label == p.label and after.max() < before.max()
            for w, v in zip(p.windows, q.windows):
                window = np.array(list(w.probabilities.values()))
                np.testing.assert_allclose(
                    list(v.probabilities.values()), probabilities(window, "probabilities", 2.5), atol=1e-6
                )


def test_predictions_below_the_threshold_are_marked_uncertain_with_their_label(apcnn, demo_wavs):
    tops = [max(p.probabilities.values()) for p in apcnn.predict(demo_wavs)]
    threshold = float(np.median(tops))
    marking = EmotionRecognizer(apcnn.checkpoint, "cpu", precision="fp32", min_confidence=threshold)
    predicted = marking.predict(demo_wavs + [Path("absent.wav")])
    assert [p.uncertain for p in predicted[:-1]] == [top < threshold for top in tops]
    assert any(p.uncertain for p in predicted) and not all(p.uncertain for p in predicted[:-1])
    assert all(p.label for p in predicted[:-1])  # never hidden
    assert predicted[-1].status == "error" and predicted[-1].uncertain is None
    never = EmotionRecognizer(apcnn.checkpoint, "cpu", precision="fp32", min_confidence=0)
    assert not any(p.uncertain for p in never.predict(demo_wavs))
    for bad in (1.5, -0.1, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="min_confidence=.*a probability from 0 to 1"):
            EmotionRecognizer(apcnn.checkpoint, "cpu", min_confidence=bad)


def test_cli_marks_uncertain_rows_in_csv_json_and_table(trained_run, demo_wavs, tmp_path, capsys):
    checkpoint = replace(Checkpoint.load(trained_run / "models" / "apcnn__seed1.pt"), temperature=1.7)
    checkpoint.save(tmp_path / "warm.pt")
    wavs = [str(f) for f in demo_wavs[:8]]
    tops = [
        max(p.probabilities.values())
        for p in EmotionRecognizer(Checkpoint.load(tmp_path / "warm.pt"), "cpu").predict(wavs)
    ]
    threshold = f"{float(np.median(tops)):.6f}"
    base = ["--checkpoint", str(tmp_path / "warm.pt"), "--min-confidence", threshold, "--threads", "2"]
    assert predict_main([*base, "--quiet", "--out", str(tmp_path / "p.csv"), *wavs]) == 0
    assert predict_main([*base, "--quiet", "--out", str(tmp_path / "p.json"), *wavs]) == 0
    capsys.readouterr()
    assert predict_main([*base, *wavs]) == 0
    table, err = capsys.readouterr()
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    doc = json.loads((tmp_path / "p.json").read_text())
    expected = [top < float(threshold) for top in tops]
    assert 0 < sum(expected) < len(expected)
    assert [r["uncertain"] for r in rows] == [str(e).lower() for e in expected]
    assert [p["uncertain"] for p in doc["predictions"]] == expected
    assert doc["temperature"] == 1.7 and doc["min_confidence"] == float(threshold)
    labels = [line.split()[1] for line in table.strip().splitlines()[1:]]
    assert labels == [p["label"] + "?" * p["uncertain"] for p in doc["predictions"]]
    assert f"{sum(expected)} predictions uncertain (top probability below {float(threshold):g}" in err
    assert "temperature 1.7" in err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "abc"])
def test_cli_refuses_a_min_confidence_outside_0_to_1_in_one_line(value, capsys):
    with pytest.raises(SystemExit) as e:
        predict_main(["--min-confidence", value, "x.wav"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "argument --min-confidence: expected a number from 0 to 1, got" in err and value in err
