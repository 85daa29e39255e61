"""Speed perturbation: the frontend's ``speed`` setting (the Rust resampler
plays the audio faster or slower while decoding) and ``train --speeds``,
which trains on every utterance's windows at each speed."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest
import soundfile as sf

from glam_py import features
from glam_py.atomic import write_json
from glam_py.corpora import read_manifest
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.errors import InputError, UsageError
from glam_py.features import FeatureConfig
from glam_py.store import FeatureStore, StoreMismatch, layout, write_store
from glam_py.train.__main__ import build_parser, check, overrides_from
from glam_py.train.config import TrainConfig
from glam_py.train.data import WindowRows, load_utterances
from glam_py.train.protocol import random_splits
from glam_py.train.run import CorpusSource, speed_stores, stores_for
from glam_py.train.trainer import split_start
from tests.support.training import split_metrics, train_command

SPEEDS = (0.9, 1.0, 1.1)


def quiet(_: str) -> None:
    pass


def test_speed_scales_duration_and_windows_and_one_changes_nothing(tmp_path):
    n = 160_000  # 10 s at 16 kHz
    t = np.arange(n) / 16000
    y = (0.3 * np.sin(2 * np.pi * 400 * t)).astype(np.float32)
    path = tmp_path / "tone.wav"
    sf.write(path, y, 16000, subtype="FLOAT")  # read back exactly
    unperturbed = features.featurize([path], FeatureConfig())
    assert unperturbed.files[0].n_windows == 21
    same = features.featurize([path], FeatureConfig(speed=1.0))
    np.testing.assert_array_equal(same.windows, unperturbed.windows)
    for speed, windows in ((0.9, 23), (1.1, 18)):
        cfg = FeatureConfig(speed=speed)
        batch = features.featurize([path], cfg)
        info = batch.files[0]
        samples = math.ceil(n / speed)  # 1/speed as long
        assert info.duration_s == pytest.approx(samples / 16000, abs=1e-6)
        assert (info.n_windows, info.sample_rate) == (windows, 16000)
        assert not np.array_equal(batch.windows[0], unperturbed.windows[0])
        # A signal in memory is perturbed as the file is (resampled whole,
        # where the file was resampled block by block).
        in_memory, _ = features.featurize_signal(y, 16000, cfg)
        np.testing.assert_array_equal(in_memory, batch.windows)
        assert features.mfcc(y, 16000, cfg).shape == (26, 1 + samples // 512)


def test_speed_setting_is_validated_and_leaves_old_texts_alone():
    assert FeatureConfig().speed == 1.0
    # The JSON text keys the training cache: unchanged without perturbation.
    assert "speed" not in FeatureConfig().to_json()
    assert json.loads(FeatureConfig(speed=0.9).to_json())["speed"] == 0.9
    assert FeatureConfig.from_json(FeatureConfig(speed=0.9).to_json()) == FeatureConfig(speed=0.9)
    assert list(FeatureConfig().to_dict())[-3] == "speed"
    assert FeatureConfig().differences(FeatureConfig(speed=1.1)) == {"speed": (1.0, 1.1)}
    for bad in (0.4, 2.5, 0.0):
        with pytest.raises(ValueError, match=r"speed \(.*\) must be between 0.5 and 2"):
            FeatureConfig(speed=bad)
    with pytest.raises(ValueError, match="speed"):
        FeatureConfig(speed=float("nan"))


def test_a_store_from_before_speed_stays_valid_and_a_perturbed_one_apart(tmp_path):
    manifest = generate_demo_corpus(tmp_path / "demo", n_speakers=1, per_class_per_speaker=1)
    utterances = read_manifest(manifest)
    root = tmp_path / "store"
    write_store(root, utterances, FeatureConfig())
    # features.json as glam wrote it before the setting existed.
    settings = json.loads((root / layout.SETTINGS).read_text())
    del settings["features"]["speed"]
    write_json(root / layout.SETTINGS, settings)
    again = write_store(root, utterances, FeatureConfig())
    assert again.complete and again.shards_written == 0
    assert FeatureStore(root, expected=FeatureConfig()).config.speed == 1.0
    with pytest.raises(StoreMismatch, match="speed: asked 0.9, stored 1.0"):
        write_store(root, utterances, FeatureConfig(speed=0.9))
    with pytest.raises(StoreMismatch, match="speed"):
        FeatureStore(root, expected=FeatureConfig(speed=0.9))


def test_training_rows_are_every_speeds_windows_and_test_windows_unperturbed(small):
    root, cfg, data = small
    source, cache = CorpusSource("demo", root), root / "cache"
    perturbed = cfg.replace(speeds=SPEEDS)
    train, test = stores_for(source, perturbed, cache, 2, quiet)
    at_speeds = speed_stores(source, perturbed, cache, 2, quiet)
    assert speed_stores(source, cfg, cache, 2, quiet) == []
    assert [s.config.speed for s in at_speeds] == list(SPEEDS)
    assert all(s.config.overlap_s == cfg.train_overlap_s for s in at_speeds)
    assert at_speeds[1].root == train.root  # speed 1 is the unperturbed store, featurised once
    # Each utterance lasts 1/speed as long at a speed (to a sample).
    durations = [{r["path"]: float(r["duration_s"]) for r in s.index} for s in at_speeds]
    for path, seconds in durations[1].items():
        for speed, at in zip(SPEEDS, durations):
            assert at[path] == pytest.approx(seconds / speed, abs=1e-4)

    sped = load_utterances(train, test, at_speeds)
    assert data.speed_windows == [] and data.training_windows is data.train_windows
    for a, b in zip(sped.test_windows + sped.train_windows, data.test_windows + data.train_windows):
        np.testing.assert_array_equal(a, b)
    split = random_splits(list(data.labels), 1, 1, False)[0]
    start = split_start("glam", perturbed, sped, split, "cpu")
    alone = split_start("glam", cfg, data, split, "cpu")
    counts = [sum(len(sped.speed_windows[i][k]) for i in split.train) for k in range(len(SPEEDS))]
    assert len(start.train) == sum(counts)
    assert len(alone.train) == counts[1]
    # Slower: longer, so more windows (short utterances are tiled to one at every speed).
    assert counts[0] >= counts[1] >= counts[2] and counts[0] > counts[2]
    # Row order: each utterance's windows at 0.9, 1.0, 1.1, utterance by utterance.
    first = split.train[0]
    n = [len(w) for w in sped.speed_windows[first]]
    np.testing.assert_array_equal(
        start.train.gather(np.arange(sum(n))), np.concatenate(sped.speed_windows[first])
    )
    np.testing.assert_array_equal(start.train.gather(np.arange(n[0], n[0] + n[1])), data.train_windows[first])
    assert (start.train.y == np.repeat(data.labels[list(split.train)], np.bincount(start.train.owner))).all()
    # The test set is the unperturbed one.
    assert len(start.test_set.rows) == len(alone.test_set.rows)
    everything = np.arange(len(alone.test_set.rows))
    np.testing.assert_array_equal(
        start.test_set.rows.gather(everything), alone.test_set.rows.gather(everything)
    )
    # --speeds 1 trains on exactly the unperturbed rows.
    one = load_utterances(train, test, [at_speeds[1]])
    ones = split_start("glam", cfg.replace(speeds=(1.0,)), one, split, "cpu")
    rows = np.arange(len(alone.train))
    np.testing.assert_array_equal(ones.train.gather(rows), alone.train.gather(rows))
    np.testing.assert_array_equal(ones.train.y, alone.train.y)


def test_window_rows_of_one_array_per_utterance_are_as_before(small):
    _, _, data = small
    which = (3, 0, 5)
    rows = WindowRows(data.train_windows, data.labels, which)
    lengths = [len(data.train_windows[i]) for i in which]
    np.testing.assert_array_equal(rows.y, np.repeat(data.labels[list(which)], lengths))
    np.testing.assert_array_equal(rows.owner, np.repeat(np.arange(3), lengths))
    np.testing.assert_array_equal(
        rows.gather(np.arange(len(rows))), np.concatenate([data.train_windows[i] for i in which])
    )


def test_speeds_flag_and_its_refusals(small):
    parser = build_parser()
    given = overrides_from(parser.parse_args(["--speeds", "0.9,1.0,1.1"]), demo=False)
    assert given == {"speeds": SPEEDS}
    assert TrainConfig().updated(given).speeds == SPEEDS
    flags = {a.option_strings[0]: a for a in parser._actions if a.option_strings}
    assert flags["--speeds"].help.endswith("(default: 0.9,1.0,1.1).")  # the best preset's
    assert "as many times as long as there are speeds" in flags["--speeds"].help
    # JSON (--config, config.json) gives a list.
    assert TrainConfig.from_dict({"speeds": [0.9, 1.1]}).speeds == (0.9, 1.1)
    with pytest.raises(SystemExit):
        parser.parse_args(["--speeds", "0.9,fast"])
    for flags_given, message in (
        (["--speeds", "1,1"], "--speeds must differ from each other"),
        (["--speeds", "0.9,3"], r"--speeds must each be a valid --speed .*between 0.5 and 2"),
        (["--speed", "0.9"], "--speed must be 1: the test windows are never perturbed"),
    ):
        with pytest.raises(UsageError, match=message):
            overrides_from(parser.parse_args(flags_given), demo=False)
    root, cfg, _ = small
    store = stores_for(CorpusSource("demo", root), cfg, root / "cache", 2, quiet)[1]
    # A store without the speeds' variants is refused, saying how to add them.
    args = parser.parse_args(["--store", str(store.root), "--preset", "paper", "--speeds", "0.9,1.0"])
    with pytest.raises(InputError, match="lacks speed 1 at the training overlap 1 s and 1 more variant"):
        check(parser, args)
    args = parser.parse_args(
        ["--store", str(store.root), "--train-overlap-s", "1.6", "--speeds", "none", "--augment", "none"]
    )
    check(parser, args)  # best without variants at the store's own overlap: its own windows serve
    with pytest.raises(StoreMismatch, match="has no speed 0.9 at the training overlap 1 s"):
        speed_stores(CorpusSource("store", store=store.root), cfg.replace(speeds=SPEEDS), root, 2, quiet)


def test_a_perturbed_run_in_split_workers_trains_as_in_one_process_and_resumes(small, tmp_path):
    root = small[0]
    command = train_command(root, tmp_path / "alone")
    command[command.index("apcnn,mhcnn")] = "apcnn"
    command[command.index("--threads") + 1] = "1"
    command += ["--speeds", "0.9,1.0,1.1"]
    subprocess.run(command + ["--workers", "1"], check=True)
    two = [str(tmp_path / "two") if a == str(tmp_path / "alone") else a for a in command]
    two[two.index("--threads") + 1] = "2"
    subprocess.run(two + ["--workers", "2"], check=True)
    results = [json.loads((tmp_path / name / "results.json").read_text()) for name in ("alone", "two")]
    assert split_metrics(results[1]) == split_metrics(results[0])
    config = json.loads((tmp_path / "alone" / "config.json").read_text())
    assert config["train"]["apcnn"]["speeds"] == [0.9, 1.0, 1.1]
    assert config["features"]["test"]["speed"] == 1.0
    # The same command again finds every split done: the recorded settings match.
    subprocess.run(command + ["--workers", "1"], check=True)
    again = json.loads((tmp_path / "alone" / "results.json").read_text())
    assert split_metrics(again) == split_metrics(results[0])
    # Other speeds are another run.
    other = command[: command.index("0.9,1.0,1.1")] + ["0.9,1.0"] + ["--workers", "1"]
    refused = subprocess.run(other, capture_output=True, text=True)
    assert refused.returncode != 0 and "holds a run with other settings (run, train)" in refused.stderr
