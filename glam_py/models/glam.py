"""GLAM and its three ablations: the multi-scale trunk followed by
global-aware fusion (GLAM), nothing (Multi-scale), multi-head attention
(Multi-scale + MHA) or area attention (Multi-scale + AA)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.attention import HEADS_KEYS, AreaAttention, ElementwiseHeads
from glam_py.models.blocks import STEM_KEYS, ConvBNReLU, MultiScaleBlock, Stem
from glam_py.models.gmlp import FUSION_KEYS, GlobalAwareFusion
from glam_py.models.registry import ModelConfig, ModelSpec, OfficialKeys, register
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
        self.blocks = nn.ModuleList(
            [
                MultiScaleBlock(16, fused, pool=True),
                MultiScaleBlock(32, fused, pool=True),
                MultiScaleBlock(64, fused, winograd_width=width),
            ]
        )
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
    """The trunk, a global layer over its output, ReLU, flatten and a
    linear classifier. ``embed`` gives the input of the classifier (the
    penultimate embedding of the paper's t-SNE figure).

    Parameters
    ----------
    config : ModelConfig
        Class count, input shape and the fused / Winograd choices.
    grid : tuple of int
        Height and width of the trunk's output for ``config.input_shape``
        (:meth:`MultiScaleTrunk.output_grid`).
    head : nn.Module
        The global layer, taking the trunk's [batch, 128, height, width]
        map: GLAM's fusion, an attention layer or ``nn.Identity``.
    features : int
        How many values the head's output holds per example.
    """

    def __init__(self, config: ModelConfig, grid: tuple[int, int], head: nn.Module, features: int):
        super().__init__()
        self.trunk = MultiScaleTrunk(config.use_fused(), config.use_winograd(), grid[1])
        self.head = head
        self.classifier = nn.Linear(features, config.n_classes)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before the global layer was one module kept it
        # as "fusion" (GLAM) or "attention" (Multi-scale + MHA).
        for key in [k for k in state_dict if k.startswith((prefix + "fusion.", prefix + "attention."))]:
            state_dict[prefix + "head." + key[len(prefix) :].partition(".")[2]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.head(self.trunk(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


# The paper's model and its ablations differ only in the global layer.
def _glam(config: ModelConfig) -> MultiScaleNet:
    height, width = MultiScaleTrunk.output_grid(config.input_shape, "glam")
    fusion = GlobalAwareFusion(n_tokens=MultiScaleTrunk.channels, dim=height * width)
    return MultiScaleNet(config, (height, width), fusion, MultiScaleTrunk.channels * height * width)


def _multiscale(config: ModelConfig) -> MultiScaleNet:
    height, width = MultiScaleTrunk.output_grid(config.input_shape, "multiscale")
    return MultiScaleNet(config, (height, width), nn.Identity(), MultiScaleTrunk.channels * height * width)


def _multiscale_mha(config: ModelConfig) -> MultiScaleNet:
    height, width = MultiScaleTrunk.output_grid(config.input_shape, "multiscale_mha")
    heads = ElementwiseHeads(MultiScaleTrunk.channels, hidden=64, heads=4)
    # The four heads' 64-channel maps are joined along the height.
    return MultiScaleNet(config, (height, width), heads, 64 * 4 * height * width)


def _multiscale_aa(config: ModelConfig) -> MultiScaleNet:
    height, width = MultiScaleTrunk.output_grid(config.input_shape, "multiscale_aa")
    attention = AreaAttention(max_height=3, max_width=3, memory_height=1)
    return MultiScaleNet(config, (height, width), attention, MultiScaleTrunk.channels * height * width)


# The authors' names of the trunk and classifier, shared by the four models.
_KEYS = STEM_KEYS.under("trunk.stem.") + OfficialKeys(
    (
        ("conv2.", "trunk.blocks.0."),
        ("conv3.", "trunk.blocks.1."),
        ("conv4.", "trunk.blocks.2."),
        ("conv5.", "trunk.head_conv.conv."),
        ("bn5.", "trunk.head_conv.bn."),
        ("fc.", "classifier."),
    )
)
# The authors' run scripts for GLAM and its ablations (shared/REFERENCE.md,
# "Per-model recipes"): 1.8 s windows overlapping by 1.6 s, learning rate 1e-3.
_AUTHORS = {"lr": 1e-3, "features": {"window_s": 1.8, "overlap_s": 1.6}, "train_overlap_s": 1.6}

register(ModelSpec("glam", _glam, _KEYS + FUSION_KEYS.under("head."), _AUTHORS))
register(ModelSpec("multiscale", _multiscale, _KEYS, _AUTHORS))
register(ModelSpec("multiscale_mha", _multiscale_mha, _KEYS + HEADS_KEYS.under("head."), _AUTHORS))
register(ModelSpec("multiscale_aa", _multiscale_aa, _KEYS, {**_AUTHORS, "batch_size": 128}))
