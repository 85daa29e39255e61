"""Reading a feature store: the index, and every utterance's windows as a
reference into its shard, read from the file when indexed.

The shards are read with positioned reads (``pread``), not memory maps. A
mapped page that has been read counts in the process's resident memory
until the map is closed, so an epoch over a memory-mapped store grew the
trainer's RSS by the store's size (2.5 GB in 25 minutes of a 100-hour
epoch, docs/benchmarks.md); read pages stay in the kernel's page cache,
shared and given back under pressure, without counting in the process."""

from __future__ import annotations

import csv
import os
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from glam_py.atomic import DamagedFile
from glam_py.features import FeatureConfig
from glam_py.store import layout
from glam_py.store.format import StoreMismatch, describe_differences, expected_shards, read_settings
from glam_py.store.index import StoreIndex

# Shard files kept open at once by one store: an epoch reads every shard,
# and a store of 1,000 shards open together would pass a soft limit of
# 1,024 open files; reopening one costs microseconds against a batch's
# milliseconds of training.
MAX_OPEN_SHARDS = 64


def _cause(reason: str) -> str:
    # The reasons the store writer and the corpus readers record (skipped.csv).
    if reason.startswith("too short"):
        return "short"
    if reason.startswith("unreadable"):
        return "unreadable"
    return "label map" if "not in the label map" in reason else "reader"


def _left_out_line(root: Path, reasons: Iterable[str], kept: int, pad: str) -> str | None:
    why = Counter(_cause(reason) for reason in reasons)
    n_skipped = sum(why.values())
    if not n_skipped:
        return None
    parts = [f"{why['short']} shorter than a window with pad={pad}", f"{why['unreadable']} unreadable"]
    if why["label map"]:
        parts.append(f"{why['label map']} not in the label map")
    if why["reader"]:
        parts.append(f"{why['reader']} left out by the corpus reader (name or missing audio)")
    total = kept + n_skipped
    return (
        f"left out: {n_skipped} of {total} utterance{'s' if total != 1 else ''} "
        f"({'; '.join(parts)}) — see {root / layout.SKIPPED}"
    )


def left_out_summary(root: str | Path) -> str | None:
    """:meth:`FeatureStore.skipped_summary` of the complete store at
    ``root``, its files read a line at a time rather than into memory (for
    ``featurize``, whose memory must stay flat in the corpus's size)."""
    root = Path(root)
    pad = read_settings(root)["features"]["pad"]
    with (root / layout.INDEX).open(encoding="utf-8") as f:
        kept = sum(1 for _ in f) - 1
    with (root / layout.SKIPPED).open(newline="", encoding="utf-8") as f:
        return _left_out_line(root, (row["reason"] for row in csv.DictReader(f)), kept, pad)


class _ShardFiles:
    """The shard arrays of one store, opened for positioned reads on first
    use, at most :data:`MAX_OPEN_SHARDS` at a time (the least recently
    read closed first); safe to call from several threads."""

    def __init__(self, root: Path, window_shape: tuple[int, int]):
        self.root, self.window_shape = root, window_shape
        self.window_bytes = 4 * window_shape[0] * window_shape[1]
        self._open: OrderedDict[int, tuple[int, int, int]] = OrderedDict()  # k: fd, data offset, windows
        self._lock = threading.Lock()

    def _file(self, k: int) -> tuple[int, int, int]:
        if k in self._open:
            self._open.move_to_end(k)
            return self._open[k]
        path = layout.shard_array(self.root, k)
        with path.open("rb") as f:
            np.lib.format.read_magic(f)
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            offset = f.tell()
        if fortran or dtype != np.dtype("<f4") or tuple(shape[1:]) != self.window_shape:
            raise DamagedFile(path, f"{path}: not {self.window_shape} float32 windows; featurise again")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._open[k] = (fd, offset, shape[0])
        if len(self._open) > MAX_OPEN_SHARDS:
            os.close(self._open.popitem(last=False)[1][0])
        return self._open[k]

    def read(self, k: int, first: int, n: int) -> np.ndarray:
        """Windows ``first`` to ``first + n`` of shard ``k``, a new
        read-only ``[n, n_features, n_frames]`` float32 array.

        Raises
        ------
        DamagedFile
            The shard holds fewer windows than asked for.
        """
        with self._lock:
            fd, offset, count = self._file(k)
            data = os.pread(fd, n * self.window_bytes, offset + first * self.window_bytes)
        if first + n > count or len(data) != n * self.window_bytes:
            path = layout.shard_array(self.root, k)
            raise DamagedFile(path, f"{path}: windows {first} to {first + n} asked for, {count} held")
        return np.frombuffer(data, dtype="<f4").reshape(n, *self.window_shape)

    def close(self) -> None:
        with self._lock:
            while self._open:
                os.close(self._open.popitem()[1][0])


class StoredWindows:
    """One utterance's windows in its store, used as a read-only
    ``[n_windows, n_features, n_frames]`` float32 array: ``shape``,
    ``len``, indexing by position, slice or array of positions, and
    ``numpy.asarray``. Each use reads what it asks for from the shard
    file; nothing is kept in memory."""

    __slots__ = ("_files", "_shard", "_first", "shape")
    dtype = np.dtype(np.float32)

    def __init__(self, files: _ShardFiles, shard: int, first: int, n: int):
        self._files, self._shard, self._first = files, shard, first
        self.shape = (n, *files.window_shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        n = self.shape[0]
        if isinstance(index, (int, np.integer)):
            if not -n <= index < n:
                raise IndexError(f"window {index} of {n}")
            return self._files.read(self._shard, self._first + int(index) % n, 1)[0]
        if isinstance(index, slice):
            begin, stop, step = index.indices(n)
            if step == 1:
                return self._files.read(self._shard, self._first + begin, max(0, stop - begin))
        return np.asarray(self)[index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._files.read(self._shard, self._first, self.shape[0])
        return out if dtype is None else out.astype(dtype, copy=False)


class FeatureStore:
    def __init__(self, root: str | Path, expected: FeatureConfig | None = None):
        """Opens a complete store.

        Parameters
        ----------
        root : str or Path
            The store folder (``python -m glam_py.featurize --out``).
        expected : FeatureConfig, optional
            When given, a store featurised with other settings is refused.

        Raises
        ------
        FileNotFoundError
            When ``root`` holds no ``features.json``.
        UnsupportedFormat
            When the store was written in another format version.
        StoreMismatch
            When its settings differ from ``expected`` (the differences named).
        ValueError
            When the store is incomplete (shards still missing).
        DamagedFile
            When a shard's file has another size than recorded when it was
            written (truncated or altered), or ``index.csv`` a malformed
            row, naming the file; checksums are compared by
            :func:`verify_store` (``featurize --verify``).
        """
        self.root = Path(root)
        settings = read_settings(self.root)
        self.config = FeatureConfig.from_dict(settings["features"])
        if expected is not None and expected != self.config:
            raise StoreMismatch(
                f"{self.root} was featurised with other settings than asked for "
                f"({describe_differences(expected.differences(self.config))})"
            )
        if not (self.root / layout.INDEX).is_file():
            n = expected_shards(settings)
            done = sum(layout.shard_complete(self.root, k) for k in range(n))
            raise ValueError(
                f"{self.root} is incomplete ({done} of {n} shards); run "
                f"python -m glam_py.featurize again with the same arguments to finish it"
            )
        for k in range(expected_shards(settings)):
            for problem in layout.shard_damage(self.root, k):
                raise DamagedFile(
                    problem.path,
                    f"{problem}; run python -m glam_py.featurize again with "
                    f"the same arguments to write it again",
                )
        self.index = StoreIndex.read(self.root / layout.INDEX)
        self.skipped = layout.read_csv(self.root / layout.SKIPPED)
        present = set(self.index.column("label").tolist())
        # The order of a model's outputs: the classes recorded when writing
        # (the label map's order), less any whose every file was skipped.
        self.labels = [c for c in settings["labels"] if c in present]
        self._files = _ShardFiles(self.root, (self.config.n_features, self.config.n_frames))
        weakref.finalize(self, self._files.close)

    def __len__(self) -> int:
        return len(self.index)

    def skipped_summary(self) -> str | None:
        """How many files of the corpus the store left out, and why, in one
        line naming ``skipped.csv`` (which lists each); None when none was.

        The reasons are counted apart: shorter than a window (under the
        store's ``pad``), unreadable, not in the label map, and left out by
        the corpus reader (a name outside its convention, missing audio).
        """
        return _left_out_line(
            self.root, (row["reason"] for row in self.skipped), len(self.index), self.config.pad
        )

    @property
    def n_windows(self) -> int:
        return int(self.index.column("n_windows").sum())

    def windows(self, i: int) -> StoredWindows:
        """The ``[n_windows, n_features, n_frames]`` windows of utterance
        ``i``, read from its shard when used (:class:`StoredWindows`)."""
        column = self.index.column
        return StoredWindows(
            self._files, int(column("shard")[i]), int(column("first_window")[i]), int(column("n_windows")[i])
        )


def verify_store(root: str | Path) -> list[DamagedFile]:
    """Every damaged file of the store at ``root``: each shard's files
    compared in size and SHA-256 with the record written with them (reads
    the whole store).

    Parameters
    ----------
    root : str or Path
        The store folder.

    Returns
    -------
    list of DamagedFile
        One per damaged or missing file (a shard not written yet counts as
        missing), each message naming the file; empty when all are intact.

    Raises
    ------
    FileNotFoundError, UnsupportedFormat
        As :func:`glam_py.store.format.read_settings`.
    """
    root = Path(root)
    found = []
    for k in range(expected_shards(read_settings(root))):
        check = layout.shard_check(root, k)
        if check.is_file():
            found += layout.shard_damage(root, k, full=True)
        else:
            found.append(
                DamagedFile(check, f"{check}: missing (shard {k} not written yet, or its check file lost)")
            )
    return found
