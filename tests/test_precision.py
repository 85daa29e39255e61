"""Precision choice (glam_py/precision.py): "auto" follows the hardware's
native bf16, explicit bf16 elsewhere comes with a note, and bf16 autocast
runs the products in bf16 while the parameters stay fp32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from glam_py import precision
from glam_py.precision import autocast, resolve

AMX = frozenset({"fpu", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"})
AVX512_BF16 = frozenset({"fpu", "avx512f", "avx512_bf16"})
NONE = frozenset({"fpu", "avx2", "avx512f"})


@pytest.fixture
def hardware(monkeypatch):
    """Sets the CPU flags and the CUDA capability (None: no CUDA)."""

    def set_(flags=NONE, capability=None):
        monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
        monkeypatch.setattr(precision, "cuda_capability", lambda device: capability)

    return set_


@pytest.mark.parametrize("flags,expected", [(AMX, "bf16"), (AVX512_BF16, "bf16"), (NONE, "fp32")])
def test_auto_on_cpu_follows_native_bf16(hardware, flags, expected):
    hardware(flags=flags)
    assert resolve("auto", "cpu") == (expected, None)


@pytest.mark.parametrize(
    "capability,expected", [((8, 0), "bf16"), ((9, 0), "bf16"), ((7, 5), "fp32"), (None, "fp32")]
)
def test_auto_on_cuda_follows_compute_capability(hardware, capability, expected):
    hardware(flags=AMX, capability=capability)  # the CPU's flags do not count for a GPU
    assert resolve("auto", "cuda").precision == expected
    assert resolve("auto", "cuda:1").precision == expected


def test_explicit_choices_are_kept_and_bf16_without_native_support_noted(hardware):
    hardware(flags=NONE, capability=(7, 5))
    assert resolve("fp32", "cpu") == ("fp32", None)
    for device in ("cpu", "cuda"):
        name, note = resolve("bf16", device)
        assert name == "bf16"
        assert note.startswith(f"precision bf16 on {device}: no native bf16") and "\n" not in note
    hardware(flags=AMX, capability=(8, 6))
    assert resolve("bf16", "cpu") == ("bf16", None)
    assert resolve("bf16", "cuda:0") == ("bf16", None)
    assert resolve("auto", "mps").precision == "fp32"


@pytest.mark.parametrize("name", ["fp16", "BF16", "", "float32"])
def test_invalid_choices_are_refused(name):
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        resolve(name, "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast(name, "cpu")


def test_cpu_flags_are_read_from_cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    flags = precision.cpu_flags()
    assert flags and all(f" {flag}" in text for flag in flags)
    assert ("amx_bf16" in flags) == (" amx_bf16" in text)


def test_bf16_autocast_computes_in_bf16_while_parameters_stay_fp32(hardware):
    hardware(flags=NONE)  # explicit bf16 runs anywhere, natively or not
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(3))
    x, y = torch.randn(2, 1, 6, 6), torch.tensor([0, 2])
    with autocast("bf16", "cpu"):
        assert torch.is_autocast_enabled("cpu")
        hidden = model[0](x)
        logits = model(x)
    assert hidden.dtype == logits.dtype == torch.bfloat16
    loss = F.cross_entropy(logits.float(), y)
    loss.backward()
    assert loss.dtype == torch.float32
    for p in model.parameters():
        assert p.dtype == p.grad.dtype == torch.float32
    with autocast("fp32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
        assert model(x).dtype == torch.float32


@pytest.mark.parametrize("flags,expected", [(AMX, torch.bfloat16), (NONE, torch.float32)])
def test_auto_autocast_follows_the_hardware(hardware, flags, expected):
    hardware(flags=flags)
    with autocast("auto", "cpu"):
        assert nn.Linear(4, 2)(torch.randn(3, 4)).dtype == expected
