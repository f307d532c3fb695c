"""`make live`: what serves right now and where it came from, in one answer.

The production version and since when (and why, and who moved it); the model's algorithm,
params and artifact sha256; the data version and the raw file and production rows it came
from; the code commit; the environment; its recorded quality; where it was last started or
swapped in; the monitor's latest verdict; and what `make rollback` would return to. Read-only.

  python -m scripts.inspect.live [--json]
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from scripts.core import registry as R
from scripts.core.artifacts import read_data_meta
from scripts.core.config import cli, load_params, printable, repo_path
from scripts.core.reports import monitor_runs
from scripts.core.store import read_csv_rows


def moved_to(history: list[dict], version: str) -> dict | None:
    """The last promote or rollback that made this version production."""
    moves = [e for e in history if e["to"] == version and e["action"] in ("promote", "rollback")]
    return moves[-1] if moves else None


def answer(params: dict) -> dict:
    """Everything about the live model, gathered from the registry, its card, its data version and the logs."""
    paths = params["paths"]
    registry, card = R.production_card(paths, "describe")
    version = card["version"]
    data = read_data_meta(paths, card["data"]["version"])
    stack = R.production_stack(registry["history"])
    deployments = [r for r in read_csv_rows(repo_path(params["deployment"]["deployment_log"]))
                   if r["model_version"] == version and r["event"] in ("start", "swap")]
    runs = monitor_runs(params["monitor"], 1)  # the log's last row, read from its end: usually this model's
    if not runs or runs[-1]["model_version"] != version:
        runs = [r for r in monitor_runs(params["monitor"]) if r["model_version"] == version]
    return {
        "version": version, "since": moved_to(registry["history"], version),
        "model": {"algorithm": card["algorithm"], "params": card["params"], "sha256": card["artifact"]["sha256"],
                  "artifact": card["artifact"]["path"], "trained_at": card["created_at"]},
        "data": {"version": data["version"], "inputs": data["inputs"],
                 "train_rows": data["outputs"]["train"]["rows"], "test_rows": data["outputs"]["test"]["rows"]},
        "code": {"git": card["git"], "sha256": card["code"]["sha256"], "requirements_sha256": card["requirements_sha256"]},
        "environment": card["environment"],
        "quality": {k: card["metrics"]["test"][k] for k in ("f1", "recall", "precision", "roc_auc", "error_rate", "rows")},
        "test_set": test_set(data),
        "last_deployed": deployments[-1] if deployments else None,
        "last_monitor": runs[-1] if runs else None,
        "rollback_to": stack[-2] if len(stack) > 1 else None,
    }


def test_set(data: dict) -> str:
    """What the rows of a data version's test split are, for people. Pure."""
    if R.starts_epoch(data):
        return "a reference epoch (recent labelled production rows, after a concept drift)"
    return "the clean reference rows (the held-out test split)"


def _since(moved: dict | None) -> str:
    return f"since {moved['at']} ({moved['action']} by {moved['actor']}: {moved['reason']})" if moved else "since: no move recorded"


def text(doc: dict) -> str:
    """The answer for people: one line per question."""
    m, d, c, q, env = doc["model"], doc["data"], doc["code"], doc["quality"], doc["environment"]
    hyper = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(m["params"]["hyperparameters"].items()))
    sources = "; ".join(f"{kind} {src['path']} ({src['rows']} rows, sha256 {src['sha256'][:12]})" for kind, src in d["inputs"].items())
    commit = c["git"]["commit"]
    deployed, monitored = doc["last_deployed"], doc["last_monitor"]
    return "\n".join(printable(line) for line in [
        f"production: {doc['version']} {_since(doc['since'])}",
        f"  model        {m['algorithm']} seed={m['params']['seed']} threshold={m['params']['threshold']} {hyper}",
        f"  artifact     {m['artifact']} sha256 {m['sha256']} (trained {m['trained_at']})",
        f"  data         {d['version']}: train {d['train_rows']} rows, test {d['test_rows']} rows, from {sources}",
        f"  code         {'commit ' + commit[:12] + (' (dirty work tree)' if c['git']['dirty'] else '') if commit else 'outside git'}"
        f", code sha256 {c['sha256'][:12]}, requirements sha256 {c['requirements_sha256'][:12]}",
        f"  environment  python {env['python']}, " + ", ".join(f"{k} {v}" for k, v in sorted(env["libraries"].items())),
        f"  quality      on {q['rows']} rows of {doc['test_set']}: F1 {q['f1']}, recall {q['recall']}, precision {q['precision']}, "
        f"ROC AUC {q['roc_auc']}",
        f"  deployed     {deployed['event']} on {deployed['host_port']} at {deployed['time']}" if deployed else
        "  deployed     not yet started by make serve",
        f"  monitor      {monitored['verdict']} at {monitored['time']} (report {monitored['report_id']})" if monitored else
        "  monitor      no run yet for this version (make monitor)",
        f"  roll back    make rollback returns to {doc['rollback_to']}" if doc["rollback_to"] else
        "  roll back    nothing earlier to return to",
    ])  # each line one line: a reason or actor holding escapes or newlines cannot forge another


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the answer as one JSON document")
    args = parser.parse_args(argv)
    doc: Any = answer(load_params())
    print(json.dumps(doc, indent=2, sort_keys=True) if args.json else text(doc))
    return 0


if __name__ == "__main__":
    cli(main)
