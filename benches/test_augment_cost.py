"""What channel augmentation costs at featurisation (issue 25: with every
effect on, at most 2x per training window what featurising without it
costs): all of EmoDB featurised at the training overlap (the paper's 1 s,
short utterances tiled) without augmentation and as an augmented copy,
alternating round after round in one session, on 2 threads as a training
run's featurisation takes them. An augmented copy has the windows of the
unperturbed one, so the ratio of the times is the ratio per window.

    python -m pytest benches/test_augment_cost.py --benchmark-json=/tmp/augment.json
    python -m benches.summarize /tmp/augment.json

The summary's ratio is the plain time over the augmented one (under 1:
augmenting costs more); the extra info ``cost`` is the augmented time over
the plain one. Each effect alone is measured too (where each copy gets it,
so its cost when drawn). GLAM_AUGMENT_ROUNDS sets the rounds (default 5).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from benches.benchutil import interleave, record_paired
from glam_py import features
from glam_py.train.config import PAPER

THREADS = 2
ROUNDS = int(os.environ.get("GLAM_AUGMENT_ROUNDS", "5"))
EVERY_EFFECT = "noise,reverb,eq,telephone,gain,codec"
VARIANTS = ("every effect", *EVERY_EFFECT.split(","))
GROUP = f"EmoDB featurised at the training overlap, augmented against plain ({THREADS} threads)"


@pytest.fixture(scope="module")
def session(emodb_paths) -> tuple[dict[str, list[float]], int]:
    """Each variant's interleaved seconds, and the training windows."""
    plain = PAPER.train_features().replace(pad="tile")
    configs = {"plain": plain}
    configs.update({v: plain.replace(augment=EVERY_EFFECT if v == "every effect" else v) for v in VARIANTS})
    windows = {
        name: len(features.featurize(emodb_paths, c, THREADS).file_index) for name, c in configs.items()
    }
    assert len(set(windows.values())) == 1, windows  # a copy keeps the windows
    runs = {name: (lambda c=c: features.featurize(emodb_paths, c, THREADS)) for name, c in configs.items()}
    return interleave(runs, ROUNDS, warmup=1), windows["plain"]


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("variant", VARIANTS)
def test_augmented_against_plain_per_window(benchmark, session, variant):
    # The session ran in the fixture; this records it (the timed call is empty).
    benchmark.pedantic(lambda: None, rounds=1)
    times, windows = session
    record_paired(benchmark, times["plain"], times[variant], windows, "windows")
    cost = float(np.median(times[variant]) / np.median(times["plain"]))
    benchmark.extra_info.update(variant=variant, rounds=ROUNDS, cost=cost)
    print(f"{variant}: {cost:.2f}x the plain featurisation per training window")
