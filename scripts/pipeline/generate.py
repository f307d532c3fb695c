"""make synth's generator: a table made column by column from a declaration (params'
`synth.columns`; the recipes are listed in scripts/pipeline/synth.py). Pure but for the random
stream it seeds; nothing here knows a column."""
from __future__ import annotations

import string
from typing import Any, Callable

import numpy as np
import pandas as pd

from scripts.core import expressions as X
from scripts.core.config import ClockworkError

RECIPES = ("sequence", "times", "choice", "text", "walk", "normal", "line", "tool", "tool_failure", "map", "condition", "random")


class Draw:
    """One generated table in the making: the rows so far by name, the random stream, the reference."""

    def __init__(self, n: int, seed: int, reference: pd.DataFrame) -> None:
        self.n, self.rng, self.reference = n, np.random.default_rng(seed), reference
        self.columns: dict[str, np.ndarray] = {}
        self.failures: dict[str, np.ndarray] = {}

    def walk(self, spec: dict) -> np.ndarray:
        steps = np.cumsum(self.rng.normal(0.0, 1.0, self.n))
        spread = steps.std() or 1.0
        return spec["mean"] + spec["sd"] * (steps - steps.mean()) / spread

    def reference_column(self, name: str, where: str) -> np.ndarray:
        """The reference file's readings of a column (its missing ones left out)."""
        if name not in self.reference:
            raise ClockworkError(f"{where}: the reference file has no column {name!r}")
        values = self.reference[name].to_numpy(dtype="float64")
        return values[~np.isnan(values)]


def _expression(draw: Draw, text: str, where: str, condition: bool = False) -> np.ndarray:
    try:
        return X.parse(text, list(draw.columns), condition)(draw.columns)
    except X.ExpressionError as exc:
        raise ClockworkError(f"{where}: {exc}") from None


def _text(draw: Draw, entry: dict, where: str) -> np.ndarray:
    fields = [f for _, f, _, _ in string.Formatter().parse(entry["text"]) if f is not None]
    unknown = [f for f in fields if f != "row" and f not in draw.columns]
    if unknown:
        raise ClockworkError(f"{where}: text: {{{unknown[0]}}} is neither an earlier column nor {{row}}")
    start = entry.get("row_from", 0)
    return np.array([entry["text"].format(row=start + i, **{f: draw.columns[f][i] for f in fields if f != "row"})
                     for i in range(draw.n)])


def _normal(draw: Draw, entry: dict, where: str) -> np.ndarray:
    spec = entry["normal"]
    if spec == "reference":
        values = draw.reference_column(entry["name"], where)
        spec = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
    return draw.rng.normal(spec["mean"], spec["sd"], draw.n)


def _line(draw: Draw, entry: dict, where: str) -> np.ndarray:
    on = entry["line"]["from"]
    pairs = draw.reference[[on, entry["name"]]].astype("float64").dropna() if {on, entry["name"]} <= set(draw.reference) \
        else None
    if pairs is None:
        raise ClockworkError(f"{where}: the reference file has no columns {on!r} and {entry['name']!r}")
    x, y = pairs[on].to_numpy(), pairs[entry["name"]].to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    return intercept + slope * draw.columns[on] + draw.rng.normal(0.0, float(residual.std(ddof=1)), draw.n)


def _tool(draw: Draw, entry: dict, where: str) -> np.ndarray:
    spec = entry["tool"]
    step = spec["step"]
    steps = np.array([step["values"][str(v)] for v in draw.columns[step["column"]]])
    low, high = spec["limit"]
    wear, failed = np.zeros(draw.n, dtype=int), np.zeros(draw.n, dtype=int)
    level, limit = 0, draw.rng.integers(low, high + 1)
    for i in range(draw.n):
        wear[i] = level
        if level >= limit:
            failed[i] = int(draw.rng.random() < spec["failure_share"])
            level, limit = 0, draw.rng.integers(low, high + 1)
        else:
            level += steps[i]
    draw.failures[entry["name"]] = failed
    return wear


def _times(draw: Draw, entry: dict, where: str) -> np.ndarray:
    try:
        start = np.datetime64(str(entry["times"]["start"]), "s")
    except ValueError:
        raise ClockworkError(f"{where}: times: start {entry['times']['start']!r} is not a time stamp") from None
    stamps = start + np.arange(draw.n) * np.timedelta64(int(entry["times"]["step_s"]), "s")
    return np.datetime_as_string(stamps, unit="s")


RECIPE: dict[str, Callable[[Draw, dict, str], np.ndarray]] = {
    "sequence": lambda draw, entry, where: np.arange(entry["sequence"], entry["sequence"] + draw.n),
    "times": _times,
    "choice": lambda draw, entry, where: draw.rng.choice(np.array(list(entry["choice"])), size=draw.n,
                                                         p=list(entry["choice"].values())),
    "text": _text,
    "walk": lambda draw, entry, where: draw.walk(entry["walk"]) + (
        _expression(draw, entry["plus"], where) if "plus" in entry else 0.0),
    "normal": _normal,
    "line": _line,
    "tool": _tool,
    "tool_failure": lambda draw, entry, where: draw.failures[entry["tool_failure"]],
    "map": lambda draw, entry, where: np.array([entry["map"]["values"][str(v)] for v in draw.columns[entry["map"]["column"]]]),
    "condition": lambda draw, entry, where: _expression(draw, entry["condition"], where, condition=True).astype(int),
    "random": lambda draw, entry, where: (draw.rng.random(draw.n) < entry["random"]).astype(int),
}


def _finish(values: np.ndarray, entry: dict) -> np.ndarray:
    """The entry's rounding, clipping and integer cast, in that order."""
    if "round" in entry:
        values = np.round(values, entry["round"])
    if "clip" in entry and entry["clip"] != [None, None]:
        values = np.clip(values, *entry["clip"])  # a null bound is open
    return values.astype(int) if entry.get("integer") else values


def synthesize(n: int, seed: int, columns: list[dict], reference: pd.DataFrame) -> pd.DataFrame:
    """n rows made by the recipes, in the declared order. Pure but for the random stream it seeds."""
    draw = Draw(n, seed, reference)
    for k, entry in enumerate(columns):
        where = f"synth.columns[{k}] ({entry.get('name')})"
        recipe = [r for r in RECIPES if r in entry]
        if len(recipe) != 1:
            raise ClockworkError(f"{where}: needs exactly one of {', '.join(RECIPES)}")
        if recipe[0] in ("tool_failure", "map", "line") and _source(entry, recipe[0]) not in draw.columns:
            raise ClockworkError(f"{where}: {recipe[0]}: {_source(entry, recipe[0])!r} is not an earlier column")
        draw.columns[entry["name"]] = _finish(RECIPE[recipe[0]](draw, entry, where), entry)
    kept = [e for e in columns if e.get("keep", True)]
    return pd.DataFrame({e.get("header", e["name"]): draw.columns[e["name"]] for e in kept})


def _source(entry: dict, recipe: str) -> Any:
    """The earlier column a tool_failure, map or line entry reads."""
    spec = entry[recipe]
    return spec if recipe == "tool_failure" else spec["column"] if recipe == "map" else spec["from"]
