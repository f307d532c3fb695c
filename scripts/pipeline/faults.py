"""What a scenario does to a stretch of the production window. Pure; simulate.py writes the result.

- faults: per sensor, from a row on, a gain (x), a bias (+), stuck at a value, or added noise
  (a standard deviation): what a sensor fault does. Labels keep the physical truth.
- type_mix: rows resampled so the product Types follow these shares (covariate drift).
- failure_rate: rows resampled so failures make up this share (label shift).
- power_limits_w: the power-failure rule changes to "power outside [low, high]" and the rows
  are labelled again by it (concept drift: the same readings, other failures).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scripts.core import features as F


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


def resample_types(frame: pd.DataFrame, mix: dict, seed: int) -> pd.DataFrame:
    """The same number of rows, drawn (with replacement) so each Type has its share."""
    rng = np.random.default_rng(seed)
    picks = []
    for kind, share in mix.items():
        pool = np.flatnonzero(frame["type"].to_numpy() == kind)
        picks.append(rng.choice(pool, round(share * len(frame)), replace=True))
    order = np.sort(np.concatenate(picks))
    return frame.iloc[order].reset_index(drop=True).assign(drifted=1)


def resample_failures(frame: pd.DataFrame, rate: float, seed: int) -> pd.DataFrame:
    """The same number of rows, drawn (with replacement) so failures make up this share, in row order."""
    rng = np.random.default_rng(seed)
    failed = np.flatnonzero(frame[F.LABEL].to_numpy() == 1)
    fine = np.flatnonzero(frame[F.LABEL].to_numpy() == 0)
    wanted = round(rate * len(frame))
    order = np.sort(np.concatenate([rng.choice(failed, wanted, replace=True),
                                    rng.choice(fine, len(frame) - wanted, replace=True)]))
    return frame.iloc[order].reset_index(drop=True).assign(drifted=1)


def relabel_power(frame: pd.DataFrame, limits: list[float]) -> pd.DataFrame:
    """Label the rows again with another power-failure window; every other failure mode stays."""
    power = frame["torque_nm"] * frame["rotational_speed_rpm"] * (2 * math.pi / 60)
    pwf = ((power < limits[0]) | (power > limits[1])).astype(int)
    others = frame[[m for m in F.FAILURE_MODES if m != "pwf"]].fillna(0).to_numpy().any(axis=1)
    label = (others | (pwf.to_numpy() == 1)).astype(int)
    return frame.assign(pwf=pwf, **{F.LABEL: label}, drifted=(label != frame[F.LABEL].to_numpy()).astype(int))


def apply_scenario(frame: pd.DataFrame, spec: dict, seed: int) -> pd.DataFrame:
    """Every change the spec names, in a fixed order: resampling, relabelling, then the sensors."""
    if "type_mix" in spec:
        frame = resample_types(frame, spec["type_mix"], seed)
    if "failure_rate" in spec:
        frame = resample_failures(frame, spec["failure_rate"], seed)
    if "power_limits_w" in spec:
        frame = relabel_power(frame, spec["power_limits_w"])
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
