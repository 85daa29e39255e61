"""What one split costs under ``--preset best`` against ``--preset paper``
(issue 15: at most 2x): ``python -m glam_py.train`` on one EmoDB random
split, whole (every epoch of each preset, its windows, evaluation and
results), the two presets alternating round after round in one session.
Each round writes a fresh run directory; the feature cache is shared, so
only the first round featurises (a fraction of a second against minutes).

    python -m pytest benches/test_recipe_cost.py --benchmark-json=/tmp/recipe.json
    python -m benches.summarize /tmp/recipe.json

The summary's ratio is paper's time over best's (under 1: best costs
more); the extra info ``cost`` is best's time over paper's.
GLAM_RECIPE_ROUNDS sets the rounds (default 2), GLAM_RECIPE_MODELS the
models (default glam; each is timed on its own).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from benches.benchutil import emodb_train_command, interleave, record_paired
from tests.support.inputs import corpora_root

THREADS = 2
ROUNDS = int(os.environ.get("GLAM_RECIPE_ROUNDS", "2"))
MODELS = tuple(os.environ.get("GLAM_RECIPE_MODELS", "glam").split(","))
PRESETS = ("paper", "best")
GROUP = f"One EmoDB split, --preset best against --preset paper ({THREADS} threads)"


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict[str, dict[str, list[float]]]:
    """Each model's interleaved seconds per preset."""
    if not (corpora_root() / "emodb" / "wav").is_dir():
        pytest.skip("EmoDB recordings not found (set GLAM_CORPORA)")
    work = tmp_path_factory.mktemp("recipe")
    cache = work / "cache"

    def one_split(model, preset):
        def run():
            shutil.rmtree(work / preset, ignore_errors=True)
            subprocess.run(
                emodb_train_command(
                    work / preset, cache, "--preset", preset, "--repeats", "1", model=model, threads=THREADS
                ),
                check=True,
            )

        return run

    return {
        model: interleave({p: one_split(model, p) for p in PRESETS}, ROUNDS, warmup=0) for model in MODELS
    }


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("model", MODELS)
def test_best_against_paper_per_split(benchmark, session, model):
    # The session ran in the fixture; this records it (the timed call is empty).
    benchmark.pedantic(lambda: None, rounds=1)
    times = session[model]
    record_paired(benchmark, times["paper"], times["best"], 1, "splits")
    benchmark.extra_info.update(
        model=model, rounds=ROUNDS, cost=float(np.median(times["best"]) / np.median(times["paper"]))
    )
