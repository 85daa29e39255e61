"""BatchNorm folded into the preceding convolution, for inference: each
conv-BN pair becomes one convolution, and a multi-scale block becomes a
single 5x5 convolution with its residuals and BatchNorm folded in."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.blocks import ConvBNReLU, MultiScaleBlock, Stem


def _folded(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm2d) -> nn.Conv2d:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:], bias=True)
    conv.weight.data = weight * scale[:, None, None, None]
    conv.bias.data = (bias - bn.running_mean) * scale + bn.bias
    return conv


class FoldedMultiScale(nn.Module):
    def __init__(self, block: MultiScaleBlock):
        super().__init__()
        weight, bias = block.fused_weight()
        self.conv = _folded(weight, bias, block.bn)
        self.conv.padding = (2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every BatchNorm folded away. Its
    outputs equal the original's in eval mode to float32 rounding."""
    model = copy.deepcopy(model).eval()
    for name, module in list(model.named_modules()):
        if isinstance(module, ConvBNReLU):
            padding = module.conv.padding
            module.conv = _folded(module.conv.weight, module.conv.bias, module.bn)
            module.conv.padding = padding
            module.bn = nn.Identity()
        elif isinstance(module, Stem):
            for conv, bn in (("conv_a", "bn_a"), ("conv_b", "bn_b")):
                old = getattr(module, conv)
                new = _folded(old.weight, old.bias, getattr(module, bn))
                new.padding = old.padding
                setattr(module, conv, new)
                setattr(module, bn, nn.Identity())
            module.fused = False
        elif isinstance(module, MultiScaleBlock):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, FoldedMultiScale(module))
    return model
