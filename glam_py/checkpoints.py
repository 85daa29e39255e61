"""Trained checkpoints for inference: which file of a run directory to use,
and a checked reading of it (format, keys, types, shapes).

Nothing but tensors and plain containers is ever unpickled
(``torch.load(weights_only=True)`` in :func:`load_tensors`, which the
training state goes through too), so a checkpoint from an untrusted source
cannot run code when it is read.

Run directories (``python -m glam_py.train --out RUN``) keep one checkpoint
per trained model and split (:meth:`glam_py.rundir.RunDir.model_file`). The
choice among them, after filtering by ``model`` and ``split`` when given:

- one model left: its first split in natural
  order (``seed1`` before ``seed2`` before ``seed10``; ``speaker_03`` before
  ``speaker_08``), so the same run directory always gives the same model;
- several models left, or none: an error listing every candidate.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from glam_py import models
from glam_py.atomic import check_file, damaged, write_checked
from glam_py.features import FeatureConfig
from glam_py.normalize import NORMALIZATIONS
from glam_py.rundir import RunDir, Training, trainings

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "CheckpointError", "find", "load_tensors", "save_tensors"]

# Written into every checkpoint and required on reading; bumped when the
# checkpoint's keys or their meaning change so that an older glam would
# read a file wrongly. Optional keys that an older glam safely ignores do
# not bump it: "provenance", and "temperature" (ignored, it gives the same
# labels with the uncalibrated probabilities).
CHECKPOINT_FORMAT = "glam-checkpoint-1"
AVERAGES = ("logits", "probabilities")
_KEYS = ("model_name", "n_classes", "input_shape", "labels", "features", "average", "state_dict")


class CheckpointError(ValueError):
    """A checkpoint (or training state) file that cannot be used; the
    message names the file and the problem."""


def tensor_bytes(state: dict) -> io.BytesIO:
    """``state`` (tensors and plain containers) as ``torch.save`` writes it."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer


def save_tensors(path: Path, state: dict | io.BytesIO) -> None:
    """Saves ``state`` (tensors and plain containers, or the bytes
    :func:`tensor_bytes` made of them) through the atomic write, its size
    and SHA-256 recorded in the check file ``PATH.check.json``
    (:func:`glam_py.atomic.write_checked`); for checkpoints and training
    state alike.

    Raises
    ------
    WriteFailed
        The disk is full (or a size limit reached); the message names the file.
    """
    # Serialised first, so a full disk fails in our write, not torch's.
    buffer = state if isinstance(state, io.BytesIO) else tensor_bytes(state)
    write_checked(Path(path), lambda f: f.write(buffer.getbuffer()))


_ADVICE = "predict takes a checkpoint .pt from a run's models/ folder or the run directory"
# The first bytes of an ONNX file: ModelProto's ir_version (field 1, a small
# varint), then one of its next fields (producer_name ... opset_import).
_ONNX_HEAD = re.compile(rb"\x08[\x01-\x20][\x12\x1a\x22\x28\x32\x3a\x42]")


def _not_tensors(path: Path) -> str | None:
    """Why ``path`` is no file of :func:`save_tensors`, told from its bytes
    before torch reads it (torch's own errors for these are tracebacks or
    advice to unpickle with ``weights_only=False``); None when it may be."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return f"{path}: empty file (0 bytes), not a glam checkpoint"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return f"{path} is a TorchScript export (python -m glam_py.export), not a training checkpoint; {_ADVICE}"
        if not any(n.endswith("/data.pkl") for n in names):
            return f"{path}: a zip archive without torch's data.pkl, not a glam checkpoint"
        return None
    if head.startswith(b"PK\x03\x04"):
        return f"{path}: truncated or damaged (a zip archive without its end), not a loadable glam checkpoint"
    if _ONNX_HEAD.match(head):
        return f"{path} is an ONNX export (python -m glam_py.export), not a training checkpoint; {_ADVICE}"
    if re.match(rb"\x80[\x02-\x05]", head):  # pickle protocol 2 to 5
        return (
            f"{path}: a Python pickle (or torch's legacy format), not a glam checkpoint: "
            f"training writes torch zip archives"
        )
    try:
        text = head.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        text = None
    if text is not None:
        kind = "a JSON file" if text[:1] in ("{", "[") else "a text file"
        return f"{path}: {kind}, not a glam checkpoint"
    return f"{path}: not a glam checkpoint (unrecognised content; checkpoints are torch zip archives)"


def _torch_problem(e: Exception) -> str:
    """torch's reason for refusing a file, without its advice to retry with
    ``weights_only=False`` (which would run any code the file holds)."""
    text = str(e)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"holds a Python object ({found.group(1)}) besides tensors and plain containers, "
            f"which could run code when read; refused"
        )
    found = re.search(r"WeightsUnpickler error: \s*(\S[^\n]*)", text)
    if found:
        return f"holds data that is not tensors and plain containers ({found.group(1).strip()}); refused"
    first = text.strip().splitlines()[0] if text.strip() else ""
    if not first or "weights_only" in first:
        return f"damaged ({type(e).__name__})"
    return f"damaged ({type(e).__name__}: {first[:200]})"


def load_tensors(path: Path, remedy: str = "") -> dict:
    """Reads a file of :func:`save_tensors` on the CPU, unpickling nothing
    but tensors and plain containers (``weights_only=True``), after checking
    its size and SHA-256 against its check file (a file without one, from an
    older glam or elsewhere, is read unchecked: a truncated one still fails
    to load).

    Parameters
    ----------
    path : Path
        The file (a checkpoint or a training state).
    remedy : str, default ""
        What the user can do about a damaged file, appended to the message.

    Returns
    -------
    dict
        What was saved.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        In one line naming the file: damaged (size or checksum not as
        recorded), an export (TorchScript or ONNX), an empty, truncated or
        corrupt file, a pickle, JSON or other text, or one that asks to run
        code.
    """
    path = Path(path)
    check = check_file(path)
    if path.exists() and check.exists():
        for problem in damaged(check):
            raise CheckpointError(f"{problem}; {remedy}" if remedy else str(problem)) from problem
    problem = _not_tensors(path)
    if problem is not None:
        raise CheckpointError(problem)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # a corrupt file or one that asks to run code
        raise CheckpointError(f"{path}: not a loadable glam checkpoint: {_torch_problem(e)}") from None


def _contents(state) -> str:
    if not isinstance(state, dict):
        return f"a {type(state).__name__}"
    keys = sorted(map(str, state))
    return f"a dict of {', '.join(keys[:6])}{', ...' if len(keys) > 6 else ''}" if keys else "an empty dict"


def _require(path: Path, ok: bool, problem: str) -> None:
    if not ok:
        raise CheckpointError(f"{path}: {problem}")


@dataclass(frozen=True)
class Checkpoint:
    """A trained model and everything needed to rebuild it and featurise
    audio exactly as its test split was.

    Training writes one per model and split (``RUN/models/<model>__<split>.pt``);
    :meth:`load` reads one back, checked.

    Parameters
    ----------
    model_name : str
        A name of :func:`glam_py.models.names`.
    n_classes : int
        Number of classes, ``len(labels)``.
    input_shape : tuple of int
        ``(n_features, n_frames)`` of one window, as ``features`` gives
        (coefficients, frames; (26, 63) for 2 s windows at the defaults).
    labels : tuple of str
        Class names, in the order of the model's outputs.
    features : FeatureConfig
        The feature settings of the test split.
    average : str
        The utterance score: mean of the windows' "logits" or of their
        "probabilities" (see :func:`glam_py.pooling.pool`).
    state_dict : dict of str to Tensor
        The model's weights; float32 in memory whatever the file stored
        them in (see :meth:`save`).
    path : Path or None, default None
        The file it was loaded from; None for one not read from a file.
    provenance : dict or None, default None
        Where the model comes from, as JSON-compatible values (the bundled
        model's corpus, recipe, command, date, accuracy:
        :mod:`glam_py.pretrained`); None for a training run's checkpoint,
        whose run directory says it.
    normalize : str, default "none"
        How the model's input windows are normalised
        (:data:`glam_py.normalize.NORMALIZATIONS`): prediction normalises
        each file's windows by their own statistics, or with ``adapt`` all
        inputs' together. Absent from checkpoints written before it
        existed, which read as "none".
    temperature : float, default 1.0
        What divides the utterance's logits before the softmax
        (:func:`glam_py.pooling.probabilities`), fitted on validation
        utterances by ``train --calibrate temperature``; 1.0 (the
        probabilities as the model gives them) for an uncalibrated model
        and for a file written before checkpoints carried it.
    """

    model_name: str
    n_classes: int
    input_shape: tuple[int, int]
    labels: tuple[str, ...]
    features: FeatureConfig
    average: str
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    path: Path | None = None
    provenance: dict | None = None
    normalize: str = "none"
    temperature: float = 1.0

    def to_state(self, dtype: torch.dtype | None = None) -> dict:
        """What :meth:`save` writes: tensors and plain containers, marked
        with :data:`CHECKPOINT_FORMAT`.

        Parameters
        ----------
        dtype : torch.dtype or None, default None
            Store the floating-point weights in this floating dtype
            (``torch.float16`` halves the file); None: as they are. Integer
            buffers (BatchNorm's batch counts) stay as they are.

        Returns
        -------
        dict

        Raises
        ------
        ValueError
            ``dtype`` is not a floating-point dtype.
        """
        if dtype is not None and not dtype.is_floating_point:
            raise ValueError(f"dtype={dtype}: weights are stored in a floating-point dtype")
        state = {
            "format": CHECKPOINT_FORMAT,
            "model_name": self.model_name,
            "n_classes": self.n_classes,
            "input_shape": list(self.input_shape),
            "labels": list(self.labels),
            "features": self.features.to_dict(),
            "average": self.average,
            "temperature": float(self.temperature),
            "state_dict": {
                k: v.to(dtype) if dtype is not None and v.is_floating_point() else v
                for k, v in self.state_dict.items()
            },
        }
        if self.provenance is not None:
            state["provenance"] = self.provenance
        if self.normalize != "none":
            # Left out otherwise, so the files of models without it stay as they were.
            state["normalize"] = self.normalize
        return state

    def save(self, path: str | Path, dtype: torch.dtype | None = None) -> None:
        """Writes the checkpoint to ``path`` (atomically), marked with
        :data:`CHECKPOINT_FORMAT`.

        Parameters
        ----------
        path : str or Path
            The ``.pt`` file to write; its folder is created when missing.
        dtype : torch.dtype or None, default None
            The floating-point weights' dtype in the file, as for
            :meth:`to_state`; :meth:`load` gives them back as float32, so a
            float16 file is the same model with its weights rounded to 11
            significant bits (:func:`glam_py.pretrained.write_bundle`
            checks that its predictions are the float32 model's).
        """
        save_tensors(Path(path), self.to_state(dtype))

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        """Reads and checks a checkpoint file written by :meth:`save`.

        Nothing but tensors and plain containers is unpickled; the file's
        kind is told from its bytes first, so an export or a foreign file
        gets a message saying what it is.

        Parameters
        ----------
        path : str or Path
            The ``.pt`` file.

        Returns
        -------
        Checkpoint
            With ``path`` set.

        Raises
        ------
        FileNotFoundError
            ``path`` is missing.
        CheckpointError
            In one line naming the file and the problem: a TorchScript or
            ONNX export, an empty, truncated or damaged file, a pickle,
            JSON or other text, no format record, another format version,
            missing keys or inconsistent entries (a temperature that is not
            a finite number above 0 among them), or objects that could run
            code. A file without a temperature (written before checkpoints
            carried one) reads as temperature 1.0.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: checkpoint not found")
        return cls.from_state(load_tensors(path), path)

    @classmethod
    def from_state(cls, state, path: Path) -> Checkpoint:
        """The checkpoint that ``state`` (what :meth:`to_state` gave, read
        back) holds, checked as :meth:`load` checks a file; weights stored
        in a lower precision (float16, bfloat16) widened to float32.

        Parameters
        ----------
        state : object
            The unpickled contents of a checkpoint file.
        path : Path
            The file it stands for, named in errors and set as ``path``.

        Returns
        -------
        Checkpoint

        Raises
        ------
        CheckpointError
            As :meth:`load`, for what the contents hold.
        """
        _require(
            path,
            isinstance(state, dict) and "format" in state,
            f"not a glam checkpoint (no format record; holds {_contents(state)})",
        )
        found = state["format"]
        _require(
            path,
            found == CHECKPOINT_FORMAT,
            f"format {found!r} is not {CHECKPOINT_FORMAT!r} (not a checkpoint of this version of glam)",
        )
        missing = [k for k in _KEYS if k not in state]
        _require(path, not missing, f"missing keys: {', '.join(missing)}")
        name, n_classes, labels = state["model_name"], state["n_classes"], state["labels"]
        _require(path, name in models.names(), f"unknown model {name!r}; known: {', '.join(models.names())}")
        _require(
            path,
            isinstance(labels, (list, tuple))
            and all(isinstance(x, str) for x in labels)
            and len(labels) == n_classes,
            f"labels {labels!r} do not name n_classes={n_classes} classes",
        )
        _require(
            path,
            state["average"] in AVERAGES,
            f"average {state['average']!r} is not one of {', '.join(AVERAGES)}",
        )
        _require(path, isinstance(state["state_dict"], dict), "state_dict is not a dict of tensors")
        temperature = state.get("temperature", 1.0)
        _require(
            path,
            isinstance(temperature, (int, float))
            and not isinstance(temperature, bool)
            and math.isfinite(temperature)
            and temperature > 0,
            f"temperature {temperature!r} is not a finite number above 0",
        )
        provenance = state.get("provenance")
        _require(
            path,
            provenance is None or isinstance(provenance, dict),
            f"provenance is a {type(provenance).__name__}, not a dict",
        )
        normalize = state.get("normalize", "none")
        _require(
            path,
            normalize in NORMALIZATIONS,
            f"normalize {normalize!r} is not one of {', '.join(NORMALIZATIONS)}",
        )
        weights = {
            k: v.float() if isinstance(v, torch.Tensor) and v.dtype in (torch.float16, torch.bfloat16) else v
            for k, v in state["state_dict"].items()
        }
        try:
            features = FeatureConfig.from_dict(state["features"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: invalid feature settings: {e}") from e
        shape = tuple(state["input_shape"]) if isinstance(state["input_shape"], (list, tuple)) else None
        _require(
            path,
            shape == (features.n_features, features.n_frames),
            f"input_shape {state['input_shape']!r} does not match its feature settings, which give "
            f"{[features.n_features, features.n_frames]}",
        )
        return cls(
            name,
            n_classes,
            shape,
            tuple(labels),
            features,
            state["average"],
            weights,
            path,
            provenance,
            normalize,
            float(temperature),
        )

    def build_model(self, device: str = "cpu", **options) -> torch.nn.Module:
        """The checkpoint's model with its weights, in eval mode, BatchNorm
        still separate.

        Parameters
        ----------
        device : str
            Where the model lives (default "cpu").
        **options
            Passed to :func:`glam_py.models.build` (``fused``, ``winograd``, ...).

        Returns
        -------
        torch.nn.Module

        Raises
        ------
        CheckpointError
            The weights do not fit the model, class count and input shape.
        """
        model = models.build(
            self.model_name, n_classes=self.n_classes, input_shape=self.input_shape, device=device, **options
        )
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as e:
            raise CheckpointError(
                f"{self.path}: its weights do not fit model {self.model_name} with "
                f"{self.n_classes} classes and input {self.input_shape}: {e}"
            ) from e
        return model.to(device).eval()


def _describe(candidates: list[Training]) -> str:
    return "; ".join(f"model={t.key} split={t.split}" for t in candidates)


def find(path: str | Path, model: str | None = None, split: str | None = None) -> Path:
    """The checkpoint file that ``path`` stands for.

    Parameters
    ----------
    path : str or Path
        A checkpoint file, a training run directory, or a bare folder of
        ``<model>__<split>.pt`` checkpoints.
    model : str or None, default None
        In a folder: keep only this model's checkpoints.
    split : str or None, default None
        In a folder: keep only this split's checkpoints.

    Returns
    -------
    Path
        ``path`` itself when it is a file, else the choice described in
        this module's docstring among ``path/models/*.pt`` (or ``path/*.pt``).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``model`` or ``split`` given with a file.
    CheckpointError
        A folder without a checkpoint, none left after ``model`` and
        ``split``, or several models left; the candidates are listed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: checkpoint or run directory not found")
    if not path.is_dir():
        if model is not None or split is not None:
            raise ValueError(
                f"{path}: model= and split= choose within a run directory, but this is a checkpoint file"
            )
        return path
    folder = RunDir(path).models_dir
    if not folder.is_dir():
        folder = path  # a bare folder of checkpoints
    found = trainings(folder, ".pt")
    if not found:
        raise CheckpointError(
            f"{path}: no checkpoint in this run directory (expected {folder}/<model>__<split>.pt)"
        )
    chosen = trainings(folder, ".pt", model, split)
    if not chosen:
        raise CheckpointError(
            f"{path}: no checkpoint with model={model} split={split}; candidates: {_describe(found)}"
        )
    if len({t.key for t in chosen}) > 1:
        raise CheckpointError(
            f"{path}: holds several models, choose one with model= "
            f"(--model) and optionally split= (--split); candidates: {_describe(chosen)}"
        )
    return chosen[0].path
