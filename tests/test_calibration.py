"""Temperature scaling, the probabilities of pooled scores at a temperature,
the expected calibration error with its reliability bins (synthetic and
hand-made cases), and --calibrate temperature in training: the validation
carve-out, the fit a split records, the checkpoint and the report."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from glam_py.checkpoints import Checkpoint
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.pooling import pool, probabilities, softmax, utterance_logits
from glam_py.train.__main__ import main as train_main
from glam_py.train.calibration import BOUNDS, fit_temperature, nll
from glam_py.train.config import TrainConfig
from glam_py.train.metrics import calibration, expected_calibration_error, reliability_bins, summarize
from glam_py.train.protocol import grouped_splits, random_splits, validation_split
from glam_py.train.trainer import predict_utterances, split_start, train_split


def _calibrated_sample(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from their own softmax: calibrated at T = 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, (n, n_classes))
    cumulative = softmax(logits).cumsum(axis=1)
    labels = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return logits, labels


@pytest.mark.parametrize("scale", [0.4, 2.5])
def test_the_fit_recovers_the_temperature_that_undoes_a_known_scaling(scale):
    logits, labels = _calibrated_sample(20_000, 4, seed=3)
    # Logits multiplied by s are calibrated again at T = s.
    fitted = fit_temperature(logits * scale, labels)
    assert fitted == pytest.approx(scale, rel=0.03)
    assert nll(logits * scale, labels, fitted) < nll(logits * scale, labels, 1.0)
    assert fit_temperature(logits * scale, labels) == fitted  # deterministic


def test_the_fit_stays_within_its_bounds_and_refuses_nothing_to_fit():
    # Every utterance right by a wide margin: the NLL falls as T falls.
    logits = np.tile([10.0, 0.0, 0.0], (8, 1))
    assert fit_temperature(logits, np.zeros(8, int)) == pytest.approx(BOUNDS[0], rel=1e-6)
    # Every utterance wrong: as flat as allowed.
    assert fit_temperature(logits, np.ones(8, int)) == pytest.approx(BOUNDS[1], rel=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, int))
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.array([[np.nan, 0.0]]), np.zeros(1, int))


def test_probabilities_at_a_temperature_keep_the_label_for_both_averages():
    rng = np.random.default_rng(0)
    window_logits = rng.normal(0, 3, (12, 4))
    owner = np.repeat(np.arange(4), 3)
    mean_logits = pool(window_logits, owner, 4, "logits")
    np.testing.assert_allclose(probabilities(mean_logits, "logits"), softmax(mean_logits))
    np.testing.assert_allclose(probabilities(mean_logits, "logits", 2.0), softmax(mean_logits / 2))
    mean_probs = pool(window_logits, owner, 4, "probabilities")
    # At T = 1 the mean window probabilities are the probabilities.
    np.testing.assert_allclose(probabilities(mean_probs, "probabilities"), mean_probs)
    hot = probabilities(mean_probs, "probabilities", 0.5)
    np.testing.assert_allclose(hot, mean_probs**2 / (mean_probs**2).sum(axis=1, keepdims=True))
    for scores, average in ((mean_logits, "logits"), (mean_probs, "probabilities")):
        for t in (0.3, 3.0):
            p = probabilities(scores, average, t)
            assert (p.argmax(1) == scores.argmax(1)).all()
            np.testing.assert_allclose(p.sum(axis=1), 1)
        # Above 1 flatter, below 1 sharper.
        assert (probabilities(scores, average, 3.0).max(1) < probabilities(scores, average).max(1)).all()
        assert (probabilities(scores, average, 0.3).max(1) > probabilities(scores, average).max(1)).all()
    # One window: both averages give the softmax of its logits over T.
    one = window_logits[:1]
    np.testing.assert_allclose(
        probabilities(pool(one, np.zeros(1, int), 1, "probabilities"), "probabilities", 2.0), softmax(one / 2)
    )
    assert np.isfinite(utterance_logits(np.array([[1.0, 0.0]]), "probabilities")).all()
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            probabilities(mean_logits, "logits", bad)


def test_ece_of_hand_made_cases():
    # Right 9 times in 10 at 0.9: calibrated.
    assert expected_calibration_error([0.9] * 10, [1] * 9 + [0]) == pytest.approx(0.0)
    # Always right at 0.9: 10 points under-confident; always wrong: 90 over.
    assert expected_calibration_error([0.9] * 4, [1] * 4) == pytest.approx(10.0)
    assert expected_calibration_error([0.9] * 4, [0] * 4) == pytest.approx(90.0)
    # Two bins: (0.3, 0.4] holds 0.35 x2 (half right: gap 0.15), (0.8, 0.9]
    # holds 0.85 x2 (both right: gap 0.15), each half the weight.
    assert expected_calibration_error([0.35, 0.35, 0.85, 0.85], [1, 0, 1, 1]) == pytest.approx(15.0)
    # A bin closes on its right edge: 0.3 falls in (0.2, 0.3], 0.31 in (0.3, 0.4].
    bins = reliability_bins([0.3, 0.31, 1.0, 0.0], [1, 0, 1, 0])
    assert bins["count"].tolist() == [1, 0, 1, 1, 0, 0, 0, 0, 0, 1]
    assert bins["accuracy"][2] == 1 and bins["accuracy"][3] == 0 and np.isnan(bins["accuracy"][5])
    np.testing.assert_allclose(bins["edges"], np.linspace(0, 1, 11))
    # Per-bin, not global: over- and under-confidence in different bins do
    # not cancel (the global gap here is 0).
    assert expected_calibration_error([0.95, 0.95, 0.55, 0.55], [0, 1, 1, 1]) > 40
    with pytest.raises(ValueError, match="at least one"):
        expected_calibration_error([], [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([1.5], [1])


def test_a_split_records_what_its_ece_is_computed_from():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.34, 0.33, 0.33], [0.05, 0.05, 0.9]])
    record = calibration(probs, np.array([0, 2, 0, 2]))
    assert record["reliability"] == {"confidence": [0.7, 0.6, 0.34, 0.9], "correct": [1, 0, 1, 1]}
    assert record["ECE"] == pytest.approx(
        expected_calibration_error(record["reliability"]["confidence"], record["reliability"]["correct"])
    )
    # (0.3, 0.4]: 0.34 right (0.66); (0.5, 0.6]: 0.6 wrong (0.6); (0.6, 0.7]:
    # 0.7 right (0.3); (0.8, 0.9]: 0.9 right (0.1).
    assert record["ECE"] == pytest.approx(100 * (0.66 + 0.6 + 0.3 + 0.1) / 4)


def test_summary_has_the_ece_only_where_every_split_records_it():
    split = {"WA": 50.0, "UA": 40.0, "macro_F1": 30.0, "weighted_F1": 35.0}
    with_ece = summarize([{**split, "ECE": 10.0}, {**split, "ECE": 20.0}])
    assert with_ece["ECE"]["mean"] == pytest.approx(15.0)
    assert with_ece["ECE"]["std"] == pytest.approx(np.std([10, 20], ddof=1))
    assert "ECE" not in summarize([{**split, "ECE": 10.0}, split])


# -- training: the carve-out, the fit and what a split records ---------------------------------


def test_calibration_holds_out_the_validation_split_that_select_val_holds_out(small):
    _, cfg, data = small
    split = grouped_splits(data.speakers, "speaker", 1)[0]
    cfg = cfg.replace(val_fraction=0.34)  # one of the three training speakers
    expected = validation_split(split.train, cfg.val_fraction, split.seed, data.speakers)
    assert expected.by == "speaker" and not set(expected.val) & set(split.test)
    calibrated = split_start("apcnn", cfg.replace(calibrate="temperature"), data, split, "cpu")
    selecting = split_start("apcnn", cfg.replace(select="val"), data, split, "cpu")
    for start in (calibrated, selecting):
        assert start.validation == "speaker" and start.train_utterances == len(expected.train)
        assert start.val_set.labels.tolist() == data.labels[list(expected.val)].tolist()
    assert split_start("apcnn", cfg, data, split, "cpu").val_set is None


def test_a_calibrated_split_records_its_fitted_temperature_and_the_ece_at_it(small, tmp_path):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    cfg = cfg.replace(epochs=1, calibrate="temperature")
    out = train_split("apcnn", cfg, data, split, state_path=tmp_path / "s.pt")
    metrics, model = out["metrics"], out["model"]
    carved = validation_split(split.train, cfg.val_fraction, split.seed, data.speakers)
    # The temperature is the fit on the kept model's validation logits ...
    val = predict_utterances(
        model, data.train_windows, carved.val, cfg.average, "cpu", 64, metrics["precision"]
    )
    labels = data.labels[list(carved.val)]
    assert metrics["temperature"] == fit_temperature(utterance_logits(val, cfg.average), labels)
    assert metrics["temperature"] != 1.0
    assert metrics["calibration"]["val_NLL_after"] <= metrics["calibration"]["val_NLL_before"]
    # ... the validation epochs were not evaluated (select last) ...
    assert all("val" not in record for record in metrics["history"])
    # ... and the ECE is that of the test probabilities at that temperature.
    test = predict_utterances(
        model, data.test_windows, split.test, cfg.average, "cpu", 64, metrics["precision"]
    )
    expected = calibration(
        probabilities(test, cfg.average, metrics["temperature"]), data.labels[list(split.test)]
    )
    assert metrics["ECE"] == expected["ECE"] and metrics["reliability"] == expected["reliability"]
    assert len(metrics["reliability"]["confidence"]) == len(split.test)
    before = calibration(probabilities(test, cfg.average), data.labels[list(split.test)])["ECE"]
    assert metrics["calibration"]["ECE_before"] == before
    # Uncalibrated: temperature 1, the ECE of the plain probabilities, no carve-out.
    plain = train_split("apcnn", cfg.replace(calibrate="none"), data, split, state_path=tmp_path / "p.pt")
    assert plain["metrics"]["temperature"] == 1.0 and "calibration" not in plain["metrics"]
    assert plain["metrics"]["val_utterances"] == 0 and "ECE" in plain["metrics"]


def test_calibrate_is_refused_unless_none_or_temperature():
    with pytest.raises(ValueError, match="calibrate must be none or temperature, got 'platt'"):
        TrainConfig(calibrate="platt")


def test_train_refuses_an_unknown_calibration_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        train_main(["--calibrate", "bogus"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1
    # Python 3.12 quotes the choices, earlier versions do not.
    assert re.search(
        r"argument --calibrate: invalid choice: 'bogus' \(choose from '?none'?, '?temperature'?\)", err
    )


def test_a_calibrated_demo_training_saves_its_temperature_and_reports_its_reliability(tmp_path):
    generate_demo_corpus(tmp_path / "demo", n_speakers=4, per_class_per_speaker=3)
    run = tmp_path / "run"
    argv = ["--preset", "paper", "--corpus", "csv", "--root", str(tmp_path / "demo"), "--models", "apcnn"]
    argv += ["--repeats", "1"]
    argv += ["--epochs", "1", "--pad", "tile", "--calibrate", "temperature", "--threads", "2"]
    assert train_main([*argv, "--cache", str(tmp_path / "cache"), "--out", str(run), "--quiet"]) == 0
    split = json.loads((run / "splits" / "apcnn__seed1.json").read_text())
    checkpoint = Checkpoint.load(run / "models" / "apcnn__seed1.pt")
    assert checkpoint.temperature == split["temperature"] != 1.0
    assert split["val_utterances"] > 0 and "ECE" in split and "calibration" in split
    assert json.loads((run / "config.json").read_text())["train"]["apcnn"]["calibrate"] == "temperature"
    assert "| ECE (10 bins) |" in (run / "results.md").read_text()
    page = (run / "report" / "report.md").read_text()
    assert "![apcnn reliability diagram](reliability_apcnn.png)" in page
    assert (run / "report" / "reliability_apcnn.png").stat().st_size > 10_000
