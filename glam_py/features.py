"""The feature frontend: librosa-exact MFCCs, overlapping windows and
parallel, streaming featurisation of many files.

Every function here is a thin layer over the Rust extension
``glam_py._mfcc_rs``; the arrays it returns are the buffers Rust filled,
handed to numpy without a copy. The classes are the extension's own:
:class:`FeatureConfig` is the Rust crate's configuration (defaults,
validation and derived sizes live there, once), and :class:`FeatureBatch`,
:class:`FileInfo` and :class:`FileError` are the typed results it returns.

Segments: :func:`featurize`, :func:`iter_featurize` and
:func:`iter_file_windows` read a ``(start, end)`` part of a file, in seconds
(``end`` None: to the end), as if it were a file of its own: the decoder
seeks to it and the samples are those of the decoded file cut at
``round(start * rate)`` and ``round(end * rate)`` (the file's own rate),
then resampled alone. A segment that ends past the end of its file is
that input's error.

Sample rates: a parameter named ``sr`` is always the rate of the signal
it comes with, in Hz, as in librosa. Functions that featurise resample such
a signal to ``config.sample_rate`` first, as a file: from ``sr *
config.speed`` when ``config.speed`` perturbs its speed (rounded to whole
Hz).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from glam_py import _mfcc_rs
from glam_py._mfcc_rs import (
    AudioDecodeError,
    FeatureBatch,
    FeatureConfig,
    FeatureStream,
    FileError,
    FileInfo,
    FileWindows,
)

__all__ = [
    "AudioDecodeError",
    "FeatureBatch",
    "FeatureConfig",
    "FeatureStream",
    "FileError",
    "FileInfo",
    "FileWindows",
    "LONG_FILE_BYTES",
    "PAD_CHOICES",
    "Segment",
    "featurize",
    "featurize_signal",
    "iter_featurize",
    "iter_file_windows",
    "split_long",
    "load",
    "mel_filterbank",
    "mfcc",
    "resample",
]


#: ``(start, end)`` seconds of a recording; ``end`` None: to its end.
Segment = tuple[float, float | None]

#: The values of ``FeatureConfig.pad``, from the crate's field table.
PAD_CHOICES: tuple[str, ...] = tuple(next(f["choices"] for f in FeatureConfig.fields() if f["name"] == "pad"))


def _float32(y: np.ndarray) -> np.ndarray:
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape [n_samples], got shape {y.shape}")
    return y


def _paths(paths: Sequence[str | os.PathLike] | str | os.PathLike) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def _segment(segment: Segment) -> tuple[float, float | None]:
    start, end = segment
    return float(start), None if end is None else float(end)


def _segments(segments: Sequence[Segment | None] | None) -> list[tuple[float, float | None] | None] | None:
    if segments is None:
        return None
    return [None if s is None else _segment(s) for s in segments]


def load(path: str | os.PathLike, sr: int | None = 16000) -> np.ndarray:
    """Decode an audio file to float32 mono, as ``librosa.load(path, sr=sr)``.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file (WAV, FLAC, AIFF, Ogg Vorbis, MP3).
    sr : int or None, default 16000
        Rate in Hz to resample to; None keeps the file's own rate.

    Returns
    -------
    numpy.ndarray
        ``[n_samples]`` float32, every sample finite; multi-channel audio is
        averaged to mono.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError, OSError
        The file cannot be read; the message names it.
    AudioDecodeError
        The file is not usable audio (a ValueError): not audio, truncated,
        NaN, infinite or out-of-range samples...; the message names it.
    """
    samples, _ = _mfcc_rs.load(os.fspath(path), sr)
    return samples


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a signal with the resampler :func:`load` uses.

    Parameters
    ----------
    y : numpy.ndarray
        ``[n_samples]`` mono signal (converted to float32).
    orig_sr : int
        Rate of ``y`` in Hz.
    target_sr : int
        Rate of the result in Hz.

    Returns
    -------
    numpy.ndarray
        ``[ceil(n_samples * target_sr / orig_sr)]`` float32, as in librosa.

    Raises
    ------
    ValueError
        ``y`` is not one-dimensional, or a rate is zero.
    """
    return _mfcc_rs.resample(_float32(y), int(orig_sr), int(target_sr))


def mfcc(y: np.ndarray, sr: int | None = None, config: FeatureConfig | None = None) -> np.ndarray:
    """The feature matrix of a whole signal, as ``librosa.feature.mfcc``.

    Window settings (``window_s``, ``overlap_s``, ``pad``) are ignored: the
    whole signal is one matrix.

    Parameters
    ----------
    y : numpy.ndarray
        ``[n_samples]`` mono signal (converted to float32).
    sr : int or None, default None
        Rate of ``y`` in Hz; resampled to ``config.sample_rate`` when it
        differs. None: ``y`` is already at ``config.sample_rate``. With
        ``config.speed`` other than 1, ``y`` is resampled as if its rate
        were ``sr * config.speed``.
    config : FeatureConfig or None, default None
        The feature settings; None: ``FeatureConfig()``.

    Returns
    -------
    numpy.ndarray
        ``[config.n_features, 1 + n // config.hop_length]`` float32, where
        ``n`` is the length of ``y`` at the configured rate.

    Raises
    ------
    ValueError
        ``y`` is not one-dimensional, is empty, or holds NaN or infinite
        samples; or ``config.augment`` is set (augmentation draws its
        chains from a file's path: featurise files).
    """
    return _mfcc_rs.mfcc(_float32(y), sr, config)


def mel_filterbank(config: FeatureConfig | None = None) -> np.ndarray:
    """The mel filterbank of a configuration, as ``librosa.filters.mel``.

    Parameters
    ----------
    config : FeatureConfig or None, default None
        Uses ``sample_rate``, ``n_fft``, ``n_mels``, ``fmin``, ``fmax``,
        ``mel_scale`` and ``mel_norm``; None: ``FeatureConfig()``.

    Returns
    -------
    numpy.ndarray
        ``[n_mels, 1 + n_fft // 2]`` float32.
    """
    return _mfcc_rs.mel_filterbank(config)


def featurize_signal(
    y: np.ndarray, sr: int | None = None, config: FeatureConfig | None = None
) -> tuple[np.ndarray, str | None]:
    """Every window of one in-memory utterance.

    Parameters
    ----------
    y : numpy.ndarray
        ``[n_samples]`` mono signal (converted to float32).
    sr : int or None, default None
        Rate of ``y`` in Hz; resampled to ``config.sample_rate`` first when it
        differs. None: ``y`` is already at ``config.sample_rate``. With
        ``config.speed`` other than 1, ``y`` is resampled as if its rate
        were ``sr * config.speed``.
    config : FeatureConfig or None, default None
        The feature and window settings; None: ``FeatureConfig()``.

    Returns
    -------
    windows : numpy.ndarray
        ``[n_windows, n_features, n_frames]`` float32; window ``k`` is the
        feature matrix of samples ``k * window_hop`` to
        ``k * window_hop + window_length``.
    note : str or None
        Why an utterance shorter than one window was dropped, tiled,
        zero-padded or repeated (``config.pad``); None otherwise.

    Raises
    ------
    ValueError
        ``y`` is not one-dimensional, is empty, or holds NaN or infinite
        samples; or ``config.augment`` is set (augmentation draws its
        chains from a file's path: featurise files).
    """
    return _mfcc_rs.featurize_signal(_float32(y), sr, config)


def featurize(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    config: FeatureConfig | None = None,
    threads: int | None = None,
    segments: Sequence[Segment | None] | None = None,
    data: Sequence[bytes | None] | None = None,
) -> FeatureBatch:
    """Decode, resample, window and featurise files in parallel.

    The work runs with the GIL released; Ctrl-C (KeyboardInterrupt) stops it
    within about one file's time. A file that cannot be featurised becomes
    an entry of ``errors`` naming the file and the problem; every other file
    is still featurised.

    Parameters
    ----------
    paths : sequence of str or os.PathLike, or one path
        The audio files.
    config : FeatureConfig or None, default None
        The feature and window settings; None: ``FeatureConfig()``.
    threads : int or None, default None
        Worker threads; None: all cores. Pools are started once per count
        and reused.
    segments : sequence of (float, float or None) or None, or None, default None
        Per path, the ``(start, end)`` seconds to read (``end`` None: to
        the end of the file), or None for the whole file; None: every file
        whole. Segments of one file are featurised in parallel like files,
        each seeking to its start.
    data : sequence of bytes or None, optional
        One entry per path: the file's contents when they are already in
        memory (a dataset's audio), decoded from there with the path only
        naming it (in :class:`FileInfo` and errors); None reads the file.
        Default: every file is read.

    Returns
    -------
    FeatureBatch
        The windows of every file, with one :class:`FileInfo` per path.

    Raises
    ------
    ValueError
        ``threads`` is 0, ``segments`` or ``data`` has not one entry per
        path, or a segment is not ``0 <= start < end`` (its position named).
    KeyboardInterrupt
        Ctrl-C during the work.
    """
    return _mfcc_rs.featurize(
        _paths(paths), config, threads, _segments(segments), None if data is None else list(data)
    )


def iter_featurize(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    config: FeatureConfig | None = None,
    threads: int | None = None,
    files_per_chunk: int = 256,
    segments: Sequence[Segment | None] | None = None,
) -> FeatureStream:
    """The streaming form of :func:`featurize`, one batch per chunk of files.

    Memory stays bounded by the chunk however large the corpus. The
    ``file_index`` and ``first_file`` of each batch count from the first
    path, so batches concatenate without renumbering.

    Parameters
    ----------
    paths : sequence of str or os.PathLike, or one path
        The audio files.
    config : FeatureConfig or None, default None
        The feature and window settings; None: ``FeatureConfig()``.
    threads : int or None, default None
        Worker threads; None: all cores.
    files_per_chunk : int, default 256
        Files per batch.
    segments : sequence of (float, float or None) or None, or None, default None
        Per path, the part to read, as for :func:`featurize`.

    Returns
    -------
    FeatureStream
        An iterator of :class:`FeatureBatch`; ``len()`` is the number of
        paths. Each step featurises one chunk, interruptible with Ctrl-C.

    Raises
    ------
    ValueError
        ``threads`` or ``files_per_chunk`` is 0, or ``segments`` is not
        one valid segment (or None) per path.
    """
    return _mfcc_rs.FeatureStream(_paths(paths), config, threads, files_per_chunk, _segments(segments))


#: Files larger than this (32 MiB: 17 min of 16 kHz 16-bit mono, 3 min of
#: 44.1 kHz stereo) are featurised alone, a chunk of windows at a time
#: (:func:`iter_file_windows`), so that a long recording never has all its
#: windows in memory; smaller ones go in parallel batches. Either way the
#: windows are the same, bit for bit.
LONG_FILE_BYTES = 32 << 20


def iter_file_windows(
    path: str | os.PathLike,
    config: FeatureConfig | None = None,
    threads: int | None = None,
    windows_per_chunk: int = 1024,
    segment: Segment | None = None,
) -> FileWindows:
    """The windows of one file, a chunk at a time, in memory bounded by the
    chunk however long the recording.

    The file is decoded packet by packet, resampled block by block and cut
    into windows as it is read; a window that spans two chunks of audio is
    built once both are there. The chunks joined equal the file's windows
    from :func:`featurize` bit for bit.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    config : FeatureConfig or None, default None
        The feature and window settings; None: ``FeatureConfig()``.
    threads : int or None, default None
        Worker threads for each chunk; None: all cores.
    windows_per_chunk : int, default 1024
        Windows per chunk (fewer only in the last).
    segment : (float, float or None) or None, default None
        The ``(start, end)`` seconds to read (``end`` None: to the end of
        the file); None: the whole file.

    Returns
    -------
    FileWindows
        An iterator of ``[n, n_features, n_frames]`` float32 arrays; once
        it is exhausted, ``info`` is the file's :class:`FileInfo`. A file
        that cannot be read ends the iteration with ``info.error`` set;
        chunks yielded before (a truncated end is found last) are then not
        to be used.

    Raises
    ------
    ValueError
        ``threads`` or ``windows_per_chunk`` is 0, or ``segment`` is not
        ``0 <= start < end``.
    """
    return _mfcc_rs.FileWindows(
        os.fspath(path), config, threads, windows_per_chunk, None if segment is None else _segment(segment)
    )


def split_long(
    paths: Sequence[str | os.PathLike],
    files_per_chunk: int,
    long_file_bytes: int | None = None,
    segments: Sequence[Segment | None] | None = None,
) -> list[tuple[bool, range]]:
    """The positions of consecutive inputs in runs, in order: ``(False,
    range)`` for up to ``files_per_chunk`` short inputs (featurised
    together), ``(True, range(i, i + 1))`` for each long one (featurised
    alone, :func:`iter_file_windows`).

    A file is long when it is larger than ``long_file_bytes`` (default
    :data:`LONG_FILE_BYTES`); a file that cannot be examined counts as
    short, so the batch reports its error. A segment with an end (of
    ``segments``, one per path or None) is long when it lasts longer than
    ``long_file_bytes`` of 16 kHz 16-bit mono audio would (17 minutes by
    default), however long its file; one without an end is long when its
    file is.
    """
    if long_file_bytes is None:
        long_file_bytes = LONG_FILE_BYTES
    runs: list[tuple[bool, range]] = []
    for i, path in enumerate(map(os.fspath, paths)):
        segment = segments[i] if segments is not None else None
        if segment is not None and segment[1] is not None:
            long = (segment[1] - segment[0]) * _BYTES_PER_SECOND > long_file_bytes
        else:
            try:
                long = os.stat(path).st_size > long_file_bytes
            except OSError:
                long = False
        if long:
            runs.append((True, range(i, i + 1)))
        elif runs and not runs[-1][0] and len(runs[-1][1]) < files_per_chunk:
            runs[-1] = (False, range(runs[-1][1].start, i + 1))
        else:
            runs.append((False, range(i, i + 1)))
    return runs


#: Bytes of a second of 16 kHz 16-bit mono audio, to weigh a segment
#: against :data:`LONG_FILE_BYTES`.
_BYTES_PER_SECOND = 16000 * 2
