"""From windows to utterances: the one place window scores (logits) or
embeddings are pooled into one row per utterance, for training's
evaluation, prediction and the report's t-SNE alike, and where an
utterance's pooled score becomes its class probabilities at a temperature
(:func:`probabilities`)."""

from __future__ import annotations

import numpy as np

# How window rows become an utterance row: the mean of the rows ("mean", and
# "logits", the name training and checkpoints use for it) or the mean of
# their softmax ("probabilities").
POOLINGS = ("logits", "probabilities", "mean")


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum so it cannot overflow."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def utterance_logits(scores: np.ndarray, average: str) -> np.ndarray:
    """The logits of pooled utterance scores, what a temperature divides.

    Parameters
    ----------
    scores : ndarray, shape (..., n_classes)
        Utterance scores as :func:`pool` gives them under ``average``.
    average : {"logits", "probabilities"}
        How they were pooled: "logits", the mean window logits, are the
        logits themselves; "probabilities", the mean window probabilities,
        give their logarithm (floored at the smallest normal float64, so a
        probability that underflowed to 0 stays finite), whose softmax is
        those probabilities again.

    Returns
    -------
    ndarray of float64, same shape

    Raises
    ------
    ValueError
        ``average`` is neither "logits" nor "probabilities".
    """
    scores = np.asarray(scores, dtype=np.float64)
    if average == "logits":
        return scores
    if average == "probabilities":
        return np.log(np.maximum(scores, np.finfo(np.float64).tiny))
    raise ValueError(f"unknown average {average!r}; choose logits or probabilities")


def probabilities(scores: np.ndarray, average: str, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities of pooled utterance scores at ``temperature``:
    ``softmax(utterance_logits(scores, average) / temperature)``.

    At temperature 1 they are the softmax of the mean window logits
    ("logits") or the mean window probabilities themselves
    ("probabilities"). A temperature divides the utterance's logits, so it
    never changes the arg-max (the label): above 1 it flattens the
    probabilities, below 1 it sharpens them. Under "probabilities" that is
    the mean window probabilities raised to ``1 / temperature`` and
    renormalised (one window: the softmax of its logits divided by the
    temperature, as under "logits").

    Parameters
    ----------
    scores : ndarray, shape (..., n_classes)
        Utterance scores as :func:`pool` gives them under ``average``.
    average : {"logits", "probabilities"}
        How they were pooled (:func:`utterance_logits`).
    temperature : float, default 1.0
        Above 0 (:func:`glam_py.train.calibration.fit_temperature` fits it).

    Returns
    -------
    ndarray of float64, same shape
        Each row sums to 1.

    Raises
    ------
    ValueError
        ``average`` is unknown, or ``temperature`` is not a finite number above 0.
    """
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number above 0, got {temperature!r}")
    return softmax(utterance_logits(scores, average) / temperature)


def pool(scores: np.ndarray, owner: np.ndarray, n_utterances: int, how: str = "mean") -> np.ndarray:
    """One row per utterance from the rows of its windows.

    Sums run window by window in float64 (``np.add.at``), so the result
    does not depend on how the windows were batched.

    Parameters
    ----------
    scores : ndarray, shape (n_windows, d)
        Per window: logits, or an embedding.
    owner : ndarray of int, shape (n_windows,)
        Per window: its utterance, in ``[0, n_utterances)``.
    n_utterances : int
        Number of utterances (rows of the result).
    how : {"mean", "logits", "probabilities"}
        "mean" or "logits": the mean of the window rows; "probabilities":
        the mean of their softmax (rows must then be logits).

    Returns
    -------
    ndarray of float64, shape (n_utterances, d)

    Raises
    ------
    ValueError
        ``how`` is unknown, or an utterance has no window.
    """
    return RunningPool(n_utterances, how).add(scores, owner).result()


class RunningPool:
    """:func:`pool` over windows that arrive in chunks: ``add`` each chunk in
    order, then ``result``. The float64 sums run window by window as in
    :func:`pool`, so the result is bit for bit :func:`pool` of all the
    windows at once, and memory does not grow with their number.

    Parameters
    ----------
    n_utterances : int
        Number of utterances (rows of the result).
    how : {"mean", "logits", "probabilities"}, default "mean"
        As in :func:`pool`.

    Raises
    ------
    ValueError
        ``how`` is unknown.
    """

    def __init__(self, n_utterances: int, how: str = "mean"):
        if how not in POOLINGS:
            raise ValueError(f"unknown pooling {how!r}; choose one of {', '.join(POOLINGS)}")
        self.n_utterances, self.how = n_utterances, how
        self.counts = np.zeros(n_utterances, dtype=np.int64)
        self.sums: np.ndarray | None = None

    def add(self, scores: np.ndarray, owner: np.ndarray) -> RunningPool:
        """Adds a chunk of window rows (``scores`` and ``owner`` as in
        :func:`pool`); returns ``self``. Raises ValueError for an owner
        outside ``[0, n_utterances)``."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.how == "probabilities":
            scores = softmax(scores)
        counts = np.bincount(owner, minlength=self.n_utterances)
        if len(counts) > self.n_utterances:
            raise self._error()
        if self.sums is None:
            self.sums = np.zeros((self.n_utterances, scores.shape[1]))
        np.add.at(self.sums, owner, scores)
        self.counts += counts
        return self

    def result(self) -> np.ndarray:
        """``(n_utterances, d)`` float64 means. Raises ValueError when an
        utterance has no window."""
        if self.sums is None or not self.counts.all():
            raise self._error()
        return self.sums / self.counts[:, None]

    def _error(self) -> ValueError:
        n = self.n_utterances
        return ValueError(
            f"every one of the {n} utterances needs at least one window, "
            f"and each window an utterance in [0, {n})"
        )
