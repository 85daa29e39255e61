"""Channel augmentation: the frontend's ``augment`` and ``augment_copy``
settings (the Rust chain runs on each file's audio before windowing) and
``train --augment``, which trains on every utterance's unperturbed windows
and its augmented copies while the test windows stay as recorded."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from glam_py import features
from glam_py.errors import InputError, UsageError
from glam_py.features import FeatureConfig
from glam_py.store import StoreMismatch
from glam_py.train.__main__ import build_parser, check, overrides_from
from glam_py.train.config import PAPER, TrainConfig
from glam_py.train.data import load_utterances
from glam_py.train.protocol import random_splits
from glam_py.train.run import CorpusSource, speed_stores, stores_for
from glam_py.train.trainer import split_start
from tests.support.training import train_command

EVERY_EFFECT = "gain,telephone,eq,noise,reverb,codec"
CHAIN_ORDER = "noise,reverb,eq,telephone,gain,codec"


def quiet(_: str) -> None:
    pass


def test_settings_round_trip_and_leave_old_texts_alone():
    plain = FeatureConfig()
    # The JSON text keys stores and caches: unchanged without augmentation.
    assert "augment" not in plain.to_json()
    assert (plain.augment, plain.augment_copy) == ("", 1)
    assert list(plain.to_dict())[-3:] == ["speed", "augment", "augment_copy"]
    assert FeatureConfig(augment="none") == plain
    copy = FeatureConfig(augment=EVERY_EFFECT, augment_copy=2)
    # Held in the chain's order, whatever order the names came in.
    assert copy.augment == CHAIN_ORDER
    assert json.loads(copy.to_json())["augment"] == CHAIN_ORDER
    for again in (
        FeatureConfig.from_json(copy.to_json()),
        FeatureConfig.from_dict(copy.to_dict()),
        pickle.loads(pickle.dumps(copy)),
    ):
        assert again == copy and hash(again) == hash(copy)
    assert plain.differences(copy) == {"augment": ("", CHAIN_ORDER), "augment_copy": (1, 2)}
    assert "augment='noise,reverb" in repr(copy)
    for bad, message in (
        (dict(augment="noise,hiss"), r'augment: unknown effect "hiss" \(known: noise, reverb, eq'),
        (dict(augment="noise,noise"), "named twice"),
        (dict(augment="eq", augment_copy=0), "augment_copy must be at least 1"),
        (dict(augment_copy=2), r"augment_copy \(2\) needs augment"),
    ):
        with pytest.raises(ValueError, match=message):
            FeatureConfig(**bad)
    # Chains are drawn from a file's path: a signal in memory has none.
    y = np.zeros(40000, np.float32)
    for call in (features.featurize_signal, features.mfcc):
        with pytest.raises(ValueError, match="an in-memory signal has none"):
            call(y, 16000, copy)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> list[str]:
    """Three speech-like recordings of 3, 3.5 and 4 s at 16 kHz."""
    root = tmp_path_factory.mktemp("augment")
    rng = np.random.default_rng(0)
    paths = []
    for i, seconds in enumerate((3.0, 3.5, 4.0)):
        t = np.arange(int(seconds * 16000)) / 16000
        buzz = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 15))
        y = 0.2 * buzz * np.abs(np.sin(2 * np.pi * 2.5 * t)) + 0.003 * rng.standard_normal(t.size)
        path = root / f"{i}.wav"
        sf.write(path, y.astype(np.float32), 16000, subtype="FLOAT")
        paths.append(str(path))
    return paths


def test_augmented_files_keep_their_windows_and_are_drawn_per_file_and_copy(recordings):
    cfg = FeatureConfig(overlap_s=1.0)
    plain = features.featurize(recordings, cfg, threads=2)
    first = features.featurize(recordings, cfg.replace(augment=EVERY_EFFECT), threads=2)
    # The signal keeps its length: the same windows, changed.
    assert [f.n_windows for f in first.files] == [f.n_windows for f in plain.files] == [2, 2, 3]
    np.testing.assert_array_equal(first.file_index, plain.file_index)
    assert np.isfinite(first.windows).all()
    assert not np.array_equal(first.windows, plain.windows)
    # Reproducible whatever the threads or the order of the files.
    one_thread = features.featurize(recordings, cfg.replace(augment=EVERY_EFFECT), threads=1)
    np.testing.assert_array_equal(one_thread.windows, first.windows)
    last = features.featurize(recordings[2], cfg.replace(augment=EVERY_EFFECT), threads=1)
    np.testing.assert_array_equal(last.windows, first.windows[first.file_index == 2])
    # The long-file path (a chunk of windows at a time) gives the same.
    chunks = list(features.iter_file_windows(recordings[2], cfg.replace(augment=EVERY_EFFECT), 1, 1))
    np.testing.assert_array_equal(np.concatenate(chunks), last.windows)
    # Another copy, or another set, draws other chains.
    second = features.featurize(recordings, cfg.replace(augment=EVERY_EFFECT, augment_copy=2), threads=2)
    assert not np.array_equal(second.windows, first.windows)
    codec = features.featurize(recordings, cfg.replace(augment="codec"), threads=2)
    assert not np.array_equal(codec.windows, first.windows)


def test_train_settings_validate_augment_and_list_every_variant():
    cfg = PAPER.replace(augment=("gain", "noise"), augment_copies=2)
    assert cfg.augment == ("noise", "gain")  # the chain's order, one setting per set
    variants = cfg.variant_features()
    # Without speeds the unperturbed training windows come first, so that
    # an utterance trains on them and on its copies.
    assert variants[0] == cfg.train_features()
    assert [(v.augment, v.augment_copy) for v in variants] == [("", 1), ("noise,gain", 1), ("noise,gain", 2)]
    assert all(v.overlap_s == PAPER.train_overlap_s and v.speed == 1 for v in variants)
    sped = PAPER.replace(speeds=(0.9, 1.0), augment=("eq",))
    assert [(v.speed, v.augment) for v in sped.variant_features()] == [(0.9, ""), (1.0, ""), (1.0, "eq")]
    assert PAPER.variant_features() == []
    assert PAPER.replace(speeds=(0.9, 1.1)).variant_features()[1].speed == 1.1
    # JSON (--config, config.json) gives a list.
    assert TrainConfig.from_dict({"augment": ["codec", "reverb"]}).augment == ("reverb", "codec")
    for bad, message in (
        (dict(augment=("hiss",)), r'augment must name known effects \(.*unknown effect "hiss"'),
        (dict(augment=("noise",), augment_copies=0), "augment_copies must be at least 1, got 0"),
        (dict(augment_copies=2), "augment_copies must be 1 without augment"),
        (dict(features=FeatureConfig(augment="noise")), "features.augment must be empty: the test windows"),
    ):
        with pytest.raises(ValueError, match=message):
            PAPER.replace(**bad)


def test_augment_flags_and_their_refusals_in_one_line(small):
    parser = build_parser()
    given = overrides_from(
        parser.parse_args(["--augment", "reverb, noise", "--augment-copies", "2"]), demo=False
    )
    assert given == {"augment": ("reverb", "noise"), "augment_copies": 2}
    assert TrainConfig().updated(given).augment == ("noise", "reverb")
    flags = {a.option_strings[0]: a for a in parser._actions if a.option_strings}
    assert flags["--augment"].help.endswith("(default: noise,reverb,eq,telephone,gain,codec).")  # best's
    # train takes no flag for the test windows' augmentation.
    assert "--augment-copy" not in flags
    with pytest.raises(UsageError, match=r'--augment must name known effects .*unknown effect "hiss"'):
        overrides_from(parser.parse_args(["--augment", "hiss"]), demo=False)
    root, cfg, _ = small
    store = stores_for(CorpusSource("demo", root), cfg, root / "cache", 2, quiet)[1]
    with pytest.raises(InputError, match=r"lacks augmented copy 1 \(noise\) at the training overlap 1.6 s"):
        argv = [
            "--store",
            str(store.root),
            "--preset",
            "paper",
            "--train-overlap-s",
            "1.6",
            "--augment",
            "noise",
        ]
        check(parser, parser.parse_args(argv))
    with pytest.raises(StoreMismatch, match=r"has no augmented copy 1 \(noise\)"):
        speed_stores(
            CorpusSource("store", store=store.root),
            cfg.replace(augment=("noise",), train_overlap_s=1.6),
            root,
            2,
            quiet,
        )
    # The user sees one line and status 2, before any work.
    for argv, message in (
        (["--augment", "noise,hiss"], 'unknown effect "hiss"'),
        (["--augment", "noise", "--augment-copies", "0"], "--augment-copies must be at least 1, got 0"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "glam_py.train", *argv, "--out", str(root / "never")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
        assert not (root / "never").exists()


def test_training_rows_are_the_unperturbed_and_every_copys_and_test_rows_unaugmented(small):
    root, cfg, data = small
    source, cache = CorpusSource("demo", root), root / "cache"
    augmented = cfg.replace(augment=("noise", "reverb", "codec"), augment_copies=2)
    train, test = stores_for(source, augmented, cache, 2, quiet)
    variants = speed_stores(source, augmented, cache, 2, quiet)
    assert variants[0].root == train.root  # the unperturbed store, featurised once
    assert [(s.config.augment, s.config.augment_copy) for s in variants[1:]] == [
        ("noise,reverb,codec", 1),
        ("noise,reverb,codec", 2),
    ]
    assert len({s.root for s in variants}) == 3
    rows = load_utterances(train, test, variants)
    split = random_splits(list(data.labels), 1, 1, False)[0]
    start = split_start("glam", augmented, rows, split, "cpu")
    alone = split_start("glam", cfg, data, split, "cpu")
    # Three times the windows: an augmented copy has the original's.
    assert len(start.train) == 3 * len(alone.train)
    first = split.train[0]
    n = len(data.train_windows[first])
    own = start.train.gather(np.arange(3 * n))
    np.testing.assert_array_equal(own[:n], data.train_windows[first])
    copies = own[n : 2 * n], own[2 * n :]
    assert not np.array_equal(copies[0], own[:n]) and not np.array_equal(copies[0], copies[1])
    # The test windows are the unperturbed ones.
    everything = np.arange(len(alone.test_set.rows))
    np.testing.assert_array_equal(
        start.test_set.rows.gather(everything), alone.test_set.rows.gather(everything)
    )


def test_a_run_with_augment_trains_on_the_copies(small, tmp_path):
    root = small[0]
    command = train_command(root, tmp_path / "plain")
    command[command.index("apcnn,mhcnn")] = "apcnn"
    command[command.index("--repeats") + 1] = "1"
    command[command.index("--epochs") + 1] = "1"
    subprocess.run(command, check=True)
    augmented = [str(tmp_path / "augmented") if a == str(tmp_path / "plain") else a for a in command]
    augmented += ["--augment", EVERY_EFFECT, "--augment-copies", "2"]
    done = subprocess.run(
        [a for a in augmented if a != "--quiet"], check=True, capture_output=True, text=True
    )
    assert "augmented copy 2 (noise,reverb,eq,telephone,gain,codec)" in done.stdout

    def split_record(run: str) -> dict:
        (path,) = (tmp_path / run / "splits").rglob("*.json")
        return json.loads(path.read_text())

    plain, copies = split_record("plain"), split_record("augmented")
    assert copies["train_utterances"] == plain["train_utterances"]
    assert copies["train_windows"] == 3 * plain["train_windows"]
    config = json.loads((tmp_path / "augmented" / "config.json").read_text())
    assert config["train"]["apcnn"]["augment"] == CHAIN_ORDER.split(",")
    assert config["features"]["test"]["augment"] == ""
