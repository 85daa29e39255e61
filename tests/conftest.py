"""Shared fixtures: the real corpora, skipped with a reason where absent."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.inputs import corpora_root


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_interrupts():
    """Ctrl-C raises KeyboardInterrupt in the tests and in the commands
    they start, as at a terminal. A suite started in the background by a
    script (``cmd &``, nohup) inherits SIGINT ignored, which Python leaves
    ignored and exec passes on, so the tests of Ctrl-C would fail for the
    environment's sake; a handler, unlike ignoring, is reset by exec."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def emodb_files() -> list[Path]:
    wav = corpora_root() / "emodb" / "wav"
    files = sorted(wav.glob("*.wav"))
    if not files:
        pytest.skip(f"EmoDB recordings not found under {wav} (set GLAM_CORPORA)")
    return files


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A real training run directory holding two checkpoints (GLAM and
    APCNN, one split, a few seconds of training on a tiny demo corpus, test
    windows tiled when short): ``run/models/{glam,apcnn}__seed1.pt``."""
    from glam_py.corpora.demo import generate_demo_corpus
    from glam_py.train.config import RunConfig
    from glam_py.train.run import CorpusSource, execute

    root = tmp_path_factory.mktemp("trained")
    generate_demo_corpus(root / "demo", n_speakers=2, per_class_per_speaker=2)
    run = RunConfig(
        models=("glam", "apcnn"),
        preset="paper",
        repeats=1,
        threads=2,
        overrides={"epochs": 2, "lr": 3e-3, "alpha": 0.0, "features": {"pad": "tile"}},
    )
    execute(run, [CorpusSource("demo", root / "demo")], root / "run", root / "cache", log=lambda m: None)
    return root / "run"


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """A small demo corpus (4 speakers, 3 utterances per class and speaker),
    its featurised stores and the utterances loaded from them, with the
    3-epoch training settings the trainer tests use: ``(root, cfg, data)``."""
    from glam_py.corpora.demo import generate_demo_corpus
    from glam_py.features import FeatureConfig
    from glam_py.train.config import TrainConfig
    from glam_py.train.data import load_utterances
    from glam_py.train.run import CorpusSource, stores_for

    root = tmp_path_factory.mktemp("demo")
    generate_demo_corpus(root, n_speakers=4, per_class_per_speaker=3)
    cfg = TrainConfig(epochs=3, lr=5e-4, features=FeatureConfig(pad="tile"))
    train, test = stores_for(CorpusSource("demo", root), cfg, root / "cache", 2, lambda m: None)
    return root, cfg, load_utterances(train, test)
