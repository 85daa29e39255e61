"""Loading checkpoints saved from the GLAM authors' classes (their key
names, listed in shared/reference/README.md) into our models, through the
key mapping each model registers (:class:`~glam_py.models.registry.OfficialKeys`)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

from glam_py.models.registry import OfficialKeys, build, spec


def _rename(key: str, keys: OfficialKeys, reverse: bool = False) -> str | None:
    for theirs, ours in keys.renames:
        src, dst = (ours, theirs) if reverse else (theirs, ours)
        if key.startswith(src):
            return dst + key[len(src) :]
    return None


def _tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))


def from_official(
    name: str,
    state_dict: Mapping[str, object],
    input_shape: tuple[int, int] = (26, 63),
    *,
    fused: bool | None = None,
    winograd: bool | None = None,
    device: str = "cpu",
    channels_last: bool = True,
) -> nn.Module:
    """Builds ``name`` (the options are :func:`build`'s) and loads a state
    dict saved from the authors' class, tensors or arrays. The class count is
    read from the checkpoint. Missing or unexpected keys are an error that
    lists them by the authors' names."""
    rules = spec(name).official_keys
    head = state_dict.get("fc.bias", state_dict.get("top_down.bias"))
    if head is None:
        raise ValueError(
            f"{name}: checkpoint has neither fc.bias nor top_down.bias; is it an authors' {name}?"
        )
    model = build(
        name,
        n_classes=len(head),
        input_shape=input_shape,
        fused=fused,
        device=device,
        channels_last=channels_last,
        winograd=winograd,
    )
    wanted = model.state_dict()
    ours, unexpected = {}, []
    for key, value in state_dict.items():
        mapped = _rename(key, rules)
        if mapped is None or mapped not in wanted:
            unexpected.append(key)
            continue
        tensor = _tensor(value)
        ours[mapped] = tensor.squeeze(0) if mapped in rules.squeezed else tensor
    missing = [_rename(k, rules, reverse=True) or k for k in wanted if k not in ours]
    if missing or unexpected:
        raise ValueError(
            f"{name}: checkpoint does not match the authors' layout; "
            f"missing keys: {sorted(missing)}; unexpected keys: {sorted(unexpected)}"
        )
    for key, tensor in ours.items():
        if tensor.shape != wanted[key].shape:
            raise ValueError(
                f"{name}: {_rename(key, rules, reverse=True)} has shape "
                f"{tuple(tensor.shape)}, expected {tuple(wanted[key].shape)} for "
                f"input shape {input_shape}"
            )
    model.load_state_dict(ours)
    return model


def to_official(name: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One of our state dicts (or any tensors keyed like it, gradients for
    instance) under the authors' key names and shapes, for their classes'
    ``load_state_dict``."""
    rules = spec(name).official_keys
    state = {}
    for key, tensor in state_dict.items():
        theirs = _rename(key, rules, reverse=True)
        if theirs is None:
            raise ValueError(f"{name}: {key} has no counterpart in the authors' layout")
        state[theirs] = (tensor.unsqueeze(0) if key in rules.squeezed else tensor).contiguous()
    return state
