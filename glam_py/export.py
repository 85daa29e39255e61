"""``python -m glam_py.export``: a checkpoint's model as a self-contained
TorchScript or ONNX file, for serving without this package.

    python -m glam_py.export --checkpoint runs/latest --out glam.pt
    python -m glam_py.export --checkpoint runs/latest --out glam.onnx --format onnx

The exported model maps ``[batch, 1, n_features, n_frames]`` MFCC windows
(any batch size) to ``[batch, n_classes]`` logits. It is the BatchNorm-folded
eval-mode model in its plain form (separate branch convolutions, direct 5x5
convolutions): the Winograd and fused forms are speed-ups of the same
arithmetic for this package's CPU and GPU paths, with shape-specialised
branches a trace would freeze; the plain form is standard operators only,
which every runtime optimises itself. The file carries what a server needs
to featurise audio the same way, as JSON (``glam.json``: labels, average,
feature settings) -- a TorchScript extra file, or ONNX metadata.

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

from glam_py import checkpoints, models
from glam_py.checkpoints import Checkpoint

__all__ = ["export_onnx", "export_torchscript", "exportable_model", "metadata"]

FORMATS = ("torchscript", "onnx")


def metadata(checkpoint: Checkpoint) -> str:
    """What a server needs besides the weights, as JSON."""
    return json.dumps({"model": checkpoint.model_name, "labels": list(checkpoint.labels),
                       "average": checkpoint.average, "input_shape": list(checkpoint.input_shape),
                       "features": checkpoint.features.to_dict()})


def exportable_model(checkpoint: Checkpoint) -> torch.nn.Module:
    """The checkpoint's model, BatchNorm folded, in the plain form that
    traces to the same graph for every batch size."""
    model = checkpoint.build_model("cpu", fused=False, winograd=False)
    return models.fold_batchnorm(model).eval()


def _example(checkpoint: Checkpoint, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 1, *checkpoint.input_shape, generator=torch.Generator().manual_seed(0))


def export_torchscript(checkpoint: Checkpoint, out: str | Path) -> Path:
    """Traces the model and saves it; ``torch.jit.load(out)`` gives it back,
    with the metadata under ``_extra_files={"glam.json": ""}``."""
    model = exportable_model(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # torch 2.x marks TorchScript deprecated in favour of torch.export, but
        # it is still what libtorch (C++) and older runtimes load.
        warnings.simplefilter("ignore", FutureWarning)
        with torch.no_grad():
            traced = torch.jit.trace(model, _example(checkpoint))
        torch.jit.save(traced, str(out), _extra_files={"glam.json": metadata(checkpoint)})
    return out


def export_onnx(checkpoint: Checkpoint, out: str | Path, opset: int = 17) -> Path:
    """Exports with a dynamic batch axis (input ``windows``, output
    ``logits``) and stores the metadata as the model's ``glam.json`` property."""
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
        torch.onnx.export(model, (_example(checkpoint),), str(out), input_names=["windows"],
                          output_names=["logits"], opset_version=opset, dynamo=False,
                          dynamic_axes={"windows": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load(str(out))
    onnx.helper.set_model_props(proto, {"glam.json": metadata(checkpoint)})
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m glam_py.export", description=__doc__.split("\n\n")[2])
    p.add_argument("--checkpoint", required=True, metavar="RUN_OR_FILE",
                   help="a checkpoint file or a training run directory (chosen as python -m "
                   "glam_py.predict chooses).")
    p.add_argument("--model", default=None, help="in a run directory with several models: which one.")
    p.add_argument("--split", default=None, help="in a run directory: which split's model.")
    p.add_argument("--out", type=Path, required=True, help="the file to write.")
    p.add_argument("--format", choices=FORMATS, default="torchscript",
                   help="torchscript (torch.jit.load; the default) or onnx (needs the 'export' extra).")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17).")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        checkpoint = Checkpoint.load(checkpoints.find(args.checkpoint, args.model, args.split))
        if args.format == "onnx":
            out = export_onnx(checkpoint, args.out, args.opset)
        else:
            out = export_torchscript(checkpoint, args.out)
    except (OSError, ValueError, ImportError) as e:  # CheckpointError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{checkpoint.path} -> {out} ({args.format}; {checkpoint.model_name}, "
          f"classes {', '.join(checkpoint.labels)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
