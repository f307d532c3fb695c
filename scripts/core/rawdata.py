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
    """Parse the raw CSV, naming each problem.

    Accepts a UTF-8 BOM, CRLF line endings and integers written as '40.0'. A well-formed file is
    read with the numbers parsed by the CSV reader itself (a million rows hold no per-cell Python
    strings); anything it cannot take whole is read again as text, column by column, so the first
    bad cell is named with its line.
    """
    header = _header(path)
    frame = _read_typed(path, header)
    if frame is None:
        frame = _read(path, dtype=str)
        frame.columns = [F.RAW_COLUMNS[c] for c in header]
        return _convert(frame, path)
    return frame


def _read(path: Path, **options) -> pd.DataFrame:  # noqa: ANN003 - pandas.read_csv's options
    try:
        return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_filter=False, **options)
    except FileNotFoundError:
        raise ClockworkError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise ClockworkError(f"{path}: empty file (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ClockworkError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}") from None


def _header(path: Path) -> list[str]:
    """The header's column names, checked against the contract (names, order, at least one row)."""
    frame = _read(path, dtype=str, nrows=1)
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
    return columns


def _read_typed(path: Path, header: list[str]) -> pd.DataFrame | None:
    """The file with its numbers parsed by the reader; None if any cell is not a finite number of its
    column's kind or a text cell needs trimming (the text path then names the problem)."""
    text = {raw for raw, name in F.RAW_COLUMNS.items() if name in ("product_id", "type")}
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype={c: (str if c in text else "float64") for c in header})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    frame.columns = [F.RAW_COLUMNS[c.strip()] for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if column in ("product_id", "type"):
            if values.isna().any() or values.str.contains(r"^\s|\s$|^$", regex=True).any():
                return None
            continue
        numbers = values.to_numpy()
        if not np.isfinite(numbers).all():
            return None
        if column in F.INTEGER_COLUMNS:  # exact only below 2**53: beyond that the text path converts it
            if (numbers != np.round(numbers)).any() or (np.abs(numbers) >= 2.0 ** 53).any():
                return None
            frame[column] = numbers.astype("int64")
    return frame


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
