"""Frontend speed against the authors' librosa pipeline, side by side, on
the same EmoDB windows (issue: Rust feature frontend)."""

from __future__ import annotations

import numpy as np
import pytest

from glam_py import features
from glam_py.features import FeatureConfig
from benchutil import cut_windows, one_thread, record

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def windows(emodb_utterances):
    return [w for y in emodb_utterances for w in cut_windows(y)]


@pytest.mark.benchmark(group="mfcc per window (1 thread)")
def test_mfcc_per_window_ours(benchmark, windows):
    record(benchmark, "ours", len(windows), "windows")
    benchmark.pedantic(lambda: [features.mfcc(w) for w in windows], rounds=5, warmup_rounds=1)


def librosa_per_window(benchmark, windows):
    """The authors' way: librosa's MFCC called on one window at a time."""
    record(benchmark, "anchor", len(windows), "windows")
    with one_thread():
        benchmark.pedantic(
            lambda: [librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26) for w in windows],
            rounds=3, warmup_rounds=1)


@pytest.mark.benchmark(group="mfcc per window (1 thread)")
def test_mfcc_per_window_librosa(benchmark, windows):
    librosa_per_window(benchmark, windows)


@pytest.mark.benchmark(group="utterances to 2 s / 1.6 s windows (1 thread)")
def test_windows_from_utterances_ours(benchmark, emodb_utterances, windows):
    record(benchmark, "ours", len(windows), "windows")
    cfg = FeatureConfig()

    def run():
        return [features.featurize_signal(y, 16000, cfg)[0] for y in emodb_utterances]

    out = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert sum(len(w) for w in out) == len(windows)


@pytest.mark.benchmark(group="utterances to 2 s / 1.6 s windows (1 thread)")
def test_windows_from_utterances_librosa_per_window(benchmark, windows):
    librosa_per_window(benchmark, windows)


@pytest.mark.benchmark(group="utterances to 2 s / 1.6 s windows (1 thread)")
def test_windows_from_utterances_librosa_batch(benchmark, windows):
    record(benchmark, "anchor", len(windows), "windows")
    batch = np.stack(windows)
    with one_thread():
        benchmark.pedantic(
            lambda: librosa.feature.mfcc(y=batch, sr=16000, n_mfcc=26), rounds=3, warmup_rounds=1)


def authors_pipeline(paths):
    """librosa.load at 16 kHz, full 2 s windows every 0.4 s, MFCC per window."""
    out = []
    for path in paths:
        y, _ = librosa.load(path, sr=16000)
        out.extend(librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26) for w in cut_windows(y))
    return out


@pytest.mark.benchmark(group="EmoDB end to end: decode + windows + MFCC")
def test_emodb_end_to_end_ours_2_threads(benchmark, emodb_paths):
    record(benchmark, "ours", len(emodb_paths), "files")
    batch = benchmark.pedantic(
        lambda: features.featurize(emodb_paths, FeatureConfig(), threads=2), rounds=5, warmup_rounds=1)
    assert not batch.errors


@pytest.mark.benchmark(group="EmoDB end to end: decode + windows + MFCC")
def test_emodb_end_to_end_authors_pipeline(benchmark, emodb_paths):
    record(benchmark, "anchor", len(emodb_paths), "files")
    with one_thread():
        benchmark.pedantic(lambda: authors_pipeline(emodb_paths), rounds=1, warmup_rounds=0)


@pytest.mark.benchmark(group="featurize thread scaling (EmoDB)")
@pytest.mark.parametrize("threads", [1, 2])
def test_featurize_threads(benchmark, emodb_paths, threads):
    record(benchmark, "ours" if threads == 2 else "anchor", len(emodb_paths), "files")
    benchmark.pedantic(
        lambda: features.featurize(emodb_paths, FeatureConfig(), threads=threads),
        rounds=5, warmup_rounds=1)
