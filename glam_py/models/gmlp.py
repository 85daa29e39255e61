"""The global-aware fusion of GLAM: one gMLP layer with spatial gating over
the 128 channel tokens, wrapped in a residual connection.

    y = x + proj_out(tanh(W LayerNorm(v) + b) * u),  (u, v) = GELU(proj_in(LayerNorm(x)))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GlobalAwareFusion(nn.Module):
    def __init__(self, n_tokens: int, dim: int, expansion: int = 4, init_eps: float = 1e-3):
        super().__init__()
        hidden = dim * expansion
        self.norm = nn.LayerNorm(dim)
        self.proj_in = nn.Linear(dim, hidden)
        self.gate_norm = nn.LayerNorm(hidden // 2)
        # Near-zero mixing and unit bias start the gate as the identity, so
        # the block begins as a plain MLP (the gMLP paper's initialisation).
        self.spatial_weight = nn.Parameter(
            torch.empty(n_tokens, n_tokens).uniform_(-init_eps / n_tokens, init_eps / n_tokens))
        self.spatial_bias = nn.Parameter(torch.ones(n_tokens))
        self.proj_out = nn.Linear(hidden // 2, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: [batch, tokens, dim]."""
        u, v = F.gelu(self.proj_in(self.norm(x))).chunk(2, dim=-1)
        v = torch.matmul(self.spatial_weight, self.gate_norm(v)) + self.spatial_bias[:, None]
        return x + self.proj_out(torch.tanh(v) * u)
