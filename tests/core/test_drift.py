"""Drift statistics against hand computation and scipy on the same data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from scripts.core import drift as D


def test_psi_by_hand():
    expected, actual = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    by_hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert D.psi_from_shares(expected, actual) == pytest.approx(by_hand)
    assert D.psi_from_shares(expected, expected) == 0.0


def test_psi_numeric_uses_training_quantile_bins():
    reference = np.arange(100, dtype=float)  # deciles at 9.9, 19.8, ...
    assert D.psi_numeric(reference, reference.copy(), 10) == pytest.approx(0.0)
    shifted = reference + 50
    assert D.psi_numeric(reference, shifted, 10) > 1.0
    edges = D.quantile_edges(reference, 4)
    assert edges.tolist() == pytest.approx([24.75, 49.5, 74.25])


def test_psi_categorical_by_hand():
    reference = np.array(["L"] * 6 + ["M"] * 3 + ["H"])
    current = np.array(["L"] * 3 + ["M"] * 3 + ["H"] * 4)
    e, a = np.array([0.6, 0.3, 0.1]), np.array([0.3, 0.3, 0.4])
    assert D.psi_categorical(reference, current, ["L", "M", "H"]) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))


def test_ks_and_chi_square_match_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(0.3, size=200)
    asymptotic = stats.ks_2samp(x, y, method="asymp")
    assert D.ks_test(x, y) == pytest.approx((asymptotic.statistic, asymptotic.pvalue))
    assert D.ks_test(x, y)[1] == pytest.approx(stats.ks_2samp(x, y).pvalue, rel=0.1), "close to the exact p-value"
    reference = np.array(["L"] * 60 + ["M"] * 30 + ["H"] * 10)
    current = np.array(["L"] * 40 + ["M"] * 40 + ["H"] * 20)
    statistic, p = D.chi_square_test(reference, current, ["L", "M", "H"])
    expected = stats.chisquare([40, 40, 20], [60, 30, 10])
    assert (statistic, p) == pytest.approx((expected.statistic, expected.pvalue))


def test_drifted_needs_significance_and_size():
    rng = np.random.default_rng(1)
    reference = rng.normal(40, 10, 5000)
    same = D.feature_drift(reference, rng.normal(40, 10, 1000), categories=None, bins=10, psi_threshold=0.2, p_value=0.01)
    moved = D.feature_drift(reference, rng.normal(40, 10, 1000) * 1.12, categories=None, bins=10, psi_threshold=0.2, p_value=0.01)
    assert not same["drifted"] and moved["drifted"]
    assert moved["test"] == "ks" and moved["p_value"] < 0.01 and moved["psi"] > 0.2
