"""The promotion gates on arrays with known answers (scripts/core/gates.py)."""
from __future__ import annotations

import numpy as np

from scripts.core.gates import describe, f1_difference, judge, seen_rows, segment_recalls, udi_ranges

GATES = {"min_f1": 0.75, "min_recall": 0.65, "max_f1_regression": 0.05, "min_positives": 20,
         "max_segment_recall_drop": 0.25, "min_segment_positives": 5,
         "bootstrap": {"resamples": 1000, "confidence": 0.95, "seed": 7}}
GOOD = {"f1": 0.85, "recall": 0.8}


def rows(n: int = 2000, positives: int = 80, seed: int = 1) -> np.ndarray:
    y = np.zeros(n, dtype=bool)
    y[np.random.default_rng(seed).choice(n, positives, replace=False)] = True
    return y


def predict(y: np.ndarray, catch: float, false_alarms: int, seed: int) -> np.ndarray:
    """Catch this share of the failures and raise this many false alarms."""
    rng = np.random.default_rng(seed)
    out = y & (rng.random(len(y)) < catch)
    out[rng.choice(np.flatnonzero(~y), false_alarms, replace=False)] = True
    return out


def comparison(y, mine, theirs, seen: int = 0) -> dict:
    return {**f1_difference(y, mine, theirs, GATES["bootstrap"]), "seen": seen, "seen_by": ["v2"] if seen else []}


def test_the_interval_is_paired_and_a_clear_gain_clears_the_margin():
    y = rows()
    same = predict(y, 0.8, 10, seed=2)
    assert f1_difference(y, same, same, GATES["bootstrap"]) | {} == {
        "rows": 2000, "positives": 80, "difference": 0.0, "low": 0.0, "high": 0.0}
    better, worse = predict(y, 0.95, 5, seed=3), predict(y, 0.5, 40, seed=4)
    gain = f1_difference(y, better, worse, GATES["bootstrap"])
    assert 0 < gain["low"] <= gain["difference"] <= gain["high"]
    assert f1_difference(y, better, worse, GATES["bootstrap"]) == gain, "seeded: the same rows give the same interval"
    verdict = judge(GOOD, {"reference": comparison(y, worse, better)}, None, GATES, {"reference": -0.05})
    assert verdict["failed"] == ["reference_f1_difference"] and "interval" in describe(verdict)


def test_too_few_failures_is_not_enough_evidence_never_a_pass():
    y = rows(480, 8)
    verdict = judge(GOOD, {"holdout": comparison(y, y, ~y)}, None, GATES, {"holdout": 0.0})
    assert verdict["failed"] == ["holdout_evidence"]
    assert "not enough evidence: 8 failures among the 480 holdout rows; at least 20" in describe(verdict)


def test_a_comparison_on_rows_a_model_trained_on_is_refused():
    udis = np.arange(5501, 7001)
    assert udi_ranges([7, 1, 2, 3, 3]) == [[1, 3], [7, 7]] and udi_ranges([]) == []
    assert seen_rows(udis, [[1, 7000]]) == 1500 and seen_rows(udis, [[1, 5500], [7001, 9000]]) == 0
    y = rows(1500, 50)
    verdict = judge(GOOD, {"reference": comparison(y, y, y, seen=1500)}, None, GATES, {"reference": -0.05})
    assert verdict["failed"] == ["reference_unseen"]
    assert "1500 of the 1500 reference rows were trained on by v2" in describe(verdict)


def test_better_overall_but_forgetting_a_failure_mode_is_refused_with_the_segment_named():
    y = rows(1500, 60, seed=5)
    mode = np.zeros(len(y), dtype=bool)
    mode[np.flatnonzero(y)[:10]] = True  # ten of the failures are heat-dissipation failures
    production = predict(y, 0.8, 20, seed=6)
    candidate = y & ~mode  # every other failure caught, no false alarm, but not one HDF
    segments = {"HDF": mode, "Type L": np.ones(len(y), dtype=bool)}
    verdict = judge(GOOD, {"reference": comparison(y, candidate, production)},
                    {"candidate": segment_recalls(y, candidate, segments), "production": segment_recalls(y, production, segments)},
                    GATES, {"reference": -0.05})
    assert verdict["failed"] == ["segment_recall:HDF"]
    assert "recall on HDF failures 0.000" in describe(verdict)
    assert segment_recalls(y, candidate, {"none": np.zeros(len(y), dtype=bool)}) == {"none": {"positives": 0, "recall": None}}


def test_the_candidates_own_minimums_still_apply():
    verdict = judge({"f1": 0.7, "recall": 0.7}, {}, None, GATES, {})
    assert verdict == {"passed": False, "failed": ["min_f1"], "results": verdict["results"]}
    assert describe(verdict) == "failed min_f1: 0.7 is below the limit 0.75"
    assert judge(GOOD, {}, None, GATES, {})["passed"]
