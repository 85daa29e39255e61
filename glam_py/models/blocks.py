"""Convolutional building blocks shared by GLAM, its ablations and the
baselines: the two-kernel stem, the multi-scale block and conv-BN-ReLU.

The stem and the multi-scale block each have a fused form that runs as one
convolution: the smaller kernel is embedded in the larger one and the block's
residual becomes a 1 at the centre tap of the identity channel, so the
outputs come out concatenated by construction. The parameters are always
those of the unfused form, so checkpoints load into either, and gradients
flow to the same tensors.

Where a block max-pools, it pools before the ReLU: ReLU is monotone, so
``pool(relu(y)) == relu(pool(y))`` exactly, and the ReLU then touches a
quarter of the values, forward and backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.registry import OfficialKeys
from glam_py.models.winograd import WinogradConv2d


class ConvBNReLU(nn.Module):
    """Convolution, BatchNorm, optional 2x2 max-pool, ReLU. With
    ``winograd_width``, a square "same" convolution runs with Winograd for
    inputs that wide (see :mod:`winograd`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | tuple[int, int],
        padding: int | tuple[int, int],
        pool: bool = False,
        winograd_width: int | None = None,
    ):
        super().__init__()
        if winograd_width is not None:
            if not isinstance(kernel, int) or padding != kernel // 2:
                raise ValueError(
                    f"Winograd needs a square 'same' convolution, got kernel {kernel}, padding {padding}"
                )
            self.conv = WinogradConv2d(in_channels, out_channels, kernel, winograd_width)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=padding)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(F.max_pool2d(x, 2) if self.pool else x)


# The authors' classes keep the stem's layers at their top level.
STEM_KEYS = OfficialKeys(
    (("conv1a.", "conv_a."), ("conv1b.", "conv_b."), ("bn1a.", "bn_a."), ("bn1b.", "bn_b."))
)


class Stem(nn.Module):
    """Two convolutions over the MFCC matrix, one along frequency
    (``kernel_a``) and one along time (``kernel_b``), each with BatchNorm and
    ReLU, joined along ``join_dim``: 2 (height) for GLAM and AACNN, 1
    (channels) for MHCNN and APCNN."""

    def __init__(
        self,
        channels: int,
        kernel_a: tuple[int, int],
        padding_a: tuple[int, int],
        kernel_b: tuple[int, int],
        padding_b: tuple[int, int],
        join_dim: int,
        fused: bool = False,
    ):
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
        # odd kernels each padded to keep the input size.
        return all(
            p == (k - 1) // 2 and k % 2 == 1 for k, p in zip(kernel_a + kernel_b, padding_a + padding_b)
        )

    def joint_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Both kernels centred in one (2 x channels) kernel, and the biases."""
        ka, kb = self.conv_a.kernel_size, self.conv_b.kernel_size
        kh, kw = max(ka[0], kb[0]), max(ka[1], kb[1])

        def centred(w: torch.Tensor) -> torch.Tensor:
            dh, dw = (kh - w.shape[2]) // 2, (kw - w.shape[3]) // 2
            return F.pad(w, (dw, dw, dh, dh))

        weight = torch.cat([centred(self.conv_a.weight), centred(self.conv_b.weight)])
        return weight, torch.cat([self.conv_a.bias, self.conv_b.bias])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            weight, bias = self.joint_weight()
            padding = (weight.shape[2] // 2, weight.shape[3] // 2)
            a, b = F.conv2d(x, weight, bias, padding=padding).chunk(2, dim=1)
        else:
            a, b = self.conv_a(x), self.conv_b(x)
        return torch.cat([F.relu(self.bn_a(a)), F.relu(self.bn_b(b))], dim=self.join_dim)


class MultiScaleBlock(nn.Module):
    """MS(C): ``cat(conv3x3(x) + x, conv5x5(x) + x)`` over channels, then
    BatchNorm(2C), an optional 2x2 max-pool, and ReLU.

    Both forms carry the residuals in the kernels as identity taps
    (``conv(x, W + I) == conv(x, W) + x``): the same sums without two
    elementwise passes forward and backward. Unfused, the branches are a 3x3
    and a 5x5 convolution, the latter optionally with Winograd (see
    :mod:`winograd`); fused, one 5x5 convolution with 2C outputs, which
    spends 25/9 of the 3x3 branch's arithmetic on zero taps (1.47x the
    block's multiply-adds) to save a launch and the concatenation."""

    def __init__(
        self, channels: int, fused: bool = False, pool: bool = False, winograd_width: int | None = None
    ):
        super().__init__()
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv5 = WinogradConv2d(channels, channels, 5, None if fused else winograd_width)
        self.bn = nn.BatchNorm2d(2 * channels)
        self.fused = fused
        self.pool = pool
        identity = torch.zeros(channels, channels, 5, 5)
        identity[range(channels), range(channels), 2, 2] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    def fused_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 5x5 kernel (2C x C) and bias computing both branches
        and their residuals."""
        w3 = F.pad(self.conv3.weight, (1, 1, 1, 1))
        weight = torch.cat([w3 + self.identity, self.conv5.weight + self.identity])
        return weight, torch.cat([self.conv3.bias, self.conv5.bias])

    def branch_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 and 5x5 kernels with their residual taps."""
        return self.conv3.weight + self.identity[:, :, 1:4, 1:4], self.conv5.weight + self.identity

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """Both branches and their residuals, concatenated: [B, 2C, H, W]."""
        if self.fused:
            weight, bias = self.fused_weight()
            return F.conv2d(x, weight, bias, padding=2)
        w3, w5 = self.branch_weights()
        return torch.cat(
            [F.conv2d(x, w3, self.conv3.bias, padding=1), self.conv5.convolve(x, w5, self.conv5.bias)], dim=1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.convolve(x))
        return F.relu(F.max_pool2d(y, 2) if self.pool else y)
