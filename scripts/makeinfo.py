"""`make dag` and `make status`: read the stage graph and staleness from make itself.

The Makefile is the only description of the DAG. This module never repeats it: `dag`
parses make's rule database (make -p) and `status` parses make's own --trace reasons
after the stamps are refreshed, so what it prints is what make would do.
Standard library only, so `make dag` needs no venv.
"""
from __future__ import annotations

import re
import sys
from typing import Iterable

STAGES = ["prepare", "train", "evaluate", "register"]
OUT = ".make/out/"
STAMPS = ".make/stamps/"


def describe(prerequisite: str) -> tuple[str, str]:
    """Classify a prerequisite path as (kind, human name)."""
    if prerequisite.startswith(OUT):
        return "stage", prerequisite[len(OUT):]
    if prerequisite.startswith(STAMPS + "params-"):
        return "params", prerequisite[len(STAMPS + "params-"):].removesuffix(".sha")
    if prerequisite.startswith(STAMPS):
        name = prerequisite[len(STAMPS):].removesuffix(".sha")
        return ("code" if name.startswith("scripts/") else "file"), name
    return "other", prerequisite


def parse_rules(database: Iterable[str]) -> dict[str, list[str]]:
    """Stage -> prerequisites, from `make -p` output."""
    rules: dict[str, list[str]] = {}
    pattern = re.compile(r"^" + re.escape(OUT) + r"([a-z]+)\.done:(?!=)(.*)$")
    for line in database:
        match = pattern.match(line.rstrip("\n"))
        if match and match.group(1) in STAGES:
            rules[match.group(1)] = [p for p in match.group(2).split() if p != "|"]
    return rules


def render_dag(rules: dict[str, list[str]]) -> str:
    """A readable stage graph: the chain, then each stage's inputs grouped by kind."""
    lines = ["raw data ─► " + " ─► ".join(s for s in STAGES if s in rules) + " ─► models/registry.json", ""]
    for stage in STAGES:
        if stage not in rules:
            continue
        groups: dict[str, list[str]] = {}
        for prerequisite in rules[stage]:
            kind, name = describe(prerequisite)
            if kind != "other":
                groups.setdefault(kind, []).append(name)
        lines.append(f"{stage}")
        for kind in ("stage", "file", "params", "code"):
            if groups.get(kind):
                label = {"stage": "after", "file": "files", "params": "params.yaml sections", "code": "code"}[kind]
                lines.append(f"  {label:21} {', '.join(groups[kind])}")
    return "\n".join(lines)


def parse_trace(trace: Iterable[str]) -> dict[str, list[str]]:
    """Stage -> reasons, from `make -n --trace` output (make 4.x wording)."""
    reasons: dict[str, list[str]] = {}
    due = re.compile(r"update target '" + re.escape(OUT) + r"([a-z]+)\.done' due to: (.*)$")
    missing = re.compile(r"target '" + re.escape(OUT) + r"([a-z]+)\.done' does not exist")
    for line in trace:
        if m := due.search(line):
            reasons.setdefault(m.group(1), []).extend(m.group(2).split())
        elif m := missing.search(line):
            reasons.setdefault(m.group(1), []).append("(never built)")
    return reasons


def render_status(reasons: dict[str, list[str]]) -> str:
    """One line per stage: up to date, or stale with the inputs that changed."""
    lines = []
    for stage in STAGES:
        if stage not in reasons:
            lines.append(f"{stage:9} up to date")
            continue
        why = []
        for prerequisite in reasons[stage]:
            kind, name = describe(prerequisite)
            why.append({"stage": f"{name} will rerun", "params": f"params.yaml section '{name}' changed",
                        "code": f"code {name} changed", "file": f"{name} changed"}.get(kind, name))
        lines.append(f"{stage:9} stale: {'; '.join(why)}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["dag"]:
        rules = parse_rules(sys.stdin)
        if not rules:
            print("error: make printed no stage rules", file=sys.stderr)
            return 2
        print(render_dag(rules))
    elif argv[:1] == ["status"]:
        print(render_status(parse_trace(sys.stdin)))
    else:
        print("usage: python -m scripts.makeinfo dag|status  (reads make's output on stdin)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
