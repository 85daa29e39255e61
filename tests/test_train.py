"""The trainer, the protocol and the metrics; resuming a killed run."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from glam_py import models, precision
from glam_py.store import StoredWindows
from glam_py.train import trainer
from glam_py.train.__main__ import build_parser, overrides_from
from glam_py.train.config import TrainConfig
from glam_py.train.data import WindowRows, load_utterances, stack
from glam_py.train.metrics import evaluate, summarize
from glam_py.train.mixup import mix, mixup_loss
from glam_py.train.progress import Silent
from glam_py.train.protocol import grouped_splits, random_splits, validation_split
from glam_py.train.run import CorpusSource, stores_for
from glam_py.train.trainer import _lr_after, train_split
from glam_py.train.workers import auto_workers, resolve_workers
from tests.support.training import split_metrics, train_command


def test_metrics_on_a_known_confusion():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 3])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 2, 3, 3])
    m = evaluate(y_true, y_pred, 4)
    assert m["WA"] == pytest.approx(70.0)
    assert m["UA"] == pytest.approx(100 * (3 / 4 + 1 / 2 + 2 / 3 + 1) / 4)
    assert m["confusion"][0] == [3, 1, 0, 0]
    assert m["per_class"]["support"] == [4, 2, 3, 1]
    s = summarize(
        [
            {"WA": 70.0, "UA": 60.0, "macro_F1": 1.0, "weighted_F1": 2.0},
            {"WA": 80.0, "UA": 60.0, "macro_F1": 3.0, "weighted_F1": 2.0},
        ]
    )
    assert s["WA"] == {"mean": 75.0, "std": pytest.approx(np.std([70, 80], ddof=1))}


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_scikit_learns(seed):
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(seed)
    # Up to 5 classes, some absent from the truth or never predicted.
    y_true, y_pred = rng.integers(0, 4, 40), rng.integers(0, 3 + seed % 3, 40)
    m, labels = evaluate(y_true, y_pred, 5), list(range(5))
    assert m["confusion"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    np.testing.assert_allclose(m["per_class"]["precision"], 100 * precision)
    np.testing.assert_allclose(m["per_class"]["recall"], 100 * recall)
    np.testing.assert_allclose(m["per_class"]["f1"], 100 * f1)
    assert m["per_class"]["support"] == support.tolist()
    for key, average in (("macro_F1", "macro"), ("weighted_F1", "weighted")):
        expected = f1_score(y_true, y_pred, labels=labels, average=average, zero_division=0)
        assert m[key] == pytest.approx(100 * expected)
    assert m["UA"] == pytest.approx(100 * recall[support > 0].mean())


def test_mixup():
    x, y = torch.arange(8.0).reshape(4, 2), torch.tensor([0, 1, 2, 3])
    same = mix(x, y, 0.0, np.random.default_rng(0))
    assert same[0] is x and same[3] == 1.0
    mixed, ya, yb, lam = mix(x, y, 0.5, np.random.default_rng(0))
    assert 0 < lam < 1 and sorted(yb.tolist()) == [0, 1, 2, 3]
    partner = x[[int(v) for v in yb]]
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * partner)
    logits = torch.randn(4, 4)
    loss = mixup_loss(logits, ya, yb, lam)
    ce = torch.nn.functional.cross_entropy
    torch.testing.assert_close(loss, lam * ce(logits, ya) + (1 - lam) * ce(logits, yb))


def test_protocols():
    labels = ["a", "b", "c", "d"] * 25
    splits = random_splits(labels, 3, first_seed=5, stratify=True)
    assert [s.seed for s in splits] == [5, 6, 7]
    for s in splits:
        assert len(s.test) == 20 and not set(s.train) & set(s.test)
        assert sorted({labels[i] for i in s.test}) == ["a", "b", "c", "d"]
    assert random_splits(labels, 1, 6, True)[0] == splits[1]  # any split reruns alone
    loso = grouped_splits([f"s{i % 5}" for i in range(100)], "speaker", 1)
    assert len(loso) == 5 and all(len(s.test) == 20 for s in loso)
    train, val, by = validation_split(tuple(range(50)), 0.1, 3)
    assert len(val) == 5 and not set(train) & set(val) and by == "utterance"


@pytest.mark.parametrize("n", [5, 96, 339, 1001])
@pytest.mark.parametrize("fraction", [0.2, 0.1, 1 / 3])
def test_unstratified_splits_are_scikit_learns(n, fraction):
    """Our split without scikit-learn (kept out of start-up) is the one
    ``train_test_split`` draws, so that runs and the authors' splits agree."""
    from sklearn.model_selection import train_test_split

    for split in random_splits(["x"] * n, 8, first_seed=0, stratify=False, test_fraction=fraction):
        train, test = train_test_split(np.arange(n), test_size=fraction, random_state=split.seed)
        assert split.train == tuple(sorted(train)) and split.test == tuple(sorted(test))


def test_validation_holds_out_whole_speakers_where_there_are_enough():
    speakers = [f"s{i % 10}" for i in range(100)]
    outer = grouped_splits(speakers, "speaker", 1)[4]  # speaker s4 is the test split
    train, val, by = validation_split(outer.train, 0.1, 1, speakers)
    # Nested: one of the nine training speakers validates, the test speaker is untouched.
    assert by == "speaker" and len({speakers[i] for i in val}) == 1 and len(val) == 10
    assert sorted(train + val) == list(outer.train) and not {speakers[i] for i in train} & {
        speakers[i] for i in val
    }
    assert validation_split(outer.train, 0.1, 1, speakers) == (train, val, by)  # the seed decides
    held = {seed: speakers[validation_split(outer.train, 0.1, seed, speakers).val[0]] for seed in range(10)}
    assert len(set(held.values())) > 1  # and other seeds hold out other speakers
    # Too few speakers for the fraction (0.1 of 4 rounds to none), or a speaker missing: by utterance.
    assert validation_split(tuple(range(40)), 0.1, 1, [f"s{i % 4}" for i in range(40)]).by == "utterance"
    assert validation_split(tuple(range(40)), 0.25, 1, [f"s{i % 4}" for i in range(40)]).by == "speaker"
    assert validation_split(tuple(range(100)), 0.1, 1, speakers[:-1] + [""]).by == "utterance"
    # Without speakers, the carve is the one --select val always made.
    rng = np.random.default_rng([3, 7])
    assert validation_split(tuple(range(50)), 0.1, 3).val == tuple(sorted(rng.permutation(50)[:5].tolist()))


def test_learning_rate_schedules():
    cfg = TrainConfig(lr=1e-4, lr_decay=0.95, min_lr=1e-6)
    assert _lr_after(0, cfg) == 1e-4 and _lr_after(2, cfg) == pytest.approx(1e-4 * 0.95**2)
    assert _lr_after(200, cfg) >= 1e-6 * 0.95
    step = TrainConfig(lr=1e-3, lr_decay=0.1, step_decay_every=10)
    assert _lr_after(9, step) == 1e-3 and _lr_after(10, step) == pytest.approx(1e-4)


def test_window_rows_read_the_stacked_windows_from_the_store(small):
    _, _, data = small
    which = tuple(range(1, len(data), 3))
    x, y, owner = stack(data.train_windows, data.labels, which)
    rows = WindowRows(data.train_windows, data.labels, which)
    # Nothing is read up front: every part is a reference into the store.
    assert all(isinstance(part, StoredWindows) for part in rows._parts)
    assert len(rows) == len(x) and rows.window_shape == x.shape[1:]
    np.testing.assert_array_equal(rows.y, y)
    np.testing.assert_array_equal(rows.owner, owner)
    picked = np.random.default_rng(0).permutation(len(x))[:37]
    out = np.full((40, *x.shape[1:]), np.nan, dtype=np.float32)
    np.testing.assert_array_equal(rows.gather(picked, out), x[picked])
    assert np.isnan(out[37:]).all()
    np.testing.assert_array_equal(np.concatenate(list(rows.chunks(16))), x)


def test_pad_mode_flag_reaches_the_training_features(small):
    root, cfg, data = small
    args = build_parser().parse_args(["--pad-mode", "reflect", "--pad", "tile"])
    reflect_cfg = cfg.updated(overrides_from(args, demo=False))
    assert reflect_cfg.features == cfg.features.replace(pad_mode="reflect")
    stores = stores_for(CorpusSource("demo", root), reflect_cfg, root / "cache", 2, lambda m: None)
    assert [s.config.pad_mode for s in stores] == ["reflect", "reflect"]
    reflect = load_utterances(*stores)
    assert reflect.ids == data.ids
    first, last = data.test_windows[0][0], reflect.test_windows[0][0]
    # Only the frames whose centred FFT frame reaches past a window's edge change.
    assert not np.allclose(first[:, 0], last[:, 0])
    np.testing.assert_array_equal(first[:, 4:-4], last[:, 4:-4])


# The recipe's ingredients that keep state or draw from the split's stream:
# the weights' moving average is saved and restored, the masks' draws resume.
RECIPE = {
    "ema_decay": 0.9,
    "time_masks": 2,
    "freq_masks": 1,
    "level_db": 3.0,
    "dropout": 0.2,
    "label_smoothing": 0.1,
    "class_weights": "balanced",
}


@pytest.mark.parametrize("recipe", [{}, RECIPE], ids=["paper", "recipe"])
def test_a_resumed_split_ends_with_the_same_numbers(small, tmp_path, recipe):
    _, cfg, data = small
    # Every epoch evaluated: a run that ended after epoch 1 was evaluated there.
    cfg = cfg.updated({"eval_every": 1, **recipe})
    split = random_splits(list(data.labels), 1, 1, False)[0]
    straight = train_split("apcnn", cfg, data, split, state_path=tmp_path / "a.pt")
    train_split("apcnn", cfg.replace(epochs=1), data, split, state_path=tmp_path / "b.pt")
    resumed = train_split("apcnn", cfg, data, split, state_path=tmp_path / "b.pt")

    def without_timing(history):
        return [{k: v for k, v in epoch.items() if k != "windows_per_s"} for epoch in history]

    assert without_timing(resumed["metrics"]["history"]) == without_timing(straight["metrics"]["history"])
    assert resumed["metrics"]["confusion"] == straight["metrics"]["confusion"]
    for a, b in zip(straight["model"].state_dict().values(), resumed["model"].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


class _Killed(Exception):
    pass


class _KillAfter(Silent):
    """Progress that stops training after ``epochs`` epochs, as a kill would."""

    def __init__(self, epochs: int):
        self.left = epochs

    def end_epoch(self, summary: str) -> None:
        self.left -= 1
        if self.left == 0:
            raise _Killed


def _without_timing(history):
    return [{k: v for k, v in epoch.items() if k != "windows_per_s"} for epoch in history]


def test_evaluations_follow_eval_every_and_the_selection(small, tmp_path):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    cases = [
        (cfg.replace(eval_every=2), [2, 3], []),
        (cfg, [3], []),  # the default, every 5th: the last epoch only
        (cfg.replace(eval_every=2, select="test"), [1, 2, 3], []),
        (cfg.replace(eval_every=2, select="val"), [2, 3], [1, 2, 3]),
    ]
    for i, (config, tested, validated) in enumerate(cases):
        history = train_split("apcnn", config, data, split, state_path=tmp_path / f"{i}.pt")["metrics"][
            "history"
        ]
        assert [r["epoch"] for r in history] == [1, 2, 3]
        assert [r["epoch"] for r in history if "test" in r] == tested
        assert [r["epoch"] for r in history if "val" in r] == validated


def test_state_is_saved_at_most_every_save_every_s_and_at_the_end(small, tmp_path, monkeypatch):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    saved = []
    save = trainer.save_tensors
    monkeypatch.setattr(
        trainer, "save_tensors", lambda path, state: saved.append(state["epoch"]) or save(path, state)
    )
    straight = train_split("apcnn", cfg.replace(save_every_s=1e9), data, split, state_path=tmp_path / "a.pt")
    assert saved == [3]
    # Killed after epoch 2 with a state saved after every epoch, then run again: the same numbers.
    saved.clear()
    with pytest.raises(_Killed):
        train_split(
            "apcnn",
            cfg.replace(save_every_s=0),
            data,
            split,
            state_path=tmp_path / "b.pt",
            progress=_KillAfter(2),
        )
    assert saved == [1, 2]
    resumed = train_split("apcnn", cfg, data, split, state_path=tmp_path / "b.pt")
    assert saved == [1, 2, 3]
    assert _without_timing(resumed["metrics"]["history"]) == _without_timing(straight["metrics"]["history"])
    assert resumed["metrics"]["confusion"] == straight["metrics"]["confusion"]
    for a, b in zip(straight["model"].state_dict().values(), resumed["model"].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(
    "flags,asked,expected",
    [
        (frozenset({"avx512f", "amx_bf16"}), "auto", "bf16"),
        (frozenset({"avx512f", "avx512_bf16"}), "auto", "bf16"),
        (frozenset({"avx2"}), "auto", "fp32"),
        (frozenset({"avx512f", "amx_bf16"}), "fp32", "fp32"),
    ],
)
def test_precision_reaches_the_trainer(small, tmp_path, monkeypatch, flags, asked, expected):
    _, cfg, data = small
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    built, casts = [], []
    build, autocast = models.build, precision.autocast
    monkeypatch.setattr(models, "build", lambda *a, **k: built.append(k["precision"]) or build(*a, **k))
    monkeypatch.setattr(precision, "autocast", lambda *a: casts.append(a) or autocast(*a))
    split = random_splits(list(data.labels), 1, 1, False)[0]
    out = train_split(
        "apcnn", cfg.replace(epochs=1, precision=asked), data, split, state_path=tmp_path / "s.pt"
    )
    assert out["metrics"]["precision"] == expected and built == [expected]
    assert set(casts) == {(expected, "cpu")}
    # The flag, and a refusal of what is no precision.
    args = build_parser().parse_args(["--precision", asked, "--eval-every", "3"])
    assert {k: overrides_from(args, demo=False)[k] for k in ("precision", "eval_every")} == {
        "precision": asked,
        "eval_every": 3,
    }
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        cfg.replace(precision="fp16")


def test_train_seed_changes_the_run_but_not_the_split(small, tmp_path):
    _, cfg, data = small
    split = random_splits(list(data.labels), 1, 1, False)[0]
    cfg = cfg.replace(epochs=1)
    runs = [
        train_split("apcnn", cfg.replace(train_seed=seed), data, split, state_path=tmp_path / f"{i}.pt")
        for i, seed in enumerate([None, 1, 7])
    ]
    assert [r["metrics"]["train_seed"] for r in runs] == [1, 1, 7]
    assert {r["metrics"]["seed"] for r in runs} == {1}
    losses = [r["metrics"]["history"][0]["loss"] for r in runs]
    assert losses[0] == losses[1] != losses[2]


def test_killed_run_resumes_to_the_same_results(small, tmp_path):
    root = small[0]
    subprocess.run(train_command(root, tmp_path / "straight"), check=True)
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())
    assert set(straight["models"]) == {"apcnn", "mhcnn"}
    assert {"config", "labels", "models", "title"} <= set(straight)
    split = straight["models"]["apcnn"]["splits"][0]
    assert {"seed", "WA", "UA", "macro_F1", "weighted_F1", "confusion"} <= set(split)
    assert set(straight["models"]["apcnn"]["summary"]["WA"]) == {"mean", "std"}
    # "auto" as resolved on this machine, in config.json and in each split.
    assert (
        straight["config"]["train"]["apcnn"]["precision"]
        == split["precision"]
        == precision.auto_precision("cpu")
    )

    out = tmp_path / "killed"
    proc = subprocess.Popen(train_command(root, out))
    while proc.poll() is None and not list((out / "state").glob("*.pt")):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    subprocess.run(train_command(root, out), check=True)
    assert split_metrics(json.loads((out / "results.json").read_text())) == split_metrics(straight)


def test_auto_workers_follow_the_threads_and_pending_splits():
    assert auto_workers("cpu", threads=2, pending=5) == 2
    assert auto_workers("cpu", threads=16, pending=3) == 3  # one per split still to train
    assert auto_workers("cpu", threads=32, pending=100) == 8
    assert auto_workers("cpu", threads=1, pending=5) == 1
    assert auto_workers("cuda:0", threads=8, pending=10) == 1
    assert resolve_workers(4, "cpu", threads=2, pending=2) == 2
    assert resolve_workers("auto", "cpu", threads=2, pending=1) == 1


def test_split_workers_train_each_split_as_alone(small, tmp_path):
    root = small[0]
    alone = train_command(root, tmp_path / "alone")
    alone[alone.index("--threads") + 1] = "1"
    subprocess.run(alone + ["--workers", "1"], check=True)
    # Two workers of one thread each: every split as the one-thread run trains it.
    two = train_command(root, tmp_path / "two")
    two.remove("--quiet")
    proc = subprocess.run(two + ["--workers", "2"], check=True, capture_output=True, text=True)
    assert "training 4 splits in 2 worker processes of 1 thread each" in proc.stdout
    assert "apcnn seed2 epoch 3/3:" in proc.stdout  # the workers' progress lines reach the log
    results = [json.loads((tmp_path / name / "results.json").read_text()) for name in ("alone", "two")]
    assert split_metrics(results[1]) == split_metrics(results[0])


def test_a_run_begun_before_new_settings_existed_resumes(small, tmp_path):
    """A run directory whose config.json predates settings added since
    (here the level changes and speed perturbation) resumes when the new
    settings are at their defaults, which is how it trained."""
    root, out = small[0], tmp_path / "run"
    command = train_command(root, out)
    command[command.index("apcnn,mhcnn")] = "apcnn"
    subprocess.run(command, check=True)
    results = json.loads((out / "results.json").read_text())
    trained = {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()}
    config = json.loads((out / "config.json").read_text())
    for train in config["train"].values():
        del train["level_db"], train["speeds"], train["features"]["speed"]
    del config["features"]["train"]["speed"], config["features"]["test"]["speed"]
    (out / "config.json").write_text(json.dumps(config))
    subprocess.run(command, check=True)
    assert split_metrics(json.loads((out / "results.json").read_text())) == split_metrics(results)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()} == trained  # none retrained
    refused = subprocess.run(command + ["--level-db", "3"], capture_output=True, text=True)
    assert refused.returncode == 1
    assert (
        refused.stderr.startswith("error: ")
        and "holds a run with other settings (run, train)" in refused.stderr
    )


def test_optimistic_selection_is_named_in_the_title(small, tmp_path):
    root = small[0]
    command = train_command(root, tmp_path / "opt") + ["--select-on-test"]
    command[command.index("apcnn,mhcnn")] = "apcnn"
    subprocess.run(command, check=True)
    results = json.loads((tmp_path / "opt" / "results.json").read_text())
    assert "BEST EPOCH ON THE TEST SPLIT" in results["title"]
    assert "BEST EPOCH ON THE TEST SPLIT" in (tmp_path / "opt" / "results.md").read_text()


def test_torchrun_spreads_splits_over_two_gloo_processes(small, tmp_path):
    root = small[0]
    one = train_command(root, tmp_path / "one")
    one[one.index("apcnn,mhcnn")] = "apcnn"
    subprocess.run(one, check=True)
    two = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(29500 + os.getpid() % 1000),
    ] + one[1:]
    two[two.index(str(tmp_path / "one"))] = str(tmp_path / "two")
    two[two.index("--threads") + 1] = "1"
    subprocess.run(two, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    a = json.loads((tmp_path / "one" / "results.json").read_text())
    b = json.loads((tmp_path / "two" / "results.json").read_text())
    assert split_metrics(a) == split_metrics(b)
    # Each rank trained one of the two splits.
    assert len(list((tmp_path / "two" / "splits").glob("*.json"))) == 2


def test_a_run_names_the_utterances_it_left_out_and_why(small, tmp_path, capsys):
    # The main job's way (pad=drop, the default), on a corpus with a class
    # outside the label map: the summary says what was dropped, and again
    # when the run comes back to its cached store and finished splits.
    from glam_py.train.__main__ import main as train_main

    root = tmp_path / "corpus"
    shutil.copytree(small[0] / "wav", root / "wav")
    shutil.copy(small[0] / "manifest.csv", root / "manifest.csv")
    command = [
        "--preset",
        "paper",
        "--corpus",
        "csv",
        "--root",
        str(root),
        "--labels",
        "neutral,happy,angry",
        "--models",
        "apcnn",
        "--repeats",
        "1",
        "--epochs",
        "1",
        "--cache",
        str(tmp_path / "cache"),
        "--threads",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--no-report",
    ]
    short = sum(
        sf.info(root / "wav" / name).duration < 2.0
        for name in os.listdir(root / "wav")
        if "_sad_" not in name
    )
    assert short > 0
    for _ in range(2):
        assert train_main(command) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("left out:")]
        assert len(lines) == 1, lines
        summary, _, listed = lines[0].partition(" — see ")
        assert summary == (
            f"left out: {short + 12} of 48 utterances ({short} shorter than a window with "
            f"pad=drop; 0 unreadable; 12 not in the label map)"
        )
        with open(listed, newline="") as f:  # the test store's list of them
            assert len(list(csv.DictReader(f))) == short + 12
