"""Pooling window scores into utterance scores (glam_py.pooling)."""

from __future__ import annotations

import numpy as np
import pytest

from glam_py.pooling import pool, softmax


def test_pooling():
    scores = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 5.0], [0.0, 1.0]], dtype=np.float32)
    owner = np.array([0, 1, 0, 1])
    np.testing.assert_array_equal(pool(scores, owner, 2), [[3.0, 3.5], [1.5, 0.5]])
    np.testing.assert_array_equal(pool(scores, owner, 2, "logits"), pool(scores, owner, 2, "mean"))
    probs = pool(scores, owner, 2, "probabilities")
    np.testing.assert_allclose(
        probs[0], (softmax(scores[0].astype(float)) + softmax(scores[2].astype(float))) / 2
    )
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert pool(scores, owner, 2).dtype == np.float64
    with pytest.raises(ValueError, match="needs at least one window"):
        pool(scores, owner, 3)
    with pytest.raises(ValueError, match="unknown pooling 'median'"):
        pool(scores, owner, 2, "median")
