"""The runs logs: every execution is kept, whatever its result.

- The experiments log (paths.experiments_log): one line per experiment run, written by
  `make experiments` (scripts/pipeline/experiments.py).
- The pipeline runs log (paths.runs_log): one line per `make train` run that did something or
  failed, written by scripts/pipeline/runlog.py.
Both are read by their commands and by the dashboard.
"""
from __future__ import annotations

import logging
from pathlib import Path

from scripts.core import registry as R
from scripts.core.artifacts import read_card
from scripts.core.config import ClockworkError, error_line, experiment_params, repo_path, validate
from scripts.core.store import append_line, canonical_json, git_info, locked, read_jsonl, utc_now

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


# ---- the pipeline runs log -------------------------------------------------------------------

STAGES = ("prepare", "train", "evaluate", "register")


KILLED = 137  # the exit status a shell reports for a process SIGKILL ended


def run_record(facts: dict) -> dict:
    """One pipeline run, from what the runner saw. Pure: facts holds time, duration_s, exit_code,
    stages, stderr, params_file, params_sha256, extra, pointers, production, git, actor. A stage that exits
    130 (cli()'s answer to Ctrl-C) makes the run interrupted."""
    stages, code = [s for s in facts["stages"] if s in STAGES], facts["exit_code"]
    outcome = ("killed" if facts.get("killed") else "completed" if code == 0 else "interrupted" if code == 130
               else "failed")
    return {
        "time": facts["time"], "duration_s": round(facts["duration_s"], 3), "outcome": outcome, "exit_code": code,
        "stages": stages, "failed_stage": stages[-1] if outcome != "completed" and stages else None,
        "params_file": facts["params_file"], "params_sha256": facts["params_sha256"], "extra": facts["extra"] or None,
        "data_version": facts["pointers"].get("prepare"),
        "model_version": facts["pointers"].get("register") if outcome == "completed" else facts["pointers"].get("train"),
        "production": facts["production"], "git": facts["git"],
        "error": (None if outcome == "completed" else "killed before it could record itself (found by the next run)"
                  if outcome == "killed" else error_line(facts["stderr"])), "actor": facts["actor"],
    }


def append_run(paths: dict, doc: dict) -> None:
    """Validate one run record and append it (one write, so concurrent runs never tear a line)."""
    path = repo_path(paths["runs_log"])
    validate(doc, "pipeline_run", str(path))
    append_line(path, canonical_json(doc))


def read_runs(paths: dict) -> list[dict]:
    """Every recorded pipeline run, oldest first."""
    return read_jsonl(repo_path(paths["runs_log"]))
