"""Exporting a checkpoint's model: TorchScript (and ONNX where the export
extra is installed) give the checkpoint's outputs on real MFCC windows, for
any batch size, and carry the metadata needed to featurise audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from glam_py import features
from glam_py.checkpoints import Checkpoint
from glam_py.export import export_onnx, export_torchscript, exportable_model, main as export_main

# Loading TorchScript is what is tested; torch 2.x flags it deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")


@pytest.fixture(scope="module")
def windows(trained_run) -> torch.Tensor:
    """37 windows of real (synthetic-voice) utterances: an odd batch size,
    not the one the export traced with."""
    wavs = sorted((trained_run.parent / "demo" / "wav").glob("*.wav"))
    config = Checkpoint.load(trained_run / "models" / "glam__seed1.pt").features
    return torch.from_numpy(features.featurize(wavs, config, threads=2).windows[:37]).unsqueeze(1)


def reference(checkpoint, x: torch.Tensor) -> tuple[np.ndarray, float]:
    """The checkpoint's own model (BatchNorm not folded, default CPU form)
    and the tolerance: 1e-5, relative to the largest logit once that
    exceeds 1 (float32 holds ~7 digits; briefly trained GLAM's logits reach
    the hundreds)."""
    with torch.inference_mode():
        out = checkpoint.build_model()(x).numpy()
    return out, 1e-5 * max(1.0, float(np.abs(out).max()))


@pytest.mark.parametrize("name", ["glam", "apcnn"])
def test_torchscript_gives_the_checkpoints_outputs(trained_run, windows, tmp_path, name):
    checkpoint = Checkpoint.load(trained_run / "models" / f"{name}__seed1.pt")
    path = export_torchscript(checkpoint, tmp_path / f"{name}.pt")
    extra = {"glam.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    meta = json.loads(extra["glam.json"])
    assert meta["labels"] == list(checkpoint.labels) and meta["model"] == name
    assert features.FeatureConfig.from_dict(meta["features"]) == checkpoint.features
    expected, tol = reference(checkpoint, windows)
    with torch.inference_mode():
        out = loaded(windows).numpy()
        np.testing.assert_allclose(out, expected, rtol=0, atol=tol)
        # The trace is of the eager exported form exactly, and of every batch size.
        np.testing.assert_allclose(out, exportable_model(checkpoint)(windows).numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(loaded(windows[:1]).numpy(), expected[:1], rtol=0, atol=tol)
    assert not torch.allclose(torch.from_numpy(out[0]), torch.from_numpy(out[1]))  # inputs matter


@pytest.mark.parametrize("name", ["glam", "apcnn"])
def test_onnx_gives_the_checkpoints_outputs(trained_run, windows, tmp_path, name):
    ort = pytest.importorskip("onnxruntime", reason="the 'export' extra is not installed")
    onnx = pytest.importorskip("onnx")
    checkpoint = Checkpoint.load(trained_run / "models" / f"{name}__seed1.pt")
    path = export_onnx(checkpoint, tmp_path / f"{name}.onnx")
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["glam.json"])["average"] == checkpoint.average
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected, tol = reference(checkpoint, windows)
    for batch in (windows, windows[:5]):
        out = session.run(["logits"], {"windows": batch.numpy()})[0]
        np.testing.assert_allclose(out, expected[: len(batch)], rtol=0, atol=tol)


def test_export_command_line(trained_run, tmp_path, capsys):
    out = tmp_path / "model.pt"
    assert export_main(["--checkpoint", str(trained_run), "--model", "apcnn", "--out", str(out)]) == 0
    assert torch.jit.load(str(out))(torch.zeros(3, 1, 26, 63)).shape == (3, 4)
    assert "apcnn__seed1.pt ->" in capsys.readouterr().err
    assert export_main(["--checkpoint", str(trained_run), "--out", str(out)]) == 1
    assert "choose one with model=" in capsys.readouterr().err
