"""Windows for training and testing, read from feature stores: training
windows at the training overlap, test windows at the test overlap, matched
by utterance."""

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


def stack(windows: list[np.ndarray], labels: np.ndarray, which: tuple[int, ...]):
    """Windows of the chosen utterances as one array, with each window's
    label and utterance position."""
    parts = [windows[i] for i in which]
    x = np.concatenate(parts).astype(np.float32, copy=False)
    y = np.concatenate([np.full(len(p), labels[i]) for p, i in zip(parts, which)])
    owner = np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)])
    return x, y, owner
