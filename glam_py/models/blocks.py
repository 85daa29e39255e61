"""Convolutional building blocks shared by GLAM, its ablations and the
baselines: the two-kernel stem, the multi-scale block and conv-BN-ReLU.

The stem and the multi-scale block each have a fused form that runs as one
convolution: the smaller kernel is embedded in the larger one and the block's
residual becomes a 1 at the centre tap of the identity channel, so the
outputs come out concatenated by construction. The parameters are always
those of the unfused form, so checkpoints load into either, and gradients
flow to the same tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int | tuple[int, int],
                 padding: int | tuple[int, int]):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=padding)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Stem(nn.Module):
    """Two convolutions over the MFCC matrix, one along frequency
    (``kernel_a``) and one along time (``kernel_b``), each with BatchNorm and
    ReLU, joined along ``join_dim``: 2 (height) for GLAM and AACNN, 1
    (channels) for MHCNN and APCNN."""

    def __init__(self, channels: int, kernel_a: tuple[int, int], padding_a: tuple[int, int],
                 kernel_b: tuple[int, int], padding_b: tuple[int, int], join_dim: int,
                 fused: bool = False):
        super().__init__()
        self.conv_a = nn.Conv2d(1, channels, kernel_a, padding=padding_a)
        self.conv_b = nn.Conv2d(1, channels, kernel_b, padding=padding_b)
        self.bn_a = nn.BatchNorm2d(channels)
        self.bn_b = nn.BatchNorm2d(channels)
        self.join_dim = join_dim
        self.fused = fused and self._fusable(kernel_a, padding_a, kernel_b, padding_b)

    @staticmethod
    def _fusable(kernel_a, padding_a, kernel_b, padding_b) -> bool:
        # One convolution can only replace both when their outputs line up:
        # a 3x1 and a 1x3 kernel each padded to keep the input size.
        return all(p == (k - 1) // 2 and k % 2 == 1
                   for k, p in zip(kernel_a + kernel_b, padding_a + padding_b))

    def _joint_conv(self, x: torch.Tensor) -> torch.Tensor:
        ka, kb = self.conv_a.kernel_size, self.conv_b.kernel_size
        kh, kw = max(ka[0], kb[0]), max(ka[1], kb[1])

        def embed(w: torch.Tensor) -> torch.Tensor:
            dh, dw = (kh - w.shape[2]) // 2, (kw - w.shape[3]) // 2
            return F.pad(w, (dw, dw, dh, dh))

        weight = torch.cat([embed(self.conv_a.weight), embed(self.conv_b.weight)])
        bias = torch.cat([self.conv_a.bias, self.conv_b.bias])
        return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            both = self._joint_conv(x)
            a, b = both.chunk(2, dim=1)
        else:
            a, b = self.conv_a(x), self.conv_b(x)
        return torch.cat([F.relu(self.bn_a(a)), F.relu(self.bn_b(b))], dim=self.join_dim)


class MultiScaleBlock(nn.Module):
    """MS(C): ``cat(conv3x3(x) + x, conv5x5(x) + x)`` over channels, then
    BatchNorm(2C) and ReLU. Unfused, the two branches are two convolutions
    (3x3 and 5x5); fused, one 5x5 convolution with 2C outputs."""

    def __init__(self, channels: int, fused: bool = False):
        super().__init__()
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv5 = nn.Conv2d(channels, channels, 5, padding=2)
        self.bn = nn.BatchNorm2d(2 * channels)
        self.fused = fused
        identity = torch.zeros(channels, channels, 5, 5)
        identity[range(channels), range(channels), 2, 2] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    def fused_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 5x5 kernel (2C x C) and bias computing both branches
        and their residuals."""
        w3 = F.pad(self.conv3.weight, (1, 1, 1, 1))
        weight = torch.cat([w3 + self.identity, self.conv5.weight + self.identity])
        return weight, torch.cat([self.conv3.bias, self.conv5.bias])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            weight, bias = self.fused_weight()
            y = F.conv2d(x, weight, bias, padding=2)
        else:
            # The residuals ride in the kernels as identity taps: the same
            # sums, without two elementwise passes forward and backward
            # (about 6% of a CPU training step).
            identity3 = self.identity[:, :, 1:4, 1:4]
            y = torch.cat([
                F.conv2d(x, self.conv3.weight + identity3, self.conv3.bias, padding=1),
                F.conv2d(x, self.conv5.weight + self.identity, self.conv5.bias, padding=2),
            ], dim=1)
        return F.relu(self.bn(y))
