"""A request's readings as columns: checked, scored and logged a column at a time.

Every protocol's body becomes one Batch: one list per input column holding the values exactly
as the client sent them (so the prediction log keeps 301 as 301 and 301.5 as 301.5), plus the
optional row ids. Checking a column is a few C-level passes (types, the Type values, the
plausible ranges), not a schema walk per reading; when a column fails, the caller runs the
per-reading schema check, which names the first bad row and field exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from scripts.core import features as F


@dataclass(frozen=True)
class Batch:
    """Readings as columns (F.INPUT_COLUMNS, values as sent) and their optional udi, with the numeric
    columns as float64 arrays once they have been checked."""
    columns: Mapping[str, Sequence]
    udi: Sequence | None = None
    arrays: dict = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.columns[F.INPUT_COLUMNS[0]])

    @classmethod
    def from_readings(cls, readings: list[dict]) -> "Batch":
        """Columns from readings already checked one by one (the slow path's result)."""
        columns = {c: [r[c] for r in readings] for c in F.INPUT_COLUMNS}
        has_udi = any("udi" in r for r in readings)
        return cls(columns, [r.get("udi") for r in readings] if has_udi else None)

    def readings(self) -> list[dict]:
        """One dict per reading (with its udi when it has one): the batch as the client meant it."""
        columns = [self.columns[c] for c in F.INPUT_COLUMNS]
        rows = [dict(zip(F.INPUT_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True)]
        for row, udi in zip(rows, self.udi or [None] * len(rows), strict=True):
            if udi is not None:
                row["udi"] = udi
        return rows

    def numbers(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            self.arrays[name] = np.asarray(self.columns[name], dtype="float64")
        return self.arrays[name]

    def frame(self) -> Any:
        """The readings as the DataFrame a Pipeline is fitted on."""
        import pandas as pd

        return pd.DataFrame({c: (self.columns[c] if c == "type" else self.numbers(c)) for c in F.INPUT_COLUMNS})

    def rows(self, start: int, stop: int) -> "Batch":
        udi = None if self.udi is None else self.udi[start:stop]
        return Batch({c: v[start:stop] for c, v in self.columns.items()}, udi,
                     {c: v[start:stop] for c, v in self.arrays.items()})

    def spans(self, size: int) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive slices of at most size rows."""
        n = len(self)
        for start in range(0, n, max(size, 1)):
            yield start, min(start + size, n)


NUMBER = {int, float}  # JSON numbers; true and false are not numbers (bool is not int's type)


def checked_arrays(columns: Mapping[str, Sequence], udi: Sequence | None, ranges: Mapping[str, Sequence],
                   types: frozenset, udi_max: int) -> dict | None:
    """The numeric columns as float64 arrays, only if every reading passes the reading schema: a number
    in range for each numeric input, one of types for Type, an integer udi in 0..udi_max. None sends the
    request to the per-reading check, which names the first bad row and field."""
    if not set(map(type, columns["type"])) <= {str} or not set(columns["type"]) <= types:
        return None
    arrays = {}
    for name in F.NUMERIC_INPUTS:
        values = columns[name]
        if not set(map(type, values)) <= NUMBER:
            return None
        try:
            array = np.asarray(values, dtype="float64")
        except OverflowError:  # an integer beyond float range: out of range by any measure
            return None
        low, high = ranges.get(name, (None, None))
        if np.isnan(array).any() or (low is not None and array.min() < low) or (high is not None and array.max() > high):
            return None
        arrays[name] = array
    if udi is not None and not (set(map(type, udi)) <= {int} and min(udi) >= 0 and max(udi) <= udi_max):
        return None
    return arrays
