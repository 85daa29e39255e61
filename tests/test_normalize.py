"""Feature normalisation (CMVN) per utterance, speaker and corpus: the
statistics, the lazily normalised windows training reads, the checkpoint
that records it, and prediction per file or adapted to all its inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from glam_py import cli, predict
from glam_py.checkpoints import Checkpoint, CheckpointError
from glam_py.normalize import STD_FLOOR, Normalized, Statistics, normalize_groups, statistics
from glam_py.recognizer import EmotionRecognizer
from glam_py.train import __main__ as train
from glam_py.train.data import normalized


def _windows(rng, n, shift=0.0, scale=1.0):
    return (rng.normal(size=(n, 3, 5)) * scale + shift).astype(np.float32)


def test_statistics_do_not_depend_on_the_chunks():
    rng = np.random.default_rng(0)
    w = _windows(rng, 7, shift=4.0, scale=2.0)
    whole = Statistics().add(w).mean_scale()
    chunked = Statistics().add(w[:2]).add(w[2:3]).add(w[3:]).mean_scale()
    np.testing.assert_allclose(whole[0], chunked[0], rtol=1e-6)
    np.testing.assert_allclose(whole[1], chunked[1], rtol=1e-6)
    frames = w.transpose(1, 0, 2).reshape(3, -1)
    np.testing.assert_allclose(whole[0][:, 0], frames.mean(1), rtol=1e-5)
    np.testing.assert_allclose(whole[1][:, 0], frames.std(1), rtol=1e-5)
    with pytest.raises(ValueError, match="no window"):
        Statistics().mean_scale()


def test_a_constant_coefficient_is_centred_not_blown_up():
    w = np.ones((2, 3, 5), np.float32)
    mean, scale = statistics([w])
    assert np.all(scale == STD_FLOOR)
    assert np.all(Normalized(w, mean, scale)[:] == 0)


def test_groups_are_normalised_by_their_own_windows_at_each_perturbation():
    rng = np.random.default_rng(1)
    a = (_windows(rng, 4, 10.0), _windows(rng, 3, -5.0, 3.0))
    b = (_windows(rng, 2, 10.0), _windows(rng, 5, -5.0, 3.0))
    c = (_windows(rng, 3, 100.0), _windows(rng, 3, 50.0))
    out = normalize_groups([a, b, c], ["x", "x", "y"])
    for k in range(2):
        pooled = np.concatenate([out[0][k][:], out[1][k][:]])
        np.testing.assert_allclose(pooled.mean(axis=(0, 2)), 0, atol=1e-5)
        np.testing.assert_allclose(pooled.std(axis=(0, 2)), 1, atol=1e-4)
        np.testing.assert_allclose(out[2][k][:].mean(axis=(0, 2)), 0, atol=1e-4)
    # Indexing reads one window at a time, normalised.
    assert out[0][0][1].shape == (3, 5) and out[0][0][1].dtype == np.float32
    np.testing.assert_allclose(out[0][0][1:3], out[0][0][:][1:3])


def test_speaker_normalisation_needs_every_speaker(small):
    _, _, data = small
    assert normalized(data, "none") is data
    per_utterance = normalized(data, "utterance")
    w = per_utterance.test_windows[0][:]
    np.testing.assert_allclose(w.mean(axis=(0, 2)), 0, atol=1e-4)
    anonymous = dataclasses.replace(data, speakers=[""] + data.speakers[1:])
    with pytest.raises(ValueError, match="needs every utterance's speaker, and 1 of"):
        normalized(anonymous, "speaker")


def test_checkpoints_record_their_normalisation(trained_run, tmp_path):
    ckpt = Checkpoint.load(trained_run / "models" / "glam__seed1.pt")
    assert ckpt.normalize == "none" and "normalize" not in ckpt.to_state()
    normed = dataclasses.replace(ckpt, normalize="speaker")
    normed.save(tmp_path / "n.pt")
    assert Checkpoint.load(tmp_path / "n.pt").normalize == "speaker"
    state = normed.to_state()
    state["normalize"] = "bogus"
    with pytest.raises(CheckpointError, match="normalize 'bogus' is not one of none, utterance"):
        Checkpoint.from_state(state, tmp_path / "x.pt")


def test_prediction_normalises_each_file_or_all_inputs_together(trained_run, tmp_path, capsys):
    ckpt = dataclasses.replace(
        Checkpoint.load(trained_run / "models" / "glam__seed1.pt"), normalize="utterance"
    )
    ckpt.save(tmp_path / "u.pt")
    rec = EmotionRecognizer.from_checkpoint(tmp_path / "u.pt", threads=1)
    rng = np.random.default_rng(2)
    quiet, loud = rng.normal(size=32000) * 0.01, rng.normal(size=32000) * 0.5
    w = rec.normalized(_mfcc(rec, quiet))
    np.testing.assert_allclose(w.mean(axis=(0, 2)), 0, atol=1e-4)
    own = rec.predict([quiet, loud], sample_rate=16000)
    assert rec.adapt([quiet, loud], sample_rate=16000) == 2 * len(_mfcc(rec, quiet))
    adapted = rec.predict([quiet, loud], sample_rate=16000)
    assert own[0].probabilities != adapted[0].probabilities
    plain = EmotionRecognizer.from_checkpoint(trained_run / "models" / "glam__seed1.pt", threads=1)
    with pytest.raises(ValueError, match="trained without feature normalisation"):
        plain.adapt([quiet], sample_rate=16000)
    # The command line: one line either way.
    wav = next((trained_run.parent / "demo" / "wav").glob("*.wav"))
    code = cli.run(
        lambda: predict.main(["--checkpoint", str(tmp_path / "u.pt"), str(wav), "--adapt", "--format", "csv"])
    )
    err = capsys.readouterr().err
    assert code == 0 and "adapting: every input normalised by the statistics of all" in err
    code = cli.run(
        lambda: predict.main(
            ["--checkpoint", str(trained_run / "models" / "glam__seed1.pt"), str(wav), "--adapt"]
        )
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: --adapt: the model was trained without feature normalisation")
    assert len(err.splitlines()) == 1


def _mfcc(rec: EmotionRecognizer, y: np.ndarray) -> np.ndarray:
    from glam_py import features

    return features.featurize_signal(y, 16000, rec.features)[0]


def test_training_with_normalisation_writes_it_into_the_checkpoint(small, tmp_path):
    root, _, _ = small
    out = tmp_path / "run"
    argv = [
        "--preset",
        "paper",
        "--corpus",
        "csv",
        "--root",
        str(root),
        "--normalize",
        "speaker",
        "--epochs",
        "1",
        "--repeats",
        "1",
    ]
    argv += ["--pad", "tile", "--out", str(out), "--cache", str(root / "cache"), "--no-report", "--quiet"]
    assert cli.run(lambda: train.main(argv)) == 0
    assert Checkpoint.load(out / "models" / "glam__seed1.pt").normalize == "speaker"
