"""Windows for training and testing, read from feature stores: training
windows at the training overlap (and, with speed perturbation, at each
speed), test windows at the test overlap, matched by utterance. Training
and evaluation read them batch by batch from the store's shards
(:class:`WindowRows`), so a process holds a batch of windows, not the
corpus's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from glam_py.normalize import normalization_groups, normalize_groups
from glam_py.store import FeatureStore, StoredWindows


@dataclass
class Utterances:
    """The utterances present in both the training and the test store, with
    their windows."""

    ids: list[str]
    labels: np.ndarray  # class index per utterance
    speakers: list[str]
    sessions: list[str]
    class_names: list[str]
    train_windows: list[StoredWindows]  # per utterance, read when used; unperturbed
    test_windows: list[StoredWindows]
    # Per utterance, its training windows at each speed of TrainConfig.speeds
    # (read when used, in that order; none at a speed where the utterance
    # became too short for a window): what it trains on when there are any.
    # Validation reads train_windows, which are never perturbed.
    speed_windows: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    # Per utterance, the name of the corpus it comes from (:func:`combine`);
    # empty for a run of one corpus.
    corpora: list[str] = field(default_factory=list)

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
    keys = train_store.index.keys()
    test_rows = {key: j for j, key in enumerate(test_store.index.keys())}
    pairs = [(i, test_rows[key]) for i, key in enumerate(keys) if key in test_rows]
    if not pairs:
        raise ValueError("the training and test stores share no utterance")
    del test_rows
    rows = np.array([i for i, _ in pairs], dtype=np.int64)
    column = train_store.index.column
    class_names = train_store.labels
    lookup = {c: k for k, c in enumerate(class_names)}
    speed_windows = []
    if speed_stores:
        at_speed = [{key: i for i, key in enumerate(store.index.keys())} for store in speed_stores]
        speed_windows = [
            tuple(
                store.windows(index[keys[i]])
                for store, index in zip(speed_stores, at_speed)
                if keys[i] in index
            )
            for i in rows.tolist()
        ]
    return Utterances(
        ids=column("utterance_id")[rows].tolist(),
        labels=np.array([lookup[label] for label in column("label")[rows].tolist()]),
        speakers=column("speaker")[rows].tolist(),
        sessions=column("session")[rows].tolist(),
        class_names=class_names,
        train_windows=[train_store.windows(i) for i, _ in pairs],
        test_windows=[test_store.windows(j) for _, j in pairs],
        speed_windows=speed_windows,
    )


def corpus_utterance_id(corpus: str, utterance_id: str) -> str:
    """An utterance's id in a run of several corpora (what its split file
    lists): prefixed with its corpus's name, since two corpora may both
    hold a "03a01Fa".

    Parameters
    ----------
    corpus : str
        The corpus's name in the run.
    utterance_id : str
        The id its feature store gives it.

    Returns
    -------
    str
        ``corpus/utterance_id``.
    """
    return f"{corpus}/{utterance_id}"


def combine(parts: Sequence[tuple[str, Utterances]]) -> Utterances:
    """Several corpora's utterances as one set, for a run that trains on
    some and tests on others: classes numbered in the first corpus's order
    (each corpus's label map has put its labels onto those classes), and
    speakers and sessions prefixed with their corpus's name so that two
    corpora's speaker "03" stay two speakers (for leave-one-speaker-out and
    the validation carve-out, which holds out whole speakers).

    Parameters
    ----------
    parts : sequence of (str, Utterances)
        Each corpus's name and utterances, at least one.

    Returns
    -------
    Utterances
        With :attr:`Utterances.corpora` naming each utterance's corpus.

    Raises
    ------
    ValueError
        A corpus has a class the first corpus lacks, the corpora's windows
        differ in shape, or some corpora have speed windows and others not.
    """
    (first_name, first), *_ = parts
    classes = first.class_names
    for name, data in parts:
        extra = [c for c in data.class_names if c not in classes]
        if extra:
            raise ValueError(
                f"corpus {name} has the class {extra[0]!r}, which {first_name} (the first corpus, whose "
                f"classes are shared: {', '.join(classes)}) lacks; map it onto one of them with --labels"
            )
        if data.input_shape != first.input_shape:
            raise ValueError(
                f"corpus {name}'s windows are {data.input_shape}, {first_name}'s {first.input_shape}"
            )
        if bool(data.speed_windows) != bool(first.speed_windows):
            raise ValueError(f"corpus {name} and {first_name} differ in speed perturbation")
    prefixed = lambda name, values: [f"{name}/{v}" if v else "" for v in values]
    return Utterances(
        ids=[corpus_utterance_id(name, i) for name, data in parts for i in data.ids],
        labels=np.concatenate(
            [
                np.array([classes.index(data.class_names[k]) for k in data.labels], dtype=np.int64)
                for _, data in parts
            ]
        ),
        speakers=[s for name, data in parts for s in prefixed(name, data.speakers)],
        sessions=[s for name, data in parts for s in prefixed(name, data.sessions)],
        class_names=list(classes),
        train_windows=[w for _, data in parts for w in data.train_windows],
        test_windows=[w for _, data in parts for w in data.test_windows],
        speed_windows=[w for _, data in parts for w in data.speed_windows],
        corpora=[name for name, data in parts for _ in data.ids],
    )


def load_corpora(stores: Sequence[tuple[str, Sequence[FeatureStore]]], normalize: str = "none") -> Utterances:
    """A run's utterances from each corpus's name and stores (training,
    test, then the training store at each speed): one corpus's as
    :func:`load_utterances` gives them, several combined (:func:`combine`),
    normalised as ``normalize`` says (:func:`normalized`)."""
    loaded = [(name, load_utterances(train, test, at_speeds)) for name, (train, test, *at_speeds) in stores]
    return normalized(loaded[0][1] if len(loaded) == 1 else combine(loaded), normalize)


def normalized(data: Utterances, mode: str) -> Utterances:
    """``data`` with every window normalised by its group's statistics
    (:mod:`glam_py.normalize`): the utterance's, the speaker's or the
    corpus's, taken separately over the training windows, the test windows
    and each perturbation's windows; unchanged for ``"none"``.

    Raises
    ------
    ValueError
        ``"speaker"`` with utterances whose speaker is unknown, or an
        unknown mode.
    """
    if mode == "none":
        return data
    groups = normalization_groups(mode, data.speakers, data.corpora or [""] * len(data))
    return dataclasses.replace(
        data,
        train_windows=normalize_groups(data.train_windows, groups),
        test_windows=normalize_groups(data.test_windows, groups),
        speed_windows=normalize_groups(data.speed_windows, groups) if data.speed_windows else [],
    )


class WindowRows:
    """The windows of the chosen utterances as the rows of one array that is
    never built: a batch is read from the store when it is asked for.
    Memory then stays flat in the store's size (the page cache holds the
    pages read and gives them back), where stacking a split's windows took
    a copy of the whole training set.

    Parameters
    ----------
    windows : list of ndarray, or list of tuple of ndarray
        Per utterance, its ``[n_windows, n_features, n_frames]`` windows
        (:meth:`FeatureStore.windows`, read when used, or arrays),
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
        offsets = rows - self._starts[parts]
        # One read per run of consecutive windows of one part (evaluation
        # reads whole utterances in order), not one per window.
        breaks = np.flatnonzero((np.diff(parts) != 0) | (np.diff(offsets) != 1)) + 1
        for a, b in zip([0, *breaks.tolist()], [*breaks.tolist(), len(rows)]):
            first = int(offsets[a])
            out[a:b] = self._parts[parts[a]][first : first + b - a]
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
