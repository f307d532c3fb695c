"""Read a raw CSV as the data set contract declares it, naming each problem with its line and column.

The contract (core/contract.py) says which columns the file has, in which order, of which kind,
within which range or values. Used by prepare (the real file) and synth (the reference for
synthetic files). Pure apart from reading the one file it is given.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scripts.core.config import ClockworkError


def _line(index: int) -> int:
    """File line of a data row (1-based, header is line 1)."""
    return int(index) + 2


def read_raw(path: Path, contract) -> pd.DataFrame:  # noqa: ANN001 - a Contract
    """Parse the raw CSV, naming each problem.

    Accepts a UTF-8 BOM, CRLF line endings and integers written as '40.0'. A well-formed file is
    read with the numbers parsed by the CSV reader itself (a million rows hold no per-cell Python
    strings); anything it cannot take whole is read again as text, column by column, so the first
    bad cell is named with its line.
    """
    header = _header(path, contract)
    kept = [h for h in header if contract.renames[h] in contract.kept_names]  # ignored columns are never read
    frame = _read_typed(path, kept, contract)
    if frame is None:
        frame = _read(path, dtype=str, usecols=kept)[kept]
        frame.columns = [contract.renames[c] for c in kept]
        return _convert(frame, path, contract)
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


def _header(path: Path, contract) -> list[str]:  # noqa: ANN001
    """The header's column names, checked against the contract (names, order, at least one row)."""
    frame = _read(path, dtype=str, nrows=1)
    expected = list(contract.renames)
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


def _kinds(contract) -> dict[str, str]:  # noqa: ANN001
    return {c.name: c.kind for c in contract.columns}


def _read_typed(path: Path, header: list[str], contract) -> pd.DataFrame | None:  # noqa: ANN001
    """The file with its numbers parsed by the reader; None if any cell is not a finite number of its
    column's kind or a text cell needs trimming (the text path then names the problem)."""
    kinds, optional = _kinds(contract), _optional(contract)
    text = {raw for raw, name in contract.renames.items() if not _numeric(kinds[name])}
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", usecols=header,
                            dtype={c: (str if c in text else "float64") for c in header})[header]
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    frame.columns = [contract.renames[c.strip()] for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if not _numeric(kinds[column]):
            given = values.dropna() if column in optional else values
            if (given.isna().any() or given.str.contains(r"^\s|\s$|^$", regex=True).any()
                    or kinds[column] in ("boolean", "timestamp")):
                return None
            continue
        numbers = values.to_numpy()
        present = ~np.isnan(numbers) if column in optional else np.ones(len(numbers), dtype=bool)
        if not np.isfinite(numbers[present]).all():
            return None
        if not present.all():
            continue  # an integer column with missing values stays float64 (NaN is no integer)
        if kinds[column] == "integer":  # exact only below 2**53: beyond that the text path converts it
            if (numbers != np.round(numbers)).any() or (np.abs(numbers) >= 2.0 ** 53).any():
                return None
            frame[column] = numbers.astype("int64")
    return frame


def _optional(contract) -> set[str]:  # noqa: ANN001
    """The columns that may be missing: inputs the model fills (dataset.columns[].missing)."""
    return {c.name for c in contract.columns if c.missing}


def _numeric(kind: str) -> bool:
    return kind in ("number", "integer")


BOOLEAN = {"true": 1, "false": 0, "1": 1, "0": 0, "1.0": 1, "0.0": 0, "yes": 1, "no": 0}  # a boolean cell, lower-cased


def _convert(frame: pd.DataFrame, path: Path, contract) -> pd.DataFrame:  # noqa: ANN001
    """Text columns to typed columns; the first bad cell is reported with its line."""
    raw_name = {v: k for k, v in contract.renames.items()}
    kinds, optional = _kinds(contract), _optional(contract)
    for column in frame.columns:
        text = frame[column].str.strip()
        blank = text == ""
        where = f"column '{raw_name[column]}'"
        if blank.any() and column not in optional:
            raise ClockworkError(f"{path}: line {_line(blank.idxmax())}: {where}: empty value "
                                 "(a column that may be missing says how it is filled: dataset.columns[].missing)")
        if kinds[column] in ("category", "text"):
            frame[column] = text.mask(blank)
            continue
        if kinds[column] == "timestamp":
            frame[column] = _stamps(text, path, where)
            continue
        if kinds[column] == "boolean":
            flags = text.str.lower().map(BOOLEAN)
            bad = flags.isna() & ~blank
            if bad.any():
                index = bad.idxmax()
                raise ClockworkError(f"{path}: line {_line(index)}: {where}: {text[index]!r} is not true/false, yes/no or 1/0")
            frame[column] = flags.astype("float64" if blank.any() else "int64")
            continue
        numbers = _numbers(text.mask(blank, "0"), kinds[column] == "integer", path, where)
        frame[column] = numbers.astype("float64").mask(blank) if blank.any() else numbers
    return frame


def _stamps(text: pd.Series, path: Path, where: str) -> pd.Series:
    """ISO 8601 dates or times as UTC time stamps; the first cell that is none is named with its line."""
    stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    if stamps.isna().any():
        index = stamps.isna().idxmax()
        raise ClockworkError(f"{path}: line {_line(index)}: {where}: {text[index]!r} is not an ISO 8601 date or time")
    return stamps


def _numbers(text: pd.Series, integer: bool, path: Path, where: str) -> pd.Series:
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        index = bad.idxmax()
        raise ClockworkError(f"{path}: line {_line(index)}: {where}: {text[index]!r} is not a finite number")
    if not integer:
        return numbers.astype("float64")
    fractional = numbers != np.round(numbers)
    if fractional.any():
        index = fractional.idxmax()
        raise ClockworkError(f"{path}: line {_line(index)}: {where}: {text[index]!r} is not an integer")
    return numbers.astype("int64")


def validate_rows(frame: pd.DataFrame, path: Path, contract) -> None:  # noqa: ANN001
    """The contract's rules: a unique row id, a strictly increasing order column, each column's values
    or range. The first row that breaks one is named with its line."""
    def refuse(mask: pd.Series, what: str) -> None:
        if mask.any():
            raise ClockworkError(f"{path}: line {_line(mask.idxmax())}: {what}")

    if contract.id is not None:
        duplicated = frame[contract.id.name].duplicated()
        if duplicated.any():
            refuse(duplicated, f"duplicated {contract.id.source} {frame[contract.id.name][duplicated].iloc[0]}")
    if contract.order is not None:
        order = contract.column(contract.order)
        if order.kind == "timestamp":  # time stamps may repeat, never go back
            refuse(frame[order.name].diff() < pd.Timedelta(0),
                   f"{order.source} goes back in time ({order.source} order is the data set's time order: dataset.order)")
        else:
            refuse(frame[order.name].diff().fillna(1) <= 0,
                   f"{order.source} not increasing ({order.source} order is the data set's time order: dataset.order)")
    for column in contract.kept:
        values = frame[column.name]
        if column.values:
            allowed = [_typed(v, column.kind) for v in column.values]
            refuse(~values.isin(allowed) & values.notna(),
                   f"column '{column.source}': value not one of {'/'.join(map(str, column.values))}")
        if column.range is not None:
            low, high = column.range
            refuse((values < low) | (values > high),
                   f"column '{column.source}': value outside the range [{low}, {high}] set in params dataset.columns")


def _typed(value: object, kind: str) -> object:
    """A declared value as the reader typed the column (the values of an integer column are ints)."""
    return str(value) if kind in ("category", "text") else value
