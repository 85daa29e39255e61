"""Emotion predictions from a trained checkpoint: audio files or in-memory
signals in, one label and the probability of every class per utterance out.

    >>> from glam_py import EmotionRecognizer
    >>> rec = EmotionRecognizer.from_checkpoint("runs/latest")
    >>> for p in rec.iter_predict(paths):          # streaming, bounded memory
    ...     print(p.source, p.label, p.probabilities)
    >>> rec.predict([y], sample_rate=44100)        # arrays at any rate

Audio is featurised with exactly the checkpoint's feature settings (those
of its test split: window, overlap, short-utterance padding; utterances
shorter than a window are tiled when training dropped them, so every file
that holds audio gets a label) through the Rust frontend, and scored by the model with BatchNorm folded away, so the
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
from glam_py.precision import Precision, autocast, resolve

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
    tiled, zero-padded or repeated to one as the recognizer's ``pad`` says),
    "too_short" (shorter than a window under an explicit ``pad="drop"``: no
    window, so no label) or
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


def default_pad(trained: features.FeatureConfig) -> str:
    """How prediction pads an utterance shorter than a window: as training
    did, or by tiling when training dropped such utterances (a prediction
    must label every file that holds audio)."""
    return "tile" if trained.pad == "drop" else trained.pad


class EmotionRecognizer:
    """A trained model and the feature settings it was tested with.

    Parameters
    ----------
    checkpoint : Checkpoint
        The trained model (:meth:`Checkpoint.load`).
    device : str or None, default None
        torch device of the model, e.g. "cpu" or "cuda:0"; None: CUDA when
        available, else the CPU.
    threads : int or None, default None
        CPU threads for torch (process-wide) and for the feature frontend
        (per call); None: all cores.
    batch_size : int, default 256
        Windows per model call; lower it to save memory on a GPU.
    files_per_chunk : int, default 64
        Audio files featurised together; bounds memory however many files
        :meth:`iter_predict` is given.
    pad : str or None, default None
        Utterances shorter than one window: one of
        :data:`glam_py.features.PAD_CHOICES`. None: as the checkpoint's
        training padded them, or "tile" when it dropped them, so that every
        file that holds audio gets a label ("drop" leaves short ones
        without, status "too_short").
    precision : {"auto", "fp32", "bf16"}, default "auto"
        The forward pass's precision (:mod:`glam_py.precision`): "auto"
        resolves per device; the resolved one is ``self.precision``, and
        ``self.precision_note`` says when bf16 is emulated on this device.
        Probabilities are computed in fp32 either way.

    Attributes
    ----------
    checkpoint : Checkpoint
    features : FeatureConfig
        The settings audio is featurised with: the checkpoint's, with the
        padding chosen by ``pad``.
    labels : tuple of str
        Class names, in the order of the model's outputs.

    Raises
    ------
    ValueError
        ``batch_size`` or ``files_per_chunk`` is below 1, ``pad`` is not
        one of :data:`glam_py.features.PAD_CHOICES`, or ``precision`` is
        unknown.
    CheckpointError
        The checkpoint's weights do not fit its model.
    """

    def __init__(self, checkpoint: Checkpoint, device: str | None = None, threads: int | None = None,
                 batch_size: int = 256, files_per_chunk: int = 64, pad: str | None = None,
                 precision: Precision = "auto"):
        if batch_size < 1 or files_per_chunk < 1:
            raise ValueError("batch_size and files_per_chunk must be at least 1")
        if pad is not None and pad not in features.PAD_CHOICES:
            raise ValueError(f"pad={pad!r}: choose one of {', '.join(features.PAD_CHOICES)}")
        self.checkpoint = checkpoint
        self._features = checkpoint.features.replace(pad=pad or default_pad(checkpoint.features))
        self.device = device or _default_device()
        self.precision, self.precision_note = resolve(precision, self.device)
        self.threads = threads
        self.batch_size = batch_size
        self.files_per_chunk = files_per_chunk
        if threads is not None:
            # torch's pool is process-wide; the Rust frontend gets the same count per call.
            torch.set_num_threads(threads)
        self.model = models.fold_batchnorm(checkpoint.build_model(self.device, precision=self.precision)).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None, threads: int | None = None, *,
                        model: str | None = None, split: str | None = None,
                        batch_size: int = 256, pad: str | None = None,
                        precision: Precision = "auto") -> "EmotionRecognizer":
        """Loads a checkpoint file, or the one a run directory holds.

        Parameters
        ----------
        path : str or Path
            A checkpoint ``.pt`` file, or a training run directory
            (``python -m glam_py.train --out``); see :mod:`glam_py.checkpoints`
            for the choice among its checkpoints.
        device : str or None, default None
            torch device; None: CUDA when available, else the CPU.
        threads : int or None, default None
            torch's (process-wide) thread count and the frontend's; None:
            all cores.
        model : str or None, default None
            In a run directory with several models: which one (e.g. "glam").
        split : str or None, default None
            In a run directory: which split's model (e.g. "seed3"); None: the
            first in natural order.
        batch_size : int, default 256
            Windows per model call.
        pad : str or None, default None
            Short-utterance padding, as for :class:`EmotionRecognizer`; None:
            the checkpoint's, or "tile" when its training dropped them.
        precision : {"auto", "fp32", "bf16"}, default "auto"
            The forward pass's precision, as for :class:`EmotionRecognizer`.

        Returns
        -------
        EmotionRecognizer

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        CheckpointError
            ``path`` is no usable checkpoint (an export, a damaged or
            foreign file, an inconsistent checkpoint), or a run directory
            without one or with several models and no ``model``; the
            message names the file and the problem.
        ValueError
            ``pad``, ``precision`` or ``batch_size`` is invalid, or ``model``/``split``
            were given with a checkpoint file.
        """
        return cls(Checkpoint.load(checkpoints.find(path, model, split)), device, threads, batch_size,
                   pad=pad, precision=precision)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.checkpoint.labels

    @property
    def features(self) -> features.FeatureConfig:
        return self._features

    def predict(self, inputs: Input | Sequence[Input], sample_rate: int | None = None,
                windows: bool = False) -> list[Prediction]:
        """Every prediction of :meth:`iter_predict`, as a list.

        Parameters
        ----------
        inputs : path, array, or a sequence of them
            As for :meth:`iter_predict`.
        sample_rate : int or None, default None
            Rate of array inputs in Hz.
        windows : bool, default False
            Also give every window's own prediction.

        Returns
        -------
        list of Prediction
            One per input, in input order.

        Raises
        ------
        ValueError
            Arrays given without ``sample_rate``.
        """
        return list(self.iter_predict(inputs, sample_rate, windows))

    def iter_predict(self, inputs: Input | Iterable[Input], sample_rate: int | None = None,
                     windows: bool = False) -> Iterator[Prediction]:
        """One :class:`Prediction` per input, in input order, as soon as it
        is ready.

        The utterance's probabilities are the softmax of the mean of its
        windows' logits when the checkpoint's ``average`` is "logits" (the
        default in training), or the mean of its windows' softmax
        probabilities when it is "probabilities" -- the score training's
        evaluation takes the arg-max of. An utterance shorter than one
        window is padded as :attr:`features` says (status "padded"), or
        left without a label under ``pad="drop"`` (status "too_short").

        Parameters
        ----------
        inputs : path, array, or an iterable of them
            Audio file paths (str or os.PathLike; featurised in parallel,
            ``files_per_chunk`` at a time, so memory stays bounded however
            many there are) or 1-D float arrays at ``sample_rate``.
        sample_rate : int or None, default None
            Rate of the array inputs in Hz (required for arrays; resampled
            to the checkpoint's rate, ``features.sample_rate``).
        windows : bool, default False
            Also give every window's own prediction, with its start and end
            in seconds (``Prediction.windows``).

        Yields
        ------
        Prediction
            One per input. A file that cannot be read or an array that is
            not usable audio gives status "error" and why in ``note``; it
            raises nothing.

        Raises
        ------
        ValueError
            Arrays given without ``sample_rate``.
        """
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
        """The model's logits (fp32) for ``[n, n_features, n_frames]`` windows."""
        with autocast(self.precision, self.device):
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
