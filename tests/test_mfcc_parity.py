"""The Rust MFCC against librosa itself (a test-only dependency): every 2 s
window of EmoDB and the synthetic signals, within 2e-3 on every
coefficient, for both centre-padding modes and the other settings."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from glam_py import features
from glam_py.features import FeatureConfig
from tests.support.inputs import synthetic_signals

librosa = pytest.importorskip("librosa")

TOLERANCE = 2e-3


def librosa_mfcc(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    kwargs = dict(
        y=y,
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
        htk=cfg.mel_scale == "htk",
        norm="slaney" if cfg.mel_norm == "slaney" else None,
        pad_mode=cfg.pad_mode,
    )
    mel = librosa.feature.melspectrogram(**kwargs)
    db = librosa.power_to_db(mel, top_db=cfg.top_db)
    if cfg.output == "log_mel":
        return db
    return librosa.feature.mfcc(S=db, n_mfcc=cfg.n_mfcc)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_every_emodb_window_matches_librosa(emodb_files, pad_mode):
    cfg = FeatureConfig(pad_mode=pad_mode)
    worst, n_windows = 0.0, 0
    for path in emodb_files:
        y, sr = sf.read(path, dtype="float32")
        assert sr == 16000
        ours, _ = features.featurize_signal(y, sr, cfg)
        starts = range(0, len(y) - cfg.window_length + 1, cfg.window_hop)
        assert len(ours) == len(starts)
        for window, start in zip(ours, starts):
            ref = librosa.feature.mfcc(
                y=y[start : start + cfg.window_length], sr=sr, n_mfcc=26, pad_mode=pad_mode
            )
            worst = max(worst, float(np.abs(window - ref).max()))
        n_windows += len(starts)
    assert n_windows > 1000
    assert worst <= TOLERANCE, f"largest difference {worst} over {n_windows} windows"


@pytest.mark.parametrize("name,signal", synthetic_signals().items())
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_synthetic_signals_match_librosa(name, signal, pad_mode):
    y = signal.astype(np.float32)
    ours = features.mfcc(y, 16000, FeatureConfig(pad_mode=pad_mode))
    ref = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=26, pad_mode=pad_mode)
    assert ours.shape == ref.shape == (26, 63)
    assert np.abs(ours - ref).max() <= TOLERANCE


@pytest.mark.parametrize(
    "changes",
    [
        dict(mel_scale="htk"),
        dict(fmin=80.0, fmax=7600.0),
        dict(n_mfcc=40, n_mels=64),
        dict(n_fft=1024, hop_length=256),
        dict(n_fft=512, hop_length=160, n_mels=40, n_mfcc=13),
        dict(top_db=None),
        dict(mel_norm="none"),
        dict(output="log_mel"),
        dict(sample_rate=22050),
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_other_settings_match_librosa(changes):
    cfg = FeatureConfig(**changes)
    rng = np.random.default_rng(1)
    t = np.arange(cfg.sample_rate * 2) / cfg.sample_rate
    y = (0.4 * np.sin(2 * np.pi * 300 * t * (1 + t)) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ours = features.mfcc(y, cfg.sample_rate, cfg)
    ref = librosa_mfcc(y, cfg)
    assert ours.shape == ref.shape
    # Without the top-dB clamp, dB values reach -100 where float32 rounding
    # of near-zero power differs; compare relative to the dynamic range there.
    assert np.abs(ours - ref).max() <= TOLERANCE * (10 if cfg.top_db is None else 1)


@pytest.mark.parametrize("n", [1, 100, 1023, 1024, 1025, 5000, 32000, 32001, 70000])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_any_signal_length(n, pad_mode):
    rng = np.random.default_rng(n)
    y = (0.1 * rng.standard_normal(n)).astype(np.float32)
    ours = features.mfcc(y, 16000, FeatureConfig(pad_mode=pad_mode))
    ref = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=26, pad_mode=pad_mode)
    assert ours.shape == ref.shape == (26, 1 + n // 512)
    assert np.abs(ours - ref).max() <= TOLERANCE


@pytest.mark.parametrize("htk", [False, True])
def test_mel_filterbank_is_librosas(htk):
    cfg = FeatureConfig(mel_scale="htk" if htk else "slaney", fmin=20.0)
    ref = librosa.filters.mel(sr=16000, n_fft=2048, n_mels=128, fmin=20.0, htk=htk)
    ours = features.mel_filterbank(cfg)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-7
