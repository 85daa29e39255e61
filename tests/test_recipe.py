"""The recipe's optional ingredients: SpecAugment masks."""

from __future__ import annotations

import copy

import numpy as np

from glam_py.train.augment import mask_windows


def _expected_masks(x, rng, time_masks, time_width, freq_masks, freq_width):
    """The masks drawn in the documented order, applied one band at a time."""
    n, n_features, n_frames = x.shape
    out, means = x.copy(), x.mean(axis=2)
    tw = rng.integers(0, time_width + 1, size=(n, time_masks))
    ts = rng.integers(0, n_frames - tw + 1)
    fw = rng.integers(0, freq_width + 1, size=(n, freq_masks))
    fs = rng.integers(0, n_features - fw + 1)
    for i in range(n):
        for start, width in zip(ts[i], tw[i]):
            out[i, :, start : start + width] = means[i][:, None]
        for start, width in zip(fs[i], fw[i]):
            out[i, start : start + width, :] = means[i][start : start + width, None]
    return out


def test_masks_hide_their_bands_with_the_windows_means_reproducibly():
    x = np.random.default_rng(0).normal(size=(6, 26, 63)).astype(np.float32)
    x[:, 0] -= 300  # coefficient 0, a log energy far from 0
    masked = mask_windows(x.copy(), np.random.default_rng(5), 2, 10, 2, 4)
    expected = _expected_masks(x, np.random.default_rng(5), 2, 10, 2, 4)
    np.testing.assert_array_equal(masked, expected)
    changed = (masked != x).reshape(6, -1).sum(1)
    assert (changed > 0).all(), changed  # every window masked, each its own way
    assert len({(masked[i] != x[i]).tobytes() for i in range(6)}) == 6
    np.testing.assert_array_equal(mask_windows(x.copy(), np.random.default_rng(5), 2, 10, 2, 4), masked)
    assert not np.array_equal(mask_windows(x.copy(), np.random.default_rng(6), 2, 10, 2, 4), masked)
    # Off: nothing drawn, nothing changed.
    rng = np.random.default_rng(5)
    state = copy.deepcopy(rng.bit_generator.state)
    np.testing.assert_array_equal(mask_windows(x.copy(), rng, 0, 10, 0, 4), x)
    assert rng.bit_generator.state == state
