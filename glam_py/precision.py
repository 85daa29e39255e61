"""The numeric precision of training and inference: fp32, or bf16 autocast
where the hardware multiplies bf16 natively ("auto").

Under bf16 only what ``torch.autocast`` lists runs in bf16: convolutions and
matrix products, whose bf16 inputs accumulate in fp32 in oneDNN and cuBLAS.
Master weights, optimiser state, the loss and the metrics stay fp32:
parameters are never converted (autocast casts copies for each product),
and callers compute the loss and every metric on ``logits.float()``
outside the context::

    name, note = resolve(cfg.precision, device)
    with autocast(name, device):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import ContextManager, Literal, NamedTuple

# torch is imported where used: the training settings check precision
# names through CHOICES, and featurize reads those settings without torch.

# The type of a precision setting (a config field, a --precision flag).
Precision = Literal["auto", "fp32", "bf16"]
CHOICES: tuple[str, ...] = ("auto", "fp32", "bf16")
# AMX tiles, or AVX512's bf16 dot products: what oneDNN uses for bf16 on a CPU.
CPU_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
# Ampere (8.0) is the first CUDA generation with bf16 tensor cores.
CUDA_BF16_CAPABILITY = (8, 0)


class Resolved(NamedTuple):
    """A precision resolved for one device."""

    precision: str  # "fp32" or "bf16"
    note: str | None  # for the user, where the choice will be slow here


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (read once); empty where
    there is no such file (not Linux), which makes "auto" choose fp32."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cuda_capability(device: str) -> tuple[int, int] | None:
    """The compute capability of the CUDA ``device``, None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(torch.device(device)))


def native_bf16(device: str) -> bool:
    """Whether ``device`` ("cpu", "cuda", "cuda:1"...) multiplies bf16
    matrices natively (AMX or AVX512-BF16; CUDA capability 8.0 or above)."""
    import torch

    kind = torch.device(device).type
    if kind == "cpu":
        return bool(CPU_BF16_FLAGS & cpu_flags())
    if kind == "cuda":
        capability = cuda_capability(device)
        return capability is not None and capability >= CUDA_BF16_CAPABILITY
    return False


# The --precision help of every command line that takes it.
HELP = (
    "auto: bf16 autocast where the device multiplies bf16 natively (a CPU with AMX or AVX512-BF16, CUDA capability 8.0 or more); "
    "fp32; bf16 (slow where emulated). Weights, optimiser, loss, metrics and probabilities stay "
    "fp32 (default: auto; docs/training.md, Precision)."
)


def auto_precision(device: str) -> str:
    """What "auto" means on ``device``: the one place of the rule. bf16
    where it is native, else fp32. bf16 was allowed only after its accuracy
    matched fp32's on 10 paired EmoDB splits (docs/research/precision-accuracy.md)."""
    return "bf16" if native_bf16(device) else "fp32"


def resolve(precision: Precision, device: str) -> Resolved:
    """The precision to run with on ``device``.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16"}
        The choice; "auto" applies :func:`auto_precision`.
    device : str
        The torch device, e.g. "cpu", "cuda", "cuda:1".

    Returns
    -------
    Resolved
        ``precision`` "fp32" or "bf16", and a ``note`` for the user where
        bf16 was asked for on hardware without native bf16 (allowed: it
        is emulated, slower than fp32), else None.

    Raises
    ------
    ValueError
        When ``precision`` is none of the choices.
    """
    if precision not in CHOICES:
        raise ValueError(f"precision must be one of {', '.join(CHOICES)}; got {precision!r}")
    if precision == "auto":
        return Resolved(auto_precision(device), None)
    if precision == "bf16" and not native_bf16(device):
        return Resolved(
            "bf16",
            f"precision bf16 on {device}: no native bf16 matrix products here "
            "(no AMX or AVX512-BF16, or CUDA capability below 8.0), so bf16 is "
            "emulated and likely slower than fp32",
        )
    return Resolved(precision, None)


def autocast(precision: Precision, device: str) -> ContextManager:
    """A context that runs the forward pass in ``precision`` on ``device``.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16"}
        Resolved with :func:`resolve` ("auto" included).
    device : str
        The torch device the model runs on.

    Returns
    -------
    context manager
        ``torch.autocast(device type, dtype=torch.bfloat16)`` for bf16, a
        context that does nothing for fp32.

    Raises
    ------
    ValueError
        When ``precision`` is none of the choices.
    """
    if resolve(precision, device).precision == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
