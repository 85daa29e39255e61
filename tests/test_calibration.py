"""Temperature scaling, the probabilities of pooled scores at a temperature, on
synthetic and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from glam_py.pooling import pool, probabilities, softmax, utterance_logits
from glam_py.train.calibration import BOUNDS, fit_temperature, nll


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
