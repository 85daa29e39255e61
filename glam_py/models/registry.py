"""Models built by name, torchvision-style: ``build("glam", n_classes=4,
input_shape=(26, 63))``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """What every model is built from.

    ``fused`` picks the single-convolution form of the stem and multi-scale
    blocks; ``None`` chooses per device when the model is built: fused for
    CUDA, where one kernel launch beats several, unfused for the CPU, where
    the zero-padded 3x3 branch costs more arithmetic than the launches save
    (benches/test_model_speed.py measures both)."""

    n_classes: int = 4
    input_shape: tuple[int, int] = (26, 63)
    fused: bool | None = None
    device: str = "cpu"

    def use_fused(self) -> bool:
        if self.fused is not None:
            return self.fused
        return self.device.startswith("cuda")


_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register(name: str):
    def add(factory: Callable[[ModelConfig], nn.Module]):
        _REGISTRY[name] = factory
        return factory

    return add


def names() -> list[str]:
    """Every registered model name."""
    return list(_REGISTRY)


def build(name: str, n_classes: int = 4, input_shape: tuple[int, int] = (26, 63),
          fused: bool | None = None, device: str = "cpu") -> nn.Module:
    """A freshly initialised model taking ``[batch, 1, n_mfcc, n_frames]``
    and returning ``[batch, n_classes]`` logits. Shapes that cannot work are
    refused here with the reason, not deep inside ``forward``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(names())}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    config = ModelConfig(n_classes, tuple(input_shape), fused, device)
    return _REGISTRY[name](config)
