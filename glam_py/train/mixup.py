"""Mixup (Zhang et al., 2018) as the GLAM paper uses it: one lambda per
batch from Beta(alpha, alpha), the batch mixed with a permutation of itself,
the loss mixed with the same lambda; label smoothing and class weights,
where the recipe asks for them, apply to each partner's loss."""

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


def mixup_loss(
    logits: torch.Tensor,
    y_a: torch.Tensor,
    y_b: torch.Tensor,
    lam: float,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """The cross-entropy against the mixed targets: ``lam`` times the loss
    for ``y_a`` plus ``1 - lam`` times the loss for ``y_b``. The loss is
    linear in the target, so this is the loss against the mixture of the
    two (smoothed) targets.

    Parameters
    ----------
    label_smoothing : float
        Each target puts ``1 - eps`` on its class and ``eps / C`` on every
        class (``torch.nn.functional.cross_entropy``'s label smoothing;
        default 0, none).
    weight : torch.Tensor, optional
        A weight per class (``[C]``, float32), as ``cross_entropy`` takes
        it: the mean over the batch is weighted by the target classes'
        weights; default None, every class 1.
    """

    def loss(y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, weight=weight, label_smoothing=label_smoothing)

    if lam == 1.0:
        return loss(y_a)
    return lam * loss(y_a) + (1 - lam) * loss(y_b)
