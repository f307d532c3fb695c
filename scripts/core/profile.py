"""Infer a data set contract from a table: each column's kind and role, and why (make init).

Pure: a DataFrame in, the dataset section's columns and one reason per decision out. What is
never a model input: the row id, a constant, a column missing in more than init.max_missing_share
of the rows (declared `ignored` and never read), one whose presence alone predicts the target,
free text (more distinct values than init.max_categories), a number that nearly duplicates an
earlier input, and a leakage suspect: a column that on its own ranks the target almost
perfectly (single-column ROC AUC of at least init.leakage_auc, or at most 1 minus it), which
is what a field filled in after the outcome looks like.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BOOLEAN_TEXT = ({"true", "false"}, {"yes", "no"})  # what core/rawdata.py reads as a boolean cell


class ProfileError(ValueError):
    """A table or a choice make init cannot build a contract from."""


@dataclass
class Profile:
    """The inferred columns (params' dataset.columns entries), each one's reason, and warnings."""

    columns: list[dict] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    positive: object = None
    warnings: list[str] = field(default_factory=list)
    rows: int = 0
    prior: float = 0.0  # the positive class's share of rows
    sha256: str = ""  # of the raw file, once copied


def snake(header: str, taken: set[str]) -> str:
    """A snake_case name for a CSV header, unique among taken."""
    base = re.sub(r"[^a-z0-9]+", "_", str(header).lower()).strip("_") or "column"
    base = base if base[0].isalpha() else f"c_{base}"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def positive_class(target: pd.Series, given: str | None) -> object:
    """The target's positive value: the one given (matched as text), else the rarer class."""
    counts = target.value_counts()
    if len(counts) != 2:
        raise ProfileError(f"TARGET={target.name}: {len(counts)} distinct values ({', '.join(map(str, counts.index[:5]))}"
                           f"{', ...' if len(counts) > 5 else ''}); Clockwork trains binary classifiers: two are needed")
    if given is None:
        return _plain(counts.index[-1])
    for value in counts.index:
        if str(value) == str(given):
            return _plain(value)
    raise ProfileError(f"POSITIVE={given}: not a value of {target.name} (it has {', '.join(map(str, counts.index))})")


def _plain(value: object) -> object:
    """A pandas or numpy scalar as the YAML-friendly Python value."""
    return value.item() if hasattr(value, "item") else value


def auc(values: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of one column used alone as a score (average ranks, ties counted half)."""
    ranks = pd.Series(values).rank().to_numpy()
    positives = y.sum()
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def profile(frame: pd.DataFrame, target: str, choices: dict, settings: dict) -> Profile:
    """The contract's columns for frame. choices: positive, id, order (headers or None)."""
    if len(frame) < settings["min_rows"]:
        raise ProfileError(f"{len(frame)} rows: at least {settings['min_rows']} are needed (init.min_rows)")
    for option in ("id", "order"):
        if choices.get(option) is not None and choices[option] not in frame.columns:
            raise ProfileError(f"{option.upper()}={choices[option]}: no such column (the file has {', '.join(frame.columns)})")
    if target not in frame.columns:
        raise ProfileError(f"TARGET={target}: no such column (the file has {', '.join(frame.columns)})")
    if frame[target].isna().any():
        raise ProfileError(f"TARGET={target}: {int(frame[target].isna().sum())} rows have no value")
    out = Profile(positive=positive_class(frame[target], choices.get("positive")), rows=len(frame))
    y = (frame[target].astype(str) == str(out.positive)).to_numpy().astype(int)
    out.prior = float(y.mean())
    identity = choices.get("id") or _find_id(frame, target)
    if identity is None:
        raise ProfileError("no column holds a unique whole number per row: name the row id with ID=column")
    taken: set[str] = set()
    _check_order(frame, choices.get("order"))
    for header in frame.columns:
        name = snake(header, taken)
        taken.add(name)
        spec, reason = _decide(frame, header, (target, identity, choices.get("order"), y), out.columns, settings)
        out.columns.append({"column": str(header), "name": name, **spec})
        out.reasons[name] = reason
    return out


def _find_id(frame: pd.DataFrame, target: str) -> str | None:
    for header in frame.columns:
        series = frame[header]
        if header != target and pd.api.types.is_integer_dtype(series) and series.is_unique:
            return header
    return None


def _check_order(frame: pd.DataFrame, order: str | None) -> None:
    """ORDER is a sequence number that increases from row to row, or a time stamp that never goes back."""
    if order is None:
        return
    series = frame[order]
    if series.isna().any():
        raise ProfileError(f"ORDER={order}: {int(series.isna().sum())} rows have no value")
    if pd.api.types.is_numeric_dtype(series):
        if not (series.diff().dropna() > 0).all():
            raise ProfileError(f"ORDER={order}: does not increase from row to row; sort the file by it first")
        return
    stamps = time_stamps(series)
    if stamps is None:
        raise ProfileError(f"ORDER={order}: neither a number nor an ISO 8601 time stamp in every row")
    if (stamps.diff().dropna() < pd.Timedelta(0)).any():
        raise ProfileError(f"ORDER={order}: goes back in time between rows; sort the file by it first")


def time_stamps(series: pd.Series) -> pd.Series | None:
    """The column as UTC time stamps if every value is an ISO 8601 date or time, else None."""
    try:
        return pd.to_datetime(series.astype(str).str.strip(), format="ISO8601", utc=True)
    except (ValueError, TypeError):
        return None


def _decide(frame: pd.DataFrame, header: str, known: tuple, inputs: list[dict], settings: dict) -> tuple[dict, str]:
    """One column's spec (kind, role, range or values) and the reason for it."""
    target, identity, order, y = known
    series = frame[header]
    if header == target:
        values = sorted(series.astype(str).unique()) if not pd.api.types.is_numeric_dtype(series) else None
        kind = "category" if values else "integer" if pd.api.types.is_integer_dtype(series) else "number"
        return {"kind": kind, "role": "target", **({"values": values} if values else {})}, "the target"
    if header == identity:
        return {"kind": "integer", "role": "id"}, "the row id: never a model input"
    if header == order:
        kind = _carried(series) if pd.api.types.is_numeric_dtype(series) else {"kind": "timestamp", "role": "carried"}
        return kind, "the order column: kept, never a model input"
    if series.nunique(dropna=False) <= 1:
        return _carried(series), "left out: constant"
    missing = int(series.isna().sum())
    if missing:
        presence = auc(series.notna().to_numpy(dtype="float64"), y)
        if max(presence, 1 - presence) >= settings["leakage_auc"]:
            return _carried(series), (f"left out: leakage suspect: whether it is filled in ranks the target with ROC AUC "
                                      f"{max(presence, 1 - presence):.3f}")
        if missing / len(series) > settings["max_missing_share"]:
            return {"kind": "text", "role": "ignored"}, (f"left out, never read: {missing} missing values "
                                                         f"({missing / len(series):.0%}, above init.max_missing_share)")
    present = series.notna().to_numpy()
    spec, reason = _as_input(frame.loc[present], header, y[present], inputs, settings)
    if missing and spec["role"] == "input":
        fill = "median" if spec["kind"] in ("number", "integer") else "most_frequent"
        spec["missing"] = fill
        reason += (f"; {missing} missing values: a request may leave it out or send null, and the model fills it "
                   f"with the training rows' {fill.replace('_', ' ')}")
    return spec, reason


def _as_input(frame: pd.DataFrame, header: str, y: np.ndarray, inputs: list[dict], settings: dict) -> tuple[dict, str]:
    """A column's spec as a candidate input, judged on the rows where it has a value."""
    series = frame[header]
    kind, values = _kind(series, settings)
    if kind == "text":
        return {"kind": "text", "role": "carried"}, f"left out: free text or an identifier ({series.nunique()} distinct values)"
    score = auc(_score(series, kind, y), y)
    if max(score, 1 - score) >= settings["leakage_auc"]:
        return _carried(series), f"left out: leakage suspect: alone it ranks the target with ROC AUC {max(score, 1 - score):.3f}"
    twin = _near_duplicate(frame, header, inputs, settings) if kind in ("number", "integer") else None
    if twin:
        return _carried(series), f"left out: a near-duplicate of {twin}"
    if kind == "category":
        return {"kind": kind, "role": "input", "values": values}, f"category input, {len(values)} values"
    if kind == "boolean":
        return {"kind": kind, "role": "input"}, "boolean input"
    low, high = _plain(series.min()), _plain(series.max())
    if kind == "integer":  # a column with missing values is read as floats
        low, high = int(low), int(high)
    margin = settings["range_margin"] * (high - low)
    accepted = [max(low - margin, 0) if low >= 0 else low - margin, high + margin]
    accepted = [int(np.floor(accepted[0])), int(np.ceil(accepted[1]))] if kind == "integer" else [_plain(round(v, 6)) for v in accepted]
    return ({"kind": kind, "role": "input", "range": accepted},
            f"{kind} input, observed range [{low}, {high}], accepted [{accepted[0]}, {accepted[1]}]")


def _score(series: pd.Series, kind: str, y: np.ndarray) -> np.ndarray:
    """The column as a score of the target on its own: a number itself, a category its positive rate."""
    if kind in ("number", "integer"):
        return series.to_numpy(dtype="float64")
    text = series.astype(str).str.strip().str.lower()
    return text.map(pd.Series(y, index=text.index).groupby(text).mean()).to_numpy(dtype="float64")


def _kind(series: pd.Series, settings: dict) -> tuple[str, list | None]:
    if pd.api.types.is_bool_dtype(series):
        return "boolean", None
    if pd.api.types.is_numeric_dtype(series):
        whole = pd.api.types.is_integer_dtype(series) or bool((series == series.round()).all())
        return ("integer" if whole else "number"), None
    text = series.astype(str).str.strip()
    if set(text.str.lower().unique()) in [set(pair) for pair in BOOLEAN_TEXT]:
        return "boolean", None
    values = sorted(text.unique())
    return ("category", values) if len(values) <= settings["max_categories"] else ("text", None)


def _carried(series: pd.Series) -> dict:
    kind = "number" if pd.api.types.is_float_dtype(series) else "integer" if pd.api.types.is_integer_dtype(series) else "text"
    return {"kind": kind, "role": "carried"}


def _near_duplicate(frame: pd.DataFrame, header: str, inputs: list[dict], settings: dict) -> str | None:
    values = frame[header].to_numpy(dtype="float64")
    for spec in inputs:
        if spec["role"] == "input" and spec["kind"] in ("number", "integer"):
            other = frame[spec["column"]].to_numpy(dtype="float64")
            if np.std(values) > 0 and np.std(other) > 0 and abs(np.corrcoef(values, other)[0, 1]) >= settings["duplicate_correlation"]:
                return spec["column"]
    return None
