"""The model shipped with the package: what ``EmotionRecognizer.pretrained()``
and ``python -m glam_py.predict`` without ``--checkpoint`` use, GLAM trained
on all of EmoDB's four classes (docs/model-card.md).

The bundle is the file :data:`FILE_NAME` in this folder: a checkpoint
(:class:`glam_py.checkpoints.Checkpoint`, the one format) with float16
weights and its provenance, beside its check file (size and SHA-256, checked
when it is read). maturin puts every file of the package folder that git
does not ignore into the wheel, and an editable install (``maturin
develop``) reads this folder where it is, so nothing else is needed to ship
it. The environment variable :data:`ENV` (``GLAM_PRETRAINED=FILE``) puts
another file in its place: another bundle, or any checkpoint file.

The bundle is made from a ``--protocol all`` training run by
``python -m experiments.bundle_model RUN`` (:func:`write_bundle`); README.md,
"Bundled model", gives both commands.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from glam_py import models
from glam_py.checkpoints import Checkpoint, save_tensors, tensor_bytes
from glam_py.pooling import pool

__all__ = [
    "ENV",
    "FILE_NAME",
    "LOGIT_TOLERANCE",
    "MAX_BYTES",
    "PACKAGED",
    "BundleError",
    "Fidelity",
    "MissingBundle",
    "bundle_path",
    "describe",
    "load",
    "write_bundle",
]

FILE_NAME = "glam-emodb4.pt"
#: Where the package keeps its bundle.
PACKAGED = Path(__file__).resolve().parent / FILE_NAME
#: Set to a checkpoint file to use it in place of the packaged bundle.
ENV = "GLAM_PRETRAINED"
#: The bundle stays under this many bytes (the issue's 5 MB), so the wheel stays small.
MAX_BYTES = 5_000_000
#: The largest change of a window logit that lower-precision weights may
#: cause, relative to the largest float32 logit (at least 1).
LOGIT_TOLERANCE = 1e-2
_HOW_TO_MAKE = (
    "make it from a --protocol all training run with python -m experiments.bundle_model RUN "
    "(README.md, 'Bundled model'), set GLAM_PRETRAINED=FILE to use another checkpoint file, "
    "or pass a checkpoint (predict --checkpoint RUN)"
)


class MissingBundle(FileNotFoundError):
    """No bundled model where one is looked for; the message (one line)
    says where and how to make one."""


class BundleError(ValueError):
    """A bundle that cannot be written as asked: over :data:`MAX_BYTES`, or
    predictions that differ from the checkpoint's; the message says which."""


def bundle_path() -> Path:
    """The bundle's file: ``GLAM_PRETRAINED`` when set (and not empty),
    else :data:`PACKAGED`."""
    return Path(os.environ[ENV]) if os.environ.get(ENV) else PACKAGED


def load() -> Checkpoint:
    """The bundled model, read and checked.

    Returns
    -------
    Checkpoint
        With its weights as float32 and its ``provenance``.

    Raises
    ------
    MissingBundle
        The file is missing: the package was installed without it, or
        ``GLAM_PRETRAINED`` names no file; the message says how to make one.
    CheckpointError
        The file is no usable checkpoint (damaged, another format).
    """
    path = bundle_path()
    if not path.is_file():
        where = f"{ENV}={path}: no such file" if os.environ.get(ENV) else f"{path} is missing"
        raise MissingBundle(f"no bundled model: {where}; {_HOW_TO_MAKE}")
    return Checkpoint.load(path)


def describe(checkpoint: Checkpoint) -> str:
    """The one line that says a bundled model is used: its provenance's
    ``title`` (e.g. "GLAM trained on EmoDB-4 (German acted speech;
    docs/model-card.md)"), else its model and file."""
    title = (checkpoint.provenance or {}).get("title") or f"{checkpoint.model_name} ({checkpoint.path})"
    return f"using the bundled model: {title}"


@dataclass(frozen=True)
class Fidelity:
    """How a bundle's predictions compare with its checkpoint's, on the
    windows :func:`write_bundle` was given.

    Attributes
    ----------
    n_windows, n_utterances : int
        What was compared.
    max_logit_difference : float
        The largest absolute difference of a window logit.
    logit_scale : float
        The largest absolute float32 logit.
    window_labels_changed, utterance_labels_changed : int
        Windows and utterances whose arg-max differs.
    size_bytes : int
        The bundle file's size.
    """

    n_windows: int
    n_utterances: int
    max_logit_difference: float
    logit_scale: float
    window_labels_changed: int
    utterance_labels_changed: int
    size_bytes: int


@torch.inference_mode()
def _window_logits(checkpoint: Checkpoint, windows: np.ndarray, batch: int = 256) -> np.ndarray:
    # As the recognizer scores windows: BatchNorm folded, float32.
    model = models.fold_batchnorm(checkpoint.build_model("cpu"))
    return torch.cat(
        [model(torch.from_numpy(windows[s : s + batch]).unsqueeze(1)) for s in range(0, len(windows), batch)]
    ).numpy()


def write_bundle(
    checkpoint: Checkpoint,
    out: str | Path,
    provenance: dict,
    windows: np.ndarray,
    owner: np.ndarray,
    dtype: torch.dtype = torch.float16,
) -> Fidelity:
    """Writes ``checkpoint`` as a bundle: its weights in ``dtype``, its
    ``provenance`` recorded, once the file read back is shown to predict as
    the checkpoint does.

    The check reads the serialised bundle back as :meth:`Checkpoint.load`
    would and scores ``windows`` with both models in float32: every
    utterance must keep its label, and no window logit may move by more
    than :data:`LOGIT_TOLERANCE` times the largest logit (at least 1).
    Nothing is written when a check fails.

    Parameters
    ----------
    checkpoint : Checkpoint
        The trained model (float32 weights).
    out : str or Path
        The bundle file to write (with its check file beside it).
    provenance : dict
        JSON-compatible values: corpus, recipe, command, date, accuracy,
        and ``title``, the phrase :func:`describe` shows.
    windows : ndarray, shape (n_windows, n_features, n_frames)
        float32 windows featurised with ``checkpoint.features`` (the
        training corpus's own, at least).
    owner : ndarray of int, shape (n_windows,)
        The utterance of each window, numbered from 0.
    dtype : torch.dtype, default torch.float16
        The weights' dtype in the file; ``torch.float32`` keeps them whole.

    Returns
    -------
    Fidelity

    Raises
    ------
    BundleError
        The file would reach :data:`MAX_BYTES`, or its predictions differ
        from the checkpoint's beyond the check above.
    ValueError
        ``dtype`` is not a floating-point dtype, or ``windows`` is empty.
    """
    if len(windows) == 0:
        raise ValueError("write_bundle needs windows to compare the bundle's predictions on")
    out = Path(out)
    state = replace(checkpoint, provenance=provenance).to_state(dtype)
    buffer = tensor_bytes(state)
    size = buffer.tell()
    if size >= MAX_BYTES:
        raise BundleError(
            f"{out}: the bundle would take {size / 1e6:.2f} MB, over the {MAX_BYTES / 1e6:g} MB allowed"
            + (f" even in {dtype}" if dtype != torch.float32 else "; store the weights as float16")
        )
    buffer.seek(0)
    bundled = Checkpoint.from_state(torch.load(buffer, map_location="cpu", weights_only=True), out)
    reference, candidate = _window_logits(checkpoint, windows), _window_logits(bundled, windows)
    n_utterances = int(owner.max()) + 1
    labels = [
        pool(z.astype(np.float64), owner, n_utterances, checkpoint.average).argmax(1)
        for z in (reference, candidate)
    ]
    fidelity = Fidelity(
        n_windows=len(windows),
        n_utterances=n_utterances,
        max_logit_difference=float(np.abs(reference - candidate).max()),
        logit_scale=float(np.abs(reference).max()),
        window_labels_changed=int((reference.argmax(1) != candidate.argmax(1)).sum()),
        utterance_labels_changed=int((labels[0] != labels[1]).sum()),
        size_bytes=size,
    )
    allowed = LOGIT_TOLERANCE * max(1.0, fidelity.logit_scale)
    if fidelity.utterance_labels_changed or fidelity.max_logit_difference > allowed:
        raise BundleError(
            f"{out}: with {dtype} weights {fidelity.utterance_labels_changed} of {n_utterances} "
            f"utterances change label and window logits move by up to {fidelity.max_logit_difference:.3g} "
            f"(allowed: {allowed:.3g}); keep the weights whole (float32)"
        )
    save_tensors(out, buffer)  # the bytes just checked
    return fidelity
