"""A plain transcription of the GLAM authors' model, structured as their
class is (separate branch convolutions, residual adds, concatenations,
contiguous NCHW layout, the gMLP layer as nested wrappers), used only as the
anchor of the training-step benchmark. Same mathematics as
glam_py.models.build("glam"); loads the same state dict."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Branches(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv5 = nn.Conv2d(channels, channels, 5, padding=2)
        self.bn = nn.BatchNorm2d(channels * 2)

    def forward(self, x):
        x3 = self.conv3(x) + x
        x5 = self.conv5(x) + x
        return F.relu(self.bn(torch.cat((x3, x5), 1)))


class _SpatialGate(nn.Module):
    def __init__(self, dim: int, seq: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim // 2)
        self.weight = nn.Parameter(torch.empty(1, seq, seq).uniform_(-1e-3 / seq, 1e-3 / seq))
        self.bias = nn.Parameter(torch.ones(1, seq))

    def forward(self, x):
        res, gate = x.chunk(2, dim=-1)
        gate = self.norm(gate)
        gate = torch.einsum("bhnd,hmn->bhmd", gate.unsqueeze(1), self.weight)
        gate = gate + self.bias[None, :, :, None]
        return torch.tanh(gate.squeeze(1)) * res


class _GMLPBlock(nn.Module):
    def __init__(self, dim: int, seq: int):
        super().__init__()
        self.proj_in = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU())
        self.sgu = _SpatialGate(dim * 4, seq)
        self.proj_out = nn.Linear(dim * 2, dim)

    def forward(self, x):
        return self.proj_out(self.sgu(self.proj_in(x)))


class ReferenceGLAM(nn.Module):
    def __init__(self, shape=(26, 63), n_classes=4):
        super().__init__()
        self.conv1a = nn.Conv2d(1, 16, (3, 1), padding=(1, 0))
        self.conv1b = nn.Conv2d(1, 16, (1, 3), padding=(0, 1))
        self.bn1a = nn.BatchNorm2d(16)
        self.bn1b = nn.BatchNorm2d(16)
        self.conv2, self.conv3, self.conv4 = _Branches(16), _Branches(32), _Branches(64)
        self.conv5 = nn.Conv2d(128, 128, 5, padding=2)
        self.bn5 = nn.BatchNorm2d(128)
        dim = (shape[0] // 2) * (shape[1] // 4)
        self.norm = nn.LayerNorm(dim)
        self.block = _GMLPBlock(dim, 128)
        self.fc = nn.Linear(128 * dim, n_classes)

    def forward(self, x):
        xa = F.relu(self.bn1a(self.conv1a(x)))
        xb = F.relu(self.bn1b(self.conv1b(x)))
        x = torch.cat((xa, xb), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = F.max_pool2d(self.conv3(x), 2)
        x = self.conv4(x)
        x = F.relu(self.bn5(self.conv5(x)))
        x = x.view(*x.shape[:-2], -1).contiguous()
        x = x + self.block(self.norm(x))
        return self.fc(F.relu(x).reshape(x.shape[0], -1))
