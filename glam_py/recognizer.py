"""Emotion predictions from a trained checkpoint: audio files or in-memory
signals in, one label and the probability of every class per utterance out.

    >>> from glam_py import EmotionRecognizer
    >>> rec = EmotionRecognizer.from_checkpoint("runs/latest")
    >>> for p in rec.iter_predict(paths):          # streaming, bounded memory
    ...     print(p.source, p.label, p.probabilities)
    >>> rec.predict([y], sample_rate=44100)        # arrays at any rate
    >>> rec = EmotionRecognizer.pretrained()       # the model shipped with glam

Audio is featurised with exactly the checkpoint's feature settings (those
of its test split: window, overlap, short-utterance padding; utterances
shorter than a window are tiled when training dropped them, so every file
that holds audio gets a label) through the Rust frontend, and scored by
the model with BatchNorm folded away, so the result is what the training
run's evaluation computes for the same audio. The probabilities are taken
at the checkpoint's temperature (``train --calibrate temperature``; 1 for
an uncalibrated model), and a prediction whose top probability is below
``min_confidence`` is marked ``uncertain``, its label still given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from glam_py import checkpoints, features, models, pretrained
from glam_py.checkpoints import Checkpoint
from glam_py.normalize import Normalized, Statistics, statistics
from glam_py.pooling import RunningPool, pool, probabilities, softmax
from glam_py.precision import Precision, autocast, resolve

__all__ = ["MIN_CONFIDENCE", "EmotionRecognizer", "Prediction", "WindowPrediction"]

#: The default ``min_confidence``: a prediction whose top probability is
#: below it is marked uncertain. Measured with ``python -m
#: experiments.confidence_threshold`` on the bundled model and a corpus it
#: never heard: below 0.5 its predictions were no better than chance
#: (docs/predict.md, "Calibrated probabilities and uncertain predictions",
#: gives the measurement and the rule).
MIN_CONFIDENCE = 0.5

Input = str | os.PathLike | np.ndarray
#: Receives a file's (or array's) window predictions as they are computed:
#: its source and the next windows, in order.
WindowSink = Callable[[str, "list[WindowPrediction]"], None]


@dataclass
class WindowPrediction:
    """One window: where it lies in the recording (seconds from the start
    of the file, also for a segment of it) and what the model says about it
    alone (softmax of its logits over the checkpoint's temperature)."""

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
    was no window to score. ``uncertain`` is True when the top probability
    is below the recognizer's ``min_confidence`` (the label is given all
    the same), False when it is not, None without a label. ``start`` and
    ``end`` are the seconds of the segment of ``source`` predicted (``end``
    None: to its end), both None for a whole file."""

    source: str
    label: str | None
    probabilities: dict[str, float]
    n_windows: int
    duration_s: float
    status: str
    note: str | None = None
    windows: list[WindowPrediction] | None = field(default=None, repr=False)
    uncertain: bool | None = None
    start: float | None = None
    end: float | None = None


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
    min_confidence : float, default :data:`MIN_CONFIDENCE`
        From 0 to 1: a prediction whose top probability (at the
        checkpoint's temperature) is below it is marked
        ``Prediction.uncertain``; 0 marks none.

    Attributes
    ----------
    checkpoint : Checkpoint
    features : FeatureConfig
        The settings audio is featurised with: the checkpoint's, with the
        padding chosen by ``pad``.
    labels : tuple of str
        Class names, in the order of the model's outputs.
    temperature : float
        The checkpoint's: what divides an utterance's logits before the
        softmax (:func:`glam_py.pooling.probabilities`).

    Raises
    ------
    ValueError
        ``batch_size`` or ``files_per_chunk`` is below 1, ``pad`` is not
        one of :data:`glam_py.features.PAD_CHOICES`, ``precision`` is
        unknown, or ``min_confidence`` is not a number from 0 to 1.
    CheckpointError
        The checkpoint's weights do not fit its model.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        device: str | None = None,
        threads: int | None = None,
        batch_size: int = 256,
        files_per_chunk: int = 64,
        pad: str | None = None,
        precision: Precision = "auto",
        min_confidence: float = MIN_CONFIDENCE,
    ):
        if batch_size < 1 or files_per_chunk < 1:
            raise ValueError("batch_size and files_per_chunk must be at least 1")
        number = isinstance(min_confidence, (int, float)) and not isinstance(min_confidence, bool)
        if not (number and 0 <= min_confidence <= 1):
            raise ValueError(f"min_confidence={min_confidence!r}: a probability from 0 to 1")
        self.min_confidence = float(min_confidence)
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
        self.model = models.fold_batchnorm(
            checkpoint.build_model(self.device, precision=self.precision)
        ).eval()
        # Set by adapt(): the statistics every input is then normalised by.
        self._adapted: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | None = None,
        threads: int | None = None,
        *,
        model: str | None = None,
        split: str | None = None,
        batch_size: int = 256,
        pad: str | None = None,
        precision: Precision = "auto",
        min_confidence: float = MIN_CONFIDENCE,
    ) -> EmotionRecognizer:
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
        min_confidence : float, default :data:`MIN_CONFIDENCE`
            Top probability below which a prediction is marked uncertain,
            as for :class:`EmotionRecognizer`.

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
            ``pad``, ``precision``, ``batch_size`` or ``min_confidence`` is
            invalid, or ``model``/``split`` were given with a checkpoint file.
        """
        return cls(
            Checkpoint.load(checkpoints.find(path, model, split)),
            device,
            threads,
            batch_size,
            pad=pad,
            precision=precision,
            min_confidence=min_confidence,
        )

    @classmethod
    def pretrained(
        cls,
        device: str | None = None,
        threads: int | None = None,
        *,
        batch_size: int = 256,
        pad: str | None = None,
        precision: Precision = "auto",
        min_confidence: float = MIN_CONFIDENCE,
    ) -> EmotionRecognizer:
        """The model shipped with the package: GLAM trained on all of
        EmoDB's four classes (German acted speech; docs/model-card.md says
        what it was trained on, how accurate it is and where it is not).
        ``GLAM_PRETRAINED=FILE`` puts another checkpoint file in its place
        (:mod:`glam_py.pretrained`).

        Parameters
        ----------
        device, threads, batch_size, pad, precision, min_confidence
            As for :meth:`from_checkpoint`.

        Returns
        -------
        EmotionRecognizer
            Its ``checkpoint.provenance`` says where the model comes from.

        Raises
        ------
        glam_py.pretrained.MissingBundle
            The package was installed without its bundled model (or
            ``GLAM_PRETRAINED`` names no file); the message says how to
            make it.
        CheckpointError
            The bundled file is no usable checkpoint (damaged).
        ValueError
            ``pad``, ``precision``, ``batch_size`` or ``min_confidence`` is invalid.
        """
        return cls(
            pretrained.load(),
            device,
            threads,
            batch_size,
            pad=pad,
            precision=precision,
            min_confidence=min_confidence,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.checkpoint.labels

    @property
    def features(self) -> features.FeatureConfig:
        return self._features

    @property
    def temperature(self) -> float:
        return self.checkpoint.temperature

    def predict(
        self,
        inputs: Input | Sequence[Input],
        sample_rate: int | None = None,
        windows: bool = False,
        on_windows: WindowSink | None = None,
        segments: Sequence[features.Segment | None] | None = None,
    ) -> list[Prediction]:
        """Every prediction of :meth:`iter_predict`, as a list.

        Parameters
        ----------
        inputs : path, array, or a sequence of them
            As for :meth:`iter_predict`.
        sample_rate : int or None, default None
            Rate of array inputs in Hz.
        windows : bool, default False
            Also give every window's own prediction.
        on_windows : callable or None, default None
            As for :meth:`iter_predict`.
        segments : sequence of (float, float or None) or None, or None, default None
            As for :meth:`iter_predict`.

        Returns
        -------
        list of Prediction
            One per input, in input order.

        Raises
        ------
        ValueError
            Arrays given without ``sample_rate``, or ``segments`` not one
            per input or with a segment for an array.
        """
        return list(self.iter_predict(inputs, sample_rate, windows, on_windows, segments))

    def iter_predict(
        self,
        inputs: Input | Iterable[Input],
        sample_rate: int | None = None,
        windows: bool = False,
        on_windows: WindowSink | None = None,
        segments: Sequence[features.Segment | None] | None = None,
    ) -> Iterator[Prediction]:
        """One :class:`Prediction` per input, in input order, as soon as it
        is ready.

        The utterance's probabilities are the softmax of the mean of its
        windows' logits when the checkpoint's ``average`` is "logits" (the
        default in training), or the mean of its windows' softmax
        probabilities when it is "probabilities" -- the score training's
        evaluation takes the arg-max of -- at the checkpoint's temperature
        (:func:`glam_py.pooling.probabilities`: the logits divided by it;
        1 leaves them as they are). A prediction whose top probability is
        below ``min_confidence`` is marked ``uncertain``. An utterance shorter than one
        window is padded as :attr:`features` says (status "padded"), or
        left without a label under ``pad="drop"`` (status "too_short").

        A file larger than :data:`glam_py.features.LONG_FILE_BYTES` is read,
        featurised and scored a chunk of windows at a time, the utterance
        score pooled as it goes (:class:`glam_py.pooling.RunningPool`), so
        memory does not grow with the recording's length; the result is
        bit for bit that of the whole file at once.

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
        on_windows : callable ``(source, window_predictions)`` or None, default None
            Receives every input's window predictions chunk by chunk, in
            order, before its Prediction is yielded, whose ``windows`` then
            stays None: the timeline of a recording of any length without
            holding it (``windows=True`` holds it in the Prediction). A file
            found damaged at its end (truncated) has had windows sent before
            its "error" Prediction.
        segments : sequence of (float, float or None) or None, or None, default None
            Per input, the ``(start, end)`` seconds of its file to predict
            (``end`` None: to the end), or None for all of it (always for
            an array); None: every input whole. Each segment is an
            utterance of its own, read by seeking into the file; one that
            ends past the end of its file gives status "error".

        Yields
        ------
        Prediction
            One per input. A file that cannot be read or an array that is
            not usable audio gives status "error" and why in ``note``; it
            raises nothing.

        Raises
        ------
        ValueError
            Arrays given without ``sample_rate``, or ``segments`` not one
            per input or with a segment for an array.
        """
        items = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
        spans = [None] * len(items) if segments is None else list(segments)
        if len(spans) != len(items):
            raise ValueError(f"{len(spans)} segments for {len(items)} inputs: give one per input (or None)")
        for i, (item, span) in enumerate(zip(items, spans)):
            if span is not None and isinstance(item, np.ndarray):
                raise ValueError(f"segments[{i}]: array inputs are predicted whole; cut the array instead")
        if sample_rate is None and any(isinstance(x, np.ndarray) for x in items):
            raise ValueError(
                "sample_rate is required to predict from arrays (the rate of the "
                f"signals in Hz; the model expects {self.features.sample_rate} Hz, and "
                "other rates are resampled)"
            )
        paths: list[str] = []
        parts: list[features.Segment | None] = []
        for i, (item, span) in enumerate(zip(items, spans)):
            if isinstance(item, np.ndarray):
                yield from self._predict_files(paths, parts, windows, on_windows)
                paths, parts = [], []
                yield self._sent(
                    self._predict_array(item, sample_rate, f"array[{i}]", windows or on_windows is not None),
                    on_windows,
                )
            else:
                paths.append(os.fspath(item))
                parts.append(span)
        yield from self._predict_files(paths, parts, windows, on_windows)

    def adapt(
        self,
        inputs: Input | Iterable[Input],
        sample_rate: int | None = None,
        segments: Sequence[features.Segment | None] | None = None,
    ) -> int:
        """Normalises every later input by the statistics of all of
        ``inputs`` together (a first pass over them) instead of each file's
        own: the model, trained with windows normalised per utterance,
        speaker or corpus (``checkpoint.normalize``), meets a new
        recording condition as one group, as the test corpus of a
        cross-corpus evaluation is normalised.

        Parameters
        ----------
        inputs : path, array, or an iterable of them
            As for :meth:`iter_predict`; files that cannot be read are
            left out of the statistics (prediction reports them).
        sample_rate : int or None, default None
            Rate of array inputs in Hz.
        segments : sequence of (float, float or None) or None, or None, default None
            Per input, the segment of its file to take, as for
            :meth:`iter_predict`.

        Returns
        -------
        int
            The number of windows the statistics were taken over.

        Raises
        ------
        ValueError
            The checkpoint's model takes windows without normalisation
            (``checkpoint.normalize`` is "none"), or no input gave a window.
        """
        self.check_adaptable()
        items = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
        stats = Statistics()
        spans = [None] * len(items) if segments is None else list(segments)
        files = [(os.fspath(x), s) for x, s in zip(items, spans) if not isinstance(x, np.ndarray)]
        paths, parts = [p for p, _ in files], [s for _, s in files]
        for long, run in features.split_long(paths, self.files_per_chunk, segments=parts):
            if long:
                for chunk in features.iter_file_windows(
                    paths[run.start], self.features, self.threads, 4 * self.batch_size, parts[run.start]
                ):
                    stats.add(chunk)
            else:
                batch = features.featurize(
                    paths[run.start : run.stop], self.features, self.threads, parts[run.start : run.stop]
                )
                stats.add(batch.windows)
        for y in (x for x in items if isinstance(x, np.ndarray)):
            try:
                stats.add(features.featurize_signal(y, sample_rate, self.features)[0])
            except ValueError:  # not usable audio: iter_predict reports it
                pass
        if not stats.count:
            raise ValueError("no input gave a window to adapt to")
        self._adapted = stats.mean_scale()
        return stats.count // self.features.n_frames

    def check_adaptable(self) -> None:
        """Raises ValueError, saying why, when the model takes windows
        without normalisation, which :meth:`adapt` cannot change."""
        if self.checkpoint.normalize == "none":
            raise ValueError(
                "the model was trained without feature normalisation (normalize none), so there is "
                "nothing to adapt; train with --normalize utterance, speaker or corpus"
            )

    def normalized(self, windows: np.ndarray) -> np.ndarray:
        """One utterance's ``[n, n_features, n_frames]`` windows as the
        model takes them: normalised by their own statistics, or by those
        of :meth:`adapt`, when the checkpoint asks for normalisation;
        unchanged otherwise."""
        if self.checkpoint.normalize == "none" or not len(windows):
            return windows
        mean, scale = self._adapted or statistics([windows])
        return Normalized(windows, mean, scale)[:]

    @torch.inference_mode()
    def window_logits(self, windows: np.ndarray) -> np.ndarray:
        """The model's logits (fp32) for ``[n, n_features, n_frames]`` windows."""
        with autocast(self.precision, self.device):
            out = [
                self.model(torch.from_numpy(windows[s : s + self.batch_size]).unsqueeze(1).to(self.device))
                .float()
                .cpu()
                for s in range(0, len(windows), self.batch_size)
            ]
        n_classes = len(self.labels)
        return torch.cat(out).numpy() if out else np.zeros((0, n_classes), np.float32)

    def _predict_files(
        self,
        paths: list[str],
        segments: list[features.Segment | None],
        windows: bool,
        on_windows: WindowSink | None,
    ) -> Iterator[Prediction]:
        for long, run in features.split_long(paths, self.files_per_chunk, segments=segments):
            if long:
                yield self._predict_long(paths[run.start], segments[run.start], windows, on_windows)
                continue
            mine = segments[run.start : run.stop]
            batch = features.featurize(paths[run.start : run.stop], self.features, self.threads, mine)
            bounds = np.cumsum([0] + [info.n_windows for info in batch.files])
            logits = self.window_logits(
                np.concatenate([self.normalized(batch.windows[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
                if len(batch.files) and self.checkpoint.normalize != "none"
                else batch.windows
            )
            start = 0
            for info, segment in zip(batch.files, mine):
                scored = logits[start : start + info.n_windows]
                start += info.n_windows
                yield self._sent(
                    self._prediction(
                        info.path,
                        info.duration_s,
                        scored,
                        info.note,
                        info.error,
                        windows or on_windows is not None,
                        segment,
                    ),
                    on_windows,
                )

    @staticmethod
    def _sent(p: Prediction, on_windows: WindowSink | None) -> Prediction:
        """``p``, its windows handed to ``on_windows`` when there is one."""
        if on_windows is not None:
            if p.windows:
                on_windows(p.source, p.windows)
            p.windows = None
        return p

    def _predict_long(
        self, path: str, segment: features.Segment | None, windows: bool, on_windows: WindowSink | None
    ) -> Prediction:
        """One file (or long segment) a chunk of windows at a time (see
        :meth:`iter_predict`). Chunks are whole model batches, so every
        window is scored in the batch it would be in with the whole file at
        once."""
        chunks = features.iter_file_windows(path, self.features, self.threads, 4 * self.batch_size, segment)
        stats = self._adapted
        if self.checkpoint.normalize != "none" and stats is None:
            # The file's own statistics need all of it: a first pass, as long in memory as one chunk.
            first = features.iter_file_windows(
                path, self.features, self.threads, 4 * self.batch_size, segment
            )
            gathered = Statistics()
            for chunk in first:
                gathered.add(chunk)
            if gathered.count:
                stats = gathered.mean_scale()
        running = RunningPool(1, self.checkpoint.average)
        kept: list[WindowPrediction] | None = [] if windows and on_windows is None else None
        n = 0
        for chunk in chunks:
            if stats is not None:
                chunk = Normalized(chunk, *stats)[:]
            logits = self.window_logits(chunk).astype(np.float64)
            running.add(logits, np.zeros(len(logits), dtype=int))
            if kept is not None or on_windows is not None:
                # Until the file has ended its windows are full ones.
                duration = chunks.info.duration_s if chunks.info is not None else np.inf
                timeline = self._windows(logits, duration, first=n, segment=segment)
                if on_windows is not None:
                    on_windows(path, timeline)
                else:
                    kept.extend(timeline)
            n += len(logits)
        info = chunks.info
        if info.error is not None or n == 0:
            return self._prediction(
                path,
                info.duration_s,
                np.zeros((0, len(self.labels))),
                info.note,
                info.error,
                kept is not None,
                segment,
            )
        score = running.result()[0]
        return self._scored(path, info.duration_s, score, n, info.note, kept, segment)

    def _predict_array(self, y: np.ndarray, sample_rate: int, source: str, windows: bool) -> Prediction:
        duration = len(y) / sample_rate if y.ndim == 1 else 0.0
        try:
            w, note = features.featurize_signal(y, sample_rate, self.features)
        except ValueError as e:  # not mono, empty, NaN or infinite samples
            return self._prediction(source, duration, None, None, str(e), windows)
        return self._prediction(source, duration, self.window_logits(self.normalized(w)), note, None, windows)

    def _prediction(
        self,
        source: str,
        duration: float,
        logits: np.ndarray | None,
        note: str | None,
        error: str | None,
        windows: bool,
        segment: features.Segment | None = None,
    ) -> Prediction:
        start, end = segment or (None, None)
        if error is not None:
            return Prediction(
                source, None, {}, 0, duration, "error", error, [] if windows else None, start=start, end=end
            )
        if len(logits) == 0:
            return Prediction(
                source,
                None,
                {},
                0,
                duration,
                "too_short",
                note or "no full window",
                [] if windows else None,
                start=start,
                end=end,
            )
        logits = logits.astype(np.float64)
        score = pool(logits, np.zeros(len(logits), dtype=int), 1, self.checkpoint.average)[0]
        per_window = self._windows(logits, duration, segment=segment) if windows else None
        return self._scored(source, duration, score, len(logits), note, per_window, segment)

    def _scored(
        self,
        source: str,
        duration: float,
        score: np.ndarray,
        n_windows: int,
        note: str | None,
        per_window: list[WindowPrediction] | None,
        segment: features.Segment | None = None,
    ) -> Prediction:
        """The Prediction of an utterance whose windows pooled to ``score``."""
        probs = probabilities(score, self.checkpoint.average, self.temperature)
        start, end = segment or (None, None)
        return Prediction(
            source,
            self.labels[int(np.argmax(probs))],
            self._named(probs),
            n_windows,
            duration,
            "padded" if note else "ok",
            note,
            per_window,
            bool(probs.max() < self.min_confidence),
            start,
            end,
        )

    def _named(self, probs: np.ndarray) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, probs)}

    def _windows(
        self, logits: np.ndarray, duration: float, first: int = 0, segment: features.Segment | None = None
    ) -> list[WindowPrediction]:
        cfg = self.features
        hop, length = cfg.window_hop / cfg.sample_rate, cfg.window_length / cfg.sample_rate
        # Times in the recording: a segment's windows are counted from its start.
        offset = segment[0] if segment is not None else 0.0
        out = []
        for k, probs in enumerate(softmax(logits / self.temperature), start=first):
            # A padded utterance's one window ends where the (shorter) utterance does.
            end = min(k * hop + length, duration)
            out.append(
                WindowPrediction(
                    round(offset + k * hop, 6),
                    round(offset + end, 6),
                    self.labels[int(np.argmax(probs))],
                    self._named(probs),
                )
            )
        return out
