"""Augmentations of the training windows' features, each window drawn
its own: SpecAugment-style masks (Park et al., 2019), bands of frames
(time masks) and of coefficients (frequency masks) replaced by the window's
mean; and recording level changes, a gain applied exactly on the features.

The fill value: SpecAugment masks with 0 because its log-mel inputs are
normalised to mean 0, so 0 is their mean. Our windows are not normalised
(coefficient 0 is a log energy far from 0), so a masked cell takes the
mean of its coefficient over the window's frames, which is what 0 is for
normalised inputs; a window's mean is known where it is masked, the
corpus's is not."""

from __future__ import annotations

import math

import numpy as np

from glam_py.features import FeatureConfig


def mask_windows(
    x: np.ndarray,
    rng: np.random.Generator,
    time_masks: int,
    time_mask_frames: int,
    freq_masks: int,
    freq_mask_bins: int,
) -> np.ndarray:
    """Masks every window of ``x`` in place and returns it.

    Each mask's width is drawn uniformly from 0 to its maximum (inclusive),
    then its first frame (or coefficient) uniformly from the positions where
    it fits. The draws come from ``rng`` in one fixed order, so a seed gives
    the same masks: the time masks' widths, their starts, the frequency
    masks' widths, their starts, each an array ``[n_windows, masks]``. With
    no masks asked for nothing is drawn and ``x`` is left unchanged.

    Parameters
    ----------
    x : ndarray
        Windows ``[n_windows, n_features, n_frames]`` (float).
    rng : numpy.random.Generator
        The random stream of the split (its batch order and mixup draws).
    time_masks, freq_masks : int
        Masks per window along the frames and the coefficients (0: none).
    time_mask_frames, freq_mask_bins : int
        The widest mask, in frames and in coefficients; at most
        ``n_frames`` and ``n_features``.

    Returns
    -------
    ndarray
        ``x``, masked.
    """
    if time_masks == 0 and freq_masks == 0:
        return x
    n, n_features, n_frames = x.shape
    hidden_frames = _bands(rng, (n, time_masks), time_mask_frames, n_frames)
    hidden_coefficients = _bands(rng, (n, freq_masks), freq_mask_bins, n_features)
    hidden = hidden_frames[:, None, :] | hidden_coefficients[:, :, None]
    np.copyto(x, np.broadcast_to(x.mean(axis=2, keepdims=True), x.shape), where=hidden)
    return x


def _bands(rng: np.random.Generator, shape: tuple[int, int], widest: int, length: int) -> np.ndarray:
    """Draws ``shape`` (windows, masks) bands of a ``length``-long axis and
    returns which positions each window hides ``[windows, length]``."""
    widths = rng.integers(0, widest + 1, size=shape)
    starts = rng.integers(0, length - widths + 1)
    positions = np.arange(length)
    inside = (positions >= starts[..., None]) & (positions < (starts + widths)[..., None])
    return inside.any(axis=1)


def level_rows(features: FeatureConfig) -> np.ndarray:
    """What a gain of +1 dB adds to each row of a window ``[n_features]``.

    A gain scales the power spectrum, so it adds its dB to every mel energy
    (``power_to_db`` with a fixed reference; its ``top_db`` floor is taken
    from the window's own peak, which moves with it). The orthonormal
    DCT-II turns that constant into ``sqrt(n_mels)`` on coefficient 0 and
    nothing on the others.
    """
    if features.output == "log_mel":
        return np.ones(features.n_features, dtype=np.float32)
    rows = np.zeros(features.n_features, dtype=np.float32)
    rows[0] = math.sqrt(features.n_mels)
    return rows


def change_level(x: np.ndarray, rng: np.random.Generator, level_db: float, rows: np.ndarray) -> np.ndarray:
    """Adds to every window of ``x``, in place, a gain drawn uniformly from
    ``-level_db`` to ``+level_db`` dB, one draw per window from ``rng``
    (none when ``level_db`` is 0, leaving ``x`` unchanged), and returns it.

    Parameters
    ----------
    x : ndarray
        Windows ``[n_windows, n_features, n_frames]`` (float).
    rng : numpy.random.Generator
        The split's random stream.
    level_db : float
        The largest gain, in dB, at least 0.
    rows : ndarray
        :func:`level_rows` of the windows' feature settings.

    Returns
    -------
    ndarray
        ``x``, its level changed.
    """
    if level_db == 0:
        return x
    gains = rng.uniform(-level_db, level_db, size=len(x)).astype(x.dtype)
    x += gains[:, None, None] * rows[None, :, None]
    return x
