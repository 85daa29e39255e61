"""A feature store's index (``index.csv``) held by column: numpy arrays
for the numbers and one shared string object per distinct label, speaker,
session, path or note. A row as a dict of 14 strings took 1.2 kB; a
100-hour corpus's 120,000 rows took 138 MiB that way, enough to break the
flat memory of training from a store (docs/benchmarks.md, "A 100-hour
corpus"). Held by column a row costs its id's string and 8 bytes a
column."""

from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from glam_py.atomic import DamagedFile
from glam_py.store import layout

_INTEGERS = ("shard", "first_window", "n_windows")
# Seconds: a segment's start and end (NaN for none: a whole file, or no
# end), and the duration. The writer records start and end as Python's
# str(float), which float() reads back exactly, so a row's strings are
# given back unchanged.
_SECONDS = ("start", "end", "duration_s")
# Each value its own string: an id is unique, and sharing is not worth a
# lookup.
_UNIQUE = ("utterance_id",)


def _seconds(text: str) -> float:
    return float(text) if text else math.nan


class StoreIndex(Sequence):
    """The rows of a store's index, each utterance's: where its windows are
    (``shard``, ``first_window``, ``n_windows``) and what it is
    (``utterance_id``, ``path``, ``start``, ``end``, ``label``,
    ``speaker``, ``session``, ``subset``, ``duration_s``, ``sample_rate``,
    ``note``).

    Indexing gives a row as a dict (:meth:`row`); :meth:`column` gives one
    column for every row, which is how code that reads every row should
    read it.

    Parameters
    ----------
    columns : dict of str to ndarray
        Each column, all of one length: int64 for the window columns,
        float64 for the seconds (NaN where empty), object (str) otherwise.
    """

    def __init__(self, columns: dict[str, np.ndarray]):
        self._columns = columns
        self._n = len(next(iter(columns.values())))

    @classmethod
    def read(cls, path: Path) -> StoreIndex:
        """The index in the CSV file ``path``, read a row at a time.

        Stores written before segments existed have no ``start`` and
        ``end`` columns; their rows are whole files.

        Raises
        ------
        DamagedFile
            A row's window columns are not integers, or its seconds not
            numbers (the file and line named).
        """
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            # Numbers go straight into typed arrays: a list of Python ints
            # and floats would leave its freed objects' memory to the
            # process after the conversion.
            values = [
                array("q") if name in _INTEGERS else array("d") if name in _SECONDS else [] for name in header
            ]
            adders = [_adder(name, column) for name, column in zip(header, values)]
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise DamagedFile(path, f"{path}, line {line}: {len(row)} fields, not {len(header)}")
                for value, add in zip(row, adders):
                    try:
                        add(value)
                    except ValueError:
                        raise DamagedFile(path, f"{path}, line {line}: {value!r} is not a number") from None
        columns = {}
        for name, column in zip(header, values):
            columns[name] = np.array(column) if isinstance(column, array) else _objects(column)
        missing = [
            name for name in layout.INDEX_COLUMNS if name not in columns and name not in ("start", "end")
        ]
        if missing:
            raise DamagedFile(path, f"{path}: no column {', '.join(missing)}")
        for name in ("start", "end"):
            columns.setdefault(name, np.full(len(columns["path"]), math.nan))
        return cls(columns)

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> np.ndarray:
        """One column, every row's value (read-only by convention: the
        index's own array)."""
        return self._columns[name]

    def row(self, i: int) -> dict:
        """Row ``i`` as a dict: the window columns as int, ``duration_s``
        as float, and the rest as the strings written (``start`` and
        ``end`` empty for a whole file)."""
        out = {}
        for name, column in self._columns.items():
            value = column[i]
            if name in _INTEGERS:
                value = int(value)
            elif name == "duration_s":
                value = float(value)
            elif name in _SECONDS:
                value = "" if math.isnan(value) else str(float(value))
            out[name] = value
        return out

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.row(k) for k in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(f"row {i} of an index of {self._n}")
        return self.row(i % self._n)

    def __iter__(self) -> Iterator[dict]:
        return (self.row(i) for i in range(self._n))

    def keys(self) -> list[tuple[str, float, float]]:
        """What names each row's utterance in every store of its corpus:
        its file and the segment of it (``-1.0`` for an empty start or
        end). Stores written with other recipes (speeds, augmentations,
        overlaps) hold the same utterances under the same keys, though
        each may have left out others (too short at a speed)."""
        start, end = (np.nan_to_num(self._columns[n], nan=-1.0).tolist() for n in ("start", "end"))
        return list(zip(self._columns["path"].tolist(), start, end))


def _adder(name: str, column: array | list) -> Callable[[str], None]:
    """What appends a column's text value to ``column``: parsed for the
    numbers, the first equal string's object for the shared strings."""
    if name in _INTEGERS:
        return lambda value: column.append(int(value))
    if name in _SECONDS:
        return lambda value: column.append(_seconds(value))
    if name in _UNIQUE:
        return column.append
    seen: dict[str, str] = {}
    return lambda value: column.append(seen.setdefault(value, value))


def _objects(values: Sequence[str]) -> np.ndarray:
    # np.array would make a fixed-width unicode array (4 bytes a character
    # of the longest value), not an array of the strings themselves.
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
