"""Performance estimated without labels (scripts/core/estimate.py): a hand-computed case, and a
calibrated model under a known covariate shift, where the estimate moves and the realized value
falls inside its band."""
from __future__ import annotations

import numpy as np
import pytest

from scripts.core import estimate as E

SETTINGS = {"draws": 400, "confidence": 0.9}
IDENTITY = {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 1.0]}  # the probability is the chance
CALIBRATION = {"resamples": 30, "seed": 0}


def test_the_expected_confusion_matrix_and_its_metrics_by_hand():
    chance, predicted = np.array([0.9, 0.2, 0.6, 0.1]), np.array([1, 0, 1, 0], dtype=bool)
    # tp = 0.9 + 0.6, fp = 0.1 + 0.4, fn = 0.2 + 0.1, tn = 0.8 + 0.9
    assert E.expected_confusion(chance, predicted) == pytest.approx({"tp": 1.5, "fp": 0.5, "fn": 0.3, "tn": 1.7})
    found = E.estimate(IDENTITY, chance, predicted, SETTINGS, seed=1)
    assert found["f1"]["value"] == pytest.approx(3 / 3.8, abs=1e-6)
    assert found["precision"]["value"] == 0.75 and found["accuracy"]["value"] == 0.8
    assert found["recall"]["value"] == pytest.approx(1.5 / 1.8, abs=1e-6)
    low, high = found["f1"]["band"]
    assert 0 <= low <= found["f1"]["value"] <= high <= 1
    assert found["f1"]["interval"] == [found["f1"]["value"]] * 2, "one calibrator, sure of itself: one expected value"


def test_the_expected_roc_auc_by_hand_and_against_draws():
    # pairs (positive, negative) by chance: 0.9 over 0.2 (scored higher) 0.9*0.8, 0.9 over 0.6 0.9*0.4,
    # 0.6 over 0.2 0.6*0.8; the wrong way round: 0.2 over 0.9 0.2*0.1, 0.2 over 0.6 0.2*0.4, 0.6 over 0.9 0.6*0.1
    chance, scores = np.array([0.9, 0.6, 0.2]), np.array([3.0, 2.0, 1.0])
    right, wrong = 0.72 + 0.36 + 0.48, 0.02 + 0.08 + 0.06
    assert E.expected_auc(chance, scores) == pytest.approx(right / (right + wrong))
    assert E.expected_auc(chance, np.ones(3)) == pytest.approx(0.5), "a tie counts half"
    assert np.isnan(E.expected_auc(np.ones(3), scores)), "no pair can hold a negative"
    rng = np.random.default_rng(4)
    scores = np.round(rng.random(300), 1)  # ties among them
    drawn = E.drawn_metrics(scores ** 2, scores, scores >= 0.5, 4000, np.random.default_rng(5))["roc_auc"]
    assert E.expected_auc(scores ** 2, scores) == pytest.approx(float(np.nanmean(drawn)), abs=0.003)


def test_certain_chances_give_the_realized_metrics_exactly():
    """Chances of 0 and 1 leave nothing to draw: the estimate is the realized value and the band a point."""
    y = np.array([1, 1, 0, 0, 1, 0])
    predicted = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    found = E.estimate(IDENTITY, y.astype(float), predicted, SETTINGS, seed=0)
    # tp 2, fp 1, fn 1: F1 = 2*2 / (2*2 + 1 + 1); the scores separate the classes: ROC AUC 1
    assert found["f1"] == {"value": round(4 / 6, 6), "interval": [round(4 / 6, 6)] * 2, "band": [round(4 / 6, 6)] * 2}
    assert found["roc_auc"]["value"] == 1.0 and found["accuracy"]["value"] == round(4 / 6, 6)


def test_a_metric_the_labels_would_mostly_leave_undefined_is_null():
    """300 rows predicted negative, each with a chance of 0.002 of a positive: the expected F1 is 0 (the
    0.6 expected positives all missed), but 55 % of the label sets hold no positive and leave F1
    undefined, as the chunk's own labels most likely would: no F1 to speak of, and no alert on it.
    With a chance of 0.05 (15 expected positives, all missed) F1 is 0 and said so."""
    predicted = np.zeros(300, dtype=bool)
    rare = E.estimate(IDENTITY, np.full(300, 0.002), predicted, SETTINGS, seed=3)
    assert rare["f1"] is None and rare["recall"] is None and rare["precision"] is None
    assert rare["accuracy"]["value"] == pytest.approx(0.998)
    missed = E.estimate(IDENTITY, np.full(300, 0.05), predicted, SETTINGS, seed=3)
    assert missed["f1"] == {"value": 0.0, "interval": [0.0, 0.0], "band": [0.0, 0.0]}


def test_a_reference_of_one_class_gets_no_calibrator():
    calibrator = E.fit_calibrator(np.zeros(50, dtype=int), np.linspace(0, 1, 50), CALIBRATION)
    assert calibrator["method"] == "none" and "one class" in calibrator["reason"]


def _population(rng: np.random.Generator, n: int, mean: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(mean, 1.0, n)
    return x, (rng.random(n) < 1 / (1 + np.exp(-(2.5 * x - 4)))).astype(int)


def test_a_covariate_shift_moves_the_estimate_and_the_realized_value_falls_in_its_band():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x, y = _population(rng, 6000, 0.0)
    model = LogisticRegression().fit(x[:4000, None], y[:4000])
    reference = model.predict_proba(x[4000:, None])[:, 1]
    calibrator = E.fit_calibrator(y[4000:], reference, CALIBRATION)
    assert calibrator["method"] == "isotonic" and calibrator["brier_calibrated"] <= calibrator["brier_raw"]
    assert len(calibrator["resamples"]) == 30 and calibrator == E.fit_calibrator(y[4000:], reference, CALIBRATION)

    def judged(mean: float, seed: int) -> tuple[dict, float]:
        xs, ys = _population(np.random.default_rng(seed), 3000, mean)
        scores = model.predict_proba(xs[:, None])[:, 1]
        predicted = scores >= 0.5
        realized = 2 * (predicted & (ys == 1)).sum() / (predicted.sum() + ys.sum())
        return E.estimate(calibrator, scores, predicted, SETTINGS, seed)["f1"], float(realized)

    before, realized_before = judged(0.0, 11)
    after, realized_after = judged(1.0, 12)  # more rows near and past the boundary: F1 rises
    assert after["value"] > before["value"] + 0.1, (before, after)
    for estimate, realized in ((before, realized_before), (after, realized_after)):
        assert estimate["band"][0] <= realized <= estimate["band"][1], (estimate, realized)
        assert abs(estimate["value"] - realized) < 0.05
        # the interval (the calibrator's uncertainty alone) lies within the band (label noise besides)
        assert estimate["band"][0] <= estimate["interval"][0] <= estimate["value"] <= estimate["interval"][1] <= estimate["band"][1]


def test_a_calibrator_learned_from_few_positives_gives_a_wider_band_and_interval():
    """The band and the interval hold the calibrator's own uncertainty: learned from 20 positives it is
    unsure, from 400 much less, though the chance draws alone would be the same."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    x, y = _population(rng, 12000, 0.0)
    model = LogisticRegression().fit(x[:4000, None], y[:4000])
    scores = model.predict_proba(x[:, None])[:, 1]
    positives = np.flatnonzero(y[4000:] == 1) + 4000
    negatives = np.flatnonzero(y[4000:] == 0) + 4000
    few = np.concatenate([positives[:20], negatives[:2000]])
    many = np.concatenate([positives[:400], negatives[:2000]])
    chunk = np.arange(10000, 12000)

    def width(rows: np.ndarray, which: str) -> float:
        calibrator = E.fit_calibrator(y[rows], scores[rows], CALIBRATION)
        low, high = E.estimate(calibrator, scores[chunk], scores[chunk] >= 0.5, SETTINGS, 0)["recall"][which]
        return high - low
    for which in ("band", "interval"):
        assert width(few, which) > 1.5 * width(many, which), (which, width(few, which), width(many, which))


def test_predictions_of_one_row_share_one_truth_in_the_draws():
    """Forty rows each predicted five times: drawn as one truth per row, the realized F1 varies as much as
    forty rows', which the band must hold; drawn as 200 independent rows, it would vary less."""
    rng = np.random.default_rng(3)
    chance = np.repeat(rng.uniform(0.2, 0.8, 40), 5)
    predicted, groups = chance >= 0.5, np.repeat(np.arange(40), 5)
    drawn = E.drawn_metrics(chance, chance, predicted, 400, np.random.default_rng(0), groups)
    alone = E.drawn_metrics(chance, chance, predicted, 400, np.random.default_rng(0))
    assert np.std(drawn["f1"]) > 1.8 * np.std(alone["f1"])
    labels_agree = E.drawn_metrics(np.full(10, 0.5), np.arange(10.0), np.ones(10, bool), 200, np.random.default_rng(1),
                                   np.zeros(10, dtype=int))
    assert set(np.round(labels_agree["precision"], 6)) <= {0.0, 1.0}, "one row's predictions are all right or all wrong"
    found = E.estimate(IDENTITY, chance, predicted, SETTINGS, seed=2, groups=groups)
    assert found["f1"]["value"] == E.estimate(IDENTITY, chance, predicted, SETTINGS, seed=2)["f1"]["value"]
