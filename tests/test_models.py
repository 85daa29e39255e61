"""The models against the authors' implementation: parameter counts,
logits from their checkpoints, fused and folded forms, shapes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from glam_py import models

REFERENCE_COUNTS = {
    "glam": 940_283,
    "multiscale": 693_476,
    "multiscale_mha": 892_388,
    "multiscale_aa": 693_476,
    "mhcnn": 155_636,
    "aacnn": 151_108,
    "apcnn": 93_573,
}
WITH_MULTISCALE_BLOCKS = ["glam", "multiscale", "multiscale_mha", "multiscale_aa"]


def reference_dir() -> Path:
    return Path(os.environ.get("GLAM_REFERENCE",
                               Path(__file__).resolve().parents[2] / "shared" / "reference"))


def fixture(name: str):
    path = reference_dir() / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"authors' fixture {path} not found (set GLAM_REFERENCE)")
    data = np.load(path)
    state = {k[3:]: data[k] for k in data.files if k.startswith("sd/")}
    return state, torch.from_numpy(data["input"]), data["logits"]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_lists_every_model_and_rejects_unknown_names():
    assert set(models.names()) == set(REFERENCE_COUNTS)
    with pytest.raises(ValueError, match="choose one of .*glam.*apcnn"):
        models.build("resnet")


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
def test_parameter_counts_equal_the_authors(name):
    assert n_params(models.build(name)) == REFERENCE_COUNTS[name]


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
@pytest.mark.parametrize("fused", [False, True])
def test_official_checkpoints_reproduce_the_authors_logits(name, fused):
    state, x, logits = fixture(name)
    model = models.from_official(name, state, fused=fused).eval()
    with torch.no_grad():
        out = model(x).numpy()
    assert np.abs(out - logits).max() <= 1e-4


def test_official_loading_names_missing_and_unexpected_keys():
    state, _, _ = fixture("glam")
    del state["conv2.conv5.weight"]
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"missing keys: \['conv2.conv5.weight'\]; unexpected keys: \['extra.weight'\]"):
        models.from_official("glam", state)


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
@pytest.mark.parametrize("shape,classes", [((26, 57), 4), ((40, 63), 7), ((13, 100), 2)])
def test_other_shapes_and_class_counts(name, shape, classes):
    model = models.build(name, n_classes=classes, input_shape=shape).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, *shape))
    assert out.shape == (2, classes)
    assert model.embed(torch.randn(2, 1, *shape)).shape[0] == 2


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
def test_impossible_shapes_fail_at_build_time(name):
    with pytest.raises(ValueError, match=rf"{name}: input shape \(1, 3\)"):
        models.build(name, input_shape=(1, 3))


def _pair(name: str):
    torch.manual_seed(0)
    plain = models.build(name, fused=False)
    fused = models.build(name, fused=True)
    fused.load_state_dict(plain.state_dict())
    return plain, fused


def _relative_error(a: torch.Tensor, b: torch.Tensor, floor: float) -> float:
    # Norm-wise, so a max-pool or ReLU that flips on a rounding-level tie
    # moves a few entries, not the verdict; floored because some gradients
    # are zero up to rounding (a conv bias before a train-mode BatchNorm).
    return float((a - b).norm() / max(float(b.norm()), floor))


@pytest.mark.parametrize("name", WITH_MULTISCALE_BLOCKS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_fused_and_unfused_agree_in_outputs_and_gradients(name, mode):
    plain, fused = _pair(name)
    with torch.no_grad():  # realistic BatchNorm statistics for eval mode
        for _ in range(3):
            batch = torch.randn(16, 1, 26, 63)
            plain(batch), fused(batch)
    x = torch.randn(4, 1, 26, 63)
    plain.train(mode == "train")
    fused.train(mode == "train")
    torch.manual_seed(1)  # the same dropout mask, where there is one
    a = plain(x)
    torch.manual_seed(1)
    b = fused(x)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    a.square().sum().backward()
    b.square().sum().backward()
    floor = 1e-3 * max(float(p.grad.norm()) for p in plain.parameters())
    for (key, p), q in zip(plain.named_parameters(), fused.parameters()):
        assert _relative_error(q.grad, p.grad, floor) < 5e-3, key
    for (key, buf), other in zip(plain.named_buffers(), fused.buffers()):
        torch.testing.assert_close(buf, other, rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
def test_batchnorm_folding_keeps_eval_outputs(name):
    torch.manual_seed(0)
    model = models.build(name)
    model.train()
    for _ in range(3):  # move the running statistics away from 0 / 1
        model(torch.randn(8, 1, 26, 63))
    model.eval()
    folded = models.fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(3, 1, 26, 63)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)


def test_embedding_is_the_classifier_input():
    model = models.build("glam").eval()
    x = torch.randn(2, 1, 26, 63)
    with torch.no_grad():
        emb = model.embed(x)
        assert emb.shape == (2, 24_960)
        torch.testing.assert_close(model.classifier(emb), model(x))


def test_fused_default_depends_on_the_device():
    assert not models.ModelConfig(device="cpu").use_fused()
    assert models.ModelConfig(device="cuda:0").use_fused()
    assert models.ModelConfig(fused=True).use_fused()
