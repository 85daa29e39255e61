"""The recipe's optional ingredients: label smoothing, class weights,
warm-up and cosine decay, SpecAugment masks, level changes and the
weights' moving average; their flags; each one reaching the trainer."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glam_py.errors import UsageError
from glam_py.features import FeatureConfig, featurize_signal
from glam_py.train import trainer
from glam_py.train.__main__ import build_parser, overrides_from
from glam_py.train.augment import change_level, level_rows, mask_windows
from glam_py.train.config import TrainConfig
from glam_py.train.metrics import evaluate
from glam_py.train.mixup import mix, mixup_loss
from glam_py.train.protocol import random_splits
from glam_py.train.trainer import (
    WeightAverage,
    _lr_after,
    balanced_weights,
    epoch_batches,
    split_start,
    train_split,
)


def test_label_smoothing_and_class_weights_enter_each_partners_loss():
    torch.manual_seed(0)
    logits, ya, yb, lam, eps = (
        torch.randn(6, 4),
        torch.tensor([0, 1, 2, 3, 0, 1]),
        torch.tensor([1, 1, 0, 2, 3, 3]),
        0.3,
        0.1,
    )
    log_p = logits.log_softmax(1)

    def smoothed(y):  # (1 - eps) on the class, eps/C on every class
        return ((1 - eps) * -log_p[torch.arange(6), y] + eps * -log_p.mean(1)).mean()

    torch.testing.assert_close(
        mixup_loss(logits, ya, yb, lam, eps), lam * smoothed(ya) + (1 - lam) * smoothed(yb)
    )
    torch.testing.assert_close(mixup_loss(logits, ya, ya, 1.0, eps), smoothed(ya))
    weight = torch.tensor([0.5, 1.0, 2.0, 0.5])

    def weighted(y):  # the mean over the batch weighted by the target classes' weights
        w = weight[y]
        return (w * -log_p[torch.arange(6), y]).sum() / w.sum()

    torch.testing.assert_close(
        mixup_loss(logits, ya, yb, lam, weight=weight), lam * weighted(ya) + (1 - lam) * weighted(yb)
    )
    # Both: each class's smoothing share weighted by its class's weight,
    # divided by the targets' weights (PyTorch's definition).
    w = weight[ya]
    both = ((1 - eps) * w * -log_p[torch.arange(6), ya] + eps * (weight * -log_p).mean(1)).sum() / w.sum()
    torch.testing.assert_close(mixup_loss(logits, ya, ya, 1.0, eps, weight), both)
    # Off, the loss is the plain cross-entropy, bit for bit.
    assert torch.equal(
        mixup_loss(logits, ya, yb, lam),
        lam * F.cross_entropy(logits, ya) + (1 - lam) * F.cross_entropy(logits, yb),
    )


def test_balanced_weights_are_inverse_frequencies_of_mean_1():
    counts = np.array([3, 1, 2, 0])  # class 3 has no training window
    weights = balanced_weights(np.repeat(np.arange(4), counts), 4)
    np.testing.assert_allclose(weights, [6 / 11, 18 / 11, 9 / 11, 0])
    assert weights[:3].mean() == pytest.approx(1.0)
    np.testing.assert_allclose(balanced_weights(np.array([0, 1, 2, 0, 1, 2]), 3), [1, 1, 1])


def test_the_split_weighs_its_own_training_windows(small):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    assert split_start("apcnn", cfg, data, split, "cpu").class_weights is None
    start = split_start("apcnn", cfg.replace(class_weights="balanced", select="val"), data, split, "cpu")
    counts = np.bincount(start.train.y, minlength=len(data.class_names))
    expected = (1 / counts) / (1 / counts).mean()
    torch.testing.assert_close(start.class_weights, torch.tensor(expected, dtype=torch.float32))


def test_warm_up_then_cosine_or_exponential_decay():
    cosine = TrainConfig(lr=1e-3, min_lr=1e-5, epochs=6, warmup_epochs=2, schedule="cosine")
    expected = [5e-4, 1e-3] + [1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)]
    assert [_lr_after(e, cosine) for e in range(6)] == pytest.approx(expected)
    assert expected[2] == pytest.approx(1e-3) and expected[4] == pytest.approx((1e-3 + 1e-5) / 2)
    assert [_lr_after(e, cosine.replace(warmup_epochs=0)) for e in (0, 3)] == pytest.approx(
        [1e-3, 1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi / 2)) / 2]
    )
    warm = TrainConfig(lr=1e-4, lr_decay=0.95, epochs=10, warmup_epochs=3)
    assert [_lr_after(e, warm) for e in range(6)] == pytest.approx(
        [1e-4 / 3, 2e-4 / 3, 1e-4, 1e-4, 0.95e-4, 0.95**2 * 1e-4]
    )
    step = TrainConfig(lr=1e-3, lr_decay=0.1, step_decay_every=2, warmup_epochs=1)
    assert [_lr_after(e, step) for e in range(4)] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-4])


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"label_smoothing": 1.0}, "label_smoothing must be at least 0 and below 1, got 1.0"),
        ({"schedule": "linear"}, "schedule must be exponential or cosine, got 'linear'"),
        (
            {"schedule": "cosine", "step_decay_every": 10},
            "schedule must be exponential when step_decay_every is set, got 'cosine'",
        ),
        (
            {"schedule": "cosine", "min_lr": 1e-3},
            r"min_lr must be at most lr \(0.0001\) under schedule cosine",
        ),
        ({"warmup_epochs": 50}, r"warmup_epochs must be at least 0 and fewer than epochs \(50\), got 50"),
        ({"time_masks": -1}, "time_masks must be at least 0, got -1"),
        ({"time_mask_frames": 64}, "time_mask_frames must be at least 1 and at most a window's 63 frames"),
        ({"freq_mask_bins": 0}, "freq_mask_bins must be at least 1 and at most a window's 26 coefficients"),
        ({"ema_decay": 1.0}, "ema_decay must be at least 0 and below 1, got 1.0"),
        ({"level_db": -3.0}, "level_db must be at least 0, got -3.0"),
        ({"dropout": 1.0}, "dropout must be at least 0 and below 1, got 1.0"),
        ({"class_weights": "inverse"}, "class_weights must be none or balanced, got 'inverse'"),
    ],
)
def test_invalid_recipe_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match="invalid training settings: " + message):
        TrainConfig(**changes)


def _expected_masks(x, rng, time_masks, time_width, freq_masks, freq_width):
    """The masks drawn in the documented order, applied one band at a time."""
    n, n_features, n_frames = x.shape
    out, means = x.copy(), x.mean(axis=2)
    tw = rng.integers(0, time_width + 1, size=(n, time_masks))
    ts = rng.integers(0, n_frames - tw + 1)
    fw = rng.integers(0, freq_width + 1, size=(n, freq_masks))
    fs = rng.integers(0, n_features - fw + 1)
    for i in range(n):
        for start, width in zip(ts[i], tw[i]):
            out[i, :, start : start + width] = means[i][:, None]
        for start, width in zip(fs[i], fw[i]):
            out[i, start : start + width, :] = means[i][start : start + width, None]
    return out


def test_masks_hide_their_bands_with_the_windows_means_reproducibly():
    x = np.random.default_rng(0).normal(size=(6, 26, 63)).astype(np.float32)
    x[:, 0] -= 300  # coefficient 0, a log energy far from 0
    masked = mask_windows(x.copy(), np.random.default_rng(5), 2, 10, 2, 4)
    expected = _expected_masks(x, np.random.default_rng(5), 2, 10, 2, 4)
    np.testing.assert_array_equal(masked, expected)
    changed = (masked != x).reshape(6, -1).sum(1)
    assert (changed > 0).all(), changed  # every window masked, each its own way
    assert len({(masked[i] != x[i]).tobytes() for i in range(6)}) == 6
    np.testing.assert_array_equal(mask_windows(x.copy(), np.random.default_rng(5), 2, 10, 2, 4), masked)
    assert not np.array_equal(mask_windows(x.copy(), np.random.default_rng(6), 2, 10, 2, 4), masked)
    # Off: nothing drawn, nothing changed.
    rng = np.random.default_rng(5)
    state = copy.deepcopy(rng.bit_generator.state)
    np.testing.assert_array_equal(mask_windows(x.copy(), rng, 0, 10, 0, 4), x)
    assert rng.bit_generator.state == state


def test_a_batch_is_masked_after_the_order_and_before_mixup(small):
    _, cfg, data = small
    cfg = cfg.replace(time_masks=2, time_mask_frames=20, freq_masks=1, alpha=0.5)
    split = random_splits(list(data.labels), 1, 1, False)[0]
    start = split_start("apcnn", cfg, data, split, "cpu")
    rng = copy.deepcopy(start.rng)
    xb, ya, yb, lam = next(epoch_batches(start, cfg))
    rows = rng.permutation(len(start.train))[: cfg.batch_size]
    x = mask_windows(start.train.gather(rows), rng, 2, 20, 1, 4)
    mixed, _, partners, expected_lam = mix(
        torch.from_numpy(x).unsqueeze(1), start.y[torch.from_numpy(rows)], 0.5, rng
    )
    assert lam == expected_lam
    torch.testing.assert_close(xb, mixed)
    assert torch.equal(yb, partners)


@pytest.mark.parametrize("output", ["mfcc", "log_mel"])
def test_a_level_change_is_what_a_gain_does_to_the_recording(output):
    cfg = FeatureConfig().replace(output=output)
    rng = np.random.default_rng(0)
    t = np.arange(48000) / 16000
    y = (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    quiet, _ = featurize_signal(y, None, cfg)
    loud, _ = featurize_signal(y * 10 ** (6 / 20), None, cfg)  # +6 dB
    np.testing.assert_allclose(
        loud - quiet, np.broadcast_to(6 * level_rows(cfg)[None, :, None], quiet.shape), atol=1e-4
    )
    assert np.count_nonzero(level_rows(cfg)) == (1 if output == "mfcc" else cfg.n_mels)


def test_each_window_gets_its_own_gain_from_the_splits_stream():
    x = np.random.default_rng(1).standard_normal((16, 26, 63)).astype(np.float32)
    rows = level_rows(FeatureConfig())
    rng = np.random.default_rng(3)
    state = copy.deepcopy(rng.bit_generator.state)
    changed = change_level(x.copy(), rng, 6.0, rows)
    rng.bit_generator.state = state
    gains = rng.uniform(-6.0, 6.0, size=16).astype(np.float32)
    shift = (changed - x)[:, 0, :]
    np.testing.assert_allclose(shift, np.repeat(gains[:, None] * rows[0], 63, axis=1), atol=1e-4)
    np.testing.assert_array_equal(changed[:, 1:], x[:, 1:])
    assert np.all(np.abs(shift) <= 6.0 * rows[0] + 1e-4) and len(np.unique(shift[:, 0])) == 16
    # Off: nothing drawn, nothing changed.
    state = copy.deepcopy(rng.bit_generator.state)
    np.testing.assert_array_equal(change_level(x.copy(), rng, 0.0, rows), x)
    assert rng.bit_generator.state == state


@pytest.mark.parametrize("name", ["glam", "mhcnn", "apcnn"])
def test_dropout_before_the_classifier_acts_in_training_only_and_leaves_checkpoints_alone(name):
    from glam_py import models

    torch.manual_seed(0)
    plain = models.build(name)
    torch.manual_seed(0)
    dropped = models.build(name, dropout=0.5)
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    x = torch.randn(8, 1, 26, 63)
    dropped.eval(), plain.eval()
    torch.testing.assert_close(dropped(x), plain(x))
    dropped.train(), plain.train()
    target = getattr(dropped, "classifier", None)
    seen = []
    if target is not None:  # the classifier's input
        target.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
        reference = plain.embed(x)
    else:  # APCNN: the trunk's map its heads take
        dropped.trunk.register_forward_hook(lambda m, args, out: seen.append(out))
        reference = plain.trunk(x)
    dropped(x)
    # About half the values zeroed, the others doubled (of those the ReLUs left).
    kept = seen[0] != 0
    assert 0.3 < kept[reference != 0].float().mean() < 0.7
    torch.testing.assert_close(seen[0][kept], 2 * reference[kept])
    # A copy (the weights' moving average) follows its own mode.
    average = copy.deepcopy(dropped).eval()
    torch.testing.assert_close(average(x), plain.eval()(x))


def test_the_average_is_the_decayed_sum_of_the_weights():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    average = WeightAverage(model, 0.9)
    states = [copy.deepcopy(model.state_dict())]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(4):
        model(torch.randn(8, 3)).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        average.update(model)
        states.append(copy.deepcopy(model.state_dict()))
    for name, value in average.model.state_dict().items():
        if value.is_floating_point():
            expected = 0.9**4 * states[0][name] + sum(
                0.1 * 0.9 ** (4 - t) * states[t][name] for t in range(1, 5)
            )
            torch.testing.assert_close(value, expected)
        else:  # BatchNorm's batch count
            assert torch.equal(value, states[-1][name]) and int(value) == 4
    assert not any(p.requires_grad for p in average.model.parameters())


def test_training_evaluates_and_keeps_the_average(small, tmp_path, monkeypatch):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    seen = []
    update = WeightAverage.update

    def recording(self, model):
        if not seen:
            seen.append(copy.deepcopy(self.model.state_dict()))
        seen.append(copy.deepcopy(model.state_dict()))
        update(self, model)

    monkeypatch.setattr(WeightAverage, "update", recording)
    out = train_split(
        "apcnn", cfg.replace(epochs=1, ema_decay=0.8), data, split, state_path=tmp_path / "s.pt"
    )
    steps = len(seen) - 1
    assert steps == -(-len(split_start("apcnn", cfg, data, split, "cpu").train) // cfg.batch_size)
    kept = out["model"].state_dict()
    for name, value in kept.items():
        if value.is_floating_point():
            expected = seen[0][name]
            for state in seen[1:]:
                expected = 0.8 * expected + 0.2 * state[name]
            torch.testing.assert_close(value, expected)
    assert any(not torch.equal(v, seen[-1][n]) for n, v in kept.items() if v.is_floating_point())
    # The test metrics are the average's.
    test = trainer._Evaluation(data.test_windows, data.labels, split.test)
    scores = test.scores(out["model"], cfg, "cpu", out["metrics"]["precision"])
    assert (
        out["metrics"]["confusion"]
        == evaluate(test.labels, scores.argmax(1), len(data.class_names))["confusion"]
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"label_smoothing": 0.2},
        {"class_weights": "balanced"},
        {"time_masks": 2, "freq_masks": 2},
        {"level_db": 6.0},
        {"dropout": 0.3},
    ],
)
def test_each_loss_and_mask_option_reaches_the_training_loss(small, tmp_path, changes):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    cfg = cfg.replace(epochs=1)
    plain, changed = (
        train_split("apcnn", c, data, split, state_path=tmp_path / f"{i}.pt")["metrics"]["history"][0]["loss"]
        for i, c in enumerate([cfg, cfg.updated(changes)])
    )
    assert plain != changed


def test_the_schedule_sets_each_epochs_rate(small, tmp_path):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    cfg = cfg.replace(schedule="cosine", warmup_epochs=1, min_lr=1e-5)
    history = train_split("apcnn", cfg, data, split, state_path=tmp_path / "s.pt")["metrics"]["history"]
    assert [r["lr"] for r in history] == [_lr_after(e, cfg) for e in range(3)]
    assert history[0]["lr"] == cfg.lr and history[1]["lr"] == pytest.approx(cfg.lr)
    assert history[2]["lr"] == pytest.approx((cfg.lr + cfg.min_lr) / 2)  # half-way through the cosine


def test_the_best_preset_is_the_searchs_chosen_recipe():
    """--preset best is what experiments/recipe_search.py chose on validation
    (docs/research/recipe-search.md), for every model, and flags still override it."""
    from experiments.recipe_search import recipe
    from glam_py.train.config import BEST, PAPER, RunConfig, preset

    # The refining round's best-validated candidate, confirmed: the full recipe with the
    # authors' rate and speed perturbation; then channel augmentation, chosen across corpora.
    every_effect = ("noise", "reverb", "eq", "telephone", "gain", "codec")
    searched = PAPER.updated(recipe(["dense", "schedule", "smoothing", "masks", "ema", "lr", "speed"]))
    assert BEST == searched.replace(augment=every_effect)
    assert preset("best", "glam") == preset("best", "apcnn") == BEST
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        preset("best", "resnet")
    args = build_parser().parse_args(["--preset", "best", "--lr", "5e-4"])
    run = RunConfig(models=("glam", "mhcnn"), preset=args.preset, overrides=overrides_from(args, demo=False))
    assert run.train_config("mhcnn") == BEST.replace(lr=5e-4)


def test_recipe_flags_are_made_from_the_configuration():
    parser = build_parser()
    args = parser.parse_args(
        "--label-smoothing 0.1 --schedule cosine --warmup-epochs 2 --time-masks 2 --time-mask-frames 8 "
        "--freq-masks 1 --freq-mask-bins 3 --ema-decay 0.999 --class-weights balanced --level-db 6 --dropout 0.3".split()
    )
    assert overrides_from(args, demo=False) == {
        "label_smoothing": 0.1,
        "schedule": "cosine",
        "warmup_epochs": 2,
        "time_masks": 2,
        "time_mask_frames": 8,
        "freq_masks": 1,
        "freq_mask_bins": 3,
        "ema_decay": 0.999,
        "class_weights": "balanced",
        "level_db": 6.0,
        "dropout": 0.3,
    }
    assert overrides_from(parser.parse_args([]), demo=False) == {}
    flags = {a.option_strings[0]: a for a in parser._actions if a.option_strings}
    assert flags["--schedule"].choices == ("exponential", "cosine")
    # The defaults shown are the best preset's, train's default.
    assert flags["--ema-decay"].help.endswith("(default: 0.99).")
    assert flags["--preset"].help.endswith("(default: best; the demo corpus: paper, with its short recipe).")
    assert all(f"--{f.name.replace('_', '-')}" in flags for f in TrainConfig.recipe_fields())
    with pytest.raises(UsageError, match="--label-smoothing must be at least 0 and below 1, got 1.0"):
        overrides_from(parser.parse_args(["--label-smoothing", "1"]), demo=False)
    with pytest.raises(UsageError, match="--warmup-epochs must be at least 0 and fewer than epochs"):
        overrides_from(parser.parse_args(["--warmup-epochs", "3", "--epochs", "3"]), demo=False)
