"""What a reading holds, as the data set contract declares it: the service's view of the columns.

Every protocol, the column checks, the JSON schema a reading is validated with, the OpenAPI
document, the OIP tensor types and the prediction log's lines are made from one Fields, built
once from the contract when the service starts. A field is named by its snake_case name or,
in a request, by its header in the CSV (an alias). Pure: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from scripts.core.contract import Column, Contract

BOOLEAN_VALUES = (True, False, 0, 1)  # a boolean input may be sent as true/false or 1/0


@dataclass(frozen=True)
class Fields:
    """The reading's inputs in the contract's order, how each is checked, and the optional row id."""

    inputs: tuple[str, ...]
    numeric: tuple[str, ...]  # fed to the model as float64: number, integer and boolean inputs
    ranges: Mapping[str, tuple]  # a number or integer input with a declared range -> (low, high)
    choices: Mapping[str, tuple]  # an input with a closed set of values (category; integer with values) -> them
    booleans: frozenset
    id_column: Column | None  # a reading may carry its row id, so later labels can be joined
    aliases: Mapping[str, str]  # CSV header -> name, for the inputs and the id
    kinds: Mapping[str, str]
    optional: frozenset = frozenset()  # inputs that may be left out or sent as null: the model fills them

    @classmethod
    def of(cls, contract: Contract) -> Fields:
        inputs = contract.inputs
        row_id = contract.id
        return cls(
            inputs=tuple(c.name for c in inputs),
            numeric=tuple(c.name for c in inputs if c.numeric),
            ranges={c.name: tuple(c.range) for c in inputs if c.range is not None},
            choices={c.name: tuple(c.values) for c in inputs if c.values and c.kind != "boolean"},
            booleans=frozenset(c.name for c in inputs if c.kind == "boolean"),
            id_column=row_id,
            aliases=dict(contract.aliases),
            kinds={c.name: c.kind for c in inputs},
            optional=frozenset(c.name for c in inputs if c.missing),
        )

    def text_valued(self, name: str) -> bool:
        """True if every allowed value of a closed input is text (so OIP carries it as BYTES)."""
        return name in self.choices and all(isinstance(v, str) for v in self.choices[name])

    def datatype(self, name: str) -> str:
        """The OIP tensor datatype of an input: BYTES for text values, BOOL, INT64 for integer values, else FP64."""
        if self.text_valued(name):
            return "BYTES"
        if name in self.booleans:
            return "BOOL"
        return "INT64" if name in self.choices else "FP64"

    @property
    def row_id(self) -> str | None:
        """The id column's name, if the data set has one."""
        return self.id_column.name if self.id_column else None

    @property
    def id_text(self) -> bool:
        return bool(self.id_column) and self.id_column.text_id

    def input_schemas(self) -> dict:
        """name -> the JSON schema of one input value (null too, for an input that may be missing)."""
        out: dict[str, dict] = {}
        for name in self.inputs:
            null = name in self.optional
            if name in self.booleans or name in self.choices:
                allowed = list(BOOLEAN_VALUES) if name in self.booleans else list(self.choices[name])
                out[name] = {"enum": allowed + [None] * null}
            else:
                out[name] = {"type": ["number", "null"] if null else "number"}
                if name in self.ranges:
                    out[name] |= {"minimum": self.ranges[name][0], "maximum": self.ranges[name][1]}
        return out

    def reading_schema(self) -> dict:
        """The JSON schema of one reading: every input required but those that may be missing, the row id
        optional, nothing else."""
        properties = self.input_schemas()
        if self.row_id:
            properties[self.row_id] = self.id_column.id_schema()
        required = [name for name in self.inputs if name not in self.optional]
        return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}

    def example(self, k: int = 1) -> dict:
        """A valid reading made from the contract alone (the first value, the middle of a range), with row id k."""
        row: dict[str, Any] = {self.row_id: f"row-{k}" if self.id_text else k} if self.row_id else {}
        for name in self.inputs:
            if name in self.booleans:
                row[name] = False
            elif name in self.choices:
                row[name] = self.choices[name][0]
            elif name in self.ranges:
                low, high = self.ranges[name]
                middle = (low + high) / 2
                row[name] = int(middle) if self.kinds[name] == "integer" else round(middle, 3)
            else:
                row[name] = 0
        return row

