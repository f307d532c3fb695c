"""`make experiments` and `make experiments-table`: a named grid of model overrides, each a make target.

Each experiment is trained, evaluated and registered by the ordinary stage scripts (so
its model version has the same identity rules as any other, and a grid entry equal to
the main model reuses that model). This module only records the outcome and reads it
back: one line per run in models/experiments.jsonl, kept whatever the result (a run that
crashed is recorded with its error), because a negative result is evidence too. Registration never promotes an experiment; people do,
with `make promote VERSION=vN`.

  python -m scripts.experiments record NAME --model POINTER | --failed LOG
  python -m scripts.experiments table [--metric f1] [--all]
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from scripts import registry as R
from scripts.artifacts import read_card, read_pointer
from scripts.config import ClockworkError, cli, experiment_params, load_params, repo_path, validate
from scripts.store import append_line, canonical_json, git_info, locked, read_jsonl, utc_now

log = logging.getLogger("clockwork.experiments")
METRICS = ("f1", "recall", "precision", "roc_auc", "error_rate")


def outcome(name: str, overrides: dict, card: dict, entry: dict) -> dict:
    """The record of one experiment run, from its model card and registry entry."""
    return {
        "time": utc_now(), "name": name, "overrides": overrides, "outcome": "completed", "error": None, "version": card["version"],
        "data_version": card["data"]["version"], "algorithm": card["algorithm"], "params": card["params"],
        "metrics": {k: entry["metrics"][k] for k in METRICS},
        "gates": {"passed": entry["gates"]["passed"], "failed": entry["gates"]["failed"]},
        "training_seconds": card["training"]["seconds"], "git": card["git"],
    }


def failure(name: str, overrides: dict, model: dict, error: str) -> dict:
    """The record of a run that did not finish: its params and the error, no metrics."""
    return {
        "time": utc_now(), "name": name, "overrides": overrides, "outcome": "error", "error": error, "version": None,
        "data_version": None, "algorithm": model["algorithm"], "params": model,
        "metrics": dict.fromkeys(METRICS), "gates": {"passed": False, "failed": []}, "training_seconds": None, "git": git_info(),
    }


def error_line(log_text: str) -> str:
    """The one-line error a failed stage printed (cli() writes 'error: ...'), else its last line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    return (errors or lines or ["a stage exited non-zero without a message"])[-1].removeprefix("error: ")


def latest(records: list[dict]) -> dict[str, dict]:
    """The most recent record of each experiment name."""
    return {r["name"]: r for r in records}


def ranked(records: dict[str, dict], metric: str) -> list[dict]:
    """Best first by metric (error_rate: lowest first); unmeasured last; ties by name."""
    sign = 1 if metric == "error_rate" else -1

    def key(r: dict) -> tuple:
        value = r["metrics"][metric]
        return (value is None, sign * value if value is not None else 0, r["name"])
    return sorted(records.values(), key=key)


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


def record(params: dict, name: str, version: str | None, failed_log: Path | None = None) -> dict:
    """Append the outcome of experiment `name` (model `version`, or the error in failed_log),
    unless it repeats the last line for it."""
    paths = params["paths"]
    overrides = params["experiments"]["grid"].get(name)
    if overrides is None:
        raise ClockworkError(f"experiment {name!r}: not in params experiments.grid")
    if failed_log is not None:
        text = failed_log.read_text(errors="replace") if failed_log.exists() else ""
        doc = failure(name, overrides, experiment_params(params, name)["model"], error_line(text))
    else:
        entry = R.load(paths)["versions"].get(version)
        if entry is None:
            raise ClockworkError(f"experiment {name}: model {version} is not registered (run make experiments)")
        doc = outcome(name, overrides, read_card(paths, version), entry)
    path = repo_path(paths["experiments_log"])
    with locked(path.with_name(path.name + ".lock")):
        previous = latest(read_jsonl(path)).get(name)
        if previous and doc["outcome"] == "completed" and previous["version"] == version and previous["overrides"] == overrides:
            log.info("experiment %s: %s already recorded", name, version)
            return previous
        validate(doc, "experiment", str(path))
        append_line(path, canonical_json(doc))
    if doc["outcome"] == "error":
        print(f"experiment {name}: failed ({doc['error']}); recorded in {paths['experiments_log']}")
        return doc
    m = doc["metrics"]
    print(f"experiment {name}: {version} f1 {m['f1']} recall {m['recall']} precision {m['precision']} "
          f"gates {'pass' if doc['gates']['passed'] else 'fail: ' + ', '.join(doc['gates']['failed'])}")
    return doc


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
    params = load_params()
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
