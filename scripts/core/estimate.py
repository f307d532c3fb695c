"""Performance without labels: a model's F1, precision, recall, accuracy and ROC AUC estimated from
its own probabilities (confidence-based performance estimation, as NannyML's CBPE). Pure.

A calibrator, fitted at evaluate on the reference (test) rows the model never trained on, maps the
model's probability to the chance that the row is truly positive. Given those chances, the expected
confusion matrix of a set of predictions is the sum of each row's chance under its prediction; the
metrics follow from it. Their band is the spread of the realized metric when each row's label is drawn
from its chance (Monte Carlo), the chances taken in turn from the calibrator and from calibrators
fitted on resamples of the same rows (a calibrator learned from few positives is unsure, and the band
says so): where calibration holds, the realized value falls inside it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("f1", "precision", "recall", "accuracy", "roc_auc")


def _isotonic(y: np.ndarray, proba: np.ndarray) -> Any:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba, y)


def _knots(iso: Any) -> dict[str, list[float]]:
    return {"x": [round(float(v), 8) for v in iso.X_thresholds_], "y": [round(float(v), 8) for v in iso.y_thresholds_]}


def fit_calibrator(y_true: np.ndarray, proba: np.ndarray, settings: dict) -> dict[str, Any]:
    """An isotonic map from probability to observed positive share, as plain knots (no pickle), applied
    by interpolation; and settings['resamples'] more, each fitted on a bootstrap resample of the rows
    (seeded), whose spread is the calibrator's own uncertainty. A reference of one class gets
    {"method": "none", "reason": ...}."""
    y, proba = np.asarray(y_true, dtype=int), np.asarray(proba, dtype="float64")
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        return {"method": "none", "rows": int(len(y)), "reason": "the reference rows hold one class only"}
    iso = _isotonic(y, proba)
    rng = np.random.default_rng(settings["seed"])
    resamples = []
    while len(resamples) < settings["resamples"]:
        rows = rng.integers(0, len(y), len(y))
        if 0 < y[rows].sum() < len(rows):  # a resample of one class calibrates nothing: drawn again
            resamples.append(_knots(_isotonic(y[rows], proba[rows])))
    return {"method": "isotonic", "rows": int(len(y)), "positives": positives, **_knots(iso), "resamples": resamples,
            "brier_raw": round(float(np.mean((proba - y) ** 2)), 6),
            "brier_calibrated": round(float(np.mean((iso.predict(proba) - y) ** 2)), 6)}


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


def drawn_metrics(chances: np.ndarray, scores: np.ndarray, predicted: np.ndarray, draws: int,
                  rng: np.random.Generator, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each metric under `draws` label sets drawn from the chances (one value per draw). chances: one row
    of chances per calibrator; draw d takes row d modulo their number. groups: each row's group (0 to
    G - 1), or None (each row its own); the rows of a group (predictions of one row id) share one random
    number per draw, so a row predicted twice has one truth, not two chances."""
    predicted = np.asarray(predicted, dtype=bool)
    chances = np.atleast_2d(chances).astype("float32")
    n = chances.shape[1]
    labels = np.empty((draws, n), dtype=bool)
    for row in range(min(draws, len(chances))):  # the draws of each calibrator at once, no copy of its chances
        taken = labels[row::len(chances)]
        if groups is None:
            uniform = rng.random(taken.shape, dtype="float32")
        else:
            uniform = rng.random((len(taken), int(groups.max()) + 1), dtype="float32")[:, groups]
        np.less(uniform, chances[row], out=taken)
    positives = np.count_nonzero(labels, axis=1).astype("float64")
    tp = np.count_nonzero(labels[:, predicted], axis=1).astype("float64")
    fp, fn = predicted.sum() - tp, positives - tp
    out = from_confusion(tp, fp, fn, n - tp - fp - fn)
    ranks = _ranks(scores)
    middle = float(ranks.mean())  # ranks summed about their mean: single precision holds the sums exactly enough
    rank_sum = labels.astype("float32") @ (ranks - middle).astype("float32") + positives * middle
    out["roc_auc"] = _ratio(rank_sum - positives * (positives + 1) / 2, positives * (n - positives))
    return out


def estimate(calibrator: dict, scores: np.ndarray, predicted: np.ndarray, settings: dict,
             seed: int, groups: np.ndarray | None = None) -> dict[str, dict]:
    """Each metric's estimate and band: {"f1": {"value": v, "band": [low, high]}, ...}. The value is
    computed from the expected confusion matrix under the calibrator (ROC AUC: the draws' mean); the
    band holds the central settings['confidence'] share of the draws, each through the calibrator or
    one of its resamples in turn; the rows of a group (groups: see drawn_metrics) share their truth. A
    metric with no defined value is null."""
    scores = np.asarray(scores, dtype="float64")
    chance = calibrate(calibrator, scores)
    expected = expected_confusion(chance, predicted)
    values = {k: float(v) for k, v in from_confusion(*(np.array(expected[c]) for c in ("tp", "fp", "fn", "tn"))).items()}
    chances = np.vstack([chance, *(calibrate(r, scores) for r in calibrator.get("resamples", []))])
    drawn = drawn_metrics(chances, scores, predicted, settings["draws"], np.random.default_rng(seed), groups)
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
