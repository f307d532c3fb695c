"""Promotion gates: a candidate against production on the same rows, with their uncertainty.

Pure functions over arrays; the registry loads the models and the rows (registry.py).
- The candidate's own F1 and recall on the clean reference rows must reach the minimums.
- On each set of compared rows (the clean reference rows; for a retrain candidate also the
  recent labelled holdout) the difference F1(candidate) - F1(production) is measured on the same
  rows with a paired bootstrap interval (scipy.stats.bootstrap). The interval's lower bound must
  clear the set's margin. Too few failures among the rows to tell is "not enough evidence".
- No segment (each failure mode, each product Type) with enough failures may lose more recall
  than the params allow: a model that forgets a failure mode is refused, the segment named.
- Rows either model trained on never judge it: such a comparison is refused.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _f1(y: np.ndarray, predicted: np.ndarray, axis: int = -1) -> np.ndarray:
    tp = np.sum(y & predicted, axis=axis)
    wrong = np.sum(y ^ predicted, axis=axis)
    denominator = 2 * tp + wrong
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def f1_difference(y: Any, candidate: Any, production: Any, bootstrap: dict) -> dict:
    """F1(candidate) - F1(production) on the same rows, with a paired percentile bootstrap interval."""
    from scipy import stats

    y, a, b = (np.asarray(v, dtype=bool) for v in (y, candidate, production))
    difference = float(_f1(y, a) - _f1(y, b))
    if np.array_equal(a, b):
        low = high = difference
    else:
        result = stats.bootstrap((y, a, b), lambda yy, aa, bb, axis: _f1(yy, aa, axis) - _f1(yy, bb, axis),
                                 paired=True, vectorized=True, n_resamples=bootstrap["resamples"],
                                 confidence_level=bootstrap["confidence"], method="percentile",
                                 random_state=np.random.default_rng(bootstrap["seed"]))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return {"rows": int(len(y)), "positives": int(y.sum()), "difference": round(difference, 6),
            "low": round(low, 6), "high": round(high, 6)}


def _as_scores(train: Any, rows: Any, column: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    """A column as a score on the training rows and on other rows: a number itself (a missing value never
    scores), a category or boolean the training rows' positive rate of its value."""
    if column.numeric and column.kind != "boolean":
        return (np.nan_to_num(frame[column.name].to_numpy(dtype="float64"), nan=-np.inf) for frame in (train, rows))
    rates = train.groupby(train[column.name].astype(str))[label].mean()
    return (frame[column.name].astype(str).map(rates).fillna(0.0).to_numpy(dtype="float64") for frame in (train, rows))


def baseline_rule(train: Any, rows: Any, contract: Any, thresholds: int = 99) -> tuple[str, np.ndarray]:
    """The best trivial model, learned on the training rows alone: every row positive, or one input
    above (or below) one threshold (a category: its value's positive rate). Its name and its
    predictions on rows. Pure."""
    y = train[contract.label].to_numpy() == 1
    best = ("every row positive", float(_f1(y, np.ones(len(y), dtype=bool))), np.ones(len(rows), dtype=bool))
    for column in contract.inputs:
        fitted, scored = _as_scores(train, rows, column, contract.label)
        cuts = np.unique(np.quantile(fitted[np.isfinite(fitted)], np.linspace(0, 1, thresholds + 2)[1:-1]))
        for sign, word in ((1, ">="), (-1, "<=")):
            predicted = sign * fitted[:, None] >= sign * cuts[None, :]
            scores = _f1(y[:, None], predicted, axis=0)
            k = int(np.argmax(scores))
            if scores[k] > best[1]:
                what = f"{column.name} {word} {cuts[k]:.6g}" if column.numeric and column.kind != "boolean" else \
                    f"{column.name} whose positive rate {word} {cuts[k]:.3g}"
                best = (what, float(scores[k]), sign * scored >= sign * cuts[k])
    return best[0], best[2]


def segment_recalls(y: Any, predicted: Any, segments: dict[str, Any]) -> dict[str, dict]:
    """Recall within each segment (a boolean mask over the rows) and how many failures it holds."""
    y, predicted = np.asarray(y, dtype=bool), np.asarray(predicted, dtype=bool)
    out = {}
    for name, mask in segments.items():
        positives = y & np.asarray(mask, dtype=bool)
        n = int(positives.sum())
        out[name] = {"positives": n, "recall": round(float((predicted & positives).sum() / n), 6) if n else None}
    return out


def udi_ranges(udis: Any) -> list[list[int]]:
    """Sorted row ids as [first, last] runs: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    values = np.unique(np.asarray(udis, dtype=np.int64))
    if not len(values):
        return []
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate([[values[0]], values[breaks + 1]])
    ends = np.concatenate([values[breaks], [values[-1]]])
    return [[int(s), int(e)] for s, e in zip(starts, ends, strict=True)]


def seen_rows(udis: Any, ranges: list[list[int]]) -> int:
    """How many of these row ids fall inside the given [first, last] runs."""
    values = np.asarray(udis, dtype=np.int64)
    return int(sum(((values >= lo) & (values <= hi)).sum() for lo, hi in ranges))


def _comparison_results(name: str, comparison: dict, limit: float, gates: dict) -> list[dict]:
    """The gates of one set of compared rows: unseen by both models, enough failures, the interval."""
    if comparison["seen"]:
        return [{"gate": f"{name}_unseen", "value": comparison["seen"], "limit": 0, "passed": False,
                 "detail": f"{comparison['seen']} of the {comparison['rows']} {name} rows were trained on by "
                           f"{' and '.join(comparison['seen_by'])}; a model is never judged on rows it trained on"}]
    if comparison["positives"] < gates["min_positives"]:
        return [{"gate": f"{name}_evidence", "value": comparison["positives"], "limit": gates["min_positives"],
                 "passed": False, "detail": f"not enough evidence: {comparison['positives']} failures among the "
                                            f"{comparison['rows']} {name} rows; at least {gates['min_positives']} "
                                            "are needed to compare two models"}]
    keys = ("rows", "positives", "difference", "low", "high")
    rule = comparison.get("baseline")  # the first model of a data set: better than a trivial rule, not tied
    where = f"against the trivial rule '{rule}' on the reference" if rule else f"on the {name}"
    return [{"gate": f"{name}_f1_difference", "value": comparison["low"], "limit": limit,
             "passed": comparison["low"] > limit if rule else comparison["low"] >= limit, **{k: comparison[k] for k in keys},
             **({"baseline": rule} if rule else {}),
             "detail": f"F1 difference {where} rows {comparison['difference']:+.3f}, "
                       f"{round(100 * gates['bootstrap']['confidence'])}% interval [{comparison['low']:+.3f}, "
                       f"{comparison['high']:+.3f}] over {comparison['rows']} rows ({comparison['positives']} failures); "
                       f"the lower bound must be {'above' if rule else 'at least'} {limit:+.3f}"}]


def _segment_results(candidate: dict, production: dict, gates: dict) -> list[dict]:
    results = []
    for segment, mine in candidate.items():
        theirs = production[segment]
        if mine["positives"] < gates["min_segment_positives"] or theirs["recall"] is None:
            continue
        drop = round(theirs["recall"] - mine["recall"], 6)
        results.append({"gate": f"segment_recall:{segment}", "value": drop, "limit": gates["max_segment_recall_drop"],
                        "passed": drop <= gates["max_segment_recall_drop"],
                        "detail": f"recall on {segment} failures {mine['recall']:.3f} against production's "
                                  f"{theirs['recall']:.3f} ({mine['positives']} failures)"})
    return results


def judge(metrics: dict, comparisons: dict[str, dict], segments: dict | None, gates: dict, limits: dict[str, float]) -> dict:
    """The verdict on a candidate: its own reference metrics, then each comparison with production
    (limits: the lower-bound margin of each compared set) and the segments."""
    results = [
        {"gate": "min_f1", "value": metrics["f1"], "limit": gates["min_f1"],
         "passed": metrics["f1"] is not None and metrics["f1"] >= gates["min_f1"]},
        {"gate": "min_recall", "value": metrics["recall"], "limit": gates["min_recall"],
         "passed": metrics["recall"] is not None and metrics["recall"] >= gates["min_recall"]},
    ]
    for name, comparison in comparisons.items():
        results += _comparison_results(name, comparison, limits[name], gates)
    if segments is not None:
        results += _segment_results(segments["candidate"], segments["production"], gates)
    failed = [r["gate"] for r in results if not r["passed"]]
    return {"passed": not failed, "failed": failed, "results": results}


def describe(verdict: dict) -> str:
    """One line a person can read: which gates failed, and why."""
    if verdict["passed"]:
        return "passed all gates"
    parts = []
    for result in verdict["results"]:
        if not result["passed"]:
            if "detail" in result:
                parts.append(f"{result['gate']}: {result['detail']}")
            else:  # the candidate's own minimums, and the point-estimate gate of older registries
                side = "above" if result["gate"] == "max_f1_regression" else "below"
                parts.append(f"{result['gate']}: {result['value']} is {side} the limit {result['limit']}")
    return "failed " + "; ".join(parts)
