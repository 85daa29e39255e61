"""The fast forms compute what the reference structure computes: fused
multi-scale blocks and stems, Winograd convolutions, the 1x1-convolution
linears of the gMLP, and GLAM against the plain transcription of the
authors' class (tests/support/reference_glam.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glam_py import models
from glam_py.models.gmlp import token_linear
from glam_py.models.winograd import WinogradConv2d, minimal_filtering, width_transforms, winograd_conv2d
from tests.support.models import WITH_MULTISCALE_BLOCKS, fixture
from tests.support.reference_glam import ReferenceGLAM

PLAIN = {"fused": False, "winograd": False, "channels_last": False}
FORMS = {
    "fused": {"fused": True},
    "winograd": {"fused": False, "winograd": True},
    "fused+winograd": {"fused": True, "winograd": True},
}


# In float64 the forms differ by rounding only (and by the float32-rounded
# Winograd transform constants, ~1e-7), so the tolerances can be tight
# without a max-pool tie flipping the verdict, which float32 allows.
TOL = {"rtol": 1e-6, "atol": 1e-7}


def _warm(model_a: torch.nn.Module, model_b: torch.nn.Module) -> None:
    """Realistic BatchNorm running statistics for eval mode, in both."""
    batch = torch.randn(8, 1, 26, 63, dtype=torch.float64)
    with torch.no_grad():
        model_a(batch), model_b(batch)


def _step(model: torch.nn.Module, x: torch.Tensor, train: bool) -> tuple[torch.Tensor, dict]:
    model.train(train)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same dropout mask, where there is one
    out = model(x)
    out.square().sum().backward()
    return out, {key: p.grad for key, p in model.named_parameters()}


@pytest.mark.parametrize("name", WITH_MULTISCALE_BLOCKS)
@pytest.mark.parametrize("form", FORMS)
def test_fast_forms_match_the_plain_structure(name, form):
    """Same outputs, gradients and BatchNorm statistics as the reference
    structure (separate branches, direct convolutions, NCHW), in eval and
    in train mode."""
    torch.manual_seed(0)
    plain = models.build(name, **PLAIN).double()
    other = models.build(name, **FORMS[form]).double()
    other.load_state_dict(plain.state_dict())
    _warm(plain, other)
    x = torch.randn(4, 1, 26, 63, dtype=torch.float64)
    for train in (False, True):
        out_a, grads_a = _step(plain, x, train)
        out_b, grads_b = _step(other, x, train)
        torch.testing.assert_close(out_b, out_a, **TOL)
        torch.testing.assert_close(grads_b, grads_a, **TOL)
        torch.testing.assert_close(other.state_dict(), plain.state_dict(), **TOL)


@pytest.mark.parametrize("name", WITH_MULTISCALE_BLOCKS)
def test_fused_and_unfused_agree_in_float32(name):
    """The training dtype. Gradients are compared norm-wise: in float32 a
    max-pool whose two largest inputs differ by rounding may pick either,
    which moves single gradient entries (seen at 1e-2 of a weight's norm
    even between NCHW and channels_last of the same form)."""
    torch.manual_seed(0)
    unfused = models.build(name, fused=False)
    fused = models.build(name, fused=True)
    fused.load_state_dict(unfused.state_dict())
    with torch.no_grad():
        batch = torch.randn(8, 1, 26, 63)
        unfused(batch), fused(batch)
    x = torch.randn(4, 1, 26, 63)
    for train in (False, True):
        out_a, grads_a = _step(unfused, x, train)
        out_b, grads_b = _step(fused, x, train)
        torch.testing.assert_close(out_b, out_a, rtol=1e-4, atol=1e-4)
        floor = 1e-3 * max(float(g.norm()) for g in grads_a.values())
        for key, grad in grads_a.items():
            assert float((grads_b[key] - grad).norm()) <= 3e-2 * max(float(grad.norm()), floor), key


def test_the_fused_forms_are_single_convolutions():
    model = models.build("glam", fused=True)
    assert model.trunk.stem.fused and all(block.fused for block in model.trunk.blocks)
    weight, _ = model.trunk.blocks[0].fused_weight()
    assert weight.shape == (32, 16, 5, 5)
    weight, _ = model.trunk.stem.joint_weight()
    assert weight.shape == (32, 1, 3, 3)


@pytest.mark.parametrize("m,r", [(4, 5), (4, 3), (2, 3), (6, 3)])
def test_minimal_filtering_is_exact(m, r):
    at, g, bt = minimal_filtering(m, r)
    rng = np.random.default_rng(0)
    d, taps = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    expected = [taps @ d[i : i + r] for i in range(m)]
    np.testing.assert_allclose(at @ ((g @ taps) * (bt @ d)), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "k,channels,out_channels,height,width",
    [(5, 128, 128, 13, 15), (5, 8, 5, 7, 16), (5, 3, 4, 2, 1), (3, 6, 6, 5, 9), (5, 4, 4, 13, 14)],
)
def test_winograd_equals_the_direct_convolution(k, channels, out_channels, height, width):
    torch.manual_seed(0)
    x = torch.randn(3, channels, height, width, dtype=torch.float64).requires_grad_()
    weight = torch.randn(out_channels, channels, k, k, dtype=torch.float64).requires_grad_()
    bias = torch.randn(out_channels, dtype=torch.float64).requires_grad_()
    into, back, g = width_transforms(width, 4, k, torch.float64)
    ours = winograd_conv2d(x.contiguous(memory_format=torch.channels_last), weight, bias, into, back, g)
    direct = F.conv2d(x, weight, bias, padding=k // 2)
    torch.testing.assert_close(ours, direct, rtol=1e-10, atol=1e-10)
    upstream = torch.randn_like(direct)
    expected = torch.autograd.grad(direct, (x, weight, bias), upstream)
    for got, want in zip(torch.autograd.grad(ours, (x, weight, bias), upstream), expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_winograd_float32_error_is_small():
    torch.manual_seed(0)
    conv = WinogradConv2d(128, 128, 5, width=15)
    x = torch.randn(8, 128, 13, 15).contiguous(memory_format=torch.channels_last)
    exact = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=2)
    with torch.no_grad():
        error = (conv(x).double() - exact).norm() / exact.norm()
    assert error < 1e-5


def test_winograd_refuses_other_widths():
    conv = WinogradConv2d(4, 4, 5, width=15)
    with pytest.raises(ValueError, match="built for inputs 15 wide, got 14"):
        conv(torch.randn(1, 4, 13, 14))
    with pytest.raises(ValueError, match="odd kernel"):
        WinogradConv2d(4, 4, 4, width=15)


def test_winograd_steps_aside_under_autocast():
    conv = WinogradConv2d(8, 8, 5, width=15)
    x = torch.randn(2, 8, 13, 15)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=2))


def test_token_linear_equals_linear():
    torch.manual_seed(0)
    x = torch.randn(4, 128, 195, requires_grad=True)
    weight = torch.randn(390, 195, requires_grad=True)
    bias = torch.randn(390, requires_grad=True)
    ours, ref = token_linear(x, weight, bias), F.linear(x, weight, bias)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-4)
    upstream = torch.randn_like(ref)
    for got, want in zip(
        torch.autograd.grad(ours, (x, weight, bias), upstream),
        torch.autograd.grad(ref, (x, weight, bias), upstream),
    ):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-3)


def test_the_benchmark_anchor_reproduces_the_authors_logits():
    state, x, logits = fixture("glam")
    anchor = ReferenceGLAM()
    anchor.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    with torch.no_grad():
        assert np.abs(anchor.eval()(x).numpy() - logits).max() <= 1e-5


def test_default_glam_is_the_anchor_step_for_step():
    """The benchmark compares identical mathematics: same outputs,
    gradients and running statistics from the same weights."""
    torch.manual_seed(0)
    ours = models.build("glam").double()
    anchor = ReferenceGLAM().double()
    anchor.load_state_dict(models.to_official("glam", ours.state_dict()), strict=True)
    _warm(ours, anchor)
    x = torch.randn(4, 1, 26, 63, dtype=torch.float64)
    for train in (False, True):
        out_a, grads_a = _step(anchor, x, train)
        out_b, grads_b = _step(ours, x, train)
        torch.testing.assert_close(out_b, out_a, **TOL)
        torch.testing.assert_close(models.to_official("glam", grads_b), grads_a, **TOL)
        torch.testing.assert_close(models.to_official("glam", ours.state_dict()), anchor.state_dict(), **TOL)
