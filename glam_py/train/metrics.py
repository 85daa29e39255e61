"""The paper's metrics, in percent: WA (accuracy), UA (mean per-class
recall), macro F1, and the support-weighted F1 that the paper's table calls
"micro F1" (it is what the authors' code computes).

They are computed here from the confusion matrix, as scikit-learn's
``confusion_matrix``, ``precision_recall_fscore_support`` and ``f1_score``
(``zero_division=0``) compute them (tests/test_train.py checks that),
rather than by importing scikit-learn: its import takes about a second,
which every split worker would pay before its first evaluation.

Calibration: the expected calibration error (ECE) of the utterances' top
probabilities over :data:`ECE_BINS` equal-width bins, also in percent, and
the per-utterance record a reliability diagram is drawn from
(:func:`calibration`)."""

from __future__ import annotations

import numpy as np

METRICS = ("WA", "UA", "macro_F1", "weighted_F1")
METRIC_TITLES = {
    "WA": "WA",
    "UA": "UA",
    "macro_F1": "macro F1",
    "weighted_F1": "weighted F1 (paper's micro F1)",
}


#: Equal-width confidence bins of the ECE and the reliability diagram.
ECE_BINS = 10
#: Decimals of the top probabilities a split records: the ECE is computed
#: from the rounded values, so the split file reproduces it exactly.
CONFIDENCE_DECIMALS = 6


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """The metrics of predictions ``y_pred`` against ``y_true`` (class
    indices below ``n_classes``), in percent, with the confusion matrix
    (rows: true class) and the per-class precision, recall, F1 and support;
    UA averages the recall of the classes present, a class never predicted
    has precision 0."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    confusion = np.bincount(n_classes * y_true + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
    hits, support, predicted = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    recall, precision = _ratio(hits, support), _ratio(hits, predicted)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = support > 0
    return {
        "WA": 100.0 * float(np.mean(y_true == y_pred)),
        "UA": 100.0 * float(recall[present].mean()),
        "macro_F1": 100.0 * float(f1.mean()),
        "weighted_F1": 100.0 * float((f1 * support).sum() / support.sum()),
        "confusion": confusion.tolist(),
        "per_class": {
            "precision": (100 * precision).tolist(),
            "recall": (100 * recall).tolist(),
            "f1": (100 * f1).tolist(),
            "support": support.tolist(),
        },
    }


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS) -> dict:
    """Utterances grouped by their top probability into ``n_bins``
    equal-width bins, bin ``m`` (from 0) holding the confidences in
    ``(m / n_bins, (m + 1) / n_bins]`` (the first bin takes 0 too).

    Parameters
    ----------
    confidence : array of float, shape (n,)
        Each utterance's top probability, in [0, 1].
    correct : array of bool or 0/1, shape (n,)
        Whether its label (the arg-max) is its true class.
    n_bins : int, default :data:`ECE_BINS`

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), and per bin ``count``, ``confidence`` (the
        mean top probability) and ``accuracy`` (the share correct), both
        NaN for an empty bin; all as arrays.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "edges": edges,
            "count": count,
            "confidence": np.bincount(which, confidence, n_bins) / count,
            "accuracy": np.bincount(which, correct, n_bins) / count,
        }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """The expected calibration error in percent: over the bins of
    :func:`reliability_bins`, the mean of ``|accuracy - confidence|``
    weighted by the bin's share of the utterances (Guo et al., 2017).
    0 for a perfectly calibrated model; an utterance set that is always
    right at 0.9 confidence or wrong at 0.9 has 10 or 90.

    Parameters
    ----------
    confidence, correct, n_bins
        As for :func:`reliability_bins`.

    Returns
    -------
    float
        In percent, from 0 to 100.

    Raises
    ------
    ValueError
        No utterance, or ``confidence`` outside [0, 1].
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    if len(confidence) == 0:
        raise ValueError("the expected calibration error needs at least one utterance")
    if not ((confidence >= 0) & (confidence <= 1)).all():
        raise ValueError("confidences must lie in [0, 1]")
    bins = reliability_bins(confidence, correct, n_bins)
    used = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][used] - bins["confidence"][used])
    return 100.0 * float((gaps * bins["count"][used]).sum() / len(confidence))


def calibration(probabilities: np.ndarray, y_true: np.ndarray) -> dict:
    """What a split records of its test utterances' probabilities: the ECE
    (:func:`expected_calibration_error`, in percent) and, per utterance in
    test order, its top probability (rounded to
    :data:`CONFIDENCE_DECIMALS` decimals, the values the ECE is computed
    from) and whether its label is right, which a reliability diagram is
    drawn from.

    Parameters
    ----------
    probabilities : ndarray, shape (n, n_classes)
        Each utterance's class probabilities (after any temperature).
    y_true : array of int, shape (n,)
        Its true class.

    Returns
    -------
    dict
        ``{"ECE": float, "reliability": {"confidence": [...], "correct": [0 or 1, ...]}}``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = np.round(probabilities.max(axis=1), CONFIDENCE_DECIMALS)
    correct = (probabilities.argmax(axis=1) == np.asarray(y_true)).astype(int)
    return {
        "ECE": expected_calibration_error(confidence, correct),
        "reliability": {"confidence": confidence.tolist(), "correct": correct.tolist()},
    }


def summarize(splits: list[dict]) -> dict:
    """Mean and (sample) standard deviation over splits of each of
    :data:`METRICS`, and of the ECE where every split records it (runs made
    before it was recorded have none)."""
    out = {}
    names = [*METRICS, *(["ECE"] if all("ECE" in s for s in splits) else [])]
    for m in names:
        values = np.array([s[m] for s in splits], dtype=float)
        out[m] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out
