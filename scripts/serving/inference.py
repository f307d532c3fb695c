"""Pure request handling for the prediction service: parse, validate, normalise.

Three protocols carry the same readings: Clockwork's own /predict, the Open Inference
Protocol (KServe v2) and the MLflow scoring server's /invocations. Each body is turned
into a Batch of validated readings with snake_case names, or a RequestError that names
the offending field. A well-formed batch is checked column by column (batch.py); only a
body that fails there is walked reading by reading with the JSON schema, which names the
first bad row and field. No sockets, no files: the route groups do the I/O.
"""
from __future__ import annotations

import copy
import csv
import io
import math
import re
from typing import Any

from scripts.core.config import in_json_terms, load_schema
from scripts.core.web import RequestError
from scripts.serving.batch import Batch, checked_arrays
from scripts.serving.fields import Fields

NUMBER_TYPES = {"FP64", "FP32", "INT64", "INT32"}
INTEGER = re.compile(r"^[+-]?[0-9]+$")
MLFLOW_KINDS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def csv_cell(text: str) -> Any:
    """A CSV cell as JSON would carry it: an integer, a finite number, null when empty, else the text."""
    text = text.strip()
    if not text:
        return None
    if INTEGER.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _path(parts: list) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Requests:
    """Validators for every request shape, with the reading as the data set contract declares it."""

    def __init__(self, fields: Fields, max_batch: int):
        import jsonschema

        schema = copy.deepcopy(load_schema("requests"))
        schema["$defs"]["reading"] = {**schema["$defs"]["reading"], **fields.reading_schema()}
        self.fields, self.max_batch, self.aliases = fields, max_batch, fields.aliases
        self.schema = schema  # what is validated is what /openapi.json publishes
        self.validators = {
            name: jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{name}"})
            for name in schema["$defs"]
        }

    def check(self, name: str, doc: Any, where: list) -> None:
        """Validate doc against one definition; the first error becomes a 400 naming its field."""
        errors = sorted(self.validators[name].iter_errors(doc), key=lambda e: len(e.absolute_path))
        if not errors:
            return
        error = errors[0]
        location = where + list(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            return self._fail(location + extra[:1], "unknown field")
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            return self._fail(location + missing[:1], "missing required field")
        self._fail(location, in_json_terms(error))

    @staticmethod
    def _fail(location: list, reason: str) -> None:
        raise RequestError(400, _path(location) or "body", reason)

    def reading(self, obj: Any, where: list) -> dict:
        """One reading: aliases resolved, then checked (types, allowed values, ranges, no unknown fields)."""
        if not isinstance(obj, dict):
            self._fail(where, "a reading must be a JSON object")
        out: dict[str, Any] = {}
        for key, value in obj.items():
            name = self.aliases.get(key, key)
            if name in out:
                self._fail(where + [key], f"given twice (as {name} and an alias)")
            out[name] = value
        self.check("reading", out, where)
        return out

    def batch_size(self, n: int, field: str) -> None:
        if n > self.max_batch:
            raise RequestError(413, field, f"{n} readings exceed the limit of {self.max_batch} per request")

    def _names(self, keys: Any) -> dict | None:
        """Input (or row id) -> the key it was sent under, if keys are exactly the inputs, each once, maybe the id."""
        out: dict[str, Any] = {}
        inputs, row_id = self.fields.inputs, self.fields.row_id
        for key in keys:
            name = self.aliases.get(key, key) if isinstance(key, str) else None
            if name in out or (name not in inputs and (name != row_id or name is None)):
                return None
            out[name] = key
        return out if all(c in out for c in inputs) else None

    def _checked(self, columns: dict, ids: Any) -> Batch | None:
        arrays = checked_arrays(self.fields, columns, ids)
        return None if arrays is None else Batch(self.fields, columns, ids, arrays)

    def _batch(self, readings: list[dict]) -> Batch:
        return Batch.from_readings(self.fields, readings)

    def _fast_records(self, rows: Any) -> Batch | None:
        """The records as a Batch if all share one key set and pass the column checks; else None."""
        if not isinstance(rows, list) or not rows or len(rows) > self.max_batch or type(rows[0]) is not dict:
            return None
        keys = rows[0].keys()
        if not all(type(r) is dict and r.keys() == keys for r in rows):
            return None
        names = self._names(keys)
        if names is None:
            return None
        key = self.fields.row_id
        ids = [r[names[key]] for r in rows] if key in names else None
        return self._checked({c: [r[names[c]] for r in rows] for c in self.fields.inputs}, ids)

    def _fast_split(self, split: Any) -> Batch | None:
        """A dataframe_split body as a Batch if it is well formed and passes the column checks; else None."""
        if type(split) is not dict or not {"columns", "data"} <= split.keys() <= {"columns", "data", "index"}:
            return None
        columns, data = split["columns"], split["data"]
        if type(columns) is not list or type(data) is not list or not data or len(data) > self.max_batch:
            return None
        width = len(columns)
        names = self._names(columns)
        if names is None or not all(type(row) is list and len(row) == width for row in data):
            return None
        values = list(zip(*data, strict=True))  # every row has width values (checked above)
        position = {key: i for i, key in enumerate(columns)}
        key = self.fields.row_id
        ids = list(values[position[names[key]]]) if key in names else None
        return self._checked({c: list(values[position[names[c]]]) for c in self.fields.inputs}, ids)

    def _records(self, rows: list, where: list) -> Batch:
        """Readings checked one by one (the path that names the first bad row and field)."""
        if not rows:
            self._fail(where, "no readings")
        return self._batch([self.reading(r, where + [i]) for i, r in enumerate(rows)])

    def predict(self, body: Any) -> tuple[Batch, bool]:
        """/predict: one reading, or {"instances": [...]}; returns (readings, is_batch)."""
        if isinstance(body, dict) and "instances" in body:
            fast = self._fast_records(body["instances"]) if len(body) == 1 else None
            if fast is not None:
                return fast, True
            if isinstance(body["instances"], list):
                self.batch_size(len(body["instances"]), "instances")
            self.check("predict_batch", body, [])
            return self._records(body["instances"], ["instances"]), True
        return self._batch([self.reading(body, [])]), False

    def invocations(self, body: Any) -> Batch:
        """MLflow scoring protocol: dataframe_split, dataframe_records, instances or inputs."""
        if not isinstance(body, dict) or len(body) != 1:
            self._fail([], f"expected exactly one of {', '.join(MLFLOW_KINDS)}")
        kind = next(iter(body))
        if kind not in MLFLOW_KINDS:
            self._fail([kind], f"unknown field (expected {', '.join(MLFLOW_KINDS)})")
        if kind == "inputs":
            return self._inputs(body)
        fast = self._fast_split(body[kind]) if kind == "dataframe_split" else self._fast_records(body[kind])
        if fast is not None:
            return fast
        if kind == "dataframe_split":
            self.check("dataframe_split", body, [])
            split = body["dataframe_split"]
            self.batch_size(len(split["data"]), "dataframe_split.data")
            rows = []
            for i, row in enumerate(split["data"]):
                if len(row) != len(split["columns"]):
                    self._fail([kind, "data", i], f"has {len(row)} values for {len(split['columns'])} columns")
                rows.append(dict(zip(split["columns"], row, strict=True)))
            return self._records(rows, [kind, "data"])
        if isinstance(body[kind], list):
            self.batch_size(len(body[kind]), kind)
        self.check(kind, body, [])
        return self._records(body[kind], [kind])

    def _inputs(self, body: dict) -> Batch:
        """MLflow's tensor input: a list of readings, or one list of values per column."""
        value = body["inputs"]
        if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
            lengths = {len(v) for v in value.values()}
            if len(lengths) != 1:
                self._fail(["inputs"], f"columns of different lengths ({', '.join(map(str, sorted(lengths)))})")
            n = lengths.pop()
            self.batch_size(n, "inputs")
            rows = [{k: column[i] for k, column in value.items()} for i in range(n)]
        else:
            if isinstance(value, list):
                self.batch_size(len(value), "inputs")
            self.check("inputs", body, [])
            rows = value
        fast = self._fast_records(rows)
        return fast if fast is not None else self._records(rows, ["inputs"])

    def csv(self, raw: bytes) -> Batch:
        """MLflow's text/csv input: a header row of column names (or the raw CSV's), then one reading a row."""
        try:
            lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise RequestError(400, "body", f"not a readable CSV: {exc}") from None
        if not lines or not any(lines[0]):
            self._fail([], "an empty CSV: expected a header row, then one reading a row")
        header, data = lines[0], [row for row in lines[1:] if row]
        if not data:
            self._fail(["csv"], "no rows after the header")
        self.batch_size(len(data), "csv")
        rows = []
        for i, row in enumerate(data):
            if len(row) != len(header):
                self._fail(["csv", i], f"has {len(row)} values for {len(header)} columns")
            rows.append({name.strip(): self._cell(name.strip(), cell) for name, cell in zip(header, row, strict=True)})
        fast = self._fast_records(rows)
        return fast if fast is not None else self._records(rows, ["csv"])

    def _datatype_ok(self, name: str, datatype: str) -> str | None:
        """None if datatype may carry input name, else what it should be."""
        fields = self.fields
        if fields.text_valued(name):
            return None if datatype == "BYTES" else "BYTES"
        if name in fields.booleans:
            return None if datatype in ("BOOL", "INT64", "INT32") else "BOOL (or INT64, INT32)"
        return None if datatype in NUMBER_TYPES else "a number type (FP64, FP32, INT64, INT32)"

    def _cell(self, name: str, text: str) -> Any:
        """A CSV cell of the named column: true/false (any case) is a boolean input's value, else csv_cell."""
        if self.aliases.get(name, name) in self.fields.booleans and text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        return csv_cell(text)

    def infer(self, body: Any) -> Batch:
        """Open Inference Protocol: one named tensor per input column, shape [n] or [n, 1]."""
        self.check("infer", body, [])
        inputs = self.fields.inputs
        columns: dict[str, list] = {}
        n = None
        for i, tensor in enumerate(body["inputs"]):
            where = ["inputs", i]
            name = self.aliases.get(tensor["name"], tensor["name"])
            if name not in inputs:
                self._fail(where + ["name"], f"unknown input {tensor['name']!r} (expected {', '.join(inputs)})")
            if name in columns:
                self._fail(where + ["name"], f"input {name!r} given twice")
            wanted = self._datatype_ok(name, tensor["datatype"])
            if wanted is not None:
                self._fail(where + ["datatype"], f"{tensor['datatype']} for {name}: expected {wanted}")
            shape = tensor["shape"]
            if len(shape) == 2 and shape[1] != 1:
                self._fail(where + ["shape"], f"{shape}: expected [n] or [n, 1]")
            data = [x[0] if isinstance(x, list) and len(x) == 1 else x for x in tensor["data"]]
            if len(data) != shape[0]:
                self._fail(where + ["data"], f"{len(data)} values for shape {shape}")
            if n is not None and shape[0] != n:
                self._fail(where + ["shape"], f"{shape[0]} rows, but other inputs have {n}")
            n = shape[0]
            self.batch_size(n, _path(where + ["shape"]))
            columns[name] = data
        missing = [c for c in inputs if c not in columns and c not in self.fields.optional]
        if missing:
            self._fail(["inputs"], f"missing input {missing[0]!r}")
        if not n:
            self._fail(["inputs"], "no rows")
        columns |= {c: [None] * n for c in inputs if c not in columns}  # an input that may be missing, left out
        fast = self._checked({c: columns[c] for c in inputs}, None)
        return fast if fast is not None else self._tensor_rows(columns, n)

    def _tensor_rows(self, columns: dict, n: int) -> Batch:
        """The tensors' rows checked one by one, naming the tensor and the row: inputs.<name>[3]."""
        readings = []
        for k in range(n):
            try:
                readings.append(self.reading({c: columns[c][k] for c in self.fields.inputs}, []))
            except RequestError as exc:
                raise RequestError(exc.status, f"inputs.{exc.field}[{k}]", exc.reason) from None
        return self._batch(readings)
