"""--parallel-splits: K splits trained as one batched network end with the
weights, histories and results each gets trained alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glam_py.train import parallel
from glam_py.train.__main__ import build_parser
from glam_py.train.config import RunConfig
from glam_py.train.parallel import groups, refusal, train_splits
from glam_py.train.protocol import random_splits
from glam_py.train.run import CorpusSource, execute
from glam_py.train.trainer import NonFiniteLoss, train_split


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


# Every recipe ingredient that the batched path must train as alone.
RECIPE = {
    "label_smoothing": 0.1,
    "class_weights": "balanced",
    "time_masks": 2,
    "freq_masks": 1,
    "level_db": 3.0,
    "ema_decay": 0.9,
    "schedule": "cosine",
    "warmup_epochs": 1,
    "min_lr": 1e-5,
}


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in epoch.items() if k != "windows_per_s"} for epoch in history]


def assert_same_training(together: dict, alone: dict, atol: float) -> None:
    a, b = together["model"].state_dict(), alone["model"].state_dict()
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=atol, msg=name)
    ours, theirs = together["metrics"], alone["metrics"]
    assert ours["confusion"] == theirs["confusion"]
    assert [e["test"] for e in ours["history"]] == [e["test"] for e in theirs["history"]]
    np.testing.assert_allclose(
        [e["loss"] for e in ours["history"]], [e["loss"] for e in theirs["history"]], rtol=1e-9
    )


@pytest.mark.parametrize("model", ["glam", "apcnn", "mhcnn"])
def test_three_splits_together_train_as_each_alone(small, tmp_path, float64, model):
    _, cfg, data = small
    # Batch 8 and mixup on: many steps, each split's own Beta and
    # permutation draws, and epochs of different lengths whose last
    # batches differ in size (ragged ends). Splits of the first 24
    # utterances keep float64 GLAM to a minute or two.
    # Test scores after every epoch, so that every epoch's are compared.
    cfg = cfg.replace(epochs=2, batch_size=8, alpha=0.5, lr=1e-3, eval_every=1)
    splits = random_splits(list(data.labels[:24]), 3, 1, False)
    counts = [sum(len(data.train_windows[i]) for i in s.train) for s in splits]
    assert len(set(counts)) > 1 and len({c % 8 for c in counts}) > 1, counts
    together = train_splits(model, cfg, data, splits, state_path=tmp_path / "group.pt")
    for k, split in enumerate(splits):
        alone = train_split(model, cfg, data, split, state_path=tmp_path / f"{k}.pt")
        assert_same_training(together[k], alone, atol=1e-6)


def test_the_recipe_trains_together_as_alone(small, tmp_path, float64):
    _, cfg, data = small
    # Every ingredient at once: each split's own masks, class weights and
    # moving average, label smoothing, the warm-up and cosine schedule.
    cfg = cfg.updated({**RECIPE, "epochs": 2, "batch_size": 8, "alpha": 0.5, "lr": 1e-3, "eval_every": 1})
    splits = random_splits(list(data.labels[:24]), 3, 1, False)
    together = train_splits("apcnn", cfg, data, splits, state_path=tmp_path / "group.pt")
    for k, split in enumerate(splits):
        alone = train_split("apcnn", cfg, data, split, state_path=tmp_path / f"{k}.pt")
        assert_same_training(together[k], alone, atol=1e-6)


# The schedule depends on the epoch count, which the resume test changes.
STATEFUL = {k: v for k, v in RECIPE.items() if k not in ("schedule", "warmup_epochs", "min_lr")}


@pytest.mark.parametrize("recipe", [{}, STATEFUL], ids=["paper", "recipe"])
def test_a_killed_group_resumes_to_the_same_weights(small, tmp_path, recipe):
    _, cfg, data = small
    # Evaluated every epoch: the 1-epoch run's last epoch is then no
    # different from the first of two.
    cfg = cfg.updated({"epochs": 2, "batch_size": 16, "alpha": 0.5, "eval_every": 1, **recipe})
    splits = random_splits(list(data.labels), 2, 1, False)
    straight = train_splits("apcnn", cfg, data, splits, state_path=tmp_path / "a.pt")
    train_splits("apcnn", cfg.replace(epochs=1), data, splits, state_path=tmp_path / "b.pt")
    resumed = train_splits("apcnn", cfg, data, splits, state_path=tmp_path / "b.pt")
    for a, b in zip(straight, resumed):
        assert without_timing(a["metrics"]["history"]) == without_timing(b["metrics"]["history"])
        for x, y in zip(a["model"].state_dict().values(), b["model"].state_dict().values()):
            torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_a_nan_loss_stops_the_group_naming_its_split(small, tmp_path, monkeypatch):
    _, cfg, data = small
    splits = random_splits(list(data.labels), 2, 1, False)
    loss = parallel.mixup_loss
    monkeypatch.setattr(parallel, "mixup_loss", lambda *args: loss(*args) * float("nan"))
    with pytest.raises(
        NonFiniteLoss,
        match=f"apcnn split {splits[0].name}: the training loss became nan "
        "in epoch 1; training stopped, no state was saved",
    ):
        train_splits("apcnn", cfg.replace(epochs=1), data, splits, state_path=tmp_path / "s.pt")
    assert not (tmp_path / "s.pt").exists()


def test_models_with_dropout_are_refused(small, tmp_path):
    _, cfg, data = small
    assert refusal("apcnn", cfg) is None
    assert "or --dropout" in refusal("apcnn", cfg.replace(dropout=0.3))
    splits = random_splits(list(data.labels), 2, 1, False)
    with pytest.raises(ValueError, match="--parallel-splits: aacnn draws dropout"):
        train_splits("aacnn", cfg, data, splits, state_path=tmp_path / "s.pt")
    with pytest.raises(ValueError, match="--parallel-splits: apcnn draws dropout"):
        train_splits("apcnn", cfg.replace(dropout=0.3), data, splits, state_path=tmp_path / "s.pt")


def test_groups_are_fixed_by_the_pending_splits():
    names = list("abcde")
    assert groups(names, 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert groups(names, 8) == [names]


def test_a_run_trains_its_splits_in_groups_and_refuses_dropout(small, tmp_path):
    root, _, _ = small
    overrides = {"epochs": 1, "features": {"pad": "tile"}}
    source = CorpusSource("demo", root)
    run = RunConfig(
        models=("apcnn",), preset="paper", repeats=3, threads=2, overrides=overrides, parallel_splits=2
    )
    results = execute(run, [source], tmp_path / "run", root / "cache", log=lambda m: None)
    assert [s["split"] for s in results["models"]["apcnn"]["splits"]] == ["seed1", "seed2", "seed3"]
    assert sorted(p.name for p in (tmp_path / "run" / "state").glob("*.pt")) == [
        "apcnn__seed1=x2.pt",
        "apcnn__seed3=x1.pt",
    ]
    refused = RunConfig(
        models=("aacnn",), preset="paper", repeats=2, threads=2, overrides=overrides, parallel_splits="auto"
    )
    with pytest.raises(ValueError, match="aacnn draws dropout"):
        execute(refused, [source], tmp_path / "refused", root / "cache", log=lambda m: None)
    assert build_parser().parse_args(["--parallel-splits", "auto"]).parallel_splits == "auto"
    assert build_parser().parse_args(["--parallel-splits", "4"]).parallel_splits == 4
