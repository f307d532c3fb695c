"""Derived features as arithmetic over a frame's columns, declared in params as text.

`area: width * height / 2` is parsed by Python's own parser
(`ast`) and checked against a closed grammar before anything runs: numbers, the constants `pi`
and `e`, the names of the frame's columns, the operators + - * / // % ** and unary minus, and
a short list of numpy functions. A condition (a rule that picks rows, such as a label quirk)
may also compare (== != < <= > >=) and combine with and, or, not; its result is a boolean per
row. Nothing else parses: no attribute, subscript, lambda, keyword, string or other name can
be written, so an expression can only compute numbers from columns. It is never handed to
eval (numexpr validates text with a pattern and then evals it; asteval interprets a much
larger language). Pure: no I/O.
"""
from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np

CONSTANTS = {"pi": math.pi, "e": math.e}
FUNCTIONS: dict[str, Callable] = {"abs": np.abs, "sqrt": np.sqrt, "log": np.log, "log1p": np.log1p, "exp": np.exp,
                                  "minimum": np.minimum, "maximum": np.maximum}
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
# conditions (a rule that picks rows) may also compare and combine with and / or / not
COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
           ast.GtE: operator.ge}
SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}


class ExpressionError(ValueError):
    """An expression outside the grammar, or naming a column the frame does not have."""


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, the columns it reads, and its syntax tree."""

    text: str
    columns: tuple[str, ...]
    tree: ast.expr
    condition: bool = False

    def __call__(self, frame) -> np.ndarray:  # noqa: ANN001 - a DataFrame or a mapping of column -> array
        value = _evaluate(self.tree, frame)
        if self.condition:
            return np.broadcast_to(np.asarray(value, dtype=bool), (_rows(frame),)).copy()
        return np.asarray(value, dtype="float64")


def _rows(frame) -> int:  # noqa: ANN001
    return len(next(iter(frame.values()))) if isinstance(frame, dict) else len(frame)


def parse(text: str, columns: list[str] | tuple[str, ...], condition: bool = False) -> Expression:
    """Check text against the grammar (a condition's, if condition) and the available columns;
    ExpressionError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be non-empty text")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} does not parse: {exc.msg}") from None
    used: list[str] = []
    _check(tree, set(columns), used, text, condition)
    if not used:
        raise ExpressionError(f"{text!r} reads no column")
    return Expression(text.strip(), tuple(dict.fromkeys(used)), tree, condition)


def _check(node: ast.AST, columns: set[str], used: list[str], text: str, condition: bool = False) -> None:
    """Raise ExpressionError unless node and every node below it is in the grammar."""
    if condition and isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, columns, used, text, condition)
    elif condition and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, columns, used, text, condition)
    elif condition and isinstance(node, ast.Compare) and all(type(op) in COMPARE for op in node.ops):
        for operand in (node.left, *node.comparators):
            _check(operand, columns, used, text)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"{text!r}: only numbers may be written as constants, not {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id in columns:
            used.append(node.id)
        elif node.id not in CONSTANTS:
            raise ExpressionError(f"{text!r}: {node.id!r} is neither a column nor one of {sorted(CONSTANTS)}")
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        _check(node.left, columns, used, text)
        _check(node.right, columns, used, text)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        _check(node.operand, columns, used, text)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
            and not node.keywords and node.args:
        for argument in node.args:
            _check(argument, columns, used, text)
    else:
        allowed = f"numbers, columns, {' '.join(SYMBOLS.values())} and {', '.join(FUNCTIONS)}(...)"
        raise ExpressionError(f"{text!r}: {_describe(node)} is not allowed (only {allowed})")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return f"the function {node.func.id!r}" if isinstance(node.func, ast.Name) else "a call"
    return {"Attribute": "an attribute", "Subscript": "a subscript", "Compare": "a comparison", "Lambda": "a lambda",
            "BoolOp": "and/or", "IfExp": "if/else"}.get(type(node).__name__, f"{type(node).__name__.lower()}")


def _evaluate(node: ast.AST, frame):  # noqa: ANN001, ANN202 - numbers or arrays all the way down
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id] if node.id in CONSTANTS and node.id not in frame else np.asarray(frame[node.id], dtype="float64")
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_evaluate(node.left, frame), _evaluate(node.right, frame))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return np.logical_not(_evaluate(node.operand, frame))
        return UNARY[type(node.op)](_evaluate(node.operand, frame))
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return combine.reduce([np.asarray(_evaluate(value, frame)) for value in node.values])
    if isinstance(node, ast.Compare):
        operands = [_evaluate(operand, frame) for operand in (node.left, *node.comparators)]
        pairs = [COMPARE[type(op)](a, b) for op, a, b in zip(node.ops, operands, operands[1:], strict=False)]
        return np.logical_and.reduce([np.asarray(pair) for pair in pairs])
    return FUNCTIONS[node.func.id](*(_evaluate(argument, frame) for argument in node.args))  # type: ignore[attr-defined]
