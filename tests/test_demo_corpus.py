"""The synthetic demo corpus: deterministic, well-formed, learnable from
spectral and prosodic cues but not from loudness."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
import soundfile as sf

from glam_py import features
from glam_py.corpora.demo import DEMO_LABELS, generate_demo_corpus
from glam_py.corpora.manifest import read_manifest

SMALL = dict(n_speakers=4, per_class_per_speaker=4)


def digest(root) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "wav").glob("*.wav"))}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_small")
    generate_demo_corpus(root, **SMALL)
    return root


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_full")
    generate_demo_corpus(root)
    return root


def test_generation_is_deterministic(small, tmp_path):
    generate_demo_corpus(tmp_path / "again", **SMALL)
    assert digest(tmp_path / "again") == digest(small)
    generate_demo_corpus(tmp_path / "other", **SMALL, seed=1)
    assert digest(tmp_path / "other") != digest(small)


def test_manifest_and_files(small):
    with (small / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path", "label", "speaker"]
    assert len(rows) == 4 * 4 * len(DEMO_LABELS)
    assert {r["label"] for r in rows} == set(DEMO_LABELS)
    assert len({r["speaker"] for r in rows}) == 4
    for u in read_manifest(small / "manifest.csv"):
        info = sf.info(u.path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_durations_levels_and_no_clipping(full):
    utterances = read_manifest(full / "manifest.csv")
    assert len(utterances) == 320
    durations = np.array([sf.info(u.path).duration for u in utterances])
    assert durations.min() >= 1.5 and durations.max() <= 6.0
    assert 0.1 < np.mean(durations < 2.0) < 0.35  # short utterances exercise --pad
    for u in utterances[::16]:
        y, _ = sf.read(u.path)
        assert 1e-3 < np.abs(y).max() < 0.99


def test_second_call_does_not_rewrite(small):
    before = {p: p.stat().st_mtime_ns for p in (small / "wav").glob("*.wav")}
    generate_demo_corpus(small, **SMALL)
    assert {p: p.stat().st_mtime_ns for p in (small / "wav").glob("*.wav")} == before


def test_learnable_but_not_from_loudness(full):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert sklearn
    utterances = read_manifest(full / "manifest.csv")
    spectral, loudness = [], []
    for u in utterances:
        y = features.load(u.path)
        m = features.mfcc(y)
        spectral.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
        loudness.append([10 * np.log10(np.mean(y.astype(np.float64) ** 2))])
    labels = [u.label for u in utterances]
    speakers = [u.speaker for u in utterances]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    # Speakers unseen in training, as in a speaker-independent protocol.
    score = lambda X: cross_val_score(clf, np.array(X), labels, groups=speakers, cv=GroupKFold(4)).mean()  # noqa: E731
    assert score(spectral) >= 0.5  # chance is 0.25
    assert score(loudness) <= 0.35
