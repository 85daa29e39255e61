"""Measures the resampling allowance of the MFCC parity: EmoDB recordings
converted to other rates (soxr VHQ, written as float WAV), then loaded at
16 kHz by us and by `librosa.load` (soxr HQ), and featurised into 2 s / 1.6 s
windows; prints the largest and mean absolute MFCC difference per rate.

    .venv/bin/python -m experiments.resample_allowance [--files N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr

from glam_py import features
from tests.support.inputs import corpora_root

RATES = (8000, 22050, 44100, 48000)


def differences(path: Path, rate: int, tmp: Path) -> np.ndarray:
    y16, _ = sf.read(path, dtype="float32")
    converted = tmp / f"{path.stem}_{rate}.wav"
    sf.write(converted, soxr.resample(y16, 16000, rate, quality="VHQ"), rate, subtype="FLOAT")
    ref_y, _ = librosa.load(converted, sr=16000)
    ours, _ = features.featurize_signal(features.load(converted, sr=16000))
    starts = range(0, len(ref_y) - 32000 + 1, 6400)
    ref = np.stack([librosa.feature.mfcc(y=ref_y[s : s + 32000], sr=16000, n_mfcc=26) for s in starts])
    return np.abs(ours - ref)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the MFCC resampling allowance.")
    parser.add_argument(
        "--files", type=int, default=100, help="EmoDB recordings of at least 2 s to use (default 100)."
    )
    args = parser.parse_args(argv)
    paths = [
        p for p in sorted((corpora_root() / "emodb" / "wav").glob("*.wav")) if sf.info(p).frames >= 32000
    ][: args.files]
    print(f"{len(paths)} EmoDB recordings, 2 s windows every 0.4 s")
    print("| input rate | windows | max abs MFCC difference | mean abs difference | coefficient of the max |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in RATES:
            diffs = np.concatenate([differences(p, rate, Path(tmp)) for p in paths])
            worst = np.unravel_index(diffs.argmax(), diffs.shape)
            print(f"| {rate} | {len(diffs)} | {diffs.max():.4f} | {diffs.mean():.5f} | c{worst[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
