"""Loading checkpoints saved from the GLAM authors' classes (their key
names, listed in shared/reference/README.md) into our models."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

from glam_py.models.registry import build

_STEM = [("conv1a.", "trunk.stem.conv_a."), ("conv1b.", "trunk.stem.conv_b."),
         ("bn1a.", "trunk.stem.bn_a."), ("bn1b.", "trunk.stem.bn_b.")]
_HEADS = [("attention_query.", "attention.query."), ("attention_key.", "attention.key."),
          ("attention_value.", "attention.value."), ("fc.", "classifier."),
          ("top_down.", "top_down."), ("bottom_up.", "bottom_up.")]
_GMLP = "gmlp.layers.0.fn."
_MULTISCALE = _STEM + [
    ("conv2.", "trunk.blocks.0."), ("conv3.", "trunk.blocks.1."), ("conv4.", "trunk.blocks.2."),
    ("conv5.", "trunk.head_conv.conv."), ("bn5.", "trunk.head_conv.bn."),
    (_GMLP + "norm.", "fusion.norm."),
    (_GMLP + "fn.fn.proj_in.0.", "fusion.proj_in."),
    (_GMLP + "fn.fn.sgu.norm.", "fusion.gate_norm."),
    (_GMLP + "fn.fn.sgu.weight", "fusion.spatial_weight"),
    (_GMLP + "fn.fn.sgu.bias", "fusion.spatial_bias"),
    (_GMLP + "fn.fn.proj_out.", "fusion.proj_out."),
] + _HEADS
_CNN = _STEM + [
    (f"{layer}{i}.", f"trunk.convs.{i - 2}.{layer}.") for i in range(2, 6) for layer in ("conv", "bn")
] + _HEADS
# The authors' spatial gating unit keeps a leading "heads" axis of size 1.
_SQUEEZED = {"fusion.spatial_weight", "fusion.spatial_bias"}

RULES = {name: _MULTISCALE for name in ("glam", "multiscale", "multiscale_mha", "multiscale_aa")}
RULES.update({name: _CNN for name in ("mhcnn", "aacnn", "apcnn")})


def _rename(key: str, rules: list[tuple[str, str]], reverse: bool = False) -> str | None:
    for theirs, ours in rules:
        src, dst = (ours, theirs) if reverse else (theirs, ours)
        if key.startswith(src):
            return dst + key[len(src):]
    return None


def _tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))


def from_official(name: str, state_dict: Mapping[str, object], input_shape: tuple[int, int] = (26, 63),
                  *, fused: bool | None = None, winograd: bool | None = None, device: str = "cpu",
                  channels_last: bool = True) -> nn.Module:
    """Builds ``name`` (the options are :func:`build`'s) and loads a state
    dict saved from the authors' class, tensors or arrays. The class count is
    read from the checkpoint. Missing or unexpected keys are an error that
    lists them by the authors' names."""
    if name not in RULES:
        raise ValueError(f"no official checkpoint layout for {name!r}; choose one of {', '.join(RULES)}")
    rules = RULES[name]
    head = state_dict.get("fc.bias", state_dict.get("top_down.bias"))
    if head is None:
        raise ValueError(f"{name}: checkpoint has neither fc.bias nor top_down.bias; is it an authors' {name}?")
    model = build(name, n_classes=len(head), input_shape=input_shape, fused=fused, device=device,
                  channels_last=channels_last, winograd=winograd)
    wanted = model.state_dict()
    ours, unexpected = {}, []
    for key, value in state_dict.items():
        mapped = _rename(key, rules)
        if mapped is None or mapped not in wanted:
            unexpected.append(key)
            continue
        tensor = _tensor(value)
        ours[mapped] = tensor.squeeze(0) if mapped in _SQUEEZED else tensor
    missing = [_rename(k, rules, reverse=True) or k for k in wanted if k not in ours]
    if missing or unexpected:
        raise ValueError(f"{name}: checkpoint does not match the authors' layout; "
                         f"missing keys: {sorted(missing)}; unexpected keys: {sorted(unexpected)}")
    for key, tensor in ours.items():
        if tensor.shape != wanted[key].shape:
            raise ValueError(f"{name}: {_rename(key, rules, reverse=True)} has shape "
                             f"{tuple(tensor.shape)}, expected {tuple(wanted[key].shape)} for "
                             f"input shape {input_shape}")
    model.load_state_dict(ours)
    return model


def to_official(name: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One of our state dicts (or any tensors keyed like it, gradients for
    instance) under the authors' key names and shapes, for their classes'
    ``load_state_dict``."""
    if name not in RULES:
        raise ValueError(f"no official checkpoint layout for {name!r}; choose one of {', '.join(RULES)}")
    state = {}
    for key, tensor in state_dict.items():
        theirs = _rename(key, RULES[name], reverse=True)
        if theirs is None:
            raise ValueError(f"{name}: {key} has no counterpart in the authors' layout")
        state[theirs] = (tensor.unsqueeze(0) if key in _SQUEEZED else tensor).contiguous()
    return state
