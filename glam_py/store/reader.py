"""Reading a feature store: the index, and every utterance's windows as a
view into memory-mapped shards (nothing is copied until used)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from glam_py.atomic import DamagedFile
from glam_py.features import FeatureConfig
from glam_py.store import layout
from glam_py.store.format import StoreMismatch, describe_differences, expected_shards, read_settings


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


def utterance_key(row: dict) -> tuple[str, str, str]:
    """What names an utterance of an index row in every store of its
    corpus: its file and the segment of it (empty for a whole file, and in
    stores written before segments, whose index has no such columns)."""
    return row["path"], row.get("start", ""), row.get("end", "")


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
            written (truncated or altered), naming the file; checksums are
            compared by :func:`verify_store` (``featurize --verify``).
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
        self.index = layout.read_csv(self.root / layout.INDEX)
        for row in self.index:
            for key in ("shard", "first_window", "n_windows"):
                row[key] = int(row[key])
        self.skipped = layout.read_csv(self.root / layout.SKIPPED)
        present = {row["label"] for row in self.index}
        # The order of a model's outputs: the classes recorded when writing
        # (the label map's order), less any whose every file was skipped.
        self.labels = [c for c in settings["labels"] if c in present]
        self._shards: dict[int, np.ndarray] = {}

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
        return sum(row["n_windows"] for row in self.index)

    def shard(self, k: int) -> np.ndarray:
        if k not in self._shards:
            self._shards[k] = np.load(layout.shard_array(self.root, k), mmap_mode="r")
        return self._shards[k]

    def windows(self, i: int) -> np.ndarray:
        """``[n_windows, n_features, n_frames]`` of utterance ``i``, a view
        into its memory-mapped shard."""
        row = self.index[i]
        return self.shard(row["shard"])[row["first_window"] : row["first_window"] + row["n_windows"]]


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
