"""A request's readings as columns: checked, scored and logged a column at a time.

Every protocol's body becomes one Batch: one list per input column holding the values exactly
as the client sent them (so the prediction log keeps 301 as 301 and 301.5 as 301.5), plus the
optional row ids. Checking a column is a few C-level passes (types, the allowed values, the
plausible ranges), not a schema walk per reading; when a column fails, the caller runs the
per-reading schema check, which names the first bad row and field exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from scripts.core.contract import ID_MAX, ID_TEXT_MAX
from scripts.serving.fields import Fields


@dataclass(frozen=True)
class Batch:
    """Readings as columns (fields.inputs, values as sent) and their optional row ids, with the numeric
    columns as float64 arrays once they have been checked."""
    fields: Fields = field(compare=False, repr=False)
    columns: Mapping[str, Sequence]
    ids: Sequence | None = None
    arrays: dict = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.columns[self.fields.inputs[0]])

    @classmethod
    def from_readings(cls, fields: Fields, readings: list[dict]) -> "Batch":
        """Columns from readings already checked one by one (the slow path's result)."""
        columns = {c: [r.get(c) for r in readings] for c in fields.inputs}  # an input left out is missing: None
        key = fields.row_id
        has_ids = key is not None and any(key in r for r in readings)
        return cls(fields, columns, [r.get(key) for r in readings] if has_ids else None)

    def readings(self) -> list[dict]:
        """One dict per reading (with its row id when it has one): the batch as the client meant it."""
        names = self.fields.inputs
        rows = [dict(zip(names, values, strict=True)) for values in zip(*(self.columns[c] for c in names), strict=True)]
        for row, given in zip(rows, self.ids or [None] * len(rows), strict=True):
            if given is not None:
                row[self.fields.row_id] = given
        return rows

    def numbers(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            self.arrays[name] = np.asarray(self.columns[name], dtype="float64")
        return self.arrays[name]

    def frame(self) -> Any:
        """The readings as the DataFrame a Pipeline is fitted on: numeric inputs as float64, others as sent."""
        import pandas as pd

        numeric, optional = set(self.fields.numeric), self.fields.optional
        return pd.DataFrame({c: (self.numbers(c) if c in numeric else
                                 [np.nan if v is None else v for v in self.columns[c]] if c in optional else self.columns[c])
                             for c in self.fields.inputs})

    def rows(self, start: int, stop: int) -> "Batch":
        ids = None if self.ids is None else self.ids[start:stop]
        return Batch(self.fields, {c: v[start:stop] for c, v in self.columns.items()}, ids,
                     {c: v[start:stop] for c, v in self.arrays.items()})

    def spans(self, size: int) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive slices of at most size rows."""
        n = len(self)
        for start in range(0, n, max(size, 1)):
            yield start, min(start + size, n)


NUMBER = {int, float}  # JSON numbers; true and false are not numbers (bool is not int's type)
BOOLEAN = {bool, int}


def _closed(values: Sequence, allowed: tuple) -> bool:
    """Every value is one of allowed, of the same JSON type (1 is not "1", true is not 1)."""
    kinds = {type(v) for v in allowed}
    return set(map(type, values)) <= kinds and set(values) <= set(allowed)


def _numbers(values: Sequence, bounds: tuple | None) -> np.ndarray | None:
    """values as float64 if every one is a JSON number, not NaN, within bounds (low, high); else None."""
    if not set(map(type, values)) <= NUMBER:
        return None
    try:
        array = np.asarray(values, dtype="float64")
    except OverflowError:  # an integer beyond float range: out of range by any measure
        return None
    if np.isnan(array).any() or (bounds is not None and (array.min() < bounds[0] or array.max() > bounds[1])):
        return None
    return array


def _ids_ok(fields: Fields, ids: Sequence) -> bool:
    if fields.id_text:
        return set(map(type, ids)) <= {str} and all(0 < len(i) <= ID_TEXT_MAX for i in ids)
    return set(map(type, ids)) <= {int} and min(ids) >= 0 and max(ids) <= ID_MAX


def checked_arrays(fields: Fields, columns: Mapping[str, Sequence], ids: Sequence | None) -> dict | None:
    """The numeric columns as float64 arrays, only if every reading passes the reading schema: each closed
    input one of its values, each boolean true/false/1/0, each other numeric input a number in its range,
    each row id of the id's type. None sends the request to the per-reading check, which names the first
    bad row and field."""
    arrays = {}
    for name in fields.inputs:
        values = columns[name]
        if name in fields.booleans:
            if not (set(map(type, values)) <= BOOLEAN and set(values) <= {0, 1}):
                return None
        elif name in fields.choices:
            if not _closed(values, fields.choices[name]):
                return None
        if name in fields.numeric:
            array = _numbers([int(v) for v in values] if name in fields.booleans else values, fields.ranges.get(name))
            if array is None:
                return None
            arrays[name] = array
    if ids is not None and not _ids_ok(fields, ids):
        return None
    return arrays
