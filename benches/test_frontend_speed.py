"""Frontend speed against the authors' librosa pipeline on the same EmoDB
windows (issue: Rust feature frontend). Each comparison runs ours and its
anchor alternately in one test (``benchutil.paired``), so the machine's
swings in speed hit both alike and the ratio is what to read."""

from __future__ import annotations

import numpy as np
import pytest

from benches.benchutil import cut_windows, one_thread, paired
from glam_py import features
from glam_py.features import FeatureConfig

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def windows(emodb_utterances):
    return [w for y in emodb_utterances for w in cut_windows(y)]


def librosa_per_window(windows):
    """The authors' way: librosa's MFCC called on one window at a time."""
    return [librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26) for w in windows]


@pytest.mark.benchmark(group="mfcc per window (1 thread)")
def test_mfcc_per_window_paired_with_librosa(benchmark, windows):
    with one_thread():
        paired(
            benchmark,
            lambda: librosa_per_window(windows),
            lambda: [features.mfcc(w) for w in windows],
            len(windows),
            "windows",
            rounds=9,
        )


def _ours_from_utterances(utterances, n_windows):
    cfg = FeatureConfig()

    def run():
        out = [features.featurize_signal(y, 16000, cfg)[0] for y in utterances]
        assert sum(len(w) for w in out) == n_windows
        return out

    return run


@pytest.mark.benchmark(group="utterances to 2 s / 1.6 s windows (1 thread)")
def test_windows_from_utterances_paired_with_librosa_per_window(benchmark, emodb_utterances, windows):
    with one_thread():
        paired(
            benchmark,
            lambda: librosa_per_window(windows),
            _ours_from_utterances(emodb_utterances, len(windows)),
            len(windows),
            "windows",
            rounds=9,
        )


@pytest.mark.benchmark(group="utterances to 2 s / 1.6 s windows (1 thread)")
def test_windows_from_utterances_paired_with_librosa_batch(benchmark, emodb_utterances, windows):
    batch = np.stack(windows)
    with one_thread():
        paired(
            benchmark,
            lambda: librosa.feature.mfcc(y=batch, sr=16000, n_mfcc=26),
            _ours_from_utterances(emodb_utterances, len(windows)),
            len(windows),
            "windows",
            rounds=9,
        )


def authors_pipeline(paths):
    """librosa.load at 16 kHz, full 2 s windows every 0.4 s, MFCC per window."""
    out = []
    for path in paths:
        y, _ = librosa.load(path, sr=16000)
        out.extend(librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26) for w in cut_windows(y))
    return out


@pytest.mark.benchmark(group="EmoDB end to end: decode + windows + MFCC")
def test_emodb_end_to_end_2_threads_paired_with_authors_pipeline(benchmark, emodb_paths):
    def ours():
        assert not features.featurize(emodb_paths, FeatureConfig(), threads=2).errors

    # The authors' pipeline on one thread, as librosa runs it per window;
    # the ratio therefore includes our second thread.
    with one_thread():
        paired(benchmark, lambda: authors_pipeline(emodb_paths), ours, len(emodb_paths), "files", rounds=3)


@pytest.mark.benchmark(group="featurize thread scaling (EmoDB): 2 threads against 1")
def test_featurize_2_threads_paired_with_1(benchmark, emodb_paths):
    paired(
        benchmark,
        lambda: features.featurize(emodb_paths, FeatureConfig(), threads=1),
        lambda: features.featurize(emodb_paths, FeatureConfig(), threads=2),
        len(emodb_paths),
        "files",
    )
