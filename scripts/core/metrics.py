"""Pure classification metrics and promotion gates, shared by evaluate, registry and monitor.

An undefined metric (recall with no positives, ROC AUC with one class) is None, never an
invented number.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else float(numerator / denominator)


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, int]:
    """Counts of true/false negatives/positives for a binary label."""
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return {
        "tn": int(np.sum(~y_true & ~y_pred)),
        "fp": int(np.sum(~y_true & y_pred)),
        "fn": int(np.sum(y_true & ~y_pred)),
        "tp": int(np.sum(y_true & y_pred)),
    }


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, error rate, precision, recall and F1 from labels alone."""
    c = confusion(y_true, y_pred)
    rows = sum(c.values())
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    recall = _ratio(c["tp"], c["tp"] + c["fn"])
    f1 = _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])
    accuracy = _ratio(c["tp"] + c["tn"], rows)
    return {
        "rows": rows,
        "positives": c["tp"] + c["fn"],
        "accuracy": _rounded(accuracy),
        "error_rate": _rounded(None if accuracy is None else 1 - accuracy),
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "f1": _rounded(f1),
        "confusion_matrix": c,
    }


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float | None:
    """ROC AUC as the rank statistic (Mann-Whitney U over the positives' ranks, a tie counting half: the
    area under the ROC curve exactly); None with one class."""
    from scipy.stats import rankdata

    positive = np.asarray(y_true).astype(bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum = float(rankdata(np.asarray(proba, dtype="float64"))[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def probability_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float, log_loss: bool = True) -> dict[str, Any]:
    """label_metrics at the decision threshold, plus ROC AUC and (unless log_loss is false) log loss from
    the probabilities."""
    y_true = np.asarray(y_true).astype(int)
    proba = np.asarray(proba, dtype="float64")
    out = label_metrics(y_true, proba >= threshold)
    out["roc_auc"] = _rounded(roc_auc(y_true, proba))
    if log_loss:
        from sklearn.metrics import log_loss as _log_loss

        out["log_loss"] = _rounded(_log_loss(y_true, proba, labels=[0, 1])) if len(y_true) else None
    return out


# Rows scored per predict_proba call: a model's feature matrices for a million rows would otherwise
# be built whole (hundreds of MB); the probabilities are the same either way (each row is scored alone).
SCORE_SLICE_ROWS = 100_000


def predict_failure(pipeline: Any, frame: Any) -> np.ndarray:
    """The positive-class probability of each row of frame (the columns the Pipeline was fitted on),
    scored a slice at a time."""
    inputs = frame[list(pipeline.feature_names_in_)]
    return np.concatenate([pipeline.predict_proba(inputs.iloc[start:start + SCORE_SLICE_ROWS])[:, 1]
                           for start in range(0, len(inputs), SCORE_SLICE_ROWS)] or [np.empty(0)])


def score(pipeline: Any, frame: Any, threshold: float, label: str) -> dict[str, Any]:
    """probability_metrics of a fitted Pipeline on a frame whose column label holds 1/0 (no I/O: the
    caller loads both)."""
    return probability_metrics(frame[label], predict_failure(pipeline, frame), threshold)


def per_group(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, names: list[str]) -> dict[str, dict]:
    """label_metrics (without the confusion matrix) for each group, e.g. each product Type."""
    out = {}
    for name in names:
        mask = np.asarray(groups) == name
        metrics = label_metrics(np.asarray(y_true)[mask], np.asarray(y_pred)[mask])
        metrics.pop("confusion_matrix")
        out[name] = metrics
    return out


def per_mask(y_true: np.ndarray, y_pred: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, dict]:
    """label_metrics (without the confusion matrix) on the rows of each named mask, e.g. each category."""
    out = {}
    for name, mask in masks.items():
        metrics = label_metrics(np.asarray(y_true)[mask], np.asarray(y_pred)[mask])
        metrics.pop("confusion_matrix")
        out[name] = metrics
    return out
