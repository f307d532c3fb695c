"""Pure drift statistics: PSI on training-quantile bins, KS for numbers, chi-square for Type.

scipy does the tests (its KS and chi-square are the reference implementations); PSI is a
few lines of numpy. No files here: monitor.py feeds the arrays in.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-6  # floor for empty bins, so PSI stays finite


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles; ties collapse, so bins may be fewer."""
    edges = np.quantile(np.asarray(reference, dtype="float64"), np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(edges)


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype="float64"), EPS, None)
    a = np.clip(np.asarray(actual, dtype="float64"), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def binned_shares(reference: np.ndarray, current: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inner edges at the reference's quantiles, and each side's share of its values per bin."""
    edges = quantile_edges(reference, bins)
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    return edges, ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1)


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """PSI with bins cut at the reference (training) quantiles."""
    _, expected, actual = binned_shares(reference, current, bins)
    return psi_from_shares(expected, actual)


def distribution(reference: np.ndarray, current: np.ndarray, *, categories: list[str] | None, bins: int) -> dict:
    """Both sides' shares per bin (a number: the training deciles, as PSI cuts them; a category: each
    value), with the bins' names, for a chart of one column."""
    if categories is not None:
        ref, cur = category_counts(reference, categories), category_counts(current, categories)
        names, expected, actual = [str(c) for c in categories], ref / max(ref.sum(), 1), cur / max(cur.sum(), 1)
    else:
        edges, expected, actual = binned_shares(reference, current, bins)
        cuts = [f"{e:.4g}" for e in edges]
        names = [f"< {cuts[0]}", *(f"{a} to {b}" for a, b in zip(cuts, cuts[1:], strict=False)), f">= {cuts[-1]}"] \
            if cuts else ["all"]
    return {"bins": names, "reference": [round(float(v), 6) for v in expected], "current": [round(float(v), 6) for v in actual]}


def category_counts(values: np.ndarray, categories: list[str]) -> np.ndarray:
    """How often each category occurs (one sort of the values, not a comparison per category)."""
    found, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    seen = dict(zip(found.tolist(), counts.tolist(), strict=True))
    return np.array([seen.get(str(c), 0) for c in categories], dtype="float64")


def psi_categorical(reference: np.ndarray, current: np.ndarray, categories: list[str]) -> float:
    ref, cur = category_counts(reference, categories), category_counts(current, categories)
    return psi_from_shares(ref / ref.sum(), cur / cur.sum())


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value, from the statistic's asymptotic distribution
    (the exact one costs seconds on a chunk of 10,000 readings; the two agree closely from the few hundred
    readings drift is judged on, monitor.min_drift_rows)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current, method="asymp")
    return float(result.statistic), float(result.pvalue)


def chi_square_test(reference: np.ndarray, current: np.ndarray, categories: list[str]) -> tuple[float, float]:
    """Chi-square test of the current category counts against the reference shares."""
    from scipy.stats import chisquare

    ref, cur = category_counts(reference, categories), category_counts(current, categories)
    keep = ref > 0  # a category never seen in training has no expected count
    expected = ref[keep] / ref[keep].sum() * cur[keep].sum()
    result = chisquare(cur[keep], expected)
    return float(result.statistic), float(result.pvalue)


def feature_drift(reference: np.ndarray, current: np.ndarray, *, categories: list[str] | None, bins: int,
                  psi_threshold: float, p_value: float) -> dict:
    """One feature's drift record. Drifted needs both a significant test and a PSI above threshold:
    with thousands of rows a test alone flags shifts too small to matter."""
    if categories is not None:
        psi = psi_categorical(reference, current, categories)
        statistic, p = chi_square_test(reference, current, categories)
        test = "chi_square"
    else:
        psi = psi_numeric(reference, current, bins)
        statistic, p = ks_test(reference, current)
        test = "ks"
    return {"test": test, "statistic": round(statistic, 6), "p_value": float(f"{p:.6g}"), "psi": round(psi, 6),
            "drifted": bool(p < p_value and psi > psi_threshold)}
