"""The synthetic demo corpus: deterministic, well-formed, idempotent, and
learnable from spectral and prosodic cues but not from loudness."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from glam_py.corpora import demo
from glam_py.corpora.demo import DEMO_LABELS, generate_demo_corpus

SMALL = dict(n_speakers=4, per_class_per_speaker=6)


def rows(root: Path) -> list[dict[str, str]]:
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def digests(root: Path) -> dict[str, str]:
    """sha256 of every WAV file and of the manifest, by relative path."""
    files = [root / "manifest.csv", *sorted((root / "wav").glob("*.wav"))]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def mtimes(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo_small")
    generate_demo_corpus(root, **SMALL)
    return root


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo_full")
    generate_demo_corpus(root)
    return root


def test_same_parameters_give_identical_bytes(small, tmp_path):
    assert generate_demo_corpus(tmp_path / "again", **SMALL) == tmp_path / "again" / "manifest.csv"
    assert digests(tmp_path / "again") == digests(small)


def test_another_seed_gives_other_audio(small, tmp_path):
    generate_demo_corpus(tmp_path / "other", **SMALL, seed=1)
    ours, theirs = digests(small), digests(tmp_path / "other")
    assert ours.keys() == theirs.keys()
    assert all(ours[p] != theirs[p] for p in ours if p.endswith(".wav"))


def test_files_do_not_depend_on_corpus_size(small, tmp_path):
    # Each utterance is seeded from (seed, speaker, class, index), not from
    # its position in the run.
    generate_demo_corpus(tmp_path / "part", n_speakers=2, per_class_per_speaker=3)
    part, whole = digests(tmp_path / "part"), digests(small)
    wavs = [p for p in part if p.endswith(".wav")]
    assert len(wavs) == 2 * 3 * len(DEMO_LABELS)
    assert all(part[p] == whole[p] for p in wavs)


def test_manifest(small):
    assert (small / "manifest.csv").read_text(encoding="utf-8").splitlines()[0] == "path,label,speaker"
    manifest = rows(small)
    assert len(manifest) == 4 * 6 * len(DEMO_LABELS)
    assert sorted({r["label"] for r in manifest}) == sorted(DEMO_LABELS)
    assert sorted({r["speaker"] for r in manifest}) == ["spk00", "spk01", "spk02", "spk03"]
    for r in manifest:
        assert re.fullmatch(r"wav/spk\d\d_[a-z]+_\d{3}\.wav", r["path"])
        assert r["path"].startswith(f"wav/{r['speaker']}_{r['label']}_")
        assert (small / r["path"]).is_file()
    assert len(list((small / "wav").iterdir())) == len(manifest)


def test_wav_format(small):
    for r in rows(small):
        info = sf.info(small / r["path"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_durations(full):
    manifest = rows(full)
    assert len(manifest) == 8 * 4 * 10
    durations = np.array([sf.info(full / r["path"]).duration for r in manifest])
    assert durations.min() >= 1.5 and durations.max() <= 6.0
    # Short utterances exercise the feature frontend's handling of < 2 s.
    assert 0.1 <= np.mean(durations < 2.0) <= 0.35


def test_levels_neither_clipped_nor_silent(full):
    for r in rows(full):
        y, _ = sf.read(full / r["path"])
        peak = np.abs(y).max()
        assert 1e-3 < peak < 0.95, r["path"]


def test_second_call_rewrites_nothing(small):
    before = mtimes(small)
    generate_demo_corpus(small, **SMALL)
    assert mtimes(small) == before


def test_incomplete_or_different_corpus_is_regenerated(tmp_path):
    generate_demo_corpus(tmp_path, n_speakers=1, per_class_per_speaker=2)
    (tmp_path / "wav" / "spk00_sad_001.wav").unlink()
    generate_demo_corpus(tmp_path, n_speakers=1, per_class_per_speaker=2)
    assert (tmp_path / "wav" / "spk00_sad_001.wav").is_file()
    # Fewer utterances: the ones no longer listed are removed.
    generate_demo_corpus(tmp_path, n_speakers=1, per_class_per_speaker=1)
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == sorted(
        Path(r["path"]).name for r in rows(tmp_path)
    )


def test_rejects_bad_parameters(tmp_path):
    with pytest.raises(ValueError):
        generate_demo_corpus(tmp_path, n_speakers=0)
    with pytest.raises(ValueError):
        generate_demo_corpus(tmp_path, sample_rate=8000)


def test_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    help_text = capsys.readouterr().out
    for flag in ("--out", "--speakers", "--per-class", "--seed", "--sample-rate"):
        assert flag in help_text
    assert demo.main(["--out", str(tmp_path), "--speakers", "1", "--per-class", "1", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "4 utterances" in out and "min" in out
    assert len(rows(tmp_path)) == 4


def utterance_features(path: Path, librosa) -> tuple[np.ndarray, float]:
    """Mean and spread of MFCCs and log-F0 (spectral envelope, voice quality,
    pitch level and range), and the level in dB."""
    y, sr = sf.read(path, dtype="float32")
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    f0 = librosa.yin(y, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=512)
    semitones = 12 * np.log2(f0)
    low, high = np.percentile(semitones, [10, 90])
    pitch = [semitones.mean(), semitones.std(), high - low]
    level_db = 10 * np.log10(np.mean(y.astype(np.float64) ** 2))
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), pitch]), level_db


def test_learnable_but_not_from_loudness(full):
    librosa = pytest.importorskip("librosa")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    manifest = rows(full)
    features, levels = zip(*(utterance_features(full / r["path"], librosa) for r in manifest))
    labels = [r["label"] for r in manifest]
    speakers = [r["speaker"] for r in manifest]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))

    def accuracy(x: np.ndarray) -> float:
        # Test speakers are never seen in training.
        return cross_val_score(clf, x, labels, groups=speakers, cv=GroupKFold(4)).mean()

    assert accuracy(np.array(features)) >= 0.6  # chance is 0.25; measured 0.70
    assert accuracy(np.array(levels)[:, None]) <= 0.45  # measured 0.32
