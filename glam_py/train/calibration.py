"""Temperature scaling (Guo et al., 2017): one number T > 0 that divides an
utterance's logits before the softmax, fitted after training on held-out
utterances so that the top probability comes to mean what it says. It
never changes a label (the arg-max), only how sure the probabilities are:
T above 1 flattens them, below 1 sharpens them.

The fit minimises the negative log-likelihood (NLL) of the validation
utterances' logits (:func:`glam_py.pooling.utterance_logits`) over log T
by a golden-section search with a fixed number of steps: deterministic,
with no optimiser state, and exact enough (the bracket shrinks to 1e-12
of its width). The NLL is convex in 1/T (a log-sum-exp minus a linear
term), so it has one minimum along log T, which the search finds inside
:data:`BOUNDS`; a fit at a bound says that the validation set could not
pin T down (every validation utterance right and far from the others, say).
"""

from __future__ import annotations

import math

import numpy as np

#: The interval T is searched in.
BOUNDS = (0.05, 20.0)
# Golden-section steps: each keeps 0.618 of the bracket, so 60 steps leave
# 3e-13 of the log-T width (6.0), far below what moves a probability.
_STEPS = 60
_GOLDEN = (math.sqrt(5) - 1) / 2


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of ``labels`` under
    ``softmax(logits / temperature)``.

    Parameters
    ----------
    logits : ndarray, shape (n, n_classes)
        Utterance logits.
    labels : array of int, shape (n,)
        True classes.
    temperature : float, default 1.0
        Above 0.

    Returns
    -------
    float
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    top = z.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(z)), np.asarray(labels)]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in :data:`BOUNDS` that minimises :func:`nll` of
    ``labels`` (see the module docstring for the search).

    Parameters
    ----------
    logits : ndarray, shape (n, n_classes)
        The validation utterances' logits
        (:func:`glam_py.pooling.utterance_logits` of their pooled scores).
    labels : array of int, shape (n,)
        Their true classes.

    Returns
    -------
    float
        T, within :data:`BOUNDS`.

    Raises
    ------
    ValueError
        No utterance, or logits that are not finite.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if len(logits) == 0:
        raise ValueError("fitting a temperature needs at least one validation utterance")
    if not np.isfinite(logits).all():
        raise ValueError("fitting a temperature needs finite logits")
    labels = np.asarray(labels)

    def cost(log_t: float) -> float:
        return nll(logits, labels, math.exp(log_t))

    low, high = math.log(BOUNDS[0]), math.log(BOUNDS[1])
    a, b = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    cost_a, cost_b = cost(a), cost(b)
    for _ in range(_STEPS):
        if cost_a <= cost_b:
            high, b, cost_b = b, a, cost_a
            a = high - _GOLDEN * (high - low)
            cost_a = cost(a)
        else:
            low, a, cost_a = a, b, cost_b
            b = low + _GOLDEN * (high - low)
            cost_b = cost(b)
    return math.exp((low + high) / 2)
