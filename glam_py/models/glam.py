"""GLAM and its three ablations: the multi-scale trunk followed by
global-aware fusion (GLAM), nothing (Multi-scale), multi-head attention
(Multi-scale + MHA) or area attention (Multi-scale + AA)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.attention import AreaAttention, ElementwiseHeads
from glam_py.models.blocks import ConvBNReLU, MultiScaleBlock, Stem
from glam_py.models.gmlp import GlobalAwareFusion
from glam_py.models.registry import ModelConfig, register
from glam_py.models.shapes import pool_out, require


class MultiScaleTrunk(nn.Module):
    """Stem (3x1 and 1x3, joined along height), MS(16), pool, MS(32), pool,
    MS(64), then a 5x5 convolution 128 -> 128 with BatchNorm and ReLU."""

    channels = 128

    def __init__(self, fused: bool, winograd: bool, grid_width: int):
        super().__init__()
        self.stem = Stem(16, (3, 1), (1, 0), (1, 3), (0, 1), join_dim=2, fused=fused)
        # Winograd pays off from 64 channels on (measured against the direct
        # 5x5: 0.8x the time at 64 channels, even at 32, 1.6x at 16), i.e. in
        # the last block and the head, which see the pooled grid.
        width = grid_width if winograd else None
        self.blocks = nn.ModuleList([MultiScaleBlock(16, fused, pool=True),
                                     MultiScaleBlock(32, fused, pool=True),
                                     MultiScaleBlock(64, fused, winograd_width=width)])
        self.head_conv = ConvBNReLU(128, 128, 5, 2, winograd_width=width)

    @staticmethod
    def output_grid(input_shape: tuple[int, int], model: str) -> tuple[int, int]:
        n_mfcc, n_frames = input_shape
        height = pool_out(pool_out(2 * n_mfcc))
        width = pool_out(pool_out(n_frames))
        return require(height, width, input_shape, model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head_conv(x)


class MultiScaleNet(nn.Module):
    """The trunk, an optional global layer over its output, ReLU, flatten and
    a linear classifier. ``embed`` gives the input of the classifier (the
    penultimate embedding of the paper's t-SNE figure)."""

    def __init__(self, config: ModelConfig, name: str, head: str):
        super().__init__()
        height, width = MultiScaleTrunk.output_grid(config.input_shape, name)
        self.trunk = MultiScaleTrunk(config.use_fused(), config.use_winograd(), width)
        channels = MultiScaleTrunk.channels
        self.head = head
        features = channels * height * width
        if head == "gmlp":
            self.fusion = GlobalAwareFusion(n_tokens=channels, dim=height * width)
        elif head == "mha":
            self.attention = ElementwiseHeads(channels, hidden=64, heads=4)
            features = 64 * 4 * height * width
        elif head == "area":
            self.attention = AreaAttention(max_height=3, max_width=3, memory_height=1)
        self.classifier = nn.Linear(features, config.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.trunk(x)
        if self.head == "gmlp":
            x = self.fusion(x.flatten(2))
        elif self.head == "mha":
            x = self.attention(x)
        elif self.head == "area":
            # Tokens are grid positions in row-major order, features the channels.
            x = self.attention(x.permute(0, 2, 3, 1).flatten(1, 2))
        return F.relu(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


# The paper's model and its ablations differ only in the global layer.
for _name, _head in [("glam", "gmlp"), ("multiscale", "none"), ("multiscale_mha", "mha"),
                     ("multiscale_aa", "area")]:
    register(_name)(lambda config, name=_name, head=_head: MultiScaleNet(config, name, head))
