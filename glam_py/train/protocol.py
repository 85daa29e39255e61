"""Evaluation protocols: which utterances train and which test, split by
split, each split reproducible alone from its seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    name: str  # "seed3", "speaker emodb03", "session Session2"
    seed: int
    train: tuple[int, ...]
    test: tuple[int, ...]


def random_splits(
    labels: list[str], repeats: int, first_seed: int, stratify: bool, test_fraction: float = 0.2
) -> list[Split]:
    """The paper's protocol: ``repeats`` random 80/20 splits of utterances,
    split ``i`` drawn with seed ``first_seed + i``."""
    # Imported here: scikit-learn takes a second to import, which every
    # command and every split worker would otherwise pay at start-up.
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    splits = []
    for seed in range(first_seed, first_seed + repeats):
        train, test = train_test_split(
            idx, test_size=test_fraction, random_state=seed, stratify=labels if stratify else None
        )
        splits.append(Split(f"seed{seed}", seed, tuple(sorted(train)), tuple(sorted(test))))
    return splits


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


def validation_split(
    train: tuple[int, ...], fraction: float, seed: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Carves a validation set out of the training utterances (never the test)."""
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(np.array(train))
    n_val = max(1, int(round(fraction * len(order))))
    return tuple(sorted(order[n_val:])), tuple(sorted(order[:n_val]))
