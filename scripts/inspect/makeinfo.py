"""`make dag` and `make status`: read the stage graph and staleness from make itself.

The Makefile is the only description of the DAG. This module never repeats it: both
commands parse make's rule database (make -p). `status` runs after the stamps are
refreshed and applies make's rule (a prerequisite newer than the target) to each stage.
Standard library only, so `make dag` needs no venv.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

STAGES = ["prepare", "train", "evaluate", "register"]


@dataclass(frozen=True)
class Layout:
    """Make's bookkeeping directories, as the Makefile passes them (--out, --stamps)."""
    out: str
    stamps: str


def describe(prerequisite: str, layout: Layout) -> tuple[str, str]:
    """Classify a prerequisite path as (kind, human name)."""
    if prerequisite.startswith(layout.out):
        return "stage", prerequisite[len(layout.out):]
    if prerequisite.startswith(layout.stamps + "params-"):
        return "params", prerequisite[len(layout.stamps + "params-"):].removesuffix(".sha")
    if prerequisite.startswith(layout.stamps):
        name = prerequisite[len(layout.stamps):].removesuffix(".sha")
        return ("code" if name.startswith("scripts/") else "file"), name
    return "other", prerequisite


def parse_rules(database: Iterable[str], layout: Layout) -> dict[str, list[str]]:
    """Stage -> prerequisites, from `make -p` output."""
    rules: dict[str, list[str]] = {}
    pattern = re.compile(r"^" + re.escape(layout.out) + r"([a-z]+)\.done:(?!=)(.*)$")
    for line in database:
        match = pattern.match(line.rstrip("\n"))
        if match and match.group(1) in STAGES:
            rules[match.group(1)] = match.group(2).split("|")[0].split()  # order-only ones don't count
    return rules


def render_dag(rules: dict[str, list[str]], layout: Layout) -> str:
    """A readable stage graph: the chain, then each stage's inputs grouped by kind."""
    lines = ["raw data ─► " + " ─► ".join(s for s in STAGES if s in rules) + " ─► models/registry.json", ""]
    for stage in STAGES:
        if stage not in rules:
            continue
        groups: dict[str, list[str]] = {}
        for prerequisite in rules[stage]:
            kind, name = describe(prerequisite, layout)
            if kind != "other":
                groups.setdefault(kind, []).append(name)
        lines.append(f"{stage}")
        for kind in ("stage", "file", "params", "code"):
            if groups.get(kind):
                label = {"stage": "after", "file": "files", "params": "params.yaml sections", "code": "code"}[kind]
                lines.append(f"  {label:21} {', '.join(groups[kind])}")
    return "\n".join(lines)


# The two values make stamps, in the user's words: what they mean when they differ from the last build.
WORDS = {"extra.value": "the last build was make retrain's (with its labelled rows); make train builds params.yaml's version",
         "params.path": "the last build used another params file (CLOCKWORK_PARAMS)"}


def stale_reasons(rules: dict[str, list[str]], root: Path, layout: Layout) -> dict[str, list[str]]:
    """Stage -> why it would rerun, by make's own rule: a prerequisite newer than the target.

    Run after the stamps are refreshed, so a stamp is newer only if its content changed.
    (make -n can't answer this: it can't re-stat a stamp whose recipe leaves it untouched.)
    """
    reasons: dict[str, list[str]] = {}
    for stage in STAGES:
        if stage not in rules:
            continue
        done = root / f"{layout.out}{stage}.done"
        built = done.stat().st_mtime_ns if done.exists() else None
        why = ["(never built)"] if built is None else []
        for prerequisite in rules[stage]:
            path = root / prerequisite
            kind, name = describe(prerequisite, layout)
            if kind == "stage" and name in reasons:
                why.append(f"upstream {name} is stale")
            elif built is not None and (not path.exists() or path.stat().st_mtime_ns > built):
                why.append(WORDS.get(name) or {"stage": f"{name} produced a new version",
                                               "params": f"params.yaml section '{name}' changed", "code": f"code {name} changed",
                                               "file": f"{name} changed"}.get(kind, f"{name} changed"))
        if why:
            reasons[stage] = why
    return reasons


def render_status(reasons: dict[str, list[str]], stages: list[str]) -> str:
    """One line per stage: up to date, or stale with the inputs that changed."""
    return "\n".join(f"{stage:9} " + (f"stale: {'; '.join(reasons[stage])}" if stage in reasons else "up to date")
                     for stage in stages)


def unknown_goal(name: str, targets: list[str]) -> str:
    """The one line for a goal no rule makes: the nearest target names, and where the list is. Pure."""
    import difflib

    near = difflib.get_close_matches(name, targets, n=2, cutoff=0.6)
    hint = f"did you mean make {' or make '.join(near)}? " if near else ""
    return f"error: make {name}: no such target; {hint}make help lists them all"


def main(argv: list[str]) -> int:
    if argv[:1] == ["unknown"]:  # unknown NAME TARGET...: the line for a goal no rule makes
        print(unknown_goal(argv[1], argv[2:]), file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["dag", "status"], help="reads `make -p` output on stdin")
    parser.add_argument("--out", required=True, help="the Makefile's stage-pointer directory, e.g. .make/out")
    parser.add_argument("--stamps", required=True, help="the Makefile's stamp directory, e.g. .make/stamps")
    args = parser.parse_args(argv)
    layout = Layout(args.out.rstrip("/") + "/", args.stamps.rstrip("/") + "/")
    rules = parse_rules(sys.stdin, layout)
    if not rules:
        print("error: make printed no stage rules", file=sys.stderr)
        return 2
    if args.command == "dag":
        print(render_dag(rules, layout))
    else:
        print(render_status(stale_reasons(rules, Path.cwd(), layout), [s for s in STAGES if s in rules]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
