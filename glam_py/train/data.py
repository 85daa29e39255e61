"""Windows for training and testing, read from feature stores: training
windows at the training overlap, test windows at the test overlap, matched
by utterance. Training and evaluation read them batch by batch from the
memory-mapped shards (:class:`WindowRows`), so a process holds a batch of
windows, not the corpus's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glam_py.store import FeatureStore


@dataclass
class Utterances:
    """The utterances present in both stores, with their windows."""

    ids: list[str]
    labels: np.ndarray  # class index per utterance
    speakers: list[str]
    sessions: list[str]
    class_names: list[str]
    train_windows: list[np.ndarray]  # per utterance, memory-mapped
    test_windows: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def input_shape(self) -> tuple[int, int]:
        return tuple(self.test_windows[0].shape[1:])


def load_utterances(train_store: FeatureStore, test_store: FeatureStore) -> Utterances:
    """The utterances of both stores, classes numbered in the order the
    training store records (the label map's order)."""
    test_rows = {row["path"]: i for i, row in enumerate(test_store.index)}
    pairs = [
        (i, test_rows[row["path"]]) for i, row in enumerate(train_store.index) if row["path"] in test_rows
    ]
    if not pairs:
        raise ValueError("the training and test stores share no utterance")
    rows = [train_store.index[i] for i, _ in pairs]
    class_names = train_store.labels
    lookup = {c: k for k, c in enumerate(class_names)}
    return Utterances(
        ids=[r["utterance_id"] for r in rows],
        labels=np.array([lookup[r["label"]] for r in rows]),
        speakers=[r["speaker"] for r in rows],
        sessions=[r["session"] for r in rows],
        class_names=class_names,
        train_windows=[train_store.windows(i) for i, _ in pairs],
        test_windows=[test_store.windows(j) for _, j in pairs],
    )


class WindowRows:
    """The windows of the chosen utterances as the rows of one array that is
    never built: a batch is copied out of the memory-mapped store when it is
    asked for. Memory then stays flat in the store's size (the page cache
    holds the pages in use and gives them back), where stacking a split's
    windows took a copy of the whole training set.

    Parameters
    ----------
    windows : list of ndarray
        Per utterance, its ``[n_windows, n_features, n_frames]`` windows
        (views into memory-mapped shards, :meth:`FeatureStore.windows`).
    labels : ndarray
        Class index per utterance.
    which : tuple of int
        The utterances, in row order (at least one).
    """

    def __init__(self, windows: list[np.ndarray], labels: np.ndarray, which: tuple[int, ...]):
        self._parts = [windows[i] for i in which]
        lengths = np.array([len(p) for p in self._parts], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(lengths)])
        self.y = np.repeat(np.asarray(labels)[list(which)], lengths)  # class per row
        self.owner = np.repeat(np.arange(len(which)), lengths)  # position in ``which`` per row
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
