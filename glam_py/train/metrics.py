"""The paper's metrics, in percent: WA (accuracy), UA (mean per-class
recall), macro F1, and the support-weighted F1 that the paper's table calls
"micro F1" (it is what the authors' code computes)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

METRICS = ("WA", "UA", "macro_F1", "weighted_F1")
METRIC_TITLES = {
    "WA": "WA",
    "UA": "UA",
    "macro_F1": "macro F1",
    "weighted_F1": "weighted F1 (paper's micro F1)",
}


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    labels = list(range(n_classes))
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    support = confusion.sum(axis=1)
    recall = np.divide(np.diag(confusion), support, out=np.zeros(n_classes), where=support > 0)
    precision, _, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = support > 0
    return {
        "WA": 100.0 * float(np.mean(y_true == y_pred)),
        "UA": 100.0 * float(recall[present].mean()),
        "macro_F1": 100.0 * float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_F1": 100.0
        * float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
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
