"""`make scenarios`: the whole production loop on each scenario in params, as one table.

For each scenario (params `scenarios.list`; ONLY=a,b runs some), from the first production
model each time, through the same make targets a user runs: replay the scenario's rows to the
running server (labels arrive with them), monitor, and answer the verdict with make retrain
(which refuses a sensor fault, and promotes only what passes the gates). Then it scores, on
the same rows for every scenario:
- F1 before: the first production model on the untouched rows;
- F1 during: that model on the rows with the scenario's change;
- F1 after: the production model after the action on the fresh rows with the same change;
- reference F1: the production model after the action on the reference rows, against the first
  model's on the same rows. They are the rows that model was judged on: the first model's test
  split, or after a concept drift the new reference epoch's rows (recent labelled rows, which
  follow the new relation); its F1 on the original rows is kept beside it.
It writes one schema-checked JSON per run (`scenarios.out_dir`/<time>.json) and prints the table with the targets.
It runs in a throwaway copy of the project (its sources and built state, none of its logs), on a
free port unless PORT= says which, and leaves the project as it was but for the one new result file;
KEEP=1 keeps the copy. Inside the copy, each scenario's logs are moved to logs/archive/<time>/ before
the next.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from scripts.core import registry as R
from scripts.core.artifacts import label_of, load_split, read_card, read_data_meta
from scripts.core.config import ClockworkError, cli, error_line, load_params, port_number, repo_path
from scripts.core.contract import Contract
from scripts.core.metrics import score
from scripts.core.reports import read_report
from scripts.core.store import compact_time, sha256_obj, utc_now, write_json
from scripts.dev.loop import Demo
from scripts.dev.sandbox import free_port, run_in_copy

TARGET_REFERENCE_DROP = "no scenario ends with a production model whose reference F1 is more than {:.2f} below the first model's"


def f1_of(paths: dict, version: str, frame: pd.DataFrame) -> float | None:
    """A registered version's F1 on these rows (its artifact checked against its sha256 first)."""
    pipeline, card = R.load_registered(paths, version)
    return score(pipeline, frame, card["threshold"], label_of(paths, card))["f1"]


def action_taken(loop: Demo, verdict: str) -> str:
    """What the loop does with a verdict: nothing, a refused retrain, or a retrain and its outcome."""
    if verdict != "retrain_required":
        return f"none ({verdict})"
    done = loop.attempt("retrain")
    if done.returncode:
        reason = error_line(done.stderr)
        return "retrain refused: sensor fault" if "sensor fault" in reason else f"retrain failed: {reason}"
    outcome = [line for line in done.stdout.splitlines() if line.startswith("retrain: ")][-1]
    return outcome.removeprefix("retrain: ").split(": failed")[0]


def run_one(loop: Demo, name: str, scenario: dict, frames: dict, base: str) -> dict:
    """One scenario through the loop, from the first production model, and its figures."""
    paths = loop.params["paths"]
    if loop.production() != base:
        loop.make("promote", f"VERSION={base}", f"REASON=scenarios: {name} starts from the first production model")
        time.sleep(loop.params["deployment"]["reload_interval_s"] * 2 + 0.5)  # let every worker swap back
    loop.archive_logs()
    loop.make("replay", f"DATASET={name}")
    loop.make("monitor")
    row = loop.last_monitor()
    report = read_report(loop.params["monitor"], row["report_id"])
    diagnosis = report["diagnosis"]
    action = action_taken(loop, report["verdict"])
    after = loop.production()
    named = sorted(s["sensor"] for s in diagnosis["suspect_sensors"])
    truth = sorted(scenario.get("sensors", []))
    return {
        "scenario": name, "truth": scenario["truth"], "truth_sensors": truth, "verdict": report["verdict"],
        "diagnosis": diagnosis["kind"], "suspect_sensors": named,
        "correct": diagnosis["kind"] == scenario["truth"] and named == truth,
        "action": action, "production_after": after,
        "f1": {"before": f1_of(paths, base, frames["clean"]), "during": f1_of(paths, base, frames[name]),
               "after": f1_of(paths, after, frames[name + "_fresh"])},
        "reference_f1": reference_figures(paths, (base, after), frames["reference"], list(frames["reference"].columns)),
    }


def reference_figures(paths: dict, models: tuple[str, str], original: pd.DataFrame, columns: list[str]) -> dict:
    """Both models' F1 on the reference rows the model after the action was judged on (a new epoch's
    after a concept drift, else the first model's), and the model after on the original ones (columns:
    what scoring reads)."""
    base, after = models
    reference = R.load(paths)["versions"][after].get("reference") or {}
    rows, where = original, {"data_version": read_card(paths, base)["data"]["version"], "rows": len(original), "epoch": False}
    if reference.get("epoch"):
        rows = load_split(read_data_meta(paths, reference["data_version"]), "test", columns)
        where = {k: reference[k] for k in ("data_version", "rows", "epoch")}
    return {"rows": where, "first_model": f1_of(paths, base, rows), "after": f1_of(paths, after, rows),
            "original_after": f1_of(paths, after, original)}


def targets(rows: list[dict], max_drop: float, max_concept_gap: float) -> list[dict]:
    """The suite's targets, each with whether it held and which scenarios broke it. Pure."""
    faults = [r for r in rows if r["truth"] == "sensor_fault"]
    dropped = [r["scenario"] for r in rows if r["reference_f1"]["after"] is not None and r["reference_f1"]["first_model"]
               is not None and r["reference_f1"]["first_model"] - r["reference_f1"]["after"] > max_drop]
    concept = [r for r in rows if r["truth"] == "concept_drift"]
    unrecovered = [r["scenario"] for r in concept if r["f1"]["after"] is None or r["f1"]["before"] - r["f1"]["after"] > max_concept_gap]
    return [
        {"target": "every sensor fault diagnosed, the right sensors named and no innocent one",
         "held": all(r["correct"] for r in faults), "broken_by": [r["scenario"] for r in faults if not r["correct"]]},
        {"target": TARGET_REFERENCE_DROP.format(max_drop), "held": not dropped, "broken_by": dropped},
        {"target": f"after a concept drift, F1 on fresh rows within {max_concept_gap:.2f} of before",
         "held": not unrecovered, "broken_by": unrecovered},
    ]


def table(doc: dict) -> str:
    """The result as a Markdown table, then the targets."""
    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"
    lines = ["| scenario | truth | diagnosis | sensors named | right | action | F1 before | during | after | "
             "reference F1 after (first model) | reference rows |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["scenarios"]:
        lines.append(f"| {r['scenario']} | {r['truth']} | {r['diagnosis']} | {', '.join(r['suspect_sensors']) or '-'} | "
                     f"{'yes' if r['correct'] else 'NO'} | {r['action']} | {f(r['f1']['before'])} | {f(r['f1']['during'])} | "
                     f"{f(r['f1']['after'])} | {f(r['reference_f1']['after'])} ({f(r['reference_f1']['first_model'])}) | "
                     f"{rows_text(r['reference_f1'])} |")
    lines.append("")
    lines += [f"- {'held' if t['held'] else 'BROKEN'}: {t['target']}" + (f" ({', '.join(t['broken_by'])})" if t["broken_by"] else "")
              for t in doc["targets"]]
    return "\n".join(lines)


def rows_text(reference: dict) -> str:
    """Which reference rows a row's figures are on. Pure."""
    rows = reference["rows"]
    if not rows["epoch"]:
        return f"{rows['data_version']} test ({rows['rows']})"
    return (f"new epoch: {rows['data_version']} test ({rows['rows']}); on the first model's rows "
            f"{reference['original_after']:.3f}")


def frames_for(loop: Demo, names: list[str], sims: Path, base: str) -> dict:
    """Every dataset the suite scores: each scenario's two, the untouched rows and the reference rows."""
    paths, settings = loop.params["paths"], loop.params["scenarios"]
    known = json.loads(sims.read_text())
    frames = {n: pd.read_csv(repo_path(known[n])) for name in names for n in (name, name + "_fresh")}
    meta = read_data_meta(paths, read_card(paths, base)["data"]["version"])
    start, end = settings["rows"]
    scored = Contract.from_params(loop.params["dataset"]).scored
    frames["clean"] = load_split(meta, "production", scored).iloc[start:end]
    frames["reference"] = load_split(meta, "test", scored)
    return frames


def chosen(only: str | None, scenarios: dict) -> list[str]:
    """The scenarios ONLY= names (all when unset), or one line naming the unknown ones. Pure."""
    names = [n.strip() for n in only.split(",") if n.strip()] if only else list(scenarios)
    unknown = [n for n in names if n not in scenarios]
    if unknown or not names:
        raise ClockworkError(f"ONLY={only}: unknown scenario {', '.join(unknown) or '(none named)'} "
                             f"(known: {', '.join(scenarios)})")
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=port_number, help="override deployment.port")
    parser.add_argument("--only", help="comma-separated scenario names (default: all)")
    parser.add_argument("--sims", type=Path, required=True, help="make's simulate pointer (dataset -> file)")
    parser.add_argument("--make", default=os.environ.get("MAKE", "make"))
    parser.add_argument("--keep", action="store_true", help="keep the throwaway copy it runs in")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # inside the copy
    args = parser.parse_args(argv)
    params = load_params()
    scenarios = params["scenarios"]["list"]
    names = chosen(args.only, scenarios)
    if not args.here:
        inner = ["--here", "--sims", str(args.sims), "--only", ",".join(names), "--port", str(args.port or free_port())]
        return run_in_copy("scenarios", "scripts.dev.scenarios", inner, args.keep, params["scenarios"]["out_dir"])
    loop = Demo(params, args.make, args.port)
    loop.check_no_server()
    loop.make("train")
    loop.make("simulate")
    stack = R.production_stack(R.load(params["paths"])["history"])
    base = stack[0] if stack else loop.production()
    frames = frames_for(loop, names, args.sims, base)
    print(f"scenarios: {', '.join(names)} (each from {base})")
    loop.make("serve-bg")
    rows = []
    try:
        for name in names:
            rows.append(run_one(loop, name, scenarios[name], frames, base))
            print(f"  {name}: diagnosis {rows[-1]['diagnosis']}, {rows[-1]['action']}", flush=True)
    finally:
        loop.make("stop")
    limits = params["scenarios"]["targets"]
    created = utc_now()
    doc = {"created_at": created, "first_model": base, "params_sha256": sha256_obj(params["scenarios"]),
           "scenarios": rows, "targets": targets(rows, limits["max_reference_drop"], limits["max_concept_gap"])}
    out = repo_path(params["scenarios"]["out_dir"]) / f"{compact_time(created)}.json"
    write_json(out, doc, "scenarios")
    print(table(doc))
    print(f"written to {out.relative_to(repo_path('.'))}")
    return 0


if __name__ == "__main__":
    cli(main)
