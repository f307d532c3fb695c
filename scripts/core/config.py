"""Load and validate params.yaml, and give every command one error format.

params.yaml is the single source of truth, so it is checked against
schemas/params.schema.json before any stage touches a file. Errors are one line that
names the file and the key; a stage never shows a traceback to the user.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

# The repository root and the two bootstrap files. params.yaml can't name its own
# location or its own schema, so these are the only paths the code knows by itself.
ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
PARAMS_ENV = "CLOCKWORK_PARAMS"

log = logging.getLogger("clockwork")


class ClockworkError(Exception):
    """A user-facing failure: its message is printed as one line and the command exits 2."""


def params_path() -> Path:
    """The params file in force: $CLOCKWORK_PARAMS if set, else ROOT/params.yaml."""
    return Path(os.environ.get(PARAMS_ENV) or ROOT / "params.yaml")


def _where(path: Any) -> str:
    return ".".join(str(p) for p in path)


def in_json_terms(error: Any) -> str:
    """A jsonschema message with the offending value spelled as JSON (null, true, false), not as Python."""
    message = error.message
    for python, spelled in ((None, "null"), (True, "true"), (False, "false")):
        if error.instance is python and message.startswith(repr(python) + " "):
            return spelled + message[len(repr(python)):]
    return message


def schema_error_message(source: str, error: Any) -> str:
    """Turn a jsonschema ValidationError into 'source: key.path: problem'."""
    where = list(error.absolute_path)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        return f"{source}: {_where(where + missing[:1])}: missing required key"
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return f"{source}: {_where(where + extra[:1])}: unknown key"
    label = _where(where) or "(top level)"
    return f"{source}: {label}: {in_json_terms(error)}"


_SCHEMA_CACHE: dict[str, Any] = {}
_VALIDATORS: dict[str, Any] = {}
# Where the compiled validator places schemas/ so that one file's "$ref": "common.schema.json#/..."
# resolves to another (a name, never fetched: every schema is handed over in its registry).
SCHEMA_URI = "https://clockwork.invalid/schemas/"


def _schemas() -> dict[str, dict]:
    """Every schemas/*.schema.json, parsed, by file name: read once per process."""
    if "parsed" not in _SCHEMA_CACHE:
        parsed = {}
        for path in sorted(SCHEMAS.glob("*.schema.json")):
            try:
                parsed[path.name] = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ClockworkError(f"{path}: cannot read schema: {exc}") from None
        _SCHEMA_CACHE["parsed"] = parsed
    return _SCHEMA_CACHE["parsed"]


def _schema_registry() -> Any:
    """All schemas/*.schema.json as one referencing registry, so schemas can $ref each other."""
    if "registry" not in _SCHEMA_CACHE:
        from referencing import Registry, Resource

        _SCHEMA_CACHE["registry"] = Registry().with_resources(
            [(name, Resource.from_contents(doc)) for name, doc in _schemas().items()])
    return _SCHEMA_CACHE["registry"]


def _compiled_registry() -> Any:
    """The same schemas for jsonschema-rs."""
    if "compiled" not in _SCHEMA_CACHE:
        import jsonschema_rs

        _SCHEMA_CACHE["compiled"] = jsonschema_rs.Registry([(SCHEMA_URI + name, doc) for name, doc in _schemas().items()])
    return _SCHEMA_CACHE["compiled"]


def load_schema(name: str) -> dict:
    """The contents of schemas/<name>.schema.json."""
    try:
        return _schemas()[f"{name}.schema.json"]
    except KeyError:
        raise ClockworkError(f"{SCHEMAS / (name + '.schema.json')}: schema not found") from None


def _validator(schema: dict) -> Any:
    import jsonschema  # deferred: a no-op stamp check should not pay for this import

    return jsonschema.Draft202012Validator(schema, registry=_schema_registry(),
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


class _Checker:
    """One schema's check. jsonschema-rs (compiled) answers whether a document is valid, in a fraction
    of a millisecond (0.07 ms for a model card, against 9.3 ms); only when it says no is Python's
    jsonschema built (100 ms the first time in a process) to decide and to name the first problem, so
    every verdict and every message is jsonschema's. The compiled check is the stricter of the two
    where they differ (numpy scalars, NaN, date-time formats), so a document it refuses is looked at
    again; the one thing it accepts that jsonschema does not, a tuple for an array, is written as
    the same JSON array."""

    def __init__(self, schema: dict, name: str) -> None:
        import jsonschema_rs

        self.schema, self.reference = schema, None
        self.compiled = jsonschema_rs.Draft202012Validator(schema, registry=_compiled_registry(), base_uri=SCHEMA_URI + name,
                                                           validate_formats=True, offline=True)

    def __call__(self, doc: Any, source: str) -> None:
        try:
            if self.compiled.is_valid(doc):
                return
        except ValueError:  # a value JSON has no type for (a numpy integer, a non-text key): jsonschema decides
            pass
        if self.reference is None:
            self.reference = _validator(self.schema)
        _check(self.reference, doc, source)


def _check(validator: Any, doc: Any, source: str) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ClockworkError(schema_error_message(source, errors[0]))


def validate(doc: Any, schema_name: str, source: str) -> None:
    """Check doc against schemas/<schema_name>.schema.json; raise ClockworkError naming the first bad key."""
    checker = _VALIDATORS.get(schema_name)
    if checker is None:  # built once per schema: the server validates on every request
        checker = _VALIDATORS[schema_name] = _Checker(load_schema(schema_name), f"{schema_name}.schema.json")
    checker(doc, source)


def validator_with(schema_name: str, properties: dict, required: list[str] = ()) -> Callable[[Any, str], None]:
    """validate(doc, source) for schemas/<schema_name>.schema.json with properties added: the fields a
    data set's contract gives a record (its inputs, its row id's name), which no static schema can name."""
    import copy

    schema = copy.deepcopy(load_schema(schema_name))
    schema["properties"] = {**schema["properties"], **properties}
    schema["required"] = [*schema.get("required", []), *required]
    return _Checker(schema, f"{schema_name}.schema.json")


def _semantic_checks(params: dict, source: str) -> None:
    """Rules a JSON Schema can't express: relations between values."""
    data = params["data"]
    if data["test_rows"] >= data["train_window_rows"]:
        raise ClockworkError(f"{source}: data.test_rows: must be smaller than data.train_window_rows")
    from scripts.core.contract import Contract, ContractError

    try:
        contract = Contract.from_params(params["dataset"])
    except ContractError as exc:
        raise ClockworkError(f"{source}: {exc}") from None
    from scripts.core.expressions import ExpressionError, parse

    for name, quirk in data["label_quirks"].items():
        try:
            parse(quirk["when"], [c.name for c in contract.columns], condition=True)
        except ExpressionError as exc:
            raise ClockworkError(f"{source}: data.label_quirks.{name}.when: {exc}") from None
    unknown = [name for name in params["features"]["derived"] if name not in contract.derived]
    if unknown:
        raise ClockworkError(f"{source}: features.derived: {', '.join(unknown)} not declared in dataset.derived "
                             f"(declared: {', '.join(contract.derived) or 'none'})")
    _scenario_checks(params, contract, source)
    remote = params["remote"]
    if remote["default"] is not None and remote["default"] not in remote["remotes"]:
        raise ClockworkError(f"{source}: remote.default: {remote['default']} is not a name in remote.remotes")


def _scenario_checks(params: dict, contract: Any, source: str) -> None:
    """The columns simulation and scenarios change are the contract's: a fault or a tilt on a numeric input,
    a mix on a category input's own values, a relabelling rule over the kept columns and derived features."""
    from scripts.core.expressions import ExpressionError, parse

    numeric = [c.name for c in contract.inputs if c.kind in ("number", "integer")]

    def known(names: Any, where: str) -> None:
        wrong = [n for n in names if n not in numeric]
        if wrong:
            raise ClockworkError(f"{source}: {where}: {', '.join(wrong)} not a numeric input (numeric inputs: {', '.join(numeric)})")
    known(params["simulation"]["drift"]["columns"], "simulation.drift.columns")
    columns = [*(c.name for c in contract.kept), *contract.derived]
    for name, scenario in params["scenarios"]["list"].items():
        where = f"scenarios.list.{name}"
        known([*scenario.get("faults", {}), *scenario.get("sensors", [])], where)
        if "mix" in scenario:
            category = {c.name: c for c in contract.inputs if c.kind == "category"}.get(scenario["mix"]["column"])
            if category is None or not set(scenario["mix"]["shares"]) <= set(map(str, category.values)):
                raise ClockworkError(f"{source}: {where}.mix: needs a category input and some of its values "
                                     f"(category inputs: {', '.join(c.name for c in contract.inputs if c.kind == 'category')})")
        if "tilt" in scenario:
            known([scenario["tilt"]["column"]], f"{where}.tilt")
        for column, text in {**scenario.get("relabel", {}).get("columns", {}),
                             **({contract.label: scenario["relabel"]["target"]} if "relabel" in scenario else {})}.items():
            try:
                parse(text, columns, condition=True)
            except ExpressionError as exc:
                raise ClockworkError(f"{source}: {where}.relabel ({column}): {exc}") from None


class StageParams(dict):
    """The params sections one stage declared. make stamps a stage on exactly the sections it
    declares, so reading any other would let the stage go stale unseen: that read fails at once."""

    def __missing__(self, section: str) -> Any:
        raise KeyError(f"params section {section!r} is not among the sections this stage declares ({', '.join(self)}); "
                       "add it to the stage's PARAMS and to its rule's stamps in the Makefile")


def read_yaml(text: str) -> Any:
    """A YAML document, safely: through libyaml when PyYAML was built with it (about ten times faster,
    and every stage and command reads params.yaml), else PyYAML's pure-Python loader. Both read YAML
    1.1 into the same values and raise the same yaml.YAMLError, with its line and column."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def load_params(path: Path | None = None, sections: tuple[str, ...] | None = None) -> dict:
    """Read and validate params.yaml; every failure names the file and the key.

    With sections, return only those (a stage's declared PARAMS): the whole file is still
    validated, but reading an undeclared section is an error."""
    import yaml

    path = path or params_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClockworkError(f"{path}: file not found (params.yaml is required by every stage)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClockworkError(f"{path}: cannot read: {exc}") from None
    try:
        params = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ClockworkError(f"{path}: YAML syntax error: {where}{problem}") from None
    if not isinstance(params, dict):
        raise ClockworkError(f"{path}: (top level): expected a mapping of sections")
    try:
        validate(params, "params", str(path))
    except ClockworkError as exc:
        raise ClockworkError(_with_default(str(exc), path)) from None
    _semantic_checks(params, str(path))
    return params if sections is None else StageParams({section: params[section] for section in sections})


def _with_default(message: str, path: Path) -> str:
    """A params file written by an older make init lacks the keys added since: name the value the
    project's own params.yaml gives the missing key, so the fix is one line to copy."""
    found = re.match(rf"^{re.escape(str(path))}: ([\w.]+): missing required key$", message)
    default = ROOT / "params.yaml"
    if not found or path.resolve() == default.resolve():
        return message
    node: Any = read_yaml(default.read_text(encoding="utf-8"))
    for part in found.group(1).split("."):
        if not isinstance(node, dict) or part not in node:
            return message
        node = node[part]
    value = json.dumps(node, ensure_ascii=False)
    return f"{message} (params.yaml has {found.group(1)}: {value}; a file written before that key was added needs it copied in)"


def experiment_params(params: dict, name: str) -> dict:
    """params with the model section overridden by experiment `name` of experiments.grid."""
    grid = params["experiments"]["grid"]
    if name not in grid:
        raise ClockworkError(f"experiment {name!r}: not in params experiments.grid (known: {', '.join(sorted(grid)) or 'none'})")
    return type(params)({**params, "model": {**params["model"], **grid[name]}})


def repo_path(relative: str) -> Path:
    """Resolve a path from params.yaml against the repository root."""
    return ROOT / relative


def error_line(text: str) -> str:
    """The reason a failed command gave: the last line it printed in our error format (`error: ...`,
    as cli() writes it), else its last line. A command that runs another passes this on unchanged."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    return (errors or lines or ["exited non-zero without a message"])[-1].removeprefix("error: ")


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (`make registry | head -2`): stop quietly, as Unix tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
    sys.exit(0)


def _argument_error(parser: argparse.ArgumentParser, message: str) -> None:
    """argparse's own error prints a usage block over several lines; ours is one line, exit 2."""
    raise ClockworkError(message)


def missing(name: str, usage: str) -> Callable[[str], str]:
    """An argparse type for a value a make variable carries: empty is 'NAME: missing (usage: ...)'."""
    def check(text: str) -> str:
        if not text.strip():
            raise ClockworkError(f"{name}: missing (usage: {usage})")
        return text
    return check


def port_number(text: str) -> int:
    """An argparse type for PORT=: a TCP port number."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ClockworkError(f"PORT={text!r}: not a TCP port number (1 to 65535)")
    return int(text)


def _internal(exc: BaseException) -> None:
    log.debug("internal error", exc_info=True)
    print(f"error: internal error: {type(exc).__name__}: {exc} (rerun with CLOCKWORK_LOG=DEBUG for details)", file=sys.stderr)
    sys.exit(3)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from records or users, safe to show on one terminal line: every control character (escape
    sequences, newlines, carriage returns, C1 codes) shown escaped, as Python writes it. Pure."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def cli(main: Callable[[list[str]], int | None]) -> None:
    """Run a command's main(): ClockworkError -> one line on stderr and exit 2; never a traceback."""
    logging.basicConfig(
        level=os.environ.get("CLOCKWORK_LOG", "INFO").upper(),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    argparse.ArgumentParser.error = _argument_error  # type: ignore[method-assign]
    try:
        code = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    except ClockworkError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)  # one line, whatever a value in it held
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:
        if not exc.filename:
            _internal(exc)
        print(f"error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)  # a full disk, a permission: name the file
        sys.exit(2)
    except Exception as exc:  # an internal bug: still one line; the traceback goes to debug logging
        _internal(exc)
    sys.exit(code or 0)
