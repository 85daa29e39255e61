"""Models built by name, torchvision-style: ``build("glam", n_classes=4,
input_shape=(26, 63))``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """What every model is built from.

    ``fused`` picks the single-convolution form of the stem and multi-scale
    blocks; ``None`` chooses per device when the model is built: fused for
    CUDA, where one kernel launch beats several, unfused for the CPU, where
    the zero-padded 3x3 branch costs more arithmetic than the launches save
    (benches/test_model_speed.py measures both). ``winograd`` computes the
    multi-scale trunk's 5x5 convolutions of 64 and 128 channels with
    Winograd's F(4, 5) along the width (:mod:`glam_py.models.winograd`);
    ``None`` means on the CPU only, where it saves 60% of their
    multiply-adds and about 25% of their time (cuDNN picks its own
    algorithms). ``channels_last`` stores weights and activations NHWC,
    which oneDNN's convolutions, pooling and BatchNorm run faster on the
    CPU (measured there too)."""

    n_classes: int = 4
    input_shape: tuple[int, int] = (26, 63)
    fused: bool | None = None
    device: str = "cpu"
    channels_last: bool = True
    winograd: bool | None = None

    def use_fused(self) -> bool:
        if self.fused is not None:
            return self.fused
        return self.device.startswith("cuda")

    def use_winograd(self) -> bool:
        if self.winograd is not None:
            return self.winograd
        return self.device == "cpu"


_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register(name: str):
    def add(factory: Callable[[ModelConfig], nn.Module]):
        _REGISTRY[name] = factory
        return factory

    return add


def names() -> list[str]:
    """Every registered model name."""
    return list(_REGISTRY)


def _to_channels_last(module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last),) + args[1:]


def build(name: str, n_classes: int = 4, input_shape: tuple[int, int] = (26, 63),
          fused: bool | None = None, device: str = "cpu", channels_last: bool = True,
          winograd: bool | None = None) -> nn.Module:
    """A freshly initialised model taking ``[batch, 1, n_mfcc, n_frames]``
    and returning ``[batch, n_classes]`` logits. Shapes that cannot work are
    refused here with the reason, not deep inside ``forward``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(names())}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    config = ModelConfig(n_classes, tuple(input_shape), fused, device, channels_last, winograd)
    model = _REGISTRY[name](config)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        model.register_forward_pre_hook(_to_channels_last)
    return model
