"""What a scenario does to a stretch of the production window. Pure; simulate.py writes the result.

- faults: per numeric column, from a row on, a gain (x), a bias (+), stuck at a value, or added
  noise (a standard deviation): what a sensor fault does. Labels keep the physical truth.
- mix: rows resampled so a category column's values follow these shares (covariate drift).
- tilt: a share of the rows drawn (without replacement) with weights exp(strength x a numeric
  column's z-score): its values move up (strength > 0) or down, each row keeping its label and none
  repeated (covariate drift).
- positive_rate: rows resampled so the positive class makes up this share (label shift).
- relabel: the rows labelled again by conditions over the columns (core/expressions.py), first any
  carried columns it names, then the target (concept drift: the same readings, other outcomes).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from scripts.core.config import ClockworkError
from scripts.core.contract import Contract
from scripts.core.expressions import ExpressionError, parse


def apply_faults(frame: pd.DataFrame, faults: dict, seed: int) -> pd.DataFrame:
    """Each faulty sensor's readings from its from_row on; the affected rows are marked drifted."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for column, fault in faults.items():
        values = out[column].astype("float64").to_numpy().copy()
        affected = np.arange(len(out)) >= fault.get("from_row", 0)
        if "gain" in fault:
            values[affected] *= fault["gain"]
        if "bias" in fault:
            values[affected] += fault["bias"]
        if "noise" in fault:
            values[affected] += rng.normal(0.0, fault["noise"], int(affected.sum()))
        if "stuck" in fault:
            values[affected] = fault["stuck"]
        out[column] = np.round(values, 4)
        out["drifted"] = np.maximum(out["drifted"].to_numpy(), affected.astype(int))
    return out


def resample_mix(frame: pd.DataFrame, mix: dict, seed: int) -> pd.DataFrame:
    """The same number of rows, drawn (with replacement) so each value of mix's column has its share."""
    rng = np.random.default_rng(seed)
    values = frame[mix["column"]].astype(str).to_numpy()
    picks = []
    for value, share in mix["shares"].items():
        pool = np.flatnonzero(values == str(value))
        if not len(pool):
            raise ClockworkError(f"scenario mix: no row has {mix['column']} = {value!r} to draw from")
        picks.append(rng.choice(pool, round(share * len(frame)), replace=True))
    order = np.sort(np.concatenate(picks))
    return frame.iloc[order].reset_index(drop=True).assign(drifted=1)


def resample_tilt(frame: pd.DataFrame, tilt: dict, seed: int) -> pd.DataFrame:
    """tilt['share'] of the rows, drawn without replacement with weights exp(strength x the column's
    z-score), in row order: no row repeats, so each keeps its own label. A column of one value (or none)
    has no direction to move in."""
    values = frame[tilt["column"]].to_numpy(dtype="float64")
    spread = np.nanstd(values)
    if not np.isfinite(spread) or spread == 0:
        raise ClockworkError(f"scenario tilt: {tilt['column']} takes one value in these rows: nothing to tilt")
    weights = np.exp(tilt["strength"] * np.nan_to_num((values - np.nanmean(values)) / spread))
    rows = max(1, round(tilt["share"] * len(frame)))
    order = np.sort(np.random.default_rng(seed).choice(len(frame), rows, replace=False, p=weights / weights.sum()))
    return frame.iloc[order].reset_index(drop=True).assign(drifted=1)


def resample_labels(frame: pd.DataFrame, label: str, rate: float, seed: int) -> pd.DataFrame:
    """The same number of rows, drawn (with replacement) so positives make up this share, in row order."""
    rng = np.random.default_rng(seed)
    positive = np.flatnonzero(frame[label].to_numpy() == 1)
    negative = np.flatnonzero(frame[label].to_numpy() == 0)
    wanted = round(rate * len(frame))
    order = np.sort(np.concatenate([rng.choice(positive, wanted, replace=True),
                                    rng.choice(negative, len(frame) - wanted, replace=True)]))
    return frame.iloc[order].reset_index(drop=True).assign(drifted=1)


def relabel(frame: pd.DataFrame, contract: Contract, rule: dict) -> pd.DataFrame:
    """Label the rows again by a rule of conditions over the columns and the contract's derived features
    (concept drift: the same readings, other outcomes): first each of rule's columns (e.g. an outcome
    flag), then the target; a row whose target changed is marked drifted."""
    out, label = frame.copy(), contract.label
    for column, text in {**rule.get("columns", {}), label: rule["target"]}.items():
        numbers = {c: out[c].to_numpy(dtype="float64") for c in out.columns if pd.api.types.is_numeric_dtype(out[c])}
        numbers |= {name: expression(numbers) for name, expression in contract.derived.items() if name not in numbers}
        try:
            out[column] = parse(text, list(numbers), condition=True)(numbers).astype(int)
        except ExpressionError as exc:
            raise ClockworkError(f"scenario relabel {column}: {exc}") from None
    return out.assign(drifted=(out[label].to_numpy() != frame[label].to_numpy()).astype(int))


def apply_scenario(frame: pd.DataFrame, spec: dict, seed: int, contract: Contract) -> pd.DataFrame:
    """Every change the spec names, in a fixed order: resampling, relabelling, then the sensors. The
    target column holds 1 for the positive class."""
    label = contract.label
    if "mix" in spec:
        frame = resample_mix(frame, spec["mix"], seed)
    if "tilt" in spec:
        frame = resample_tilt(frame, spec["tilt"], seed)
    if "positive_rate" in spec:
        frame = resample_labels(frame, label, spec["positive_rate"], seed)
    if "relabel" in spec:
        frame = relabel(frame, contract, spec["relabel"])
    if "faults" in spec:
        frame = apply_faults(frame, spec["faults"], seed)
    return frame


def scenario_datasets(scenarios: dict) -> dict[str, dict]:
    """Each scenario as two datasets: `<name>` (the rows it is judged on) and `<name>_fresh` (later
    rows with the same change, to check what the action did)."""
    out = {}
    for name, scenario in scenarios["list"].items():
        change = {k: v for k, v in scenario.items() if k not in ("truth", "sensors")}
        fresh = {**change, "faults": {c: {**f, "from_row": 0} for c, f in change["faults"].items()}} if "faults" in change else change
        for suffix, rows, spec in (("", scenarios["rows"], change), ("_fresh", scenarios["fresh_rows"], fresh)):
            out[name + suffix] = {"rows": rows, "drift": False, "scenario": spec, "seed": scenarios["seed"]}
    return out
