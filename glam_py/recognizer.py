"""Emotion predictions from a trained checkpoint: audio files or in-memory
signals in, one label and the probability of every class per utterance out.

    >>> from glam_py import EmotionRecognizer
    >>> rec = EmotionRecognizer.from_checkpoint("runs/latest")
    >>> for p in rec.iter_predict(paths):          # streaming, bounded memory
    ...     print(p.source, p.label, p.probabilities)
    >>> rec.predict([y], sample_rate=44100)        # arrays at any rate

Audio is featurised with exactly the checkpoint's feature settings (those
of its test split: window, overlap, short-utterance padding) through the
Rust frontend, and scored by the model with BatchNorm folded away, so the
result is what the training run's evaluation computes for the same audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

import numpy as np
import torch

from glam_py import checkpoints, features, models
from glam_py.checkpoints import Checkpoint
from glam_py.pooling import pool, softmax

__all__ = ["EmotionRecognizer", "Prediction", "WindowPrediction"]

Input = Union[str, os.PathLike, np.ndarray]


@dataclass
class WindowPrediction:
    """One window: where it lies in the utterance and what the model says
    about it alone (softmax of its logits)."""

    start_s: float
    end_s: float
    label: str
    probabilities: dict[str, float]


@dataclass
class Prediction:
    """One utterance. ``status`` is "ok", "padded" (shorter than a window,
    tiled or zero-padded to one as the checkpoint's ``pad`` says), "too_short"
    (shorter than a window under ``pad="drop"``: no window, so no label) or
    "error" (not readable or not usable audio); ``note`` says why for every
    status but "ok". ``label`` and ``probabilities`` are empty when there
    was no window to score."""

    source: str
    label: str | None
    probabilities: dict[str, float]
    n_windows: int
    duration_s: float
    status: str
    note: str | None = None
    windows: list[WindowPrediction] | None = field(default=None, repr=False)


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class EmotionRecognizer:
    """A trained model and the feature settings it was tested with."""

    def __init__(self, checkpoint: Checkpoint, device: str | None = None, threads: int | None = None,
                 batch_size: int = 256, files_per_chunk: int = 64):
        if batch_size < 1 or files_per_chunk < 1:
            raise ValueError("batch_size and files_per_chunk must be at least 1")
        self.checkpoint = checkpoint
        self.device = device or _default_device()
        self.threads = threads
        self.batch_size = batch_size
        self.files_per_chunk = files_per_chunk
        if threads is not None:
            # torch's pool is process-wide; the Rust frontend gets the same count per call.
            torch.set_num_threads(threads)
        self.model = models.fold_batchnorm(checkpoint.build_model(self.device)).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None, threads: int | None = None, *,
                        model: str | None = None, split: str | None = None,
                        batch_size: int = 256) -> "EmotionRecognizer":
        """Loads a checkpoint file, or the one a run directory holds (see
        :mod:`glam_py.checkpoints` for the choice; ``model`` and ``split``
        narrow it). ``device`` defaults to CUDA when available, else the CPU;
        ``threads`` sets torch's (process-wide) thread count and the
        frontend's. Raises FileNotFoundError or :class:`CheckpointError`."""
        return cls(Checkpoint.load(checkpoints.find(path, model, split)), device, threads, batch_size)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.checkpoint.labels

    @property
    def features(self) -> features.FeatureConfig:
        return self.checkpoint.features

    def predict(self, inputs: Input | Sequence[Input], sample_rate: int | None = None,
                windows: bool = False) -> list[Prediction]:
        """Every prediction of :meth:`iter_predict`, as a list."""
        return list(self.iter_predict(inputs, sample_rate, windows))

    def iter_predict(self, inputs: Input | Iterable[Input], sample_rate: int | None = None,
                     windows: bool = False) -> Iterator[Prediction]:
        """One :class:`Prediction` per input, in input order, as soon as it
        is ready. Inputs are audio file paths (featurised in parallel,
        ``files_per_chunk`` at a time, so memory stays bounded however many
        there are) or 1-D float arrays at ``sample_rate`` Hz (required for
        arrays; resampled to the checkpoint's rate).

        The utterance's probabilities are the softmax of the mean of its
        windows' logits when the checkpoint's ``average`` is "logits" (the
        default in training), or the mean of its windows' softmax
        probabilities when it is "probabilities" -- the score training's
        evaluation takes the arg-max of. ``windows=True`` adds every
        window's own prediction with its start and end in seconds."""
        items = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
        if sample_rate is None and any(isinstance(x, np.ndarray) for x in items):
            raise ValueError("sample_rate is required to predict from arrays (the rate of the "
                             f"signals in Hz; the model expects {self.features.sample_rate} Hz, and "
                             "other rates are resampled)")
        paths: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, np.ndarray):
                yield from self._predict_files(paths, windows)
                paths = []
                yield self._predict_array(item, sample_rate, f"array[{i}]", windows)
            else:
                paths.append(os.fspath(item))
        yield from self._predict_files(paths, windows)

    @torch.inference_mode()
    def window_logits(self, windows: np.ndarray) -> np.ndarray:
        """The model's logits for ``[n, n_features, n_frames]`` windows."""
        out = [self.model(torch.from_numpy(windows[s:s + self.batch_size]).unsqueeze(1).to(self.device))
               .float().cpu() for s in range(0, len(windows), self.batch_size)]
        n_classes = len(self.labels)
        return torch.cat(out).numpy() if out else np.zeros((0, n_classes), np.float32)

    def _predict_files(self, paths: list[str], windows: bool) -> Iterator[Prediction]:
        if not paths:
            return
        for batch in features.iter_featurize(paths, self.features, self.threads, self.files_per_chunk):
            logits = self.window_logits(batch.windows)
            start = 0
            for info in batch.files:
                mine = logits[start:start + info.n_windows]
                start += info.n_windows
                yield self._prediction(info.path, info.duration_s, mine, info.note, info.error, windows)

    def _predict_array(self, y: np.ndarray, sample_rate: int, source: str, windows: bool) -> Prediction:
        duration = len(y) / sample_rate if y.ndim == 1 else 0.0
        try:
            w, note = features.featurize_signal(y, sample_rate, self.features)
        except ValueError as e:  # not mono, empty, NaN or infinite samples
            return self._prediction(source, duration, None, None, str(e), windows)
        return self._prediction(source, duration, self.window_logits(w), note, None, windows)

    def _prediction(self, source: str, duration: float, logits: np.ndarray | None, note: str | None,
                    error: str | None, windows: bool) -> Prediction:
        if error is not None:
            return Prediction(source, None, {}, 0, duration, "error", error, [] if windows else None)
        if len(logits) == 0:
            return Prediction(source, None, {}, 0, duration, "too_short",
                              note or "no full window", [] if windows else None)
        logits = logits.astype(np.float64)
        score = pool(logits, np.zeros(len(logits), dtype=int), 1, self.checkpoint.average)[0]
        probs = softmax(score) if self.checkpoint.average == "logits" else score
        per_window = self._windows(logits, duration) if windows else None
        return Prediction(source, self.labels[int(np.argmax(probs))], self._named(probs), len(logits),
                          duration, "padded" if note else "ok", note, per_window)

    def _named(self, probs: np.ndarray) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, probs)}

    def _windows(self, logits: np.ndarray, duration: float) -> list[WindowPrediction]:
        cfg = self.features
        hop, length = cfg.window_hop / cfg.sample_rate, cfg.window_length / cfg.sample_rate
        out = []
        for k, probs in enumerate(softmax(logits)):
            # A padded utterance's one window ends where the (shorter) utterance does.
            end = min(k * hop + length, duration)
            out.append(WindowPrediction(round(k * hop, 6), round(end, 6), self.labels[int(np.argmax(probs))],
                                        self._named(probs)))
        return out
