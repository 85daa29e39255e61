"""Evaluation protocols: which utterances train and which test, split by
split, each split reproducible alone from its seed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np


@dataclass(frozen=True)
class Split:
    name: str  # "seed3", "speaker emodb03", "session Session2", "all"
    seed: int
    train: tuple[int, ...]
    test: tuple[int, ...]  # empty for --protocol all
    test_corpus: str | None = None  # the corpus tested, under the corpus protocol


def random_splits(
    labels: list[str], repeats: int, first_seed: int, stratify: bool, test_fraction: float = 0.2
) -> list[Split]:
    """The paper's protocol: ``repeats`` random 80/20 splits of utterances,
    split ``i`` drawn with seed ``first_seed + i``, as scikit-learn's
    ``train_test_split(..., random_state=seed)`` draws it (the authors'
    split)."""
    idx = np.arange(len(labels))
    splits = []
    for seed in range(first_seed, first_seed + repeats):
        if stratify:
            # Imported here: scikit-learn takes a second to import, which
            # the unstratified default need not pay at start-up.
            from sklearn.model_selection import train_test_split

            train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
        else:
            train, test = _shuffle_split(len(labels), test_fraction, seed)
        splits.append(Split(f"seed{seed}", seed, tuple(sorted(train)), tuple(sorted(test))))
    return splits


def _shuffle_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's unstratified ``train_test_split`` (a ShuffleSplit):
    a legacy ``RandomState(seed)`` permutation, its first
    ``ceil(test_fraction * n)`` utterances tested."""
    order = np.random.RandomState(seed).permutation(n)
    n_test = math.ceil(test_fraction * n)
    return order[n_test:], order[:n_test]


def grouped_splits(groups: list[str], kind: str, seed: int) -> list[Split]:
    """Leave one group (speaker or session) out, one split per group."""
    if any(not g for g in groups):
        raise ValueError(
            f"leave-one-{kind}-out needs a {kind} for every utterance; this corpus has utterances without one"
        )
    idx = np.arange(len(groups))
    groups_arr = np.array(groups)
    return [
        Split(f"{kind} {g}", seed, tuple(idx[groups_arr != g]), tuple(idx[groups_arr == g]))
        for g in sorted(set(groups))
    ]


def corpus_splits(corpora: Sequence[str], tests: Sequence[str], repeats: int, first_seed: int) -> list[Split]:
    """Cross-corpus evaluation: for each corpus of ``tests`` in turn, a
    training on every other corpus tested on all of that one (leave one
    corpus out), ``repeats`` times with seeds ``first_seed`` onwards (the
    splits of one test corpus differ in their seed alone: initialisation,
    batch order, augmentation draws and the validation carve-out).

    Parameters
    ----------
    corpora : sequence of str
        The corpus of each utterance.
    tests : sequence of str
        The corpora to test on, each named in ``corpora``.
    repeats : int
        Trainings per test corpus.
    first_seed : int
        The seed of the first; the split names carry each seed.

    Raises
    ------
    ValueError
        Fewer than two corpora, or a test corpus that no utterance has.
    """
    names = list(dict.fromkeys(corpora))
    if len(names) < 2:
        raise ValueError("the corpus protocol needs at least two corpora: one to train on, one to test")
    idx = np.arange(len(corpora))
    of = np.array(corpora)
    splits = []
    for test in tests:
        if test not in names:
            raise ValueError(f"no corpus is named {test!r}; the corpora are {', '.join(names)}")
        for seed in range(first_seed, first_seed + repeats):
            splits.append(
                Split(
                    corpus_split_name(test, seed, repeats),
                    seed,
                    tuple(idx[of != test].tolist()),
                    tuple(idx[of == test].tolist()),
                    test,
                )
            )
    return splits


def corpus_split_name(test: str, seed: int, repeats: int) -> str:
    """The name of the corpus protocol's split that tests ``test`` with
    ``seed``: "corpus urdu", or "corpus urdu seed3" when each test corpus
    has several (``repeats`` > 1).

    Parameters
    ----------
    test : str
        The test corpus's name.
    seed : int
        The split's seed.
    repeats : int
        Trainings per test corpus.

    Returns
    -------
    str
    """
    return f"corpus {test}" + (f" seed{seed}" if repeats > 1 else "")


def all_utterances(n: int, seed: int) -> Split:
    """``--protocol all``: one split named "all" that trains on every one of
    the ``n`` utterances and tests none, for the model one deploys once a
    recipe has been evaluated under another protocol."""
    return Split("all", seed, tuple(range(n)), ())


class Validation(NamedTuple):
    """A training set and the validation set carved out of it.

    Attributes
    ----------
    train, val : tuple of int
        Utterance indices, sorted.
    by : str
        "speaker" (whole speakers held out) or "utterance" (a random share
        of the utterances).
    """

    train: tuple[int, ...]
    val: tuple[int, ...]
    by: str


def validation_split(
    train: tuple[int, ...], fraction: float, seed: int, speakers: Sequence[str] | None = None
) -> Validation:
    """Carves a validation set out of the training utterances (never the
    test): whole speakers where the corpus has enough, so that the epoch
    chosen on it is chosen for speakers the model has not heard, as the
    test speakers of a speaker-independent evaluation are.

    Parameters
    ----------
    train : tuple of int
        The split's training utterances.
    fraction : float
        The share to hold out, between 0 and 1: of the training speakers
        (``round(fraction * n_speakers)`` of them), else of the utterances
        (at least one).
    seed : int
        The split's seed; the same seed carves the same set.
    speakers : sequence of str or None, default None
        Speaker per utterance of the corpus (indexed like ``train``). By
        speaker when every training utterance has one and ``fraction`` of
        the training speakers rounds to at least one speaker while leaving
        one to train on (EmoDB's 10 speakers at the default 0.1: one
        speaker); else by utterance.

    Returns
    -------
    Validation
    """
    rng = np.random.default_rng([seed, 7])
    if speakers is not None and all(speakers[i] for i in train):
        names = sorted({speakers[i] for i in train})
        n_held = int(round(fraction * len(names)))
        if 1 <= n_held < len(names):
            held = set(rng.permutation(names)[:n_held].tolist())
            return Validation(
                tuple(i for i in train if speakers[i] not in held),
                tuple(i for i in train if speakers[i] in held),
                "speaker",
            )
    order = rng.permutation(np.array(train))
    n_val = max(1, int(round(fraction * len(order))))
    return Validation(
        tuple(sorted(order[n_val:].tolist())), tuple(sorted(order[:n_val].tolist())), "utterance"
    )
