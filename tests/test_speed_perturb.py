"""Speed perturbation: the frontend's ``speed`` setting (the Rust resampler
plays the audio faster or slower while decoding)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from glam_py import features
from glam_py.atomic import write_json
from glam_py.corpora import read_manifest
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.features import FeatureConfig
from glam_py.store import FeatureStore, StoreMismatch, layout, write_store

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
    assert list(FeatureConfig().to_dict())[-1] == "speed"
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
