"""Mixup (Zhang et al., 2018) as the GLAM paper uses it: one lambda per
batch from Beta(alpha, alpha), the batch mixed with a permutation of itself,
the loss mixed with the same lambda."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def mix(
    x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator, out: torch.Tensor | None = None
):
    """Returns ``(mixed x, y, y of the partners, lambda)``; alpha 0 returns
    the batch unmixed with lambda 1.

    Parameters
    ----------
    out : torch.Tensor, optional
        A tensor shaped like ``x`` that receives the mixed batch, so that a
        training loop allocates no batch per step; ``x`` is left unchanged.
    """
    if alpha <= 0:
        return x, y, y, 1.0
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x)))
    if out is None:
        return lam * x + (1 - lam) * x[perm], y, y[perm], lam
    mixed = torch.index_select(x, 0, perm, out=out).mul_(1 - lam).add_(x * lam)
    return mixed, y, y[perm], lam


def mixup_loss(logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: float) -> torch.Tensor:
    if lam == 1.0:
        return F.cross_entropy(logits, y_a)
    return lam * F.cross_entropy(logits, y_a) + (1 - lam) * F.cross_entropy(logits, y_b)
