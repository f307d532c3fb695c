"""Multivariate drift (scripts/core/multivariate.py): a change in how columns move together is seen
when no single column's distribution moves."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scripts.core import drift as D
from scripts.core import multivariate as MV

SETTINGS = {"p_value": 0.01, "min_change": 0.1}


def _pair(rng: np.random.Generator, n: int, correlated: bool) -> pd.DataFrame:
    a = rng.normal(0, 1, n)
    b = 0.95 * a + np.sqrt(1 - 0.95 ** 2) * rng.normal(0, 1, n) if correlated else rng.normal(0, 1, n)
    return pd.DataFrame({"a": 10 + 2 * a, "b": 50 + 5 * b, "kind": rng.choice(["x", "y"], n)})


def test_a_broken_correlation_drifts_while_each_column_holds():
    rng = np.random.default_rng(5)
    model = MV.fit(_pair(rng, 5000, True), ["a", "b"], {"kind": ["x", "y"]}, variance=0.65)
    same, broken = _pair(rng, 1000, True), _pair(rng, 1000, False)
    reference = _pair(np.random.default_rng(6), 5000, True)
    for column in ("a", "b"):  # neither column alone moved
        assert not D.feature_drift(reference[column].to_numpy(), broken[column].to_numpy(), categories=None, bins=10,
                                   psi_threshold=0.2, p_value=0.01)["drifted"]
    held, moved = MV.judge(model, same, SETTINGS), MV.judge(model, broken, SETTINGS)
    assert not held["drifted"] and held["range"][0] <= held["value"] <= held["range"][1]
    assert moved["drifted"] and moved["value"] > moved["range"][1] and moved["change"] > 0.1, moved


def test_a_missing_number_reads_as_the_training_mean():
    rng = np.random.default_rng(1)
    model = MV.fit(_pair(rng, 2000, True), ["a", "b"], {}, variance=0.65)
    frame = pd.DataFrame({"a": [np.nan, 10.0], "b": [50.0, np.nan], "kind": ["x", "y"]})
    assert np.isfinite(MV.reconstruction_errors(model, frame)).all()
