"""The layout of a training run directory (``python -m glam_py.train --out
RUN``), the one place that spells its file names:

- ``config.json``: the run's settings, compared when the same command resumes;
- ``stores.json``: where the training and test feature stores are, and
  each corpus's test store (kept out of config.json because a store may
  move);
- ``results.json``, ``results.md``, ``results.csv``: the table, once every
  split is done;
- ``report/``: figures and report.md (``python -m glam_py.report``);
- ``splits/<key>__<split>.json``: one training's metrics and test utterance ids;
- ``state/<key>__<split>.pt``: its resumable training state;
- ``models/<key>__<split>.pt``: its checkpoint.

``<key>`` is the result key (the model, with ``alpha=`` when the run sweeps
mixup: "glam alpha=0.5") and ``<split>`` the split's name ("seed3",
"speaker_03"), both through :func:`safe_name`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

from glam_py.atomic import write_json, write_text

__all__ = ["RunDir", "Training", "Variant", "natural_key", "safe_name", "trainings", "variants"]


def safe_name(text: str) -> str:
    """``text`` as part of a file name: letters, digits and ``-_=.`` kept,
    anything else (spaces of "glam alpha=0.5", slashes) turned into ``_``.
    Applying it twice changes nothing."""
    return "".join(c if c.isalnum() or c in "-_=." else "_" for c in text)


def natural_key(text: str) -> list:
    """Sort key that orders the digit runs of ``text`` by value: ``seed2``
    before ``seed10``, ``speaker_03`` before ``speaker_8``."""
    # re.split with a group puts the digit runs at the odd positions.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", text))]


class Variant(NamedTuple):
    """One row of a run's results table: its result key, the model and
    the mixup alpha (None: the model's preset)."""

    key: str
    model: str
    alpha: float | None


def variants(models: Sequence[str], alphas: Sequence[float] = ()) -> list[Variant]:
    """The rows a run of ``models``, each with every mixup alpha of
    ``alphas`` (or its preset's when empty), trains, in table order.

    Parameters
    ----------
    models : sequence of str
        Model names, in the order given to the run.
    alphas : sequence of float
        Mixup alphas swept for every model; empty: no sweep.

    Returns
    -------
    list of Variant
        Keys are the model names without a sweep, else "<model> alpha=<a>".
    """
    if not alphas:
        return [Variant(m, m, None) for m in models]
    return [Variant(f"{m} alpha={a:g}", m, a) for m in models for a in alphas]


class Training(NamedTuple):
    """One file of ``splits/``, ``state/`` or ``models/``, with the result
    key and the split read from its name (as :func:`safe_name` wrote them)."""

    key: str
    split: str
    path: Path


def trainings(folder: Path, suffix: str, key: str | None = None, split: str | None = None) -> list[Training]:
    """The ``<key>__<split><suffix>`` files in ``folder``, in natural order
    of their names (see :func:`natural_key`).

    Parameters
    ----------
    folder : Path
        Where to look; a missing folder holds none.
    suffix : str
        ``".json"`` or ``".pt"``.
    key, split : str or None
        Keep only this result key / split (compared after :func:`safe_name`).

    Returns
    -------
    list of Training
    """
    out = []
    for path in sorted(folder.glob(f"*{suffix}"), key=lambda p: natural_key(p.stem)):
        file_key, _, file_split = path.stem.partition("__")
        if (key is None or file_key == safe_name(key)) and (split is None or file_split == safe_name(split)):
            out.append(Training(file_key, file_split, path))
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


class RunMismatch(ValueError):
    """The run directory holds a run with other settings: the user's to
    fix (another ``--out``), not a bug."""


class RunDir:
    """A training run directory: where each of its files lives (see this
    module's docstring), and reading and writing the run-wide ones.

    Parameters
    ----------
    root : str or Path
        The run directory; nothing is created until something is written.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def stores_file(self) -> Path:
        return self.root / "stores.json"

    @property
    def results_file(self) -> Path:
        """results.json; :meth:`write_results` writes .md and .csv beside it."""
        return self.root / "results.json"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def _training(self, folder: str, key: str, split: str, suffix: str) -> Path:
        return self.root / folder / f"{safe_name(key)}__{safe_name(split)}{suffix}"

    def split_file(self, key: str, split: str) -> Path:
        """``splits/<key>__<split>.json``: a finished training's metrics."""
        return self._training("splits", key, split, ".json")

    def state_file(self, key: str, split: str) -> Path:
        """``state/<key>__<split>.pt``: an unfinished training's state."""
        return self._training("state", key, split, ".pt")

    def model_file(self, key: str, split: str) -> Path:
        """``models/<key>__<split>.pt``: a finished training's checkpoint."""
        return self._training("models", key, split, ".pt")

    def read_split(self, key: str, split: str) -> dict:
        """A finished training's ``splits/`` file.

        Raises
        ------
        FileNotFoundError
            The training has not finished.
        ValueError
            The file is not valid JSON.
        """
        return _read_json(self.split_file(key, split))

    def split_results(self, key: str | None = None, split: str | None = None) -> list[Training]:
        """The finished trainings' ``splits/`` files (all, or of one result
        key and/or split), in natural order."""
        return trainings(self.root / "splits", ".json", key, split)

    def checkpoints(self, key: str | None = None, split: str | None = None) -> list[Training]:
        """The ``models/`` files (all, or of one result key and/or split),
        in natural order."""
        return trainings(self.models_dir, ".pt", key, split)

    def read_config(self) -> dict:
        """config.json.

        Raises
        ------
        FileNotFoundError
            The run has not started here.
        ValueError
            The file is not valid JSON.
        """
        return _read_json(self.config_file)

    def record_config(self, resolved: dict, defaults: dict | None = None) -> None:
        """Writes config.json for a new run, or checks that a resumed run
        has the same settings.

        Parameters
        ----------
        resolved : dict
            The run's settings, as JSON-compatible values (a tuple counts
            as the list JSON holds).
        defaults : dict or None, default None
            Default values, nested like ``resolved``, of settings that a
            run begun by an earlier version lacks in its config.json; such
            a run resumes where this one asks for the defaults (a setting
            added since is off by default, so the earlier run trained
            without it).

        Raises
        ------
        RunMismatch
            config.json holds other settings (naming the differing sections).
        """
        # As config.json holds it: a tuple (TrainConfig.speeds, in the run's
        # overrides too) reads back as a list.
        resolved = json.loads(json.dumps(resolved))
        if self.config_file.exists():
            found = _filled(self.read_config(), json.loads(json.dumps(defaults or {})))
            if found != resolved:
                diffs = sorted(k for k in resolved if found.get(k) != resolved[k])
                raise RunMismatch(
                    f"{self.root} holds a run with other settings ({', '.join(diffs)}); "
                    f"use another --out to start a new run"
                )
        else:
            write_json(self.config_file, resolved)

    def variants(self) -> list[Variant]:
        """The rows of the run's table, from config.json (see :func:`variants`).

        Raises
        ------
        FileNotFoundError, ValueError
            As :meth:`read_config`.
        """
        run = self.read_config()["run"]
        return variants(run["models"], run["alphas"])

    def write_stores(self, train: Path, test: Path, test_corpora: Mapping[str, Path] | None = None) -> None:
        """Records where the feature stores are (as absolute paths) in
        stores.json.

        Parameters
        ----------
        train, test : Path
            The training and test stores (of the first corpus, with
            several: they stand for the run's feature settings).
        test_corpora : mapping of str to Path, or None, default None
            Each corpus's test store by its name in the run, recorded
            under ``"test_corpora"`` so that a report maps the test
            utterances of any corpus; None records none.
        """
        stores: dict = {"train": str(Path(train).resolve()), "test": str(Path(test).resolve())}
        if test_corpora is not None:
            stores["test_corpora"] = {name: str(Path(path).resolve()) for name, path in test_corpora.items()}
        write_json(self.stores_file, stores)

    def read_stores(self) -> dict:
        """stores.json: ``{"train": Path, "test": Path}``, with
        ``"test_corpora": {name: Path}`` where the run recorded each
        corpus's test store (runs trained before did not).

        Raises
        ------
        FileNotFoundError
            stores.json is missing (a run that predates it).
        ValueError
            The file is not valid JSON.
        """
        if not self.stores_file.is_file():
            raise FileNotFoundError(f"{self.stores_file} is missing")
        return {
            k: {name: Path(p) for name, p in v.items()} if isinstance(v, dict) else Path(v)
            for k, v in _read_json(self.stores_file).items()
        }

    def write_results(self, results: dict, markdown: str, csv: str) -> None:
        """results.json, results.md and results.csv, each atomically."""
        write_json(self.results_file, results)
        write_text(self.results_file.with_suffix(".md"), markdown)
        write_text(self.results_file.with_suffix(".csv"), csv)

    def read_results(self) -> dict:
        """results.json.

        Raises
        ------
        FileNotFoundError
            The run has not finished.
        ValueError
            The file is not valid JSON.
        """
        return _read_json(self.results_file)


def _filled(found: dict, defaults: dict) -> dict:
    """``found`` with every key of ``defaults`` it lacks taken from there,
    at every level where both hold dicts."""
    out = dict(found)
    for key, default in defaults.items():
        if key not in out:
            out[key] = default
        elif isinstance(out[key], dict) and isinstance(default, dict):
            out[key] = _filled(out[key], default)
    return out
