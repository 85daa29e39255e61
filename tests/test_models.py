"""The models against the authors' implementation: registry, parameter
counts, logits from their checkpoints, shapes, BatchNorm folding and the
embedding hook. Fused, Winograd and anchor checks: test_model_fusion.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glam_py import models
from tests.support.models import fixture

REFERENCE_COUNTS = {
    "glam": 940_283,
    "multiscale": 693_476,
    "multiscale_mha": 892_388,
    "multiscale_aa": 693_476,
    "mhcnn": 155_636,
    "aacnn": 151_108,
    "apcnn": 93_573,
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_lists_every_model_and_rejects_unknown_names():
    assert models.names() == list(REFERENCE_COUNTS)
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of glam, .*apcnn"):
        models.build("resnet")


def test_authors_preset_reads_each_models_registered_recipe():
    from glam_py.train.config import PAPER, preset

    glam = preset("authors", "glam")
    assert (glam.lr, glam.features.window_s, glam.train_overlap_s, glam.features.overlap_s) == (
        1e-3,
        1.8,
        1.6,
        1.6,
    )
    assert preset("authors", "multiscale_aa") == glam.replace(batch_size=128)
    apcnn = preset("authors", "apcnn")
    assert (apcnn.optimizer, apcnn.lr, apcnn.step_decay_every, apcnn.batch_size) == ("sgd", 0.05, 10, 128)
    assert preset("authors", "aacnn") == PAPER
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        preset("authors", "resnet")


def test_checkpoints_from_before_the_head_module_still_load():
    """GLAM's fusion and Multi-scale + MHA's attention were once stored
    under those names; such state dicts load into the ``head`` module."""
    for name, old in [("glam", "fusion."), ("multiscale_mha", "attention.")]:
        torch.manual_seed(0)
        model = models.build(name).eval()
        legacy = {
            (old + k[len("head.") :] if k.startswith("head.") else k): v
            for k, v in model.state_dict().items()
        }
        assert any(k.startswith(old) for k in legacy)
        fresh = models.build(name).eval()
        fresh.load_state_dict(legacy)
        x = torch.randn(2, 1, 26, 63)
        with torch.no_grad():
            torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", REFERENCE_COUNTS)
def test_parameter_counts_equal_the_authors(name):
    assert n_params(models.build(name)) == REFERENCE_COUNTS[name]
    assert n_params(models.build(name, fused=True, winograd=False)) == REFERENCE_COUNTS[name]


@pytest.mark.parametrize("name", REFERENCE_COUNTS)
@pytest.mark.parametrize("form", ["default", "fused", "plain"])
def test_official_checkpoints_reproduce_the_authors_logits(name, form):
    state, x, logits = fixture(name)
    options = {
        "default": {},
        "fused": {"fused": True},
        "plain": {"fused": False, "winograd": False, "channels_last": False},
    }[form]
    model = models.from_official(name, state, **options).eval()
    with torch.no_grad():
        out = model(x).numpy()
    assert np.abs(out - logits).max() <= 1e-4


def test_official_loading_names_missing_and_unexpected_keys():
    state, _, _ = fixture("glam")
    del state["conv2.conv5.weight"]
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(
        ValueError,
        match=r"missing keys: \['conv2.conv5.weight'\]; "
        r"unexpected keys: \['extra.weight'\]",
    ):
        models.from_official("glam", state)


def test_official_loading_names_a_wrong_shape():
    state, _, _ = fixture("glam")
    with pytest.raises(ValueError, match=r"fc.weight has shape \(4, 24960\), expected \(4, 23296\)"):
        models.from_official("glam", state, input_shape=(26, 57))


@pytest.mark.parametrize("name", REFERENCE_COUNTS)
@pytest.mark.parametrize("shape,classes", [((26, 57), 4), ((40, 63), 7), ((13, 100), 2)])
def test_other_shapes_and_class_counts(name, shape, classes):
    model = models.build(name, n_classes=classes, input_shape=shape).eval()
    x = torch.randn(2, 1, *shape)
    with torch.no_grad():
        assert model(x).shape == (2, classes)
        assert model.embed(x).shape[0] == 2


@pytest.mark.parametrize("name", REFERENCE_COUNTS)
def test_impossible_shapes_fail_at_build_time(name):
    with pytest.raises(ValueError, match=rf"{name}: input shape \(1, 3\) \(n_mfcc, n_frames\) is too small"):
        models.build(name, input_shape=(1, 3))


def test_bad_class_counts_fail_at_build_time():
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        models.build("glam", n_classes=1)


def _with_running_statistics(model: torch.nn.Module) -> torch.nn.Module:
    model.train()
    with torch.no_grad():
        for _ in range(3):  # move the running statistics away from 0 / 1
            model(torch.randn(8, 1, 26, 63))
    return model.eval()


@pytest.mark.parametrize("name", REFERENCE_COUNTS)
@pytest.mark.parametrize("fused", [False, True])
def test_batchnorm_folding_keeps_eval_outputs(name, fused):
    torch.manual_seed(0)
    model = _with_running_statistics(models.build(name, fused=fused))
    folded = models.fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(3, 1, 26, 63)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["glam", "multiscale", "multiscale_mha", "multiscale_aa", "mhcnn", "aacnn"])
def test_embedding_is_the_classifier_input(name):
    model = models.build(name).eval()
    x = torch.randn(2, 1, 26, 63)
    with torch.no_grad():
        torch.testing.assert_close(model.classifier(model.embed(x)), model(x))
    if name == "glam":
        assert model.embed(x).shape == (2, 24_960)


def test_apcnn_embedding_is_the_pooled_trunk():
    model = models.build("apcnn").eval()
    with torch.no_grad():
        assert model.embed(torch.randn(2, 1, 26, 63)).shape == (2, 80)


def test_glam_applies_no_dropout_and_area_attention_does():
    x = torch.randn(4, 1, 26, 63)
    glam = models.build("glam").train()
    with torch.no_grad():
        torch.testing.assert_close(glam(x), glam(x))  # train-mode BN, same batch: same output
    aa = models.build("multiscale_aa").train()
    with torch.no_grad():
        assert not torch.equal(aa(x), aa(x))  # dropout 0.5 on the attention weights
        aa.eval()
        torch.testing.assert_close(aa(x), aa(x))


def test_defaults_depend_on_the_device():
    cpu, cuda = models.ModelConfig(device="cpu"), models.ModelConfig(device="cuda:0")
    assert not cpu.use_fused() and cpu.use_winograd()
    assert cuda.use_fused() and not cuda.use_winograd()
    assert models.ModelConfig(fused=True, winograd=False).use_fused()
    assert not models.ModelConfig(winograd=False).use_winograd()


def test_bf16_models_are_built_without_winograd():
    from glam_py.models.winograd import WinogradConv2d

    def winograd_widths(model):
        return [m.width for m in model.modules() if isinstance(m, WinogradConv2d) and m.width is not None]

    assert winograd_widths(models.build("glam"))  # the fp32 CPU form uses it
    assert winograd_widths(models.build("glam", precision="bf16")) == []
    with pytest.raises(ValueError, match="precision must be fp32 or bf16"):
        models.build("glam", precision="auto")
