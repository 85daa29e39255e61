"""Reading a feature store: the index, and every utterance's windows as a
view into memory-mapped shards (nothing is copied until used)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glam_py.features import FeatureConfig
from glam_py.store import layout
from glam_py.store.format import StoreMismatch, describe_differences, expected_shards, read_settings


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
        """
        self.root = Path(root)
        settings = read_settings(self.root)
        self.config = FeatureConfig.from_dict(settings["features"])
        if expected is not None and expected != self.config:
            raise StoreMismatch(f"{self.root} was featurised with other settings than asked for "
                                f"({describe_differences(expected.differences(self.config))})")
        if not (self.root / layout.INDEX).is_file():
            n = expected_shards(settings)
            done = sum(layout.shard_complete(self.root, k) for k in range(n))
            raise ValueError(f"{self.root} is incomplete ({done} of {n} shards); run "
                             f"python -m glam_py.featurize again with the same arguments to finish it")
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
        return self.shard(row["shard"])[row["first_window"]:row["first_window"] + row["n_windows"]]
