"""``python -m glam_py.export``: a checkpoint's model as a self-contained
TorchScript or ONNX file, for serving without this package.

    python -m glam_py.export --checkpoint runs/latest --out glam.pt
    python -m glam_py.export --checkpoint runs/latest --out glam.onnx

The format follows the extension of --out (.pt, .ts, .torchscript:
TorchScript; .onnx: ONNX); --format is needed only for another extension.

The exported model maps ``[batch, 1, n_features, n_frames]`` MFCC windows
(any batch size) to ``[batch, n_classes]`` logits. It is the BatchNorm-folded
eval-mode model in its plain form (separate branch convolutions, direct 5x5
convolutions): the Winograd and fused forms are speed-ups of the same
arithmetic for this package's CPU and GPU paths, with shape-specialised
branches a trace would freeze; the plain form is standard operators only,
which every runtime optimises itself. The file carries what a server needs
to featurise audio the same way and to turn the logits into the
probabilities predict gives, as JSON (``glam.json``: labels, average,
temperature, feature settings) -- a TorchScript extra file, or ONNX
metadata. The model outputs logits, so the temperature stays outside it:
an utterance's probabilities are the softmax of its mean window logits
divided by the temperature (average "logits"), or of the logarithm of its
mean window probabilities divided by it (average "probabilities").

ONNX needs the optional ``export`` extra (``pip install 'glam[export]'``:
onnx to write the file, onnxruntime to run it).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torch.onnx._constants import ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET

from glam_py import checkpoints, cli, models
from glam_py.checkpoints import Checkpoint
from glam_py.cli import add_quiet_flag
from glam_py.errors import InputError, UsageError

__all__ = [
    "EXTENSIONS",
    "ExportError",
    "check_opset",
    "export_onnx",
    "export_torchscript",
    "exportable_model",
    "format_for",
    "load_torchscript",
    "metadata",
]

FORMATS = ("torchscript", "onnx")
#: The export format each extension of the output file stands for.
EXTENSIONS = {".pt": "torchscript", ".ts": "torchscript", ".torchscript": "torchscript", ".onnx": "onnx"}
# The opsets torch's TorchScript-based ONNX exporter (the one used here)
# writes, from 9: below it GLAM's GELU has no ONNX operator (Erf) and torch
# folds no constants.
OPSETS = range(9, ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET + 1)
# torch 2.x marks TorchScript deprecated in favour of torch.export, but it is
# still what libtorch (C++) and older runtimes load; these warnings are about
# torch's roadmap, not about the file.
_JIT_DEPRECATED = r"`torch\.jit\.(trace|trace_method|save|load)` is deprecated"


class ExportError(ValueError):
    """An export that cannot be made as asked; the message (one line)
    names the file or flag and the problem."""


def format_for(out: str | Path, asked: str | None = None) -> str:
    """The export format of the file ``out``: the one its extension stands
    for (:data:`EXTENSIONS`), or ``asked`` for another extension.

    Parameters
    ----------
    out : str or Path
        The file to write.
    asked : str or None, default None
        The format asked for (``--format``): "torchscript" or "onnx"; None:
        from the extension.

    Returns
    -------
    str
        "torchscript" or "onnx".

    Raises
    ------
    ExportError
        ``asked`` contradicts the extension, is not a format, or is None
        with an extension that names none.
    """
    if asked is not None and asked not in FORMATS:
        raise ExportError(f"--format {asked}: choose one of {', '.join(FORMATS)}")
    suffix = Path(out).suffix.lower()
    implied = EXTENSIONS.get(suffix)
    known = ", ".join(f"{ext} ({fmt})" for ext, fmt in EXTENSIONS.items())
    if implied is None:
        if asked is None:
            raise ExportError(
                f"--out {out}: cannot tell the export format from "
                f"{'the extension ' + suffix if suffix else 'a name without extension'}; "
                f"use {known}, or pass --format"
            )
        return asked
    if asked is not None and asked != implied:
        raise ExportError(
            f"--format {asked} contradicts --out {out}, whose extension {suffix} "
            f"means {implied}; drop --format or name the file for {asked}"
        )
    return implied


def check_opset(opset: int) -> int:
    """``opset`` when torch's ONNX exporter can write it.

    Parameters
    ----------
    opset : int
        ONNX opset version.

    Returns
    -------
    int
        ``opset``.

    Raises
    ------
    ExportError
        Outside :data:`OPSETS` (9 to 20 with torch 2.15).
    """
    if opset not in OPSETS:
        raise ExportError(
            f"--opset {opset}: choose {OPSETS.start} to {OPSETS.stop - 1} (the opsets "
            f"torch's ONNX exporter writes for these models)"
        )
    return opset


def load_torchscript(path: str | Path) -> tuple[torch.jit.ScriptModule, dict]:
    """A TorchScript export and its metadata, without torch's deprecation
    warning (``torch.jit.load(path, _extra_files={"glam.json": ""})`` with
    that one warning silenced).

    Parameters
    ----------
    path : str or Path
        A file of :func:`export_torchscript`.

    Returns
    -------
    module : torch.jit.ScriptModule
        Maps ``[batch, 1, n_features, n_frames]`` windows to logits.
    metadata : dict
        The parsed ``glam.json`` (see :func:`metadata`).
    """
    extra = {"glam.json": ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _JIT_DEPRECATED, FutureWarning)
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module, json.loads(extra["glam.json"])


def metadata(checkpoint: Checkpoint) -> str:
    """What a server needs besides the weights, as JSON (the temperature
    as :func:`glam_py.pooling.probabilities` applies it)."""
    return json.dumps(
        {
            "model": checkpoint.model_name,
            "labels": list(checkpoint.labels),
            "average": checkpoint.average,
            "temperature": checkpoint.temperature,
            "input_shape": list(checkpoint.input_shape),
            "features": checkpoint.features.to_dict(),
        }
    )


def exportable_model(checkpoint: Checkpoint) -> torch.nn.Module:
    """The checkpoint's model, BatchNorm folded, in the plain form that
    traces to the same graph for every batch size."""
    model = checkpoint.build_model("cpu", fused=False, winograd=False)
    return models.fold_batchnorm(model).eval()


def _example(checkpoint: Checkpoint, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 1, *checkpoint.input_shape, generator=torch.Generator().manual_seed(0))


def export_torchscript(checkpoint: Checkpoint, out: str | Path) -> Path:
    """Traces the model and saves it; :func:`load_torchscript` (or
    ``torch.jit.load(out)``, with the metadata under
    ``_extra_files={"glam.json": ""}``) gives it back."""
    model = exportable_model(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _JIT_DEPRECATED, FutureWarning)
        with torch.no_grad():
            traced = torch.jit.trace(model, _example(checkpoint))
        torch.jit.save(traced, str(out), _extra_files={"glam.json": metadata(checkpoint)})
    return out


def export_onnx(checkpoint: Checkpoint, out: str | Path, opset: int = 17) -> Path:
    """Exports with a dynamic batch axis (input ``windows``, output
    ``logits``) and stores the metadata as the model's ``glam.json`` property.

    Raises
    ------
    ExportError
        ``opset`` is outside :data:`OPSETS`, or cannot express the model
        (the exporter or ONNX's checker refuses it); in one line.
    ImportError
        The onnx package is missing.
    """
    check_opset(opset)
    try:
        import onnx
    except ImportError as e:
        raise ImportError("ONNX export needs the onnx package: pip install 'glam[export]'") from e
    model = exportable_model(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript-based exporter, deprecated but still in torch 2.15:
        # the torch.export-based one needs onnxscript too, takes 4x as long
        # for GLAM and gives the same outputs for these models.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            torch.onnx.export(
                model,
                (_example(checkpoint),),
                str(out),
                input_names=["windows"],
                output_names=["logits"],
                opset_version=opset,
                dynamo=False,
                dynamic_axes={"windows": {0: "batch"}, "logits": {0: "batch"}},
            )
        except torch.onnx.OnnxExporterError as e:
            # Its message goes on with the whole graph; the first line says why.
            raise ExportError(
                f"{checkpoint.model_name} cannot be exported to ONNX opset {opset}: "
                f"{str(e).strip().splitlines()[0]}"
            ) from None
    proto = onnx.load(str(out))
    onnx.helper.set_model_props(proto, {"glam.json": metadata(checkpoint)})
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise ExportError(
            f"{checkpoint.model_name} at ONNX opset {opset} is not a valid ONNX model: "
            f"{str(e).strip().splitlines()[0]}"
        ) from None
    onnx.save(proto, str(out))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m glam_py.export", description=__doc__.replace("``", ""))
    cli.add_checkpoint_flags(p)
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="the file to write; its extension gives the format (.pt, .ts, .torchscript: "
        "torchscript; .onnx: onnx).",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="torchscript or onnx (needs the 'export' extra); default: from the extension of "
        "--out; given, it must agree with it.",
    )
    p.add_argument(
        "--opset",
        type=int,
        default=17,
        help=f"ONNX opset version, {OPSETS.start} to {OPSETS.stop - 1} (default: 17).",
    )
    add_quiet_flag(p)
    return p


def check(args: argparse.Namespace) -> None:
    """Every argument, before any work (see :func:`glam_py.cli.parse`)."""
    cli.check_output_file(args.out, "--out")
    try:
        args.format = format_for(args.out, args.format)
        if args.format == "onnx":
            check_opset(args.opset)
    except ExportError as e:
        raise UsageError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(build_parser(), argv, check)
    checkpoint = Checkpoint.load(checkpoints.find(args.checkpoint, args.model, args.split))
    try:
        if args.format == "onnx":
            out = export_onnx(checkpoint, args.out, args.opset)
        else:
            out = export_torchscript(checkpoint, args.out)
    except ImportError as e:  # the optional onnx package
        raise InputError(str(e)) from None
    if not args.quiet:
        print(
            f"{checkpoint.path} -> {out} ({args.format}; {checkpoint.model_name}, "
            f"classes {', '.join(checkpoint.labels)})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
