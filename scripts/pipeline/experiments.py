"""`make experiments` and `make experiments-table`: a named grid of model overrides, each a make target.

Each experiment is trained, evaluated and registered by the ordinary stage scripts (so
its model version has the same identity rules as any other, and a grid entry equal to
the main model reuses that model). This module only records the outcome and reads it
back: one line per run in models/experiments.jsonl, kept whatever the result (a run that
crashed is recorded with its error), because a negative result is evidence too. Registration never promotes an experiment; people do,
with `make promote VERSION=vN`.

  python -m scripts.pipeline.experiments record NAME --model POINTER | --failed LOG
  python -m scripts.pipeline.experiments table [--metric f1] [--all]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from scripts.core import registry as R
from scripts.core.artifacts import read_pointer
from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.runs import METRICS, latest, ranked, record
from scripts.core.store import read_jsonl

# The params sections `record` reads (the grid entry and the model it overrides); the experiment
# rule is stamped on them through its params-exp-NAME stamp.
PARAMS = ("paths", "experiments", "model")


def row_text(rank: int, r: dict, registry: dict, grid: dict) -> str:
    """One line of the experiments table."""
    if r["version"] is None:
        status, verdict = "error", f"error: {r['error']}"
    else:
        status = registry["versions"].get(r["version"], {}).get("status", "unregistered")
        verdict = "pass" if r["gates"]["passed"] else "fail:" + ",".join(r["gates"]["failed"])
    stale = "" if grid.get(r["name"]) == r["overrides"] else "  (grid entry since changed or removed)"
    seconds = "-" if r["training_seconds"] is None else f"{r['training_seconds']:.2f}"
    metrics = "".join(f"{'-' if r['metrics'][m] is None else format(r['metrics'][m], '.4f'):>11}" for m in METRICS)
    return (f"{rank:>2} {r['name']:16} {r['version'] or '-':8} {status:10} {r['algorithm']:23}{metrics} {seconds:>8}  "
            f"{verdict} {json.dumps(r['overrides'], sort_keys=True)}{stale}")


def table(records: list[dict], registry: dict, grid: dict, metric: str) -> str:
    """The experiments as a text table, best first, with the command to promote the best."""
    if not records:
        return "no experiments recorded yet (declare experiments.grid in params.yaml, then make experiments)"
    rows = ranked(latest(records), metric)
    lines = [f"{'#':>2} {'experiment':16} {'version':8} {'status':10} {'algorithm':23}"
             + "".join(f"{m:>11}" for m in METRICS) + f" {'train_s':>8}  gates / overrides"]
    lines += [row_text(i, r, registry, grid) for i, r in enumerate(rows, 1)]
    best = rows[0]
    status = registry["versions"].get(best["version"], {}).get("status") if best["version"] else None
    if best["version"] is None:
        lines.append("no experiment has finished; fix the errors above and run make experiments again")
    elif status == "production":
        lines.append(f"best by {metric}: {best['name']} ({best['version']}), already in production")
    elif status == "rejected":
        lines.append(f"best by {metric}: {best['name']} ({best['version']}), but it failed its gates; "
                     f"make promote VERSION={best['version']} FORCE=1 would override them")
    else:
        lines.append(f"best by {metric}: {best['name']} ({best['version']}); to serve it: make promote VERSION={best['version']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="append the outcome of one experiment")
    rec.add_argument("name")
    given = rec.add_mutually_exclusive_group(required=True)
    given.add_argument("--model", type=Path, help="pointer naming the experiment's registered model")
    given.add_argument("--failed", type=Path, metavar="LOG", help="the run failed; LOG holds what its stages printed")
    tab = sub.add_parser("table", help="print the experiments, best first")
    tab.add_argument("--metric", help="sort key (default: params experiments.metric)")
    tab.add_argument("--all", action="store_true", help="every recorded run, not only the latest of each name")
    args = parser.parse_args(argv)
    params = load_params(sections=PARAMS if args.command == "record" else None)
    if args.command == "record":
        record(params, args.name, None if args.failed else read_pointer(args.model), args.failed)
        return 0
    metric = args.metric or params["experiments"]["metric"]
    if metric not in METRICS:
        raise ClockworkError(f"METRIC={metric}: unknown (one of {', '.join(METRICS)})")
    records = read_jsonl(repo_path(params["paths"]["experiments_log"]))
    registry = R.load(params["paths"])
    if args.all:
        for r in sorted(records, key=lambda r: (r["name"], r["time"])):
            print(f"{r['time']} {r['name']:16} {r['version'] or 'error':8} {metric} {r['metrics'][metric]} "
                  f"{json.dumps(r['overrides'], sort_keys=True)}{'  ' + r['error'] if r['error'] else ''}")
        return 0
    print(table(records, registry, params["experiments"]["grid"], metric))
    return 0


if __name__ == "__main__":
    cli(main)
