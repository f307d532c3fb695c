"""Multivariate drift: how far the readings stand from what the training rows' principal components
can rebuild (PCA reconstruction error, as NannyML's data reconstruction drift). Pure.

Each numeric column is standardized on the training rows and each category one-hot coded; the fewest
principal components that explain `variance` of the training rows' spread are kept. A reading's error
is the distance between it and its rebuild from those components. When columns stop moving together
as they did in training (a correlation breaks) the rebuild fails and the mean error rises, even if no
single column's distribution moved. A set of readings drifts when its mean error differs from the
training rows' by more than `min_change` (relative) with a z-test p-value under `p_value`.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _matrix(frame: Any, model: dict) -> np.ndarray:
    """The readings as the standardized matrix the components were fitted on (a missing number reads
    as the training mean; an unknown category as none of the known ones)."""
    parts = []
    if model["numeric"]:
        numbers = np.asarray(frame[model["numeric"]], dtype="float64")
        numbers = (numbers - model["mean"]) / model["scale"]
        parts.append(np.where(np.isnan(numbers), 0.0, numbers))
    for name, values in model["categories"].items():
        column = np.asarray(frame[name]).astype(str)
        parts.append(np.column_stack([(column == v).astype("float64") for v in values]))
    return np.column_stack(parts) if parts else np.zeros((len(frame), 0))


def fit(reference: Any, numeric: list[str], categories: dict[str, list], variance: float) -> dict[str, Any]:
    """The components and the training rows' error distribution. categories: name -> its values."""
    numbers = np.asarray(reference[numeric], dtype="float64") if numeric else np.zeros((len(reference), 0))
    mean, scale = np.nanmean(numbers, axis=0), np.nanstd(numbers, axis=0)
    model = {"numeric": list(numeric), "categories": {k: [str(v) for v in vals] for k, vals in categories.items()},
             "mean": mean, "scale": np.where(scale > 0, scale, 1.0)}
    x = _matrix(reference, model)
    model["center"] = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - model["center"], full_matrices=False)
    share = np.cumsum(singular ** 2) / max(float((singular ** 2).sum()), 1e-300)
    model["components"] = vt[: int(np.searchsorted(share, variance) + 1)]
    errors = reconstruction_errors(model, reference)
    model["reference"] = {"mean": float(errors.mean()), "sd": float(errors.std(ddof=1)), "rows": int(len(errors))}
    return model


def reconstruction_errors(model: dict, frame: Any) -> np.ndarray:
    """Each reading's distance from its rebuild by the kept components."""
    x = _matrix(frame, model) - model["center"]
    rebuilt = (x @ model["components"].T) @ model["components"]
    return np.sqrt(((x - rebuilt) ** 2).sum(axis=1))


def judge(model: dict, frame: Any, settings: dict) -> dict[str, Any]:
    """The readings' mean reconstruction error against the training rows', with its acceptance range
    (the training mean +- the z-test's critical distance for this many rows) and the verdict."""
    from scipy import stats

    errors = reconstruction_errors(model, frame)
    ref = model["reference"]
    spread = ref["sd"] / np.sqrt(max(len(errors), 1))
    z = (float(errors.mean()) - ref["mean"]) / max(spread, 1e-300)
    p = float(2 * stats.norm.sf(abs(z)))
    critical = float(stats.norm.isf(settings["p_value"] / 2)) * spread
    limit = max(critical, settings["min_change"] * ref["mean"])
    change = float(errors.mean()) / ref["mean"] - 1 if ref["mean"] > 0 else 0.0
    return {"measure": "pca_reconstruction_error", "components": int(len(model["components"])),
            "value": round(float(errors.mean()), 6), "reference": round(ref["mean"], 6),
            "range": [round(ref["mean"] - limit, 6), round(ref["mean"] + limit, 6)], "change": round(change, 6),
            "p_value": float(f"{p:.6g}"),
            "drifted": bool(p < settings["p_value"] and abs(change) > settings["min_change"])}
