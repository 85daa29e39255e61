"""The attention layers of the ablations and baselines: the
element-wise multi-head attention of MHCNN and area attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.registry import OfficialKeys

# The authors' classes hold the heads' convolutions at their top level.
HEADS_KEYS = OfficialKeys(
    (("attention_query.", "query."), ("attention_key.", "key."), ("attention_value.", "value."))
)


class ElementwiseHeads(nn.Module):
    """MHCNN's heads: per head, 1x1 convolutions Q, K, V; the head output is
    ``softmax(Q * K over channels) * V``; heads are joined along the height
    axis."""

    def __init__(self, in_channels: int, hidden: int = 64, heads: int = 4):
        super().__init__()
        self.query = nn.ModuleList(nn.Conv2d(in_channels, hidden, 1) for _ in range(heads))
        self.key = nn.ModuleList(nn.Conv2d(in_channels, hidden, 1) for _ in range(heads))
        self.value = nn.ModuleList(nn.Conv2d(in_channels, hidden, 1) for _ in range(heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [torch.softmax(q(x) * k(x), dim=1) * v(x) for q, k, v in zip(self.query, self.key, self.value)]
        return torch.cat(outs, dim=2)


class AreaAttention(nn.Module):
    """Self-attention over areas of a ``memory_height`` x (tokens /
    memory_height) grid of tokens (Li et al., ICML 2019): an area's key is the
    mean of its tokens, its value their sum; logits are unscaled dot
    products; dropout acts on the weights. No parameters.

    The GLAM authors' classes leave ``memory_height`` at 1, so their areas
    are runs of up to ``max_width`` consecutive tokens of the row-major
    flattened grid (``max_height`` has no effect there); the official models
    reproduce that."""

    def __init__(self, max_height: int = 3, max_width: int = 3, memory_height: int = 1, dropout: float = 0.5):
        super().__init__()
        self.max_height, self.max_width = max_height, max_width
        self.memory_height = memory_height
        self.dropout = nn.Dropout(dropout)

    def areas(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums and sizes of every area: [batch, areas, dim] and [areas, 1]."""
        batch, n, dim = x.shape
        grid = x.reshape(batch, self.memory_height, n // self.memory_height, dim)
        integral = F.pad(grid.cumsum(1).cumsum(2), (0, 0, 1, 0, 1, 0))
        rows, cols = grid.shape[1], grid.shape[2]
        sums, sizes = [], []
        for h in range(1, min(self.max_height, rows) + 1):
            for w in range(1, min(self.max_width, cols) + 1):
                s = integral[:, h:, w:] - integral[:, :-h, w:] - integral[:, h:, :-w] + integral[:, :-h, :-w]
                sums.append(s.reshape(batch, -1, dim))
                sizes.append(
                    torch.full((s.shape[1] * s.shape[2], 1), float(h * w), dtype=x.dtype, device=x.device)
                )
        return torch.cat(sums, dim=1), torch.cat(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: a feature map [batch, dim, height, width]; its positions in
        row-major order are the tokens, used as query, key and value.
        Returns [batch, tokens, dim]."""
        x = x.permute(0, 2, 3, 1).flatten(1, 2)
        sums, sizes = self.areas(x)
        logits = torch.matmul(x, (sums / sizes).transpose(1, 2))
        return torch.matmul(self.dropout(torch.softmax(logits, dim=-1)), sums)
