"""Windows for training and testing, read from feature stores: training
windows at the training overlap (and, with speed perturbation, at each
speed), test windows at the test overlap, matched by utterance. Training
and evaluation read them batch by batch from the memory-mapped shards
(:class:`WindowRows`), so a process holds a batch of windows, not the
corpus's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from glam_py.store import FeatureStore, utterance_key


@dataclass
class Utterances:
    """The utterances present in both the training and the test store, with
    their windows."""

    ids: list[str]
    labels: np.ndarray  # class index per utterance
    speakers: list[str]
    sessions: list[str]
    class_names: list[str]
    train_windows: list[np.ndarray]  # per utterance, memory-mapped; unperturbed
    test_windows: list[np.ndarray]
    # Per utterance, its training windows at each speed of TrainConfig.speeds
    # (memory-mapped, in that order; none at a speed where the utterance
    # became too short for a window): what it trains on when there are any.
    # Validation reads train_windows, which are never perturbed.
    speed_windows: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def input_shape(self) -> tuple[int, int]:
        return tuple(self.test_windows[0].shape[1:])

    @property
    def training_windows(self) -> list[np.ndarray] | list[tuple[np.ndarray, ...]]:
        """Per utterance, the windows it trains on (:class:`WindowRows`
        takes either kind)."""
        return self.speed_windows or self.train_windows


def load_utterances(
    train_store: FeatureStore, test_store: FeatureStore, speed_stores: Sequence[FeatureStore] = ()
) -> Utterances:
    """The utterances of the training and test stores, classes numbered in
    the order the training store records (the label map's order).

    Parameters
    ----------
    train_store, test_store : FeatureStore
        The unperturbed training windows and the test windows.
    speed_stores : sequence of FeatureStore, default ()
        The training windows at each speed of speed perturbation; with
        any, :attr:`Utterances.speed_windows` holds each utterance's
        windows in these stores, in this order.

    Raises
    ------
    ValueError
        The training and test stores share no utterance.
    """
    test_rows = {utterance_key(row): i for i, row in enumerate(test_store.index)}
    pairs = [
        (i, test_rows[utterance_key(row)])
        for i, row in enumerate(train_store.index)
        if utterance_key(row) in test_rows
    ]
    if not pairs:
        raise ValueError("the training and test stores share no utterance")
    rows = [train_store.index[i] for i, _ in pairs]
    class_names = train_store.labels
    lookup = {c: k for k, c in enumerate(class_names)}
    at_speed = [{utterance_key(row): i for i, row in enumerate(store.index)} for store in speed_stores]
    return Utterances(
        ids=[r["utterance_id"] for r in rows],
        labels=np.array([lookup[r["label"]] for r in rows]),
        speakers=[r["speaker"] for r in rows],
        sessions=[r["session"] for r in rows],
        class_names=class_names,
        train_windows=[train_store.windows(i) for i, _ in pairs],
        test_windows=[test_store.windows(j) for _, j in pairs],
        speed_windows=[
            tuple(
                store.windows(index[utterance_key(r)])
                for store, index in zip(speed_stores, at_speed)
                if utterance_key(r) in index
            )
            for r in rows
        ]
        if speed_stores
        else [],
    )


class WindowRows:
    """The windows of the chosen utterances as the rows of one array that is
    never built: a batch is copied out of the memory-mapped store when it is
    asked for. Memory then stays flat in the store's size (the page cache
    holds the pages in use and gives them back), where stacking a split's
    windows took a copy of the whole training set.

    Parameters
    ----------
    windows : list of ndarray, or list of tuple of ndarray
        Per utterance, its ``[n_windows, n_features, n_frames]`` windows
        (views into memory-mapped shards, :meth:`FeatureStore.windows`),
        or several such arrays whose windows are all the utterance's, in
        order (its windows at each speed: :attr:`Utterances.speed_windows`).
    labels : ndarray
        Class index per utterance.
    which : tuple of int
        The utterances, in row order (at least one).
    """

    def __init__(
        self,
        windows: Sequence[np.ndarray] | Sequence[tuple[np.ndarray, ...]],
        labels: np.ndarray,
        which: tuple[int, ...],
    ):
        owned = [
            (k, part)
            for k, i in enumerate(which)
            for part in (windows[i] if isinstance(windows[i], tuple) else (windows[i],))
        ]
        self._parts = [part for _, part in owned]
        lengths = np.array([len(p) for p in self._parts], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(lengths)])
        # Position in ``which`` and class per row.
        self.owner = np.repeat(np.array([k for k, _ in owned], dtype=np.int64), lengths)
        self.y = np.asarray(labels)[list(which)][self.owner]
        self.window_shape = tuple(self._parts[0].shape[1:])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def gather(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The windows of ``rows`` (row indices), float32, into ``out``'s
        first ``len(rows)`` entries when given (a ``[>= len(rows),
        n_features, n_frames]`` float32 array), else into a new array."""
        rows = np.asarray(rows, dtype=np.int64)
        if out is None:
            out = np.empty((len(rows), *self.window_shape), dtype=np.float32)
        parts = np.searchsorted(self._starts, rows, side="right") - 1
        for j, (k, r) in enumerate(zip(parts.tolist(), (rows - self._starts[parts]).tolist())):
            out[j] = self._parts[k][r]
        return out[: len(rows)]

    def chunks(self, size: int):
        """Every row in order, ``size`` windows at a time (the last chunk
        shorter), each chunk a fresh float32 array."""
        for begin in range(0, len(self), size):
            yield self.gather(np.arange(begin, min(begin + size, len(self))))


def stack(windows: list[np.ndarray], labels: np.ndarray, which: tuple[int, ...]):
    """Windows of the chosen utterances as one array in memory, with each
    window's label and utterance position: for the authors' loop and the
    benchmarks' anchors, which take arrays (the trainer reads
    :class:`WindowRows`)."""
    parts = [windows[i] for i in which]
    x = np.concatenate(parts).astype(np.float32, copy=False)
    y = np.concatenate([np.full(len(p), labels[i]) for p, i in zip(parts, which)])
    owner = np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)])
    return x, y, owner
