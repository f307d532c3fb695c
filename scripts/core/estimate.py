"""Performance without labels: a model's F1, precision, recall, accuracy and ROC AUC estimated from
its own probabilities (confidence-based performance estimation, as NannyML's CBPE). Pure.

A calibrator, fitted at evaluate on the reference (test) rows the model never trained on, maps the
model's probability to the chance that the row is truly positive. Given those chances, the expected
confusion matrix of a set of predictions is the sum of each row's chance under its prediction; the
metrics follow from it. Their band is the spread of the realized metric when each row's label is drawn
from its chance (Monte Carlo): where calibration holds, the realized value falls inside it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("f1", "precision", "recall", "accuracy", "roc_auc")


def fit_calibrator(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """An isotonic map from probability to observed positive share, as plain knots (no pickle): applied
    by interpolation. None-free: a reference without both classes gets {"method": "none", "reason": ...}."""
    from sklearn.isotonic import IsotonicRegression

    y = np.asarray(y_true, dtype=int)
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        return {"method": "none", "rows": int(len(y)), "reason": "the reference rows hold one class only"}
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(np.asarray(proba, dtype="float64"), y)
    calibrated = iso.predict(proba)
    return {"method": "isotonic", "rows": int(len(y)), "positives": positives,
            "x": [round(float(v), 8) for v in iso.X_thresholds_], "y": [round(float(v), 8) for v in iso.y_thresholds_],
            "brier_raw": round(float(np.mean((proba - y) ** 2)), 6),
            "brier_calibrated": round(float(np.mean((calibrated - y) ** 2)), 6)}


def calibrate(calibrator: dict, proba: np.ndarray) -> np.ndarray:
    """Each probability's calibrated chance of a positive (the knots, linearly interpolated)."""
    return np.interp(np.asarray(proba, dtype="float64"), calibrator["x"], calibrator["y"])


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def from_confusion(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """F1, precision, recall and accuracy of (arrays of) confusion counts; NaN where undefined."""
    n = tp + fp + fn + tn
    return {"f1": _ratio(2 * tp, 2 * tp + fp + fn), "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
            "accuracy": _ratio(tp + tn, n)}


def expected_confusion(chance: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The confusion matrix expected from each row's chance of a positive and its prediction."""
    chance, predicted = np.asarray(chance, dtype="float64"), np.asarray(predicted, dtype=bool)
    return {"tp": float(chance[predicted].sum()), "fp": float((1 - chance[predicted]).sum()),
            "fn": float(chance[~predicted].sum()), "tn": float((1 - chance[~predicted]).sum())}


def _ranks(scores: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(scores)


def drawn_metrics(chance: np.ndarray, scores: np.ndarray, predicted: np.ndarray, draws: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each metric under `draws` label sets drawn row by row from the chances (one value per draw)."""
    predicted = np.asarray(predicted, dtype=bool)
    labels = rng.random((draws, len(chance))) < chance
    positives = labels.sum(axis=1).astype("float64")
    tp = labels[:, predicted].sum(axis=1).astype("float64")
    fp, fn = predicted.sum() - tp, positives - tp
    out = from_confusion(tp, fp, fn, len(chance) - tp - fp - fn)
    rank_sum = labels.astype("float64") @ _ranks(scores)
    out["roc_auc"] = _ratio(rank_sum - positives * (positives + 1) / 2, positives * (len(chance) - positives))
    return out


def estimate(chance: np.ndarray, scores: np.ndarray, predicted: np.ndarray, settings: dict,
             seed: int) -> dict[str, dict]:
    """Each metric's estimate and band: {"f1": {"value": v, "band": [low, high]}, ...}. The value is
    computed from the expected confusion matrix (ROC AUC: the draws' mean); the band holds the central
    settings['confidence'] share of the draws. A metric with no defined value is null."""
    expected = expected_confusion(chance, predicted)
    values = {k: float(v) for k, v in from_confusion(*(np.array(expected[c]) for c in ("tp", "fp", "fn", "tn"))).items()}
    drawn = drawn_metrics(chance, scores, predicted, settings["draws"], np.random.default_rng(seed))
    values["roc_auc"] = float(np.nanmean(drawn["roc_auc"])) if np.isfinite(drawn["roc_auc"]).any() else float("nan")
    tail = (1 - settings["confidence"]) / 2
    out = {}
    for name in METRICS:
        finite = drawn[name][np.isfinite(drawn[name])]
        if not np.isfinite(values[name]) or not len(finite):
            out[name] = None
            continue
        low, high = np.quantile(finite, [tail, 1 - tail])
        out[name] = {"value": round(values[name], 6), "band": [round(float(low), 6), round(float(high), 6)]}
    return out
