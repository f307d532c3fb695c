"""Performance without labels: a model's F1, precision, recall, accuracy and ROC AUC estimated from
its own probabilities (confidence-based performance estimation, as NannyML's CBPE). Pure.

A calibrator, fitted at evaluate on the reference (test) rows the model never trained on, maps the
model's probability to the chance that the row is truly positive. Given those chances, the expected
confusion matrix of a set of predictions is the sum of each row's chance under its prediction; the
metrics follow from it. Two spreads go with each: the interval, where the expected value lies given
how unsure the calibrator is (the values expected under calibrators fitted on resamples of the same
rows: a calibrator learned from few positives is unsure, and the interval says so); and the band,
where this set's realized value falls, the spread of the metric when each row's label is drawn from
its chance (Monte Carlo), the chances taken in turn from the calibrator and its resamples. Where
calibration holds, the realized value falls inside the band.
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


def expected_confusion(chances: np.ndarray, predicted: np.ndarray) -> dict:
    """The confusion matrix expected from each row's chance of a positive and its prediction: each cell
    as one number for a 1-D array of chances, or one per row of a 2-D array (one per calibrator)."""
    one = np.ndim(chances) == 1
    chances, predicted = np.atleast_2d(np.asarray(chances, dtype="float64")), np.asarray(predicted, dtype=bool)
    tp, fn = chances[:, predicted].sum(axis=1), chances[:, ~predicted].sum(axis=1)
    cells = {"tp": tp, "fp": predicted.sum() - tp, "fn": fn, "tn": (~predicted).sum() - fn}
    return {k: float(v[0]) for k, v in cells.items()} if one else cells


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


def expected_auc(chances: np.ndarray, scores: np.ndarray) -> np.ndarray | float:
    """ROC AUC expected from each row's chance of a positive, for each row of chances (one per
    calibrator; a 1-D array gives one value): over every pair of rows, the chance that one is positive
    and the other negative with the positive scored higher (a tie counts half), over the chance that the
    pair holds one of each. NaN where no pair can. Pure."""
    one = np.ndim(chances) == 1
    chances, scores = np.atleast_2d(np.asarray(chances, dtype="float64")), np.asarray(scores, dtype="float64")
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    new_score = np.r_[True, ranked[1:] != ranked[:-1]][:len(ranked)]  # where each distinct score begins
    group = np.cumsum(new_score) - 1
    chance = chances[:, order]
    negative = np.add.reduceat(1 - chance, np.flatnonzero(new_score), axis=1) if len(ranked) else chance
    below = np.cumsum(negative, axis=1) - negative  # the summed chance of a negative among rows scored lower
    ordered = (chance * (below[:, group] + (negative[:, group] - (1 - chance)) / 2)).sum(axis=1)
    pairs = chance.sum(axis=1) * (1 - chance).sum(axis=1) - (chance * (1 - chance)).sum(axis=1)
    found = _ratio(ordered, pairs)
    return float(found[0]) if one else found


def expected_metrics(chances: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric of the expected confusion matrix, and the expected ROC AUC, under each row of chances
    (one per calibrator); NaN where undefined."""
    chances = np.atleast_2d(chances)
    cells = expected_confusion(chances, predicted)
    return {**from_confusion(cells["tp"], cells["fp"], cells["fn"], cells["tn"]), "roc_auc": expected_auc(chances, scores)}


def _central(values: np.ndarray, share: float) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    tail = (1 - share) / 2
    return [round(float(v), 6) for v in np.quantile(finite, [tail, 1 - tail])]


def estimate(calibrator: dict, scores: np.ndarray, predicted: np.ndarray, settings: dict,
             seed: int, groups: np.ndarray | None = None) -> dict[str, dict]:
    """Each metric's estimate, interval and band: {"f1": {"value": v, "interval": [low, high], "band":
    [low, high]}, ...}. The value is the metric expected under the calibrator (expected_metrics). The
    interval holds the central settings['confidence'] share of the values expected under the calibrator
    and its resamples: where the expected value lies, given how unsure the calibrator is. The band holds
    that share of the metric over label sets drawn from the chances, each through the calibrator or one
    of its resamples in turn; the rows of a group (groups: see drawn_metrics) share their truth: where
    this chunk's realized value falls, label noise included. A metric with no defined value is null, and
    so is one that more than 1 - confidence of the label sets leave undefined: a chunk expected to hold
    next to no positive has no F1 to speak of (where the model predicts none, every expected positive
    is missed and the expected F1 is 0, while its labels would most likely give none)."""
    scores = np.asarray(scores, dtype="float64")
    chances = np.vstack([calibrate(c, scores) for c in (calibrator, *calibrator.get("resamples", []))])
    expected = expected_metrics(chances, scores, predicted)
    drawn = drawn_metrics(chances, scores, predicted, settings["draws"], np.random.default_rng(seed), groups)
    out = {}
    for name in METRICS:
        value = float(expected[name][0])
        interval = _central(expected[name], settings["confidence"])
        band = _central(drawn[name], settings["confidence"])
        defined = float(np.isfinite(drawn[name]).mean())
        if not np.isfinite(value) or band is None or interval is None or defined < settings["confidence"]:
            out[name] = None
            continue
        out[name] = {"value": round(value, 6), "interval": interval, "band": band}
    return out
