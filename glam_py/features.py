"""The feature frontend: librosa-exact MFCCs, overlapping windows and
parallel, streaming featurisation of many files.

Every function here is a thin layer over the Rust extension
``glam_py._mfcc_rs``; the arrays it returns are the buffers Rust filled,
handed to numpy without a copy.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from glam_py import _mfcc_rs
from glam_py.settings import Settings
from glam_py._mfcc_rs import AudioDecodeError

__all__ = [
    "AudioDecodeError",
    "FeatureBatch",
    "FeatureConfig",
    "FileError",
    "FileInfo",
    "featurize",
    "featurize_signal",
    "iter_featurize",
    "load",
    "mel_filterbank",
    "mfcc",
    "resample",
]

PAD_CHOICES = ("drop", "tile", "zero", "repeat")


@dataclass(frozen=True)
class FeatureConfig(Settings):
    """Every setting of the frontend. The defaults are the GLAM paper's test
    setting with librosa 0.10+ MFCC defaults: 16 kHz, 26 MFCCs from 128
    Slaney mel bands, n_fft 2048, hop 512, 2 s windows overlapping by 1.6 s,
    utterances shorter than a window dropped."""

    sample_rate: int = 16000
    n_mfcc: int = 26
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512
    fmin: float = 0.0
    fmax: float | None = None
    mel_scale: str = "slaney"  # "slaney" or "htk"
    mel_norm: str = "slaney"  # "slaney" or "none"
    top_db: float | None = 80.0
    pad_mode: str = "constant"  # centre padding: "constant" (librosa >= 0.10) or "reflect"
    window_s: float = 2.0
    overlap_s: float = 1.6
    # Utterances shorter than a window: "drop"; "tile" or "zero" to exactly one
    # window; "repeat" whole copies until a window is covered, then cut
    # windows from that at the usual hop (the GLAM authors' padding).
    pad: str = "drop"
    output: str = "mfcc"  # "mfcc" or "log_mel"

    @staticmethod
    def fields() -> list[dict]:
        """Every setting in declaration order, described for command lines
        and documentation: ``{"name", "type" ("int", "float" or "str"),
        "optional" (None accepted), "default", "choices" (list or None),
        "help"}``."""
        defaults = FeatureConfig.__dataclass_fields__
        return [dict(name=name, type=kind, optional=optional, default=defaults[name].default,
                     choices=list(choices) if choices else None, help=text)
                for name, kind, optional, choices, text in _FIELDS]

    def __post_init__(self) -> None:
        # The Rust core owns validation, so Python and Rust cannot disagree
        # about which settings work.
        _mfcc_rs.normalize_config(self.to_json())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FeatureConfig":
        return cls.from_dict(json.loads(text))

    def differences(self, other: "FeatureConfig") -> dict[str, tuple]:
        """Fields whose values differ, as ``{name: (self's, other's)}``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}

    @property
    def window_length(self) -> int:
        """Window length in samples."""
        return round(self.window_s * self.sample_rate)

    @property
    def window_hop(self) -> int:
        """Samples between consecutive window starts."""
        return round((self.window_s - self.overlap_s) * self.sample_rate)

    @property
    def n_frames(self) -> int:
        """Frames of one window (63 for the paper's 2 s windows)."""
        return 1 + self.window_length // self.hop_length

    @property
    def n_features(self) -> int:
        """Rows of one window's matrix: MFCCs, or mel bands for log-mel output."""
        return self.n_mfcc if self.output == "mfcc" else self.n_mels


# TEMPORARY: the Rust FeatureConfig describes its own fields; this table
# stands in for it until that lands.
_FIELDS = (
    ("sample_rate", "int", False, None, "sample rate in Hz the audio is resampled to"),
    ("n_mfcc", "int", False, None, "MFCCs per frame"),
    ("n_mels", "int", False, None, "mel bands"),
    ("n_fft", "int", False, None, "FFT length in samples"),
    ("hop_length", "int", False, None, "samples between frames"),
    ("fmin", "float", False, None, "lowest mel band edge in Hz"),
    ("fmax", "float", True, None, "highest mel band edge in Hz; none: half the sample rate"),
    ("mel_scale", "str", False, ("slaney", "htk"), "mel scale formula"),
    ("mel_norm", "str", False, ("slaney", "none"),
     "mel filter normalisation: slaney (equal area) or none"),
    ("top_db", "float", True, None,
     "floor of the log-mel power in dB below its peak; none: no floor"),
    ("pad_mode", "str", False, ("constant", "reflect"),
     "STFT centre padding: constant (zeros, librosa >= 0.10) or reflect (older librosa, "
     "the GLAM authors' era)"),
    ("window_s", "float", False, None, "window length in seconds"),
    ("overlap_s", "float", False, None, "overlap of consecutive windows in seconds"),
    ("pad", "str", False, PAD_CHOICES,
     "utterances shorter than one window: drop them, tile the waveform until it fills one "
     "window, zero-pad to one window, or repeat whole copies until a window is covered and cut "
     "windows from that at the usual hop (the GLAM authors' padding; can give more than one "
     "window)"),
    ("output", "str", False, ("mfcc", "log_mel"),
     "what each window holds: MFCCs, or the log-mel spectrogram they are computed from"),
)


class FileInfo(NamedTuple):
    """What one input file gave. ``error`` is set (and the rest empty) when
    the file could not be featurised."""

    path: str
    duration_s: float
    sample_rate: int
    n_windows: int
    note: str | None = None
    error: str | None = None


class FileError(NamedTuple):
    path: str
    message: str
    kind: str  # "io" (unreadable) or "decode" (not usable audio)


@dataclass
class FeatureBatch:
    """Windows of many files. ``windows[i]`` came from
    ``files[file_index[i]]``; ``file_index`` counts from the first file of
    the whole call, also in the batches of :func:`iter_featurize`."""

    windows: np.ndarray  # [n_windows, n_features, n_frames] float32
    file_index: np.ndarray  # [n_windows] int64
    files: list[FileInfo]
    errors: list[FileError]
    first_file: int = 0

    def __len__(self) -> int:
        return len(self.file_index)


def _config(config: FeatureConfig | None, sample_rate: int | None = None) -> FeatureConfig:
    config = _default_config() if config is None else config
    if sample_rate is not None and sample_rate != config.sample_rate:
        config = config.replace(sample_rate=int(sample_rate))
    return config


@functools.lru_cache(maxsize=1)
def _default_config() -> FeatureConfig:
    return FeatureConfig()


@functools.lru_cache(maxsize=64)
def _json(config: FeatureConfig) -> str:
    # Window-by-window callers pass the same config thousands of times; the
    # Rust side caches its pipeline under this exact text.
    return config.to_json()


def _float32(y: np.ndarray) -> np.ndarray:
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape [n_samples], got shape {y.shape}")
    return y


def load(path: str | os.PathLike, sr: int | None = 16000) -> np.ndarray:
    """Decodes an audio file to float32 mono at ``sr`` (the file's own rate
    when ``sr`` is None), as ``librosa.load(path, sr=sr)`` does.

    Raises FileNotFoundError / IsADirectoryError / OSError for files that
    cannot be read and :class:`AudioDecodeError` (a ValueError) for files that
    are not usable audio; the message names the file."""
    samples, _ = _mfcc_rs.load(os.fspath(path), sr)
    return samples


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resamples with the resampler :func:`load` uses; the output has
    ``ceil(len(y) * target_sr / orig_sr)`` samples, as in librosa."""
    return _mfcc_rs.resample(_float32(y), int(orig_sr), int(target_sr))


def mfcc(y: np.ndarray, sr: int = 16000, config: FeatureConfig | None = None) -> np.ndarray:
    """``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=...)`` of a whole signal:
    ``[n_features, 1 + len(y) // hop_length]`` float32. ``sr`` is the rate of
    ``y`` and sets the mel filterbank, as in librosa; window settings are
    ignored."""
    return _mfcc_rs.mfcc(_float32(y), _json(_config(config, sr)))


def mel_filterbank(config: FeatureConfig | None = None) -> np.ndarray:
    """``librosa.filters.mel`` for the configuration: ``[n_mels, 1 + n_fft // 2]``."""
    return _mfcc_rs.mel_filterbank(_json(_config(config)))


def featurize_signal(
    y: np.ndarray, sr: int = 16000, config: FeatureConfig | None = None
) -> tuple[np.ndarray, str | None]:
    """Every window of one in-memory utterance, resampled from ``sr`` to the
    configured rate first. Returns ``(windows, note)``: windows is
    ``[n_windows, n_features, n_frames]``, note says why a short utterance
    was dropped, tiled or zero-padded (None otherwise)."""
    cfg = _config(config)
    y = _float32(y)
    if sr != cfg.sample_rate:
        y = resample(y, sr, cfg.sample_rate)
    return _mfcc_rs.featurize_signal(y, _json(cfg))


def _batch(raw: dict, paths: Sequence[str]) -> FeatureBatch:
    first = raw["first_file"]
    errors = {i: (kind, message) for i, kind, message in raw["errors"]}
    files = []
    for offset, info in enumerate(raw["files"]):
        path = paths[first + offset]
        if info is None:
            kind, message = errors[first + offset]
            files.append(FileInfo(path, 0.0, 0, 0, None, message))
        else:
            duration, rate, n_windows, note = info
            files.append(FileInfo(path, duration, rate, n_windows, note))
    return FeatureBatch(
        windows=raw["windows"],
        file_index=raw["file_index"],
        files=files,
        errors=[FileError(paths[i], message, kind) for i, kind, message in raw["errors"]],
        first_file=first,
    )


def _paths(paths: Sequence[str | os.PathLike] | str | os.PathLike) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def featurize(
    paths: Sequence[str | os.PathLike],
    config: FeatureConfig | None = None,
    threads: int | None = None,
) -> FeatureBatch:
    """Decodes, resamples, windows and featurises every file on ``threads``
    threads (all cores when None) with the GIL released. A file that cannot
    be featurised becomes an entry of ``errors`` naming the file and the
    problem; every other file is still featurised."""
    paths = _paths(paths)
    return _batch(_mfcc_rs.featurize(paths, _json(_config(config)), threads), paths)


def iter_featurize(
    paths: Sequence[str | os.PathLike],
    config: FeatureConfig | None = None,
    threads: int | None = None,
    files_per_chunk: int = 256,
) -> Iterator[FeatureBatch]:
    """The streaming form of :func:`featurize`: yields one
    :class:`FeatureBatch` per ``files_per_chunk`` files, so memory stays
    bounded by the chunk however large the corpus."""
    paths = _paths(paths)
    stream = _mfcc_rs.FeatureStream(paths, _json(_config(config)), threads, files_per_chunk)
    for raw in stream:
        yield _batch(raw, paths)
