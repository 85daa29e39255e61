"""A long recording read, featurised and scored a chunk at a time gives
bit for bit what the whole file at once gives: windows that cross a chunk
boundary included, resampled files included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from glam_py import features, recognizer
from glam_py.features import FeatureConfig
from glam_py.pooling import RunningPool, pool
from glam_py.predict import main as predict_main


def speech_like(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Noise shaped by a slow syllable-rate envelope, with pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3.1 * t) + 0.3 * np.sin(2 * np.pi * 0.37 * t), 0, None)
    return (0.3 * envelope * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[int, str]:
    root = tmp_path_factory.mktemp("long")
    out = {}
    # 16 kHz is the model's rate (no resampling); 44.1 kHz is resampled in
    # blocks; both are many chunks of 7 windows long.
    for rate, seconds in [(16000, 23.7), (44100, 11.3)]:
        path = root / f"{rate}.wav"
        soundfile.write(path, speech_like(seconds, rate), rate, subtype="PCM_16")
        out[rate] = str(path)
    return out


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_chunked_windows_equal_the_whole_files(recordings, rate, pad_mode):
    cfg = FeatureConfig(pad_mode=pad_mode)
    path = recordings[rate]
    # The unchunked result: the whole file decoded, resampled and featurised at once.
    whole, note = features.featurize_signal(features.load(path, sr=None), rate, cfg)
    assert note is None and len(whole) > 20
    stream = features.iter_file_windows(path, cfg, threads=2, windows_per_chunk=7)
    chunks = list(stream)
    assert {len(c) for c in chunks[:-1]} == {7}
    assert np.array_equal(np.concatenate(chunks), whole)
    assert np.array_equal(features.featurize(path, cfg).windows, whole)
    info = stream.info
    assert (info.n_windows, info.sample_rate, info.error) == (len(whole), rate, None)
    assert info.duration_s == pytest.approx(len(features.load(path)) / 16000)


def test_short_and_unreadable_files_end_the_stream_with_their_info(tmp_path):
    short = tmp_path / "short.wav"
    soundfile.write(short, speech_like(1.3, 16000), 16000)
    cfg = FeatureConfig(pad="tile")
    chunks = features.iter_file_windows(short, cfg, windows_per_chunk=7)
    assert np.array_equal(np.concatenate(list(chunks)), features.featurize(short, cfg).windows)
    assert "tiled to one window" in chunks.info.note
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(short.read_bytes()[:-1000])
    stream = features.iter_file_windows(truncated)
    list(stream)
    assert "truncated" in stream.info.error and stream.info.n_windows == 0
    with pytest.raises(ValueError, match="windows_per_chunk"):
        features.iter_file_windows(short, windows_per_chunk=0)


def test_running_pool_is_pool_over_chunks():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((1000, 4)).astype(np.float32) * 5
    owner = np.repeat([0, 1, 2], [10, 900, 90])
    for how in ("logits", "probabilities"):
        running = RunningPool(3, how)
        for s in range(0, 1000, 37):
            running.add(scores[s : s + 37], owner[s : s + 37])
        assert np.array_equal(running.result(), pool(scores, owner, 3, how))
    with pytest.raises(ValueError, match="needs at least one window"):
        RunningPool(2).add(scores[:3], np.zeros(3, dtype=int)).result()


def test_long_file_predictions_equal_the_whole_files(trained_run, recordings, monkeypatch):
    rec = recognizer.EmotionRecognizer.from_checkpoint(trained_run, model="apcnn", threads=2, batch_size=2)
    for rate in (16000, 44100):
        path = recordings[rate]
        whole = rec.predict(path, windows=True)[0]
        monkeypatch.setattr(features, "LONG_FILE_BYTES", 0)
        sent: list = []
        long = rec.predict(path, on_windows=lambda source, ws, sent=sent: sent.append((source, ws)))[0]
        held = rec.predict(path, windows=True)[0]
        monkeypatch.undo()
        # Chunks of 4 batches of 2 windows: several per file.
        assert len(sent) == -(-whole.n_windows // 8) > 2
        assert {source for source, _ in sent} == {path}
        assert long.windows is None and held.windows == whole.windows
        assert [w for _, ws in sent for w in ws] == whole.windows
        assert (long.label, long.probabilities, long.n_windows, long.status) == (
            whole.label,
            whole.probabilities,
            whole.n_windows,
            whole.status,
        )


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_cli_timeline_of_a_long_file_is_the_whole_files(
    trained_run, recordings, tmp_path, monkeypatch, suffix
):
    def timeline(name: str) -> str:
        out = tmp_path / f"{name}.{suffix}"
        assert (
            predict_main(
                [
                    "--checkpoint",
                    str(trained_run),
                    "--model",
                    "apcnn",
                    "--threads",
                    "2",
                    "--batch-size",
                    "4",
                    "--quiet",
                    "--windows",
                    "--out",
                    str(out),
                    recordings[44100],
                ]
            )
            == 0
        )
        return out.read_text()

    whole = timeline("whole")
    monkeypatch.setattr(features, "LONG_FILE_BYTES", 0)
    assert timeline("streamed") == whole
    if suffix == "json":
        doc = json.loads(whole)
        assert [len(p["windows"]) for p in doc["predictions"]] == [p["n_windows"] for p in doc["predictions"]]


def test_store_of_long_files_is_the_whole_files(recordings, tmp_path, monkeypatch):
    from glam_py.corpora import Utterance
    from glam_py.store import layout, write_store

    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(open(recordings[16000], "rb").read()[:-1000])
    utterances = [
        Utterance(recordings[44100], "happy"),
        Utterance(truncated, "sad"),
        Utterance(recordings[16000], "sad"),
    ]

    def store(name: str) -> Path:
        write_store(tmp_path / name, utterances, FeatureConfig(), files_per_shard=2, threads=2)
        return tmp_path / name

    whole = store("whole")
    monkeypatch.setattr(features, "LONG_FILE_BYTES", 0)
    streamed = store("streamed")
    for name in (
        "shard_00000.npy",
        "shard_00001.npy",
        "shard_00000.check.json",
        "shard_00001.check.json",
        "index.csv",
        "skipped.csv",
    ):
        assert (streamed / name).read_bytes() == (whole / name).read_bytes(), name
    # The streamed arrays' check records are their bytes' size and SHA-256.
    assert not any(layout.shard_damage(streamed, k, full=True) for k in (0, 1))
    # The truncated file's windows were taken back out: only the first file's are in shard 0.
    first = features.featurize(recordings[44100]).windows
    assert np.array_equal(np.load(streamed / "shard_00000.npy"), first)
    assert "truncated" in (streamed / "skipped.csv").read_text()


def test_featurize_without_out_counts_long_files_as_the_whole_files(
    recordings, tmp_path, monkeypatch, capsys
):
    from glam_py import featurize

    for label, path in (("happy", recordings[44100]), ("sad", recordings[16000])):
        (tmp_path / label).mkdir()
        (tmp_path / label / "a.wav").write_bytes(open(path, "rb").read())
    (tmp_path / "sad" / "truncated.wav").write_bytes(open(recordings[16000], "rb").read()[:-1000])
    argv = ["--corpus", "folders", "--root", str(tmp_path), "--labels", "happy,sad", "--threads", "2"]

    def summary() -> tuple[list[str], list[str]]:
        assert featurize.main(argv) == 0
        out, err = capsys.readouterr()
        # Every line but the timings (audio seconds per wall second, the progress line's speed).
        return (
            [line for line in out.splitlines() if not line.startswith("audio:")],
            [line for line in err.splitlines() if line.startswith("skipped")],
        )

    whole = summary()
    assert "files: 3 (2 read, 1 unreadable)" in whole[0]
    assert whole[1] == [
        f"skipped {tmp_path}/sad/truncated.wav: truncated: the file ends after 378700 of the "
        f"379200 frames its header declares"
    ]
    monkeypatch.setattr(features, "LONG_FILE_BYTES", 0)
    assert summary() == whole
