"""What the dashboard, the compare page, the static report and /api/... show, read from the records.

Read-only by design: it reads the registry, model cards, data-version metadata, the
deployment and monitor logs and the experiments log, and writes nothing. A record that
cannot be read does not take the page down: it is named in a "problems" list at the top.
Routes accept only version numbers and report ids, checked against a pattern and then
looked up; no client-supplied path ever reaches the file system.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from scripts.core import registry as R
from scripts.core.artifacts import MODEL_CARD, data_versions, read_card, read_data_meta, read_train_record
from scripts.core.config import ClockworkError, repo_path
from scripts.core.contract import Contract
from scripts.core.reports import monitor_runs, read_report
from scripts.core.runs import latest, ranked, read_runs
from scripts.core.store import read_csv_rows, read_json, read_jsonl, utc_now, version_number
from scripts.inspect.provenance import flatten

VERSION = re.compile(r"^v[0-9]{1,9}$")
REPORT_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")
TEST_METRICS = [("accuracy", max), ("precision", max), ("recall", max), ("f1", max), ("roc_auc", max),
                ("error_rate", min), ("log_loss", min)]
READ_ERRORS = (ClockworkError, OSError, ValueError, KeyError, TypeError)


class Problems(list):
    """Records that could not be read, each named; the page shows them instead of failing."""

    def attempt(self, what: str, read: Callable[[], Any], default: Any) -> Any:
        try:
            return read()
        except READ_ERRORS as exc:
            self.append(f"{what}: {exc}")
            return default


def number(text: str | None) -> float | None:
    return None if text in (None, "", "None") else float(text)


def live_since(history: list[dict], version: str) -> str | None:
    """When the alias last moved to this version (a promote or a rollback)."""
    moves = [e["at"] for e in history if e["to"] == version and e["action"] in ("promote", "rollback")]
    return moves[-1] if moves else None


def lineage(paths: dict, registry: dict, attempt: Callable) -> dict:
    """Nodes and edges: every input file → the data versions built from it → the models trained on them."""
    inputs: dict[str, dict] = {}
    data_nodes, model_nodes, edges = [], [], []
    for version in data_versions(paths):
        meta = attempt(f"data version {version}", lambda v=version: read_data_meta(paths, v), None)
        if meta is None:
            continue
        for kind, source in sorted(meta["inputs"].items()):
            node_id = f"in:{source['sha256']}"
            inputs.setdefault(node_id, {"id": node_id, "label": Path(source["path"]).name,
                                        "detail": f"{kind} · {source['rows']} rows · sha256 {source['sha256'][:12]}", "kind": ""})
            edges.append((node_id, f"data:{version}"))
        out = meta["outputs"]
        data_nodes.append({"id": f"data:{version}", "label": f"data {version}", "kind": "data", "key": version,
                           "detail": f"train {out['train']['rows']} / test {out['test']['rows']} rows · {meta['created_at']}"})
    for version in sorted(registry["versions"], key=version_number):
        record = attempt(f"model {version}", lambda v=version: read_train_record(paths, v), None)
        if record is None:
            continue
        status = registry["versions"][version]["status"]
        model_nodes.append({"id": f"model:{version}", "label": f"model {version} · {status}", "kind": "model", "key": version,
                            "status": status, "detail": f"{record['algorithm']} · sha256 {record['artifact']['sha256'][:12]}"})
        edges.append((f"data:{record['data']['version']}", f"model:{version}"))
    return {"inputs": list(inputs.values()), "data": data_nodes, "models": model_nodes, "edges": edges}


def collect(params: dict) -> dict:
    """Everything the dashboard shows, as one JSON-able document (also served at /api/dashboard)."""
    paths, monitor, settings = params["paths"], params["monitor"], params["dashboard"]
    problems = Problems()
    attempt = problems.attempt
    registry = attempt("registry", lambda: R.load(paths), R.empty_registry())
    versions, cards = [], {}
    for version in sorted(registry["versions"], key=version_number, reverse=True):
        entry = registry["versions"][version]
        card = cards[version] = attempt(f"model {version}", lambda v=version: read_card(paths, v), None)
        versions.append({
            "version": version, "status": entry["status"], "data_version": entry["data_version"],
            "algorithm": entry["algorithm"], "metrics": entry["metrics"], "gates": entry["gates"],
            "created_at": card["created_at"] if card else entry["registered_at"],
            "hyperparameters": {**card["params"]["hyperparameters"], "threshold": card["threshold"]} if card else {},
            "test_rows": card["data"]["test"]["sha256"] if card else None,
        })
    live = None
    production = registry["aliases"]["production"]
    if production:
        card = cards.get(production)  # read above; a registry always lists its production version
        if card:
            live = {"version": production, "since": live_since(registry["history"], production),
                    "algorithm": card["algorithm"], "data_version": card["data"]["version"], "git": card["git"],
                    "metrics": card["metrics"]["test"], "sha256": card["artifact"]["sha256"]}
    deployments = attempt("deployment log", lambda: read_csv_rows(repo_path(params["deployment"]["deployment_log"])), [])
    runs = attempt("monitor log", lambda: monitor_runs(monitor, settings["chart_points"]), [])
    series = [{"time": r["time"], "model_version": r["model_version"], "verdict": r["verdict"],
               "error_rate": number(r["error_rate"]), "baseline": number(r["baseline_error_rate"])}
              for r in runs]
    report = None
    if runs:
        report_id = runs[-1]["report_id"]
        report = attempt(f"monitor report {report_id}", lambda: read_report(monitor, report_id), None)
    grid = params["experiments"]["grid"]
    records = attempt("experiments log", lambda: read_jsonl(repo_path(paths["experiments_log"])), [])
    experiments = [{**r, "status": registry["versions"].get(r["version"], {}).get("status", "unregistered") if r["version"] else "error",
                    "overrides_text": json.dumps(r["overrides"], sort_keys=True) + ("" if grid.get(r["name"]) == r["overrides"]
                                                                                    else " (changed since)")}
                   for r in ranked(latest(records), params["experiments"]["metric"])]
    pipeline_runs = attempt("runs log", lambda: read_runs(paths), [])
    scenarios = attempt("scenarios run", lambda: latest_scenarios(params), None)
    return {
        "generated_at": utc_now(), "live": live, "versions": versions,
        "runs": list(reversed(pipeline_runs[-settings["run_rows"]:])), "runs_recorded": len(pipeline_runs),
        "deployments": list(reversed(deployments)), "deployment_rows_shown": settings["deployment_rows"],
        "series": series, "monitor": report, "psi_threshold": monitor["psi_threshold"],
        "retrain_flag": attempt("retrain flag", lambda: read_json(repo_path(monitor["flag"]), "retrain_flag"), {})
        if repo_path(monitor["flag"]).exists() else None,
        "experiments": experiments, "experiment_metric": params["experiments"]["metric"], "experiment_grid": sorted(grid),
        "lineage": lineage(paths, registry, attempt), "scenarios": scenarios,
        "challenger": registry["aliases"].get("challenger"),
        "problems": problems,
    }


def latest_scenarios(params: dict) -> dict | None:
    """The newest make scenarios run, or None before the first."""
    runs = sorted(repo_path(params["scenarios"]["out_dir"]).glob("*.json"))
    return read_json(runs[-1], "scenarios") if runs else None


def common_rows(paths: dict, cards: list[dict], points: int, registry: dict, contract: Contract) -> dict:
    """Every compared version scored on the same rows: the reference rows the registry judges by now
    (a reference epoch's, if production was judged on one; else the first version's test split,
    which retrains keep). Each model is loaded after its sha256 check. Confusion matrix, F1, recall,
    precision, a precision-recall curve and how many of the rows it trained on, per version."""
    from sklearn.metrics import precision_recall_curve

    from scripts.core.artifacts import load_split
    from scripts.core.gates import seen_rows
    from scripts.core.metrics import label_metrics, predict_failure

    live = R.live_reference(registry)
    meta = read_data_meta(paths, live["data_version"] if live.get("epoch") else cards[0]["data"]["version"])
    key = contract.id.name if contract.id else None
    rows = load_split(meta, "test", [*([key] if key else []), *contract.scored])
    y = rows[contract.label].to_numpy()
    out = {"data_version": meta["version"], "rows": len(rows), "failures": int(y.sum()), "epoch": bool(live.get("epoch")),
           "versions": {}}
    for card in cards:
        proba = predict_failure(R.load_registered(paths, card["version"], registry)[0], rows)
        metrics = label_metrics(y, proba >= card["threshold"])
        precision, recall, _ = precision_recall_curve(y, proba)
        keep = np.unique(np.linspace(0, len(recall) - 1, min(points, len(recall))).astype(int))
        trained = registry["versions"].get(card["version"], {}).get("trained_on") or []
        out["versions"][card["version"]] = {**metrics, "seen": seen_rows(rows[key], trained) if key else None,
                                            "curve": [[round(float(recall[i]), 4), round(float(precision[i]), 4)] for i in keep]}
    return out


def compare_view(params: dict, versions: list[str]) -> dict:
    """Params and metrics of the given versions, row by row. Test metrics are marked best only when
    every version was measured on the same rows; the common-rows section always is."""
    paths = params["paths"]
    registry = R.load(paths)
    cards = [read_card(paths, v) for v in versions]
    same_rows = len({c["data"]["test"]["sha256"] for c in cards}) == 1
    common = common_rows(paths, cards, params["dashboard"]["curve_points"], registry,
                         Contract.from_params(params["dataset"]))
    on_common = [common["versions"][c["version"]] for c in cards]
    flat = [flatten({"params": c["params"], "features": {k: c["features"][k] for k in ("derived", "scaling", "one_hot_type")}})
            for c in cards]
    keys = sorted(set().union(*flat))

    def row(key: str, values: list, pick: Callable | None = None) -> tuple:
        usable = [v for v in values if isinstance(v, (int, float))]
        best = values.index(pick(usable)) if pick and len(usable) > 1 and len(set(usable)) > 1 else None
        return key, values, best
    return {
        "generated_at": utc_now(), "versions": versions, "same_rows": same_rows,
        "curves": {v: common["versions"][v]["curve"] for v in versions},
        "sections": [
            ("identity", [row("status", [registry["versions"].get(v, {}).get("status", "unregistered") for v in versions]),
                          row("created", [c["created_at"] for c in cards]),
                          row("data version", [c["data"]["version"] for c in cards]),
                          row("git commit", [(c["git"]["commit"] or "none")[:12] for c in cards]),
                          row("artifact sha256", [c["artifact"]["sha256"][:16] for c in cards]),
                          row("test rows sha256", [c["data"]["test"]["sha256"][:16] for c in cards])]),
            ("params", [row(k, [f.get(k) for f in flat]) for k in keys]),
            (f"on the same rows: the test split of {common['data_version']} ({common['rows']} rows, {common['failures']} failures"
             + ("; the reference epoch production was judged on" if common["epoch"] else "") + ")",
             [row(k, [m[k] for m in on_common], max) for k in ("f1", "recall", "precision")]
             + [row(k, [m["confusion_matrix"][k] for m in on_common]) for k in ("tp", "fp", "fn", "tn")]
             + [row("of these rows trained on", [m["seen"] for m in on_common])]),
            ("test metrics, each on its own test rows" if not same_rows else "test metrics (recorded on these rows)",
             [row(k, [c["metrics"]["test"].get(k) for c in cards], pick if same_rows else None) for k, pick in TEST_METRICS]),
            ("training", [row("seconds", [c["training"]["seconds"] for c in cards], min),
                          row("rows", [c["training"]["rows"] for c in cards])]),
        ],
    }


def served_link(kind: str, key: str) -> str:
    """Links on the served pages: raw JSON under /api/..."""
    return {"model": f"/api/models/{key}", "data": f"/api/data/{key}", "monitor": f"/api/monitor/{key}",
            "registry": "/api/registry", "deployments": "/api/deployments", "monitor-history": "/api/monitor",
            "experiments": "/api/experiments", "runs": "/api/runs", "lineage": "/api/lineage", "compare": f"/compare?versions={key}",
            "dashboard": "/", "openapi": "/openapi.json"}[kind]


def file_link(params: dict, page: Path) -> Callable[[str, str], str]:
    """Links in the static report: the record files themselves, relative to the report."""
    paths, monitor = params["paths"], params["monitor"]

    def link(kind: str, key: str) -> str:
        target = {"model": f"{paths['models_dir']}/{MODEL_CARD.format(v=key)}", "data": f"{paths['processed_dir']}/{key}.json",
                  "monitor": f"{monitor['reports_dir']}/{key}.json", "registry": paths["registry"],
                  "deployments": params["deployment"]["deployment_log"], "monitor-history": monitor["monitor_log"],
                  "experiments": paths["experiments_log"], "runs": paths["runs_log"], "lineage": paths["manifest"]}.get(kind)
        if kind == "dashboard":
            return page.name
        return os.path.relpath(repo_path(target), page.parent) if target else ""
    return link
