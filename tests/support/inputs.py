"""Inputs shared by tests, benchmarks and experiments: where the real
corpora are, and the synthetic parity signals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def corpora_root() -> Path:
    """``$GLAM_CORPORA``, else ``../shared/corpora`` beside the checkout."""
    return Path(os.environ.get("GLAM_CORPORA", REPO.parent / "shared" / "corpora"))


def synthetic_signals(n: int = 32000, sr: int = 16000) -> dict[str, np.ndarray]:
    """The issue's synthetic parity signals, float32."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / sr
    sweep_phase = 2 * np.pi * (50 * t + (7900 - 50) / (2 * t[-1]) * t**2)
    square = np.sign(np.sin(2 * np.pi * 220 * t)) * 1.5
    return {
        "white_noise": 0.3 * rng.standard_normal(n),
        "sine_sweep": 0.8 * np.sin(sweep_phase),
        "silence": np.zeros(n),
        "clipped_square": np.clip(square, -1.0, 1.0),
        "dc": np.full(n, 0.25),
        "tiny_noise": 1e-6 * rng.standard_normal(n),
    }
