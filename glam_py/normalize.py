"""Feature normalisation: each MFCC coefficient's mean and standard
deviation over a group of windows removed (cepstral mean and variance
normalisation, CMVN), so that what a microphone, room or level adds to
every frame of a recording leaves the model's input alone.

The group whose statistics normalise a window is one of:

- ``"utterance"``: the utterance's own windows (per-utterance CMVN);
- ``"speaker"``: every window of the speaker's utterances, in training and
  in testing alike (the test speakers' own statistics, from their audio
  alone, never their labels);
- ``"corpus"``: every window of the corpus's utterances (the test corpus's
  own, under the corpus protocol).

Training windows that are perturbed (speeds, augmented copies) are
normalised by the statistics of the same perturbation of their group, as a
recording made through that channel would be by its own.

At prediction the group is each file's windows, or with ``adapt`` every
input's windows together (:class:`Statistics` gathered over a first pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

NORMALIZATIONS = ("none", "utterance", "speaker", "corpus")

# The smallest standard deviation divided by: a coefficient that is
# constant over a group (a tiled tone, digital silence clamped by top_db)
# is centred rather than blown up.
STD_FLOOR = 1e-2


@dataclass
class Statistics:
    """Running sums of each coefficient over the frames of the windows
    added, in float64 so that the result does not depend on how the
    windows were chunked."""

    count: int = 0
    total: np.ndarray | None = None
    squares: np.ndarray | None = None

    def add(self, windows: np.ndarray) -> Statistics:
        """Adds ``[n, n_features, n_frames]`` windows; returns ``self``."""
        if len(windows):
            w = np.asarray(windows, dtype=np.float64)
            total, squares = w.sum(axis=(0, 2)), np.square(w).sum(axis=(0, 2))
            self.total = total if self.total is None else self.total + total
            self.squares = squares if self.squares is None else self.squares + squares
            self.count += w.shape[0] * w.shape[2]
        return self

    def mean_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Per coefficient, the mean and the standard deviation (at least
        :data:`STD_FLOOR`), each ``[n_features, 1]`` float32.

        Raises
        ------
        ValueError
            No window was added.
        """
        if not self.count:
            raise ValueError("no window to take statistics of")
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.squares / self.count - mean**2, 0.0))
        return mean.astype(np.float32)[:, None], np.maximum(std, STD_FLOOR).astype(np.float32)[:, None]


def statistics(arrays: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Statistics.mean_scale` of every window of ``arrays``."""
    stats = Statistics()
    for a in arrays:
        stats.add(a)
    return stats.mean_scale()


class Normalized:
    """Windows as their group's statistics normalise them, computed as they
    are read: indexing gives ``(windows[i] - mean) / scale`` in float32,
    so a store's windows stay on disk. Takes the place of the windows
    array wherever windows are read by index (training batches,
    evaluation).

    Parameters
    ----------
    windows : ndarray, shape (n, n_features, n_frames)
    mean, scale : ndarray, shape (n_features, 1)
    """

    def __init__(self, windows: np.ndarray, mean: np.ndarray, scale: np.ndarray):
        self.windows, self.mean, self.scale = windows, mean, scale
        self.shape = windows.shape
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index) -> np.ndarray:
        return ((np.asarray(self.windows[index], dtype=np.float32) - self.mean) / self.scale).astype(
            np.float32, copy=False
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def normalization_groups(mode: str, speakers: Sequence[str], corpora: Sequence[str]) -> list[str]:
    """Per utterance, the group whose statistics normalise it under
    ``mode``: itself, its speaker or its corpus.

    Parameters
    ----------
    mode : str
        ``"utterance"``, ``"speaker"`` or ``"corpus"``.
    speakers, corpora : sequence of str
        Per utterance, its speaker (empty when unknown) and its corpus's
        name.

    Returns
    -------
    list of str
        Per utterance, its group's name (an utterance's is its position).

    Raises
    ------
    ValueError
        ``"speaker"`` with utterances whose speaker is unknown, or an
        unknown mode.
    """
    if mode not in NORMALIZATIONS or mode == "none":
        raise ValueError(f"no normalisation groups for {mode!r}; choose utterance, speaker or corpus")
    if mode == "speaker" and not all(speakers):
        unknown = sum(1 for s in speakers if not s)
        raise ValueError(
            f"normalize speaker needs every utterance's speaker, and {unknown} of {len(speakers)} have "
            "none; give the corpus a speaker column or normalise per utterance or corpus"
        )
    if mode == "utterance":
        return [str(k) for k in range(len(speakers))]
    return list(speakers) if mode == "speaker" else list(corpora)


def normalize_groups(
    windows: Sequence[np.ndarray | tuple[np.ndarray, ...]], groups: Sequence[str]
) -> list[Normalized | tuple[Normalized, ...]]:
    """Every utterance's windows normalised by its group's statistics.

    Parameters
    ----------
    windows : sequence of ndarray, or of tuples of ndarray
        Per utterance, its windows, or its windows under each perturbation
        (every utterance with the same number of perturbations, in the same
        order).
    groups : sequence of str
        Per utterance, its group: the statistics of position ``k`` of a
        tuple are taken over position ``k`` of the group's utterances.

    Returns
    -------
    list
        Like ``windows``, each array a :class:`Normalized` view.
    """
    sums: dict[tuple[str, int], Statistics] = {}
    for w, g in zip(windows, groups):
        for k, part in enumerate(w if isinstance(w, tuple) else (w,)):
            sums.setdefault((g, k), Statistics()).add(part)
    stats = {key: s.mean_scale() for key, s in sums.items() if s.count}

    def view(part: np.ndarray, key: tuple[str, int]):
        return Normalized(part, *stats[key]) if key in stats else part

    return [
        tuple(view(part, (g, k)) for k, part in enumerate(w)) if isinstance(w, tuple) else view(w, (g, 0))
        for w, g in zip(windows, groups)
    ]
