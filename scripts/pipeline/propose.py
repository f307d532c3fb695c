"""The simulation, scenario and synth sections make init proposes for a new table. Pure.

AI4I's defaults name AI4I's columns; a new table gets its own, made from its contract and its
rows, so `make simulate`, `make scenarios` and `make demo` run on it unchanged:
- simulation: the first numeric input reads 10 % high in the drifted datasets;
- scenarios: none injected; a bias of three residual standard deviations on the first numeric
  input the others predict (a line explains at least monitor.diagnosis.min_r2 of it: what the
  diagnosis can see); a sensor stuck at a value the input rarely takes; the mix of the category
  whose values' positive rates differ least moved to its rarest value (a covariate drift that
  moves no failure rate); the positive class three times as common (label shift); and a
  concept drift: the positive class also wherever the first numeric input is in its top tenth.
Each scenario's change starts halfway through its rows; its fresh rows are the rest of the
production window.
- synth (make synth, scale runs): each column drawn on its own, as the file has it: a row id
  and a numeric order column count up, free text is a placeholder, a time stamp steps by its
  median step, a number is normal with the file's mean and sd within its range, anything else
  takes the file's values at their shares. No relation between columns is kept (edit the
  section for that; AI4I's declares its physics).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from scripts.core.lines import fit_lines

FAULT_SDS = 3.0  # a bias of this many residual standard deviations
GAIN = 1.1  # the simulated drift's gain


def related(frame: pd.DataFrame, numeric: list[str], min_r2: float) -> dict[str, float]:
    """Each numeric input a line on the others explains at least min_r2 of (core/lines.py), with the
    standard deviation of what the line leaves."""
    return {name: float(np.std(line["residuals"])) for name, line in fit_lines(frame, numeric, min_r2).items()}


def sections(frame: pd.DataFrame, contract, production_rows: int, defaults: dict) -> dict:  # noqa: ANN001 - defaults: the new params
    """params' simulation and scenarios sections for this table (frame: its rows under the contract's
    names, the target 1 for the positive class)."""
    numeric = [c.name for c in contract.inputs if c.kind in ("number", "integer")]
    rows = production_rows
    simulation = {**defaults["simulation"], "demo_checks": False, "datasets": {
        "day2": {"rows": [0, rows // 5], "drift": False},
        "day2_drift": {"rows": [rows // 5, 4 * rows // 5], "drift": bool(numeric)},
        "day3_drift": {"rows": [4 * rows // 5, rows], "drift": bool(numeric)}}}
    simulation["drift"] = {**defaults["simulation"]["drift"],
                           "columns": {numeric[0]: {"scale": GAIN, "bias": 0.0}} if numeric else {}}
    judged = round(rows * 0.6)
    scenarios = {**defaults["scenarios"], "rows": [0, judged], "fresh_rows": [judged, rows],
                 "list": scenario_list(frame, contract, numeric, judged // 2, defaults["monitor"]["diagnosis"])}
    return {"simulation": simulation, "scenarios": scenarios}


def synth_section(raw: pd.DataFrame, contract, path: str, defaults: dict) -> dict:  # noqa: ANN001 - a Contract
    """params' synth section for this table: each column of the raw file (raw: as read) on its own."""
    return {**defaults["synth"], "reference": path,
            "columns": [_synth_column(raw[c.source], c, c.name == contract.order) for c in contract.columns]}


def _synth_column(values: pd.Series, column, order: bool) -> dict:  # noqa: ANN001 - a Column
    entry: dict = {"name": column.name, "header": column.source}
    present = values.dropna()
    if order and column.kind in ("integer", "number"):  # the rows' order counts up from the file's first
        return {**entry, "sequence": int(present.min())}
    if column.role == "id":
        return {**entry, "sequence": 1} if not column.text_id else {**entry, "text": "id{row}", "row_from": 1}
    if column.kind == "text":  # free text: a placeholder per row
        return {**entry, "text": column.name + " {row}", "row_from": 1}
    if column.kind == "timestamp":
        stamps = pd.to_datetime(present).sort_values()
        step = stamps.diff().dt.total_seconds().median() if len(stamps) > 1 else 60.0
        return {**entry, "times": {"start": stamps.iloc[0].strftime("%Y-%m-%dT%H:%M:%S"), "step_s": max(1, int(step or 1))}}
    if column.kind in ("number", "integer") and column.role != "target":
        low, high = float(present.min()), float(present.max())
        rounding = {"round": 0, "integer": True} if column.kind == "integer" else {"round": 4}
        return {**entry, "normal": "reference", "clip": [low, high], **rounding}
    shares = present.astype(str).value_counts(normalize=True)
    return {**entry, "choice": {value: round(float(share), 6) for value, share in shares.items()}}


def scenario_list(frame: pd.DataFrame, contract, numeric: list[str], start: int, diagnosis: dict) -> dict:  # noqa: ANN001
    label = contract.label
    out: dict[str, dict] = {"no_drift": {"truth": "none"}}
    for name, spread in list(related(frame, numeric, diagnosis["min_r2"]).items())[:1]:
        out[f"{name}_bias"] = {"truth": "sensor_fault", "sensors": [name],
                               "faults": {name: {"bias": round(FAULT_SDS * spread, 4), "from_row": start}}}
    for name in numeric[:1]:
        values = frame[name].dropna()
        stuck = round(float((values.min() + values.max()) / 2), 4)
        if float(np.mean(values == stuck)) < diagnosis["stuck_share"] / 10:
            out[f"{name}_stuck"] = {"truth": "sensor_fault", "sensors": [name], "faults": {name: {"stuck": stuck, "from_row": start}}}
    categories = [c for c in contract.inputs if c.kind == "category" and len(c.values) > 1]
    if categories:  # the one whose values' positive rates differ least: moving its mix moves no rate
        rates = {c.name: frame.groupby(frame[c.name].astype(str))[label].mean() for c in categories}
        column = min(categories, key=lambda c: float(rates[c.name].max() - rates[c.name].min()))
        counts = frame[column.name].astype(str).value_counts()
        rarest = min(column.values, key=lambda v: counts.get(str(v), 0))
        others = [v for v in column.values if v != rarest]
        shares = {rarest: 0.7, **{v: round(0.3 / len(others), 6) for v in others}}
        out[f"{column.name}_mix"] = {"truth": "covariate_drift", "mix": {"column": column.name, "shares": shares}}
    prior = float(frame[label].mean())
    out["label_shift"] = {"truth": "label_shift", "positive_rate": round(min(0.5, 3 * prior), 4)}
    if numeric:
        top = float(frame[numeric[0]].quantile(0.9))
        out["concept"] = {"truth": "concept_drift", "relabel": {"target": f"{label} == 1 or {numeric[0]} > {top:.6g}"}}
    return out
