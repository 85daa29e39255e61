"""Models built by name, torchvision-style: ``build("glam", n_classes=4,
input_shape=(26, 63))``. Each model module registers one :class:`ModelSpec`
per model: its factory, the key mapping of the authors' checkpoints and the
authors' training recipe."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    CPU (measured there too). ``precision`` is the resolved precision the
    model will run in ("fp32", or "bf16" under autocast): under bf16 the
    Winograd form is not built, since its transforms would add rounding to
    bf16's and the convolutions run directly there anyway."""

    n_classes: int = 4
    input_shape: tuple[int, int] = (26, 63)
    fused: bool | None = None
    device: str = "cpu"
    channels_last: bool = True
    winograd: bool | None = None
    precision: str = "fp32"

    def use_fused(self) -> bool:
        if self.fused is not None:
            return self.fused
        return self.device.startswith("cuda")

    def use_winograd(self) -> bool:
        if self.winograd is not None:
            return self.winograd
        return self.device == "cpu" and self.precision == "fp32"


@dataclass(frozen=True)
class OfficialKeys:
    """How the state-dict keys of the GLAM authors' class
    (shared/reference/README.md) map onto ours.

    ``renames`` pairs their key prefix with ours, first match wins;
    ``squeezed`` names our tensors that theirs hold with a leading axis of
    size 1."""

    renames: tuple[tuple[str, str], ...]
    squeezed: frozenset[str] = frozenset()

    def under(self, prefix: str) -> OfficialKeys:
        """These keys for a submodule kept at ``prefix`` in our model."""
        return OfficialKeys(
            tuple((theirs, prefix + ours) for theirs, ours in self.renames),
            frozenset(prefix + key for key in self.squeezed),
        )

    def __add__(self, other: OfficialKeys) -> OfficialKeys:
        return OfficialKeys(self.renames + other.renames, self.squeezed | other.squeezed)


@dataclass(frozen=True)
class ModelSpec:
    """Everything known about one model, registered by its module.

    Parameters
    ----------
    name : str
        The name :func:`build` and the command lines take.
    factory : callable
        Builds a freshly initialised model from a :class:`ModelConfig`.
    official_keys : OfficialKeys
        The mapping from the authors' checkpoint keys
        (:func:`glam_py.models.from_official`).
    authors_recipe : dict
        The authors' run-script recipe for this model as TrainConfig field
        overrides of the paper's settings (shared/REFERENCE.md, "Per-model
        recipes"); empty where the authors used the paper's.
    """

    name: str
    factory: Callable[[ModelConfig], nn.Module]
    official_keys: OfficialKeys
    authors_recipe: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Adds a model; names are unique."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    """Every registered model name."""
    return list(_REGISTRY)


def spec(name: str) -> ModelSpec:
    """The registry entry of ``name``.

    Raises
    ------
    ValueError
        When no model of that name is registered (the known ones listed).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(names())}")
    return _REGISTRY[name]


def _to_channels_last(module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last),) + args[1:]


def build(
    name: str,
    n_classes: int = 4,
    input_shape: tuple[int, int] = (26, 63),
    fused: bool | None = None,
    device: str = "cpu",
    channels_last: bool = True,
    winograd: bool | None = None,
    precision: str = "fp32",
    dropout: float = 0.0,
) -> nn.Module:
    """A freshly initialised model taking ``[batch, 1, n_mfcc, n_frames]``
    and returning ``[batch, n_classes]`` logits. ``precision`` ("fp32" or
    "bf16", resolved by :func:`glam_py.precision.resolve`) is the one the
    model will run in: under bf16 the Winograd form is left out
    (:class:`ModelConfig`); the weights are fp32 either way. ``dropout``
    (a probability, 0: none) drops values of what the classification
    layers take, in training mode (:func:`_drop_before_classifier`).
    Shapes that cannot work are refused here with the reason, not deep
    inside ``forward``."""
    factory = spec(name).factory
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16 (resolve auto first); got {precision!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be at least 0 and below 1, got {dropout}")
    config = ModelConfig(n_classes, tuple(input_shape), fused, device, channels_last, winograd, precision)
    model = factory(config)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        model.register_forward_pre_hook(_to_channels_last)
    if dropout > 0:
        _drop_before_classifier(model, dropout)
    return model


def _drop_before_classifier(model: nn.Module, p: float) -> None:
    """Dropout of probability ``p`` on what the model's classification
    layers take: the input of its ``classifier`` (the last linear layer),
    or, in APCNN, which has none, the trunk's map that its two 1x1 heads
    take. An ``nn.Dropout`` child of that module, applied by a hook, so
    that it follows ``train()`` and ``eval()``, is found among the model's
    modules and copied with it, and adds nothing to the state dict
    (checkpoints load into a model built without it)."""
    classifier = getattr(model, "classifier", None)
    if classifier is not None:
        classifier.dropout = nn.Dropout(p)
        classifier.register_forward_pre_hook(_dropped_input)
    else:
        model.trunk.dropout = nn.Dropout(p)
        model.trunk.register_forward_hook(_dropped_output)


def _dropped_input(module: nn.Module, args: tuple) -> tuple:
    return (module.dropout(args[0]),)


def _dropped_output(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return module.dropout(output)
