"""The data set contract: the one place a column is named, built from params' `dataset` section.

params.yaml declares the data set: which CSV column is the row id and which orders the rows,
the target and its positive class, each model input (its name in the CSV and in requests, its
kind, its range or values), the columns kept beside the inputs but never fed to a model (an
identifier, outcome flags), the derived features as expressions over the inputs
(core/expressions.py) and the segments the gates judge recall on. `Contract.from_params` checks
it once (load_params calls it on every load) and returns one frozen object; stages, the service
and the monitor read columns from it and from nowhere else. Pure: no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from scripts.core.expressions import Expression, ExpressionError, parse

KINDS = ("number", "integer", "category", "boolean")  # what a model input may be
# carried: kept in each data version, never a model input; ignored: in the file, never read (missing values)
ROLES = ("id", "input", "target", "carried", "ignored")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
# How a missing value of an input of each kind may be filled, inside the model Pipeline (core/features.py).
FILLS = {"number": ("median", "mean"), "integer": ("median", "mean"), "category": ("most_frequent",),
         "boolean": ("most_frequent",)}


ID_MAX = 2**63 - 1  # an integer row id is a non-negative 64-bit integer
ID_TEXT_MAX = 128  # a text row id's longest length


class ContractError(ValueError):
    """A dataset section that cannot work; load_params reports it as one line naming params.yaml."""


@dataclass(frozen=True)
class Column:
    """One column: its header in the CSV, its snake_case name everywhere else, and what it holds."""

    source: str
    name: str
    kind: str  # number | integer | category | boolean | text | timestamp (text and timestamp: never an input)
    role: str
    range: tuple[float, float] | None = None
    values: tuple = ()
    missing: str | None = None  # an input that may be missing: how the model fills it (None: never missing)

    @property
    def numeric(self) -> bool:
        """Fed to the model as a number: a boolean is read as 1/0 (core/rawdata.py)."""
        return self.kind in ("number", "integer", "boolean")

    @property
    def text_id(self) -> bool:
        """As a row id: text (else a non-negative integer)."""
        return self.kind not in ("integer", "number")

    def id_schema(self) -> dict:
        """The JSON schema of this column's value as a row id in a request, a prediction or a label."""
        about = "optional row id, logged so later labels can be joined"
        if self.text_id:
            return {"type": "string", "minLength": 1, "maxLength": ID_TEXT_MAX, "description": about}
        return {"type": "integer", "minimum": 0, "maximum": ID_MAX, "description": about}


@dataclass(frozen=True)
class Contract:
    """The checked data set contract. Names are the snake_case ones unless a field says source."""

    columns: tuple[Column, ...]  # every column of the raw file, in the file's order
    order: str | None
    positive: object
    derived: dict[str, Expression] = field(hash=False)
    segments: tuple[str, ...] = ()
    relations: dict[str, dict] = field(default_factory=dict, hash=False)  # what the diagnosis may rely on

    @classmethod
    def from_params(cls, section: dict) -> Contract:
        """Build and check the contract from params' dataset section; one line names what is wrong."""
        return _build(section)

    def _role(self, role: str) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == role)

    @cached_property
    def inputs(self) -> tuple[Column, ...]:
        return self._role("input")

    @cached_property
    def carried(self) -> tuple[Column, ...]:
        return self._role("carried")

    @cached_property
    def id(self) -> Column | None:
        found = self._role("id")
        return found[0] if found else None

    @cached_property
    def target(self) -> Column:
        return self._role("target")[0]

    @cached_property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    @cached_property
    def numeric_inputs(self) -> list[str]:
        return [c.name for c in self.inputs if c.numeric]

    @cached_property
    def categorical_inputs(self) -> list[str]:
        return [c.name for c in self.inputs if not c.numeric]

    @property
    def label(self) -> str:
        return self.target.name

    @cached_property
    def renames(self) -> dict[str, str]:
        """CSV header -> snake_case name, for every column of the raw file."""
        return {c.source: c.name for c in self.columns}

    @cached_property
    def kept(self) -> tuple[Column, ...]:
        """The columns read and kept in each data version: all but the ignored ones."""
        return tuple(c for c in self.columns if c.role != "ignored")

    @cached_property
    def kept_names(self) -> frozenset:
        return frozenset(c.name for c in self.kept)

    @cached_property
    def aliases(self) -> dict[str, str]:
        """A request may name a field as the CSV does: CSV header -> snake_case, for inputs and the id."""
        named = (*self.inputs, *([self.id] if self.id else []))
        return {c.source: c.name for c in named if c.source != c.name}

    @cached_property
    def ranges(self) -> dict[str, list]:
        """Each input with a declared range: its [low, high] (a request outside it is refused)."""
        return {c.name: list(c.range) for c in self.inputs if c.range is not None}

    @cached_property
    def scored(self) -> list[str]:
        """What fitting or scoring a model reads from a split."""
        return [*self.input_names, self.label]

    def column(self, name: str) -> Column:
        for candidate in self.columns:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def category_masks(self, rows) -> dict:  # noqa: ANN001 - a DataFrame -> {"Type L": boolean array}
        """One mask per value of each category input, named by its header and value."""
        return {label: mask for c in self.inputs if c.kind == "category" for label, mask in _value_masks(c, rows)}

    def segment_masks(self, rows) -> dict:  # noqa: ANN001 - a DataFrame -> {"<flag>": ..., "<category> <value>": ...}
        """The gates' segments over rows: each value of a category segment, each other segment's rows
        where it is 1 (a missing value counts as 0)."""
        out = {}
        for name in self.segments:
            column = self.column(name)
            if column.kind == "category":
                out |= dict(_value_masks(column, rows))
            else:
                out[column.source] = rows[name].fillna(0).to_numpy() == 1
        return out

    def derived_texts(self, names: list[str]) -> dict[str, str]:
        """The expressions of the derived features a model uses, by name, as params declare them."""
        return {name: self.derived[name].text for name in names}


def _value_masks(column: Column, rows) -> list:  # noqa: ANN001 - a DataFrame -> [("Type L", boolean array)]
    """One (header and value, mask) per declared value of a category column."""
    text = rows[column.name].astype(str).to_numpy()
    return [(f"{column.source} {v}", text == str(v)) for v in column.values]


def _build(section: dict) -> Contract:
    columns = tuple(_column(spec, f"dataset.columns[{k}]") for k, spec in enumerate(section["columns"]))
    for attribute, what in (("source", "header"), ("name", "name")):
        seen: set[str] = set()
        for column in columns:
            if getattr(column, attribute) in seen:
                raise ContractError(f"dataset.columns: the {what} {getattr(column, attribute)!r} is declared twice")
            seen.add(getattr(column, attribute))
    roles = [c.role for c in columns]
    if roles.count("target") != 1 or roles.count("id") > 1 or "input" not in roles:
        raise ContractError("dataset.columns: needs one column of role target, at least one input and at most one id "
                             f"(has {roles.count('target')} target, {roles.count('input')} input, {roles.count('id')} id)")
    names = [c.name for c in columns]
    order = section["order"]
    if order is not None and order not in names:
        raise ContractError(f"dataset.order: {order!r} is not a declared column ({', '.join(names)})")
    ordered = next((c for c in columns if c.name == order), None)
    if ordered is not None and (ordered.kind not in ("integer", "number", "timestamp") or ordered.role == "ignored"):
        raise ContractError(f"dataset.order: {order!r} needs a kept column of kind integer, number or timestamp")
    for column in columns:
        if column.kind == "timestamp" and column.role not in ("carried", "ignored"):
            raise ContractError(f"dataset.columns: {column.name!r}: a timestamp is carried (or ignored), never a {column.role}")
    derived = _derived(section["derived"], [c.name for c in columns if c.role == "input" and c.numeric], names)
    judged = [c.name for c in columns if c.role in ("input", "carried") and c.kind in ("category", "boolean", "integer")]
    for segment in section["segments"]:
        if segment not in judged:
            raise ContractError(f"dataset.segments: {segment!r} is not an input or carried column of kind category, "
                                 "boolean or integer")
    target = next(c for c in columns if c.role == "target")
    if target.values and section["positive"] not in target.values:
        raise ContractError(f"dataset.positive: {section['positive']!r} is not one of the target's values {list(target.values)}")
    relations = {name: _relation(name, spec, [c.name for c in columns if c.role == "input" and c.numeric])
                 for name, spec in (section.get("relations") or {}).items()}
    return Contract(columns, order, section["positive"], derived, tuple(section["segments"]), relations)


def _relation(name: str, spec: dict, numeric: list[str]) -> dict:
    """A declared relation between two numeric inputs, as the diagnosis reads it: a difference (a sensor's
    fault shows as a bias, judged as a step against the readings just before it) or a product (a gain,
    judged against training)."""
    where = f"dataset.relations.{name}"
    for column in spec["columns"]:
        if column not in numeric:
            raise ContractError(f"{where}.columns: {column!r} is not a numeric input ({', '.join(numeric)})")
    if spec["columns"][0] == spec["columns"][1]:
        raise ContractError(f"{where}.columns: needs two different columns")
    difference = spec["form"] == "difference"
    if difference and "min_step" not in spec:
        raise ContractError(f"{where}.min_step: a difference needs the smallest step called a fault, in its units")
    return {"sensors": tuple(spec["columns"]), "fault": "bias" if difference else "gain",
            "baseline": "local" if difference else "training", "text": spec.get("text") or name,
            "unit": spec.get("unit") or "units", "min_step": spec.get("min_step")}


def _column(spec: dict, where: str) -> Column:
    name, kind, role = spec["name"], spec["kind"], spec["role"]
    if not SNAKE.match(name):
        raise ContractError(f"{where}.name: {name!r} is not snake_case (lower-case letters, digits, _)")
    if role == "input" and kind not in KINDS:
        raise ContractError(f"{where}.kind: {kind!r} cannot be a model input (one of {', '.join(KINDS)})")
    low_high = spec.get("range")
    if low_high is not None and (kind not in ("number", "integer") or low_high[0] >= low_high[1]):
        raise ContractError(f"{where}.range: {low_high} needs a number or integer column and low < high")
    values = tuple(spec.get("values") or ())
    if kind == "category" and not values:
        raise ContractError(f"{where}.values: a category column lists its values")
    missing = spec.get("missing")
    if missing is not None and (role != "input" or missing not in FILLS[kind]):
        raise ContractError(f"{where}.missing: {missing!r}: an input of kind {kind} is filled by "
                            f"{' or '.join(FILLS.get(kind, ())) or 'nothing'} (only an input may be missing)")
    return Column(spec["column"], name, kind, role, tuple(low_high) if low_high is not None else None, values, missing)


def _derived(declared: dict, numeric: list[str], taken: list[str]) -> dict[str, Expression]:
    out: dict[str, Expression] = {}
    for name, text in declared.items():
        if not SNAKE.match(name) or name in taken:
            raise ContractError(f"dataset.derived.{name}: needs a snake_case name no column has")
        try:
            out[name] = parse(text, numeric)
        except ExpressionError as exc:
            raise ContractError(f"dataset.derived.{name}: {exc} (numeric inputs: {', '.join(numeric)})") from None
    return out
