"""The paper's metrics, in percent: WA (accuracy), UA (mean per-class
recall), macro F1, and the support-weighted F1 that the paper's table calls
"micro F1" (it is what the authors' code computes).

They are computed here from the confusion matrix, as scikit-learn's
``confusion_matrix``, ``precision_recall_fscore_support`` and ``f1_score``
(``zero_division=0``) compute them (tests/test_train.py checks that),
rather than by importing scikit-learn: its import takes about a second,
which every split worker would pay before its first evaluation."""

from __future__ import annotations

import numpy as np

METRICS = ("WA", "UA", "macro_F1", "weighted_F1")
METRIC_TITLES = {
    "WA": "WA",
    "UA": "UA",
    "macro_F1": "macro F1",
    "weighted_F1": "weighted F1 (paper's micro F1)",
}


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


def summarize(splits: list[dict]) -> dict:
    """Mean and (sample) standard deviation over splits."""
    out = {}
    for m in METRICS:
        values = np.array([s[m] for s in splits], dtype=float)
        out[m] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out
