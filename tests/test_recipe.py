"""The recipe's optional ingredients: label smoothing and class weights in
the mixup loss, SpecAugment masks."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from glam_py.train.augment import mask_windows
from glam_py.train.mixup import mixup_loss


def test_label_smoothing_and_class_weights_enter_each_partners_loss():
    torch.manual_seed(0)
    logits, ya, yb, lam, eps = (
        torch.randn(6, 4),
        torch.tensor([0, 1, 2, 3, 0, 1]),
        torch.tensor([1, 1, 0, 2, 3, 3]),
        0.3,
        0.1,
    )
    log_p = logits.log_softmax(1)

    def smoothed(y):  # (1 - eps) on the class, eps/C on every class
        return ((1 - eps) * -log_p[torch.arange(6), y] + eps * -log_p.mean(1)).mean()

    torch.testing.assert_close(
        mixup_loss(logits, ya, yb, lam, eps), lam * smoothed(ya) + (1 - lam) * smoothed(yb)
    )
    torch.testing.assert_close(mixup_loss(logits, ya, ya, 1.0, eps), smoothed(ya))
    weight = torch.tensor([0.5, 1.0, 2.0, 0.5])

    def weighted(y):  # the mean over the batch weighted by the target classes' weights
        w = weight[y]
        return (w * -log_p[torch.arange(6), y]).sum() / w.sum()

    torch.testing.assert_close(
        mixup_loss(logits, ya, yb, lam, weight=weight), lam * weighted(ya) + (1 - lam) * weighted(yb)
    )
    # Both: each class's smoothing share weighted by its class's weight,
    # divided by the targets' weights (PyTorch's definition).
    w = weight[ya]
    both = ((1 - eps) * w * -log_p[torch.arange(6), ya] + eps * (weight * -log_p).mean(1)).sum() / w.sum()
    torch.testing.assert_close(mixup_loss(logits, ya, ya, 1.0, eps, weight), both)
    # Off, the loss is the plain cross-entropy, bit for bit.
    assert torch.equal(
        mixup_loss(logits, ya, yb, lam),
        lam * F.cross_entropy(logits, ya) + (1 - lam) * F.cross_entropy(logits, yb),
    )


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
