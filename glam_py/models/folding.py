"""BatchNorm folded into the preceding convolution, for inference: each
conv-BN pair becomes one convolution, and a multi-scale block becomes its
convolution(s) with the residuals and BatchNorm folded in."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.blocks import ConvBNReLU, MultiScaleBlock, Stem


def _scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _folded(
    conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
) -> nn.Conv2d:
    """A copy of ``conv`` (same class, padding, algorithm) computing
    ``BN(conv(x; weight, bias))`` for a BN given as ``scale`` and ``shift``."""
    folded = copy.deepcopy(conv)
    folded.weight = nn.Parameter(weight * scale[:, None, None, None])
    folded.bias = nn.Parameter(bias * scale + shift)
    return folded


class FoldedMultiScale(nn.Module):
    """A multi-scale block in eval mode: its branch convolution(s) with the
    residual taps and BatchNorm in the kernels, then pool and ReLU."""

    def __init__(self, block: MultiScaleBlock):
        super().__init__()
        scale, shift = _scale_shift(block.bn)
        if block.fused:
            weight, bias = block.fused_weight()
            joint = nn.Conv2d(weight.shape[1], weight.shape[0], 5, padding=2)
            self.convs = nn.ModuleList([_folded(joint, weight, bias, scale, shift)])
        else:
            halves = zip(block.branch_weights(), (block.conv3, block.conv5), scale.chunk(2), shift.chunk(2))
            self.convs = nn.ModuleList(_folded(conv, w, conv.bias, s, t) for w, conv, s, t in halves)
        self.pool = block.pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([conv(x) for conv in self.convs], dim=1) if len(self.convs) > 1 else self.convs[0](x)
        return F.relu(F.max_pool2d(y, 2) if self.pool else y)


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every BatchNorm folded away. Its
    outputs equal the original's in eval mode to float32 rounding."""
    model = copy.deepcopy(model).eval()
    for name, module in list(model.named_modules()):
        if isinstance(module, ConvBNReLU):
            module.conv = _folded(module.conv, module.conv.weight, module.conv.bias, *_scale_shift(module.bn))
            module.bn = nn.Identity()
        elif isinstance(module, Stem):
            for conv, bn in (("conv_a", "bn_a"), ("conv_b", "bn_b")):
                old = getattr(module, conv)
                setattr(module, conv, _folded(old, old.weight, old.bias, *_scale_shift(getattr(module, bn))))
                setattr(module, bn, nn.Identity())
        elif isinstance(module, MultiScaleBlock):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, FoldedMultiScale(module))
    return model
