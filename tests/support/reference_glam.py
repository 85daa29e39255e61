"""A plain transcription of the GLAM authors' model class ``GLAM``: the
anchor of the model benchmarks and of ``experiments.authors_loop``, and
checked by the tests (not used by the package).

Source: the authors' public implementation of the ICASSP 2022 paper, as
described in shared/REFERENCE.md and matched key for key against the state
dict of their class listed in shared/reference/README.md. Neither file names
the repository URL or a commit, so the commit this transcription follows is
not recorded; the reference checkpoint shared/reference/glam.npz, made with
their class, is what it is checked against.

Structured as their classes are: separate branch convolutions, residual
adds, concatenations, contiguous NCHW layout, max-pool after ReLU, and the
gMLP layer as the nested Residual(PreNorm(PreShiftTokens(block))) wrappers
with an einsum in the spatial gate. The attribute names are theirs, so the
authors' checkpoints (shared/reference/glam.npz) load with ``strict=True``;
tests/test_model_fusion.py checks that it reproduces their logits and equals
``glam_py.models.build("glam")`` on the same weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResMultiConv(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv5 = nn.Conv2d(channels, channels, 5, padding=2)
        self.bn = nn.BatchNorm2d(channels * 2)

    def forward(self, x):
        x3 = self.conv3(x) + x
        x5 = self.conv5(x) + x
        return F.relu(self.bn(torch.cat((x3, x5), 1)))


class SpatialGatingUnit(nn.Module):
    def __init__(self, dim: int, seq_len: int, init_eps: float = 1e-3):
        super().__init__()
        self.norm = nn.LayerNorm(dim // 2)
        eps = init_eps / seq_len
        self.weight = nn.Parameter(torch.empty(1, seq_len, seq_len).uniform_(-eps, eps))
        self.bias = nn.Parameter(torch.ones(1, seq_len))

    def forward(self, x):
        res, gate = x.chunk(2, dim=-1)
        gate = self.norm(gate).unsqueeze(1)  # b h n d with one head
        gate = torch.einsum("bhnd,hmn->bhmd", gate, self.weight)
        gate = gate + self.bias[None, :, :, None]
        return torch.tanh(gate.squeeze(1)) * res


class GMLPBlock(nn.Module):
    def __init__(self, dim: int, dim_ff: int, seq_len: int):
        super().__init__()
        self.proj_in = nn.Sequential(nn.Linear(dim, dim_ff), nn.GELU())
        self.sgu = SpatialGatingUnit(dim_ff, seq_len)
        self.proj_out = nn.Linear(dim_ff // 2, dim)

    def forward(self, x):
        return self.proj_out(self.sgu(self.proj_in(x)))


class PreShiftTokens(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn  # no token shifts in GLAM: a pass-through wrapper

    def forward(self, x):
        return self.fn(x)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.fn(self.norm(x))


class Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


class GMLP(nn.Module):
    def __init__(self, dim: int, seq_len: int):
        super().__init__()
        self.layers = nn.ModuleList(
            [Residual(PreNorm(dim, PreShiftTokens(GMLPBlock(dim, dim * 4, seq_len))))]
        )

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class ReferenceGLAM(nn.Module):
    def __init__(self, shape: tuple[int, int] = (26, 63), n_classes: int = 4):
        super().__init__()
        self.conv1a = nn.Conv2d(1, 16, (3, 1), padding=(1, 0))
        self.conv1b = nn.Conv2d(1, 16, (1, 3), padding=(0, 1))
        self.conv2 = ResMultiConv(16)
        self.conv3 = ResMultiConv(32)
        self.conv4 = ResMultiConv(64)
        self.conv5 = nn.Conv2d(128, 128, 5, padding=2)
        self.maxp = nn.MaxPool2d(2)
        self.bn1a = nn.BatchNorm2d(16)
        self.bn1b = nn.BatchNorm2d(16)
        self.bn5 = nn.BatchNorm2d(128)
        dim = (shape[0] * 2 // 4) * (shape[1] // 4)
        self.gmlp = GMLP(dim, 128)
        self.fc = nn.Linear(128 * dim, n_classes)
        self.dropout = nn.Dropout(0.5)  # declared by the authors, never applied

    def forward(self, x):
        xa = F.relu(self.bn1a(self.conv1a(x)))
        xb = F.relu(self.bn1b(self.conv1b(x)))
        x = torch.cat((xa, xb), 2)
        x = self.maxp(self.conv2(x))
        x = self.maxp(self.conv3(x))
        x = self.conv4(x)
        x = F.relu(self.bn5(self.conv5(x)))
        x = x.view(*x.shape[:-2], -1)
        x = F.relu(self.gmlp(x))
        return self.fc(x.reshape(x.shape[0], -1))
