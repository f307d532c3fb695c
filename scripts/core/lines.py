"""How numeric columns move together: each as a least-squares line on the others. Pure.

The monitor's diagnosis learns these on the training rows to name a sensor that leaves its line
(monitoring/diagnosis.py); make init uses them to propose a sensor fault the diagnosis can see
(pipeline/propose.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def fit_lines(frame: Any, names: list[str], min_r2: float, skip: set[str] | frozenset = frozenset(),
              min_rows: int = 0) -> dict[str, dict]:
    """Each named column but those in skip as a line on the other named columns, over the rows where
    all have a value (none when fewer than min_rows do), kept where it explains at least min_r2 of
    the column's variance:
    name -> {sensor, others, coefficients (intercept first), r2, residuals}."""
    values = np.asarray(frame[names], dtype="float64") if names else np.empty((0, 0))
    values = values[~np.isnan(values).any(axis=1)]
    out = {}
    for k, name in enumerate(names):
        y = values[:, k]
        if name in skip or len(names) < 2 or len(y) < min_rows or not np.var(y) > 0:
            continue
        x = np.column_stack([np.ones(len(y)), np.delete(values, k, axis=1)])
        coefficients = np.linalg.lstsq(x, y, rcond=None)[0]
        residuals = y - x @ coefficients
        r2 = 1 - np.var(residuals) / np.var(y)
        if r2 >= min_r2:
            out[name] = {"sensor": name, "others": [n for n in names if n != name], "coefficients": coefficients,
                         "r2": float(r2), "residuals": residuals}
    return out
