"""How close the monitor's label-free estimates come to the truth, measured: `make bench-monitor`.

For each data set, in a throwaway copy of the project: the params' defaults (AI4I) and a second
table made by make synth's recipes from params' bench.monitor_table and declared by make init.
Each is trained, its scenarios simulated, and a period with a known shift replayed through the
real service on a free port: the untouched rows (`no_drift`), then every scenario whose truth is a
covariate drift, with its fresh rows, among them one the bench adds to move quality (with_tilt).
make monitor then judges the whole period in chunks of bench.monitor_min_rows, and again of
bench.monitor_wide_chunk, and each chunk's F1 estimated before labels is set against the F1 its
labels give: the error, whether it is within bench.monitor_tolerance (and how often an estimate that
knew each row's chance exactly would be), whether the realized value lies in the band, and whether
a realized drop past the limit was flagged (`estimated_f1`) from the probabilities alone. A label-free estimate assumes the labels
follow the readings as they did (calibration holds); a label shift or a concept drift breaks that,
so those scenarios are not replayed here. Writes logs/bench/monitor-<time>.json
(schemas/bench_monitor.schema.json) and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from scripts.core.config import ClockworkError, cli, error_line, load_params, read_yaml, repo_path
from scripts.core.contract import Contract
from scripts.core.store import compact_time, iter_lines, utc_now, write_json
from scripts.dev.sandbox import copy_repo, edit_params, free_port, stop_server, with_model
from scripts.pipeline.generate import synthesize


def make(work: Path, env: dict, *args: str) -> str:
    """One make target in the copy; a failure is an error naming it and its reason."""
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "CLOCKWORK_LOG": "WARNING", **env})
    if done.returncode:
        raise ClockworkError(f"make {' '.join(args)}: {error_line(done.stderr or done.stdout)}")
    return done.stdout


def period(params: dict) -> list[str]:
    """The replayed datasets: the untouched rows, then each covariate drift and its fresh rows."""
    shifts = [name for name, s in params["scenarios"]["list"].items() if s["truth"] == "covariate_drift" and name != "no_drift"]
    return ["no_drift", *[d for name in shifts for d in (name, f"{name}_fresh")]]


def replayed(work: Path, env: dict, params_file: str, tilt: dict) -> dict:
    """Train, add the tilt (with_tilt), simulate, replay the period through the service: the params the
    copy now reads, with the tilt."""
    make(work, env, "train")
    params = with_tilt(work, params_file, tilt)
    make(work, env, "simulate")
    make(work, env, "serve-bg", f"PORT={free_port()}")
    try:
        for dataset in period(params):
            make(work, env, "replay", f"DATASET={dataset}")
    finally:
        stop_server(work, work / params["deployment"]["pid_file"])
    return params


def monitored(work: Path, env: dict, params_file: str, size: int) -> dict:
    """make monitor over the replayed period in chunks of `size` (monitor.window in the copy): the report."""
    edit_params(work, lambda p: p["monitor"].update(window=size), params_file)
    out = make(work, env, "monitor")
    report = next(line.split("report:")[1].strip() for line in out.splitlines() if line.strip().startswith("report:"))
    return json.loads((work / report).read_text())


def measured(work: Path, env: dict, params_file: str, settings: dict, confidence: float) -> list[tuple[str, dict]]:
    """The period replayed (replayed), then judged in chunks of settings['monitor_min_rows'] and again in
    chunks of settings['monitor_wide_chunk']: each judged, with the tilt."""
    params = replayed(work, env, params_file, settings["monitor_tilt"])
    out, readings = [], None
    for size in (settings["monitor_min_rows"], settings["monitor_wide_chunk"]):
        report = monitored(work, env, params_file, size)
        if readings is None:  # the log is the same for every size: read once
            readings = model_readings(work / params["deployment"]["predictions_log"], report["model_version"])
        judged_ = judged(report, distinct_readings(readings, size), {**settings, "monitor_min_rows": size}, confidence)
        out.append((f"chunks of {size}", {**judged_, "chunk_size": size, "tilt": params["scenarios"]["list"]["tilt"]["tilt"]}))
    return out


def with_tilt(work: Path, params_file: str, tilt: dict) -> dict:
    """Add to the copy's params a covariate drift that moves quality, chosen the same way for any data
    set: rows drawn (faults.resample_tilt; tilt: its strength and share) along the numeric input most
    correlated with the label in the training rows, toward fewer positives, where precision and F1 fall
    while each row keeps its label, so calibration holds and the estimate can see the drop. The params
    the copy now reads."""
    params = read_yaml((work / params_file).read_text())
    contract = Contract.from_params(params["dataset"])
    meta = json.loads(max((work / params["paths"]["processed_dir"]).glob("v*.json")).read_text())
    train = pd.read_csv(work / meta["outputs"]["train"]["path"], usecols=[*contract.numeric_inputs, contract.label])
    correlation = {c: train[c].corr(train[contract.label]) for c in contract.numeric_inputs}
    column = max(correlation, key=lambda c: abs(correlation[c]) if pd.notna(correlation[c]) else -1)
    scenario = {"truth": "covariate_drift", "tilt": {"column": column, "share": tilt["share"],
                                                     "strength": -tilt["strength"] if correlation[column] > 0 else tilt["strength"]}}
    return edit_params(work, lambda p: p["scenarios"]["list"].update(tilt=scenario), params_file)


def model_readings(log: Path, version: str) -> list[str]:
    """The readings (the inputs the model saw) of each of the model's predictions, in order, as canonical text."""
    records = (json.loads(line) for _, line in iter_lines(log))
    return [json.dumps(r["inputs"], sort_keys=True) for r in records if r["model_version"] == version]


def distinct_readings(readings: list[str], size: int) -> dict[int, int]:
    """How many distinct readings each chunk of `size` predictions holds: a scenario that resamples rows
    with replacement repeats some rows, each with its label. Pure."""
    return {start // size: len(set(readings[start:start + size])) for start in range(0, len(readings), size)}


def beyond_if_exact(chunks: list[dict], tolerance: float, confidence: float) -> float:
    """How many of these chunks an estimate that knew each row's chance exactly would still miss by more
    than tolerance. Each chunk's band and interval (their central `confidence` shares) are read as normal
    spreads; the band's less the interval's (the calibrator's) leaves the labels' own, whose chances of
    a miss are summed. Pure."""
    from statistics import NormalDist

    unit = NormalDist()
    z = unit.inv_cdf(1 - (1 - confidence) / 2)
    misses = 0.0
    for chunk in chunks:
        band, interval = (((c[1] - c[0]) / 2 / z) ** 2 for c in (chunk["band"], chunk["interval"]))
        noise = max(band - interval, 0.0) ** 0.5
        misses += 2 * (1 - unit.cdf(tolerance / noise)) if noise > 0 else 0.0
    return round(misses, 1)


def judged(report: dict, distinct: dict[int, int], settings: dict, confidence: float) -> dict:
    """Each complete chunk (of at least settings['monitor_min_rows']) with its estimated F1 against its
    realized F1, and the summary: the error, how many chunks are within settings['monitor_tolerance'] and
    how many an exact estimate would miss by more (beyond_if_exact), the band's share, the drops flagged.
    distinct: each chunk's distinct readings (the band's share is also given over the chunks that repeat
    none). Pure."""
    limit, tolerance = report["history"]["f1_limit"], settings["monitor_tolerance"]
    rows = []
    for chunk in report["chunks"]:
        f1 = (chunk["estimated"] or {}).get("f1")
        realized = (chunk.get("realized") or {}).get("f1")
        if chunk["rows"] < settings["monitor_min_rows"] or f1 is None or realized is None:
            continue
        rows.append({"chunk": chunk["index"], "rows": chunk["rows"], "estimated": f1["value"], "interval": f1["interval"],
                     "band": f1["band"], "realized": realized, "error": round(abs(f1["value"] - realized), 6),
                     "inside": f1["band"][0] <= realized <= f1["band"][1], "dropped": realized < limit,
                     "flagged": "estimated_f1" in chunk["alerts"], "distinct_rows": distinct.get(chunk["index"], 0)})
    dropped = [r for r in rows if r["dropped"]]
    unrepeated = [r for r in rows if r["distinct_rows"] == r["rows"]]
    return {"f1_limit": limit, "chunks": rows,
            "mean_error": round(sum(r["error"] for r in rows) / len(rows), 6) if rows else None,
            "max_error": max((r["error"] for r in rows), default=None),
            "band_half_width": round(float(np.median([(r["band"][1] - r["band"][0]) / 2 for r in rows])), 6) if rows else None,
            "tolerance": tolerance, "within_tolerance": sum(r["error"] <= tolerance for r in rows),
            "beyond_if_exact": beyond_if_exact(rows, tolerance, confidence),
            "inside_share": round(sum(r["inside"] for r in rows) / len(rows), 6) if rows else None,
            "unrepeated_chunks": len(unrepeated),
            "unrepeated_inside_share": round(sum(r["inside"] for r in unrepeated) / len(unrepeated), 6) if unrepeated else None,
            "drops": len(dropped), "drops_flagged": sum(r["flagged"] for r in dropped),
            "false_flags": sum(r["flagged"] and not r["dropped"] for r in rows)}


def second_table(work: Path, settings: dict) -> dict:
    """The second data set: its CSV made by the synth recipes, declared by make init; the env to use it."""
    frame = synthesize(settings["rows"], settings["seed"], settings["columns"], pd.DataFrame())
    source = work / "bench-table.csv"
    frame.to_csv(source, index=False)
    make(work, {}, "init", f"RAW={source}", f"TARGET={settings['target']}", f"POSITIVE={settings['positive']}",
         f"ID={settings['id']}", "PARAMS=bench-table.yaml")
    return {"CLOCKWORK_PARAMS": "bench-table.yaml"}


def table(doc: dict) -> str:
    """The summary of each data set and chunk size, one row each ('-' where no chunk was judged)."""
    lines = ["| data set | chunks | mean abs error, F1 | max | chunks within the tolerance | "
             "the band's half-width (median) | realized inside the band | the same, chunks with no repeated row | "
             "drops past the limit flagged before labels | flags without a drop |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in doc["datasets"].items():
        shares = ["-" if v is None else f"{v:.0%}" for v in (r["inside_share"], r["unrepeated_inside_share"])]
        exact = round(len(r["chunks"]) - r["beyond_if_exact"], 1)
        within = f"{r['within_tolerance']} within {r['tolerance']:g} (an exact estimate: about {exact:g})"
        figures = ["-" if r[k] is None else r[k] for k in ("mean_error", "max_error", "band_half_width")]
        lines.append(f"| {name} | {len(r['chunks'])} | {figures[0]} | {figures[1]} | {within} | "
                     f"{figures[2]} | {shares[0]} | {shares[1]} of {r['unrepeated_chunks']} | "
                     f"{r['drops_flagged']} of {r['drops']} | {r['false_flags']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a light forest and a small second table, for CI: proves "
                        "the benchmark runs, measures nothing worth quoting")
    args = parser.parse_args(argv)
    params = load_params()
    settings = params["bench"]
    if args.smoke:
        settings = {**settings, "monitor_table": {**settings["monitor_table"], "rows": settings["monitor_smoke_rows"]}}
    doc: dict = {"kind": "bench_monitor", "started_at": utc_now(), "smoke": args.smoke,
                 "min_rows": settings["monitor_min_rows"], "datasets": {}}
    with tempfile.TemporaryDirectory(prefix="clockwork-bench-monitor-") as tmp:
        work = copy_repo(Path(tmp) / "repo")
        if args.smoke:  # the second table's params are made from these, so it trains the same light forest
            with_model(work, settings["smoke_model"])
        confidence = params["monitor"]["estimate"]["confidence"]
        for sizes, result in measured(work, {}, "params.yaml", settings, confidence):
            doc["datasets"][f"ai4i (params.yaml), {sizes}"] = result
        env = second_table(work, settings["monitor_table"])
        for sizes, result in measured(work, env, "bench-table.yaml", settings, confidence):
            doc["datasets"][f"synthetic loans (bench.monitor_table), {sizes}"] = result
    out = repo_path(params["paths"]["logs_dir"]) / "bench" / f"monitor-{compact_time(doc['started_at'])}.json"
    write_json(out, doc, "bench_monitor")
    print(table(doc))
    print(f"wrote {out.relative_to(repo_path('.'))}")
    return 0


if __name__ == "__main__":
    cli(main)
