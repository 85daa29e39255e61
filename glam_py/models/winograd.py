"""Square convolutions computed with Winograd's minimal filtering along the
width (Lavin & Gray, CVPR 2016), for the CPU.

A k x k "same" convolution equals, in exact arithmetic: transform each row
of the input into tiles of alpha = m + k - 1 values, run one k x 1
convolution per tile position (one grouped convolution, alpha groups), and
transform back to m outputs per tile. F(4, 5) does 8 / 4 = 2 multiply-adds
per output and kernel row where the direct form does 5, so GLAM's
128 -> 128 5x5 convolution (40% of the model's arithmetic) takes about 0.7x
the time of oneDNN's direct one, forward and backward, with a float32 error
of about 1.5e-6 relative (direct: 0.7e-6). The transforms are two small
matrix products against banded matrices that also absorb the zero padding;
the heavy part stays a oneDNN convolution, so autograd needs nothing
special.

Along one axis only: along both, the per-position products become 64 small
matrix products whose layout changes cost more than they save (measured
1.1x the time of the one-axis form)."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Interpolation points, the usual well-conditioned ones (then infinity).
_POINTS = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0]


@functools.cache
def minimal_filtering(m: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(AT, G, BT)`` of F(m, r) (Toom-Cook with the point at infinity):
    ``y = AT @ ((G @ g) * (BT @ d))`` is the correlation
    ``y[i] = sum_k g[k] d[i + k]`` of ``alpha = m + r - 1`` inputs ``d``
    with ``r`` taps ``g``, for ``m`` outputs."""
    alpha = m + r - 1
    if alpha - 1 > len(_POINTS):
        raise ValueError(f"F({m}, {r}) needs {alpha - 1} finite points; at most {len(_POINTS)} are defined")
    points = _POINTS[: alpha - 1]
    at = np.zeros((m, alpha))
    g = np.zeros((alpha, r))
    bt = np.zeros((alpha, alpha))
    for j, p in enumerate(points):
        others = [q for q in points if q != p]
        at[:, j] = [p**i for i in range(m)]
        g[j] = [p**k / np.prod([p - q for q in others]) for k in range(r)]
        bt[j, : alpha - 1] = np.polynomial.polynomial.polyfromroots(others)
    at[m - 1, -1] = 1.0
    g[-1, r - 1] = 1.0
    bt[-1] = np.polynomial.polynomial.polyfromroots(points)
    return at, g, bt


def width_transforms(
    width: int, m: int, r: int, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Banded matrices over a whole row: ``[tiles * alpha, width]`` into the
    transformed tiles (the zero padding of r // 2 folded in), ``[width,
    tiles * alpha]`` back to the outputs, and the kernel transform G."""
    at, g, bt = minimal_filtering(m, r)
    alpha, pad = m + r - 1, r // 2
    tiles = math.ceil(width / m)
    into = np.zeros((tiles * alpha, width))
    back = np.zeros((width, tiles * alpha))
    for t in range(tiles):
        block = slice(t * alpha, (t + 1) * alpha)
        for u in range(alpha):
            w = m * t + u - pad
            if 0 <= w < width:
                into[block, w] = bt[:, u]
        for j in range(m):
            if m * t + j < width:
                back[m * t + j, block] = at[j]
    return tuple(torch.tensor(a, dtype=dtype) for a in (into, back, g))


def winograd_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    into: torch.Tensor,
    back: torch.Tensor,
    g: torch.Tensor,
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=k // 2)`` for a k x k kernel (k
    odd), with the transforms of :func:`width_transforms` for x's width.
    Returns a channels_last tensor."""
    batch, channels, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    alpha = g.shape[0]
    tiles = into.shape[0] // alpha
    rows = x.permute(0, 2, 3, 1).reshape(batch * height, width, channels)  # a view when channels_last
    # [B*H, tiles*alpha, C] is the channels_last layout of [B, alpha*C, H, tiles]:
    # channel index = tile position * C + input channel, one group per position.
    tiles_in = torch.matmul(into, rows).view(batch, height, tiles, alpha * channels).permute(0, 3, 1, 2)
    # One product [alpha, k] @ [k, Co*C*k] gives the grouped kernel in order.
    taps = weight.permute(3, 0, 1, 2).reshape(k, -1)
    kernel = torch.matmul(g, taps).view(alpha * out_channels, channels, k, 1)
    products = F.conv2d(tiles_in, kernel, padding=(k // 2, 0), groups=alpha)
    products = products.permute(0, 2, 3, 1).reshape(batch * height, tiles * alpha, out_channels)
    out = torch.matmul(back, products)
    if bias is not None:
        out = out + bias
    return out.view(batch, height, width, out_channels).permute(0, 3, 1, 2)


def _autocasting(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


class WinogradConv2d(nn.Conv2d):
    """A k x k convolution with "same" padding (the parameters of
    ``nn.Conv2d``, so checkpoints are unchanged) that runs as
    :func:`winograd_conv2d` with F(4, k) for inputs ``width`` wide, or
    directly when ``width`` is None. The transforms are buffers (out of the
    state dict) kept in float64, so a float64 model computes the exact
    transforms; they are cast to the input's dtype per call."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, width: int | None, m: int = 4):
        if kernel_size % 2 != 1:
            raise ValueError(f"a 'same' convolution needs an odd kernel, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.width = width
        if width is not None:
            for name, tensor in zip(
                ("tile_in", "tile_out", "kernel_transform"),
                width_transforms(width, m, kernel_size, torch.float64),
            ):
                self.register_buffer(name, tensor, persistent=False)

    def convolve(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """This layer's convolution with another kernel of the same shape
        (the multi-scale block adds its residual taps)."""
        # Under autocast or in half precision the transforms' rounding would
        # add to the low-precision error: direct there.
        if self.width is None or x.dtype not in (torch.float32, torch.float64) or _autocasting(x.device.type):
            return F.conv2d(x, weight, bias, padding=self.padding)
        if x.shape[-1] != self.width:
            raise ValueError(
                f"this Winograd convolution was built for inputs {self.width} wide, got {x.shape[-1]}"
            )
        transforms = (t.to(x.dtype) for t in (self.tile_in, self.tile_out, self.kernel_transform))
        return winograd_conv2d(x, weight, bias, *transforms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convolve(x, self.weight, self.bias)
