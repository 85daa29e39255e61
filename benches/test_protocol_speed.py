"""The user's whole command against the authors' training steps (issue 14):
a reduced EmoDB protocol (GLAM, 2 random splits x 15 epochs, every other
setting at its default, training windows tiled as in the README's EmoDB
command) run end to end as ``python -m glam_py.train`` -- start-up,
featurising into a fresh cache, training, evaluation, the results files --
against the authors' training loop alone (experiments/authors_loop.py,
without its per-epoch evaluation) on the same splits and training windows.
One session interleaves ours at ``--precision auto``, ours in fp32 and
theirs, round after round; each test reports one of ours against theirs.
Their windows are stacked before the clock starts (the trainer's own
split and stacking), so the ratio gives them their data for free.

    python -m pytest benches/test_protocol_speed.py --benchmark-json=/tmp/protocol.json
    python benches/summarize.py /tmp/protocol.json

GLAM_PROTOCOL_ROUNDS sets the rounds (default 2), GLAM_PROTOCOL_EPOCHS the
epochs (default 15; fewer weigh ours down with its fixed costs) and
GLAM_PROTOCOL_PRECISIONS ours' precisions (default "auto,fp32"). A round
runs the protocol three times, minutes each. The session runs in a
fixture, so pytest-benchmark's own figures are empty; the summary reads
the interleaved medians.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

from benches.benchutil import emodb_train_command, interleave, record_paired
from experiments.authors_loop import authors_training
from glam_py.train.config import RunConfig
from glam_py.train.data import load_utterances, stack
from glam_py.train.run import CorpusSource, make_splits, stores_for
from tests.support.inputs import corpora_root

SPLITS, THREADS = 2, 2
EPOCHS = int(os.environ.get("GLAM_PROTOCOL_EPOCHS", "15"))
ROUNDS = int(os.environ.get("GLAM_PROTOCOL_ROUNDS", "2"))
GROUP = (
    f"EmoDB protocol end to end (GLAM, {SPLITS} splits x {EPOCHS} epochs, {THREADS} threads) "
    "against the authors' training steps"
)
# Which of ours run against theirs: "auto" (every default) and fp32 by
# default; "bf16,fp32" measures bf16 before "auto" is allowed to choose it.
PRECISIONS = tuple(os.environ.get("GLAM_PROTOCOL_PRECISIONS", "auto,fp32").split(","))


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    """The interleaved times of ours at each precision and of theirs, and
    the windows trained."""
    if not (corpora_root() / "emodb" / "wav").is_dir():
        pytest.skip("EmoDB recordings not found (set GLAM_CORPORA)")
    work = tmp_path_factory.mktemp("protocol")
    # The command's splits and training windows, as its run makes them.
    run = RunConfig(preset="paper", repeats=SPLITS, overrides={"features": {"pad": "tile"}})
    stores = stores_for(
        CorpusSource("emodb", corpora_root() / "emodb"),
        run.train_config("glam"),
        work / "theirs-cache",
        THREADS,
        lambda m: None,
    )
    data = load_utterances(*stores)
    splits = [
        stack(data.train_windows, data.labels, split.train) + (split.seed,)
        for split in make_splits(run, data)
    ]

    def ours(precision):
        def run_command():
            # A fresh run directory and feature cache: the command as a first run sees it.
            shutil.rmtree(work / precision, ignore_errors=True)
            subprocess.run(
                emodb_train_command(
                    work / precision / "run",
                    work / precision / "cache",
                    *("--repeats", str(SPLITS), "--epochs", str(EPOCHS), "--precision", precision),
                    threads=THREADS,
                ),
                check=True,
            )

        return run_command

    def theirs():
        threads = torch.get_num_threads()
        torch.set_num_threads(THREADS)
        try:
            for train_x, train_y, _, seed in splits:
                authors_training(
                    train_x,
                    train_y.astype(np.int64),
                    [],
                    np.array([]),
                    seed,
                    EPOCHS,
                    1e-4,
                    0.5,
                    evaluate_epochs=False,
                )
        finally:
            torch.set_num_threads(threads)

    times = interleave({**{p: ours(p) for p in PRECISIONS}, "theirs": theirs}, ROUNDS, warmup=0)
    return {"times": times, "windows": EPOCHS * sum(len(train_x) for train_x, *_ in splits)}


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_protocol_against_the_authors_training_steps(benchmark, session, precision):
    # The session ran in the fixture; this records it (the timed call is empty).
    benchmark.pedantic(lambda: None, rounds=1)
    record_paired(
        benchmark, session["times"]["theirs"], session["times"][precision], session["windows"], "windows"
    )
    benchmark.extra_info.update(precision=precision, rounds=ROUNDS, epochs=EPOCHS)
