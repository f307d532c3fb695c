"""The raw CSV's contract: parse it column by column and apply the domain rules, naming each problem.

Used by prepare (the real file) and synth (the reference for synthetic files). Pure apart from
reading the one file it is given.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scripts.core import features as F
from scripts.core.config import ClockworkError


def _line(index: int) -> int:
    """File line of a data row (1-based, header is line 1)."""
    return int(index) + 2


def read_raw(path: Path) -> pd.DataFrame:
    """Parse the raw CSV as text and convert column by column, so each problem is named.

    Accepts a UTF-8 BOM, CRLF line endings and integers written as '40.0'.
    """
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        raise ClockworkError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise ClockworkError(f"{path}: empty file (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ClockworkError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}") from None
    expected = list(F.RAW_COLUMNS)
    columns = [c.strip() for c in frame.columns]
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing:
        raise ClockworkError(f"{path}: missing column(s): {', '.join(missing)}")
    if extra:
        raise ClockworkError(f"{path}: unexpected column(s): {', '.join(extra)}")
    if columns != expected:
        raise ClockworkError(f"{path}: columns out of order: expected {', '.join(expected)}")
    if frame.empty:
        raise ClockworkError(f"{path}: no data rows")
    frame.columns = [F.RAW_COLUMNS[c] for c in columns]
    return _convert(frame, path)


def _convert(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Text columns to typed columns; the first bad cell is reported with its line."""
    raw_name = {v: k for k, v in F.RAW_COLUMNS.items()}
    for column in frame.columns:
        text = frame[column].str.strip()
        blank = text == ""
        if blank.any():
            index = blank.idxmax()
            raise ClockworkError(f"{path}: line {_line(index)}: column '{raw_name[column]}': empty value")
        if column in ("product_id", "type"):
            frame[column] = text
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype="float64", na_value=np.nan))
        if bad.any():
            index = bad.idxmax()
            raise ClockworkError(f"{path}: line {_line(index)}: column '{raw_name[column]}': {text[index]!r} is not a finite number")
        if column in F.INTEGER_COLUMNS:
            fractional = numbers != np.round(numbers)
            if fractional.any():
                index = fractional.idxmax()
                raise ClockworkError(f"{path}: line {_line(index)}: column '{raw_name[column]}': {text[index]!r} is not an integer")
            numbers = numbers.astype("int64")
        else:
            numbers = numbers.astype("float64")
        frame[column] = numbers
    return frame


def validate_rows(frame: pd.DataFrame, ranges: dict, path: Path) -> None:
    """Domain rules: unique increasing UDI, known Type, 0/1 labels, values within ranges."""
    def refuse(mask: pd.Series, what: str) -> None:
        if mask.any():
            index = mask.idxmax()
            raise ClockworkError(f"{path}: line {_line(index)}: {what}")

    duplicated = frame["udi"].duplicated()
    if duplicated.any():
        refuse(duplicated, f"duplicated UDI {frame['udi'][duplicated].iloc[0]}")
    refuse(frame["udi"].diff().fillna(1) <= 0, "UDI not increasing (UDI order is the data set's time order)")
    refuse(~frame["type"].isin(F.TYPES), f"column 'Type': value not one of {'/'.join(F.TYPES)}")
    for column in [F.LABEL, *F.FAILURE_MODES]:
        refuse(~frame[column].isin([0, 1]), f"column '{column}': label must be 0 or 1")
    for column, (low, high) in ranges.items():
        refuse((frame[column] < low) | (frame[column] > high),
               f"column '{column}': value outside the range [{low}, {high}] set in params data.ranges")
