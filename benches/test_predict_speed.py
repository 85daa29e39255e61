"""Prediction speed with a loaded model (issue: predict and export): the
latency of one 5 s utterance read from a file, against the authors'
pipeline on the same file, and the throughput over a folder of files in
hours of audio per second.

    python -m pytest benches/test_predict_speed.py -p no:cacheprovider --benchmark-json=/tmp/predict.json
    python -m benches.summarize /tmp/predict.json

Speed does not depend on the weights, so the checkpoint is an untrained
GLAM saved in the training run's format, with the paper's test features
(2 s windows, 1.6 s overlap).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from benches.benchutil import cut_windows, paired, record
from glam_py import EmotionRecognizer, models
from glam_py.checkpoints import Checkpoint
from glam_py.features import FeatureConfig
from tests.support.reference_glam import ReferenceGLAM

LABELS = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(autouse=True)
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def glam_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("predict") / "glam.pt"
    Checkpoint(
        model_name="glam",
        n_classes=4,
        input_shape=(26, 63),
        labels=tuple(LABELS),
        features=FeatureConfig(),
        average="logits",
        state_dict=models.build("glam").state_dict(),
    ).save(path)
    return path


@pytest.fixture(scope="module")
def five_seconds(tmp_path_factory, emodb_paths):
    """EmoDB speech cut to exactly 5 s (8 windows), as a 16-bit WAV file."""
    y = np.concatenate([sf.read(p, dtype="float32")[0] for p in emodb_paths[:4]])[: 5 * 16000]
    path = tmp_path_factory.mktemp("predict") / "five_seconds.wav"
    sf.write(path, y, 16000, subtype="PCM_16")
    return path


LATENCY = "predict one 5 s utterance from a file (GLAM, model loaded, {} thread{})"


@pytest.mark.parametrize(
    "threads",
    [
        pytest.param(n, marks=pytest.mark.benchmark(group=LATENCY.format(n, "s" if n > 1 else "")))
        for n in (1, 2)
    ],
)
def test_latency_paired_with_authors_pipeline(benchmark, glam_checkpoint, five_seconds, threads):
    """Ours: ``EmotionRecognizer.predict(path)`` (Rust decode + MFCC
    windows, BatchNorm-folded GLAM). The anchor, the authors' way:
    librosa.load, librosa MFCC per window, their GLAM class
    (tests/support/reference_glam.py) on the windows as one batch. Interleaved,
    so the shared machine's swings hit both alike."""
    librosa = pytest.importorskip("librosa")
    recognizer = EmotionRecognizer.from_checkpoint(glam_checkpoint, device="cpu", threads=threads)
    model = ReferenceGLAM().eval()

    def anchor():
        y, _ = librosa.load(five_seconds, sr=16000)
        x = np.stack([librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26) for w in cut_windows(y)])
        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(x).unsqueeze(1)).mean(0), 0)

    assert recognizer.predict(five_seconds)[0].n_windows == len(cut_windows(np.zeros(5 * 16000))) == 8
    paired(benchmark, anchor, lambda: recognizer.predict(five_seconds), 1, "utterances", rounds=20)


@pytest.mark.benchmark(group="throughput over a folder: EmoDB, 535 files (GLAM, 2 threads)")
def test_throughput_emodb_folder(benchmark, glam_checkpoint, emodb_paths):
    """Every file of the folder, streamed through the frontend in chunks.
    The unit is seconds of audio, so the rate reads as "x real time"; the
    hours of audio per second are in extra_info."""
    recognizer = EmotionRecognizer.from_checkpoint(glam_checkpoint, device="cpu", threads=2)
    seconds = sum(sf.info(p).duration for p in emodb_paths)
    record(benchmark, "info", seconds, "audio seconds")
    result = benchmark.pedantic(lambda: recognizer.predict(emodb_paths), rounds=3, warmup_rounds=1)
    assert len(result) == len(emodb_paths) and not [p for p in result if p.status == "error"]
    benchmark.extra_info.update(
        files=len(emodb_paths),
        windows=sum(p.n_windows for p in result),
        audio_hours_per_s=seconds / 3600 / benchmark.stats.stats.median,
    )
