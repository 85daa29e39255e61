"""Exporting a checkpoint's model: TorchScript (and ONNX where the export
extra is installed) give the checkpoint's outputs on real MFCC windows, for
any batch size, and carry the metadata needed to featurise audio."""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch

from glam_py import cli, features
from glam_py.checkpoints import Checkpoint
from glam_py.export import (
    ExportError,
    check_opset,
    export_onnx,
    export_torchscript,
    exportable_model,
    format_for,
    load_torchscript,
)
from glam_py.export import main as export_main
from glam_py.pooling import softmax
from glam_py.recognizer import EmotionRecognizer


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
    loaded, meta = load_torchscript(path)
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


def test_the_metadata_temperature_turns_the_logits_into_predicts_probabilities(trained_run, tmp_path):
    checkpoint = replace(Checkpoint.load(trained_run / "models" / "apcnn__seed1.pt"), temperature=2.5)
    loaded, meta = load_torchscript(export_torchscript(checkpoint, tmp_path / "warm.pt"))
    assert meta["temperature"] == 2.5
    wav = sorted((trained_run.parent / "demo" / "wav").glob("*.wav"))[0]
    windows = features.featurize([wav], checkpoint.features.replace(pad="tile"), threads=2).windows
    with torch.inference_mode():
        logits = loaded(torch.from_numpy(windows).unsqueeze(1)).numpy().astype(np.float64)
    served = softmax(logits.mean(axis=0) / meta["temperature"])
    (predicted,) = EmotionRecognizer(checkpoint, "cpu", precision="fp32").predict([wav])
    np.testing.assert_allclose(served, list(predicted.probabilities.values()), atol=1e-5)


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
    assert load_torchscript(out)[0](torch.zeros(3, 1, 26, 63)).shape == (3, 4)
    assert "apcnn__seed1.pt ->" in capsys.readouterr().err
    assert cli.run(lambda: export_main(["--checkpoint", str(trained_run), "--out", str(out)])) == 1
    assert "choose one with model=" in capsys.readouterr().err


def test_the_format_follows_the_extension_and_contradictions_are_refused(tmp_path):
    assert [format_for(name) for name in ("m.pt", "m.ts", "m.torchscript", "M.ONNX")] == [
        "torchscript",
        "torchscript",
        "torchscript",
        "onnx",
    ]
    assert format_for("m.onnx", "onnx") == "onnx" and format_for("m.bin", "onnx") == "onnx"
    with pytest.raises(
        ExportError,
        match=r"--format onnx contradicts --out m.pt, whose extension .pt means "
        r"torchscript",
    ):
        format_for("m.pt", "onnx")
    with pytest.raises(ExportError, match=r"--format torchscript contradicts --out m.onnx"):
        format_for("m.onnx", "torchscript")
    with pytest.raises(
        ExportError,
        match=r"--out m.bin: cannot tell the export format from the extension "
        r".bin; use .pt \(torchscript\), .ts \(torchscript\), .torchscript \(torchscript\), "
        r".onnx \(onnx\), or pass --format",
    ):
        format_for("m.bin")
    with pytest.raises(ExportError, match="a name without extension"):
        format_for("model")
    assert check_opset(9) == 9 and check_opset(20) == 20
    for opset in (5, 8, 21):
        with pytest.raises(ExportError, match=f"--opset {opset}: choose 9 to 20"):
            check_opset(opset)


def test_export_command_line_writes_the_format_its_extension_names(trained_run, tmp_path, capsys):
    pytest.importorskip("onnx", reason="the 'export' extra is not installed")
    common = ["--checkpoint", str(trained_run), "--model", "apcnn"]
    assert export_main(common + ["--out", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").read_bytes()[:1] == b"\x08"  # ONNX's protobuf, not a zip
    assert "(onnx;" in capsys.readouterr().err
    assert export_main(common + ["--out", str(tmp_path / "m.ts")]) == 0
    assert zipfile.is_zipfile(tmp_path / "m.ts")
    assert "(torchscript;" in capsys.readouterr().err
    for flags, message in [
        (["--format", "onnx", "--out", str(tmp_path / "x.pt")], "--format onnx contradicts --out"),
        (["--out", str(tmp_path / "x.bin")], "cannot tell the export format from the extension .bin"),
        (["--out", str(tmp_path / "x.onnx"), "--opset", "5"], "--opset 5: choose 9 to 20"),
    ]:
        with pytest.raises(SystemExit) as e:
            export_main(common + flags)
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err.strip().splitlines()[-1], err
        assert len(err.strip().splitlines()) < 6 and "graph(" not in err  # usage and the error; no graph dump
    assert not list(tmp_path.glob("x.*"))


def test_loading_the_torchscript_export_warns_nothing(trained_run, tmp_path):
    path = export_torchscript(Checkpoint.load(trained_run / "models" / "apcnn__seed1.pt"), tmp_path / "m.pt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, meta = load_torchscript(path)
        model(torch.zeros(2, 1, 26, 63))
    assert caught == [] and meta["model"] == "apcnn"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.load(str(path))
    # What load_torchscript silences: torch's own loader warns.
    assert [str(w.message) for w in caught] == [
        "`torch.jit.load` is deprecated. Please switch to `torch.export`."
    ]
