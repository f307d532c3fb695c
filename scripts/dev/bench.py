"""`make bench`: pipeline overhead, the monitor at scale, and model quality per training cost.

Everything runs in a throwaway copy of the repository (sources copied, .venv linked), so
the user's versions, registry and logs are never touched:
1. pipeline: a full `make train`; a no-op `make train` (target < 0.2 s, no Python started);
   `make train` after a `touch` of the raw file (one hash pass, no rebuild); and, as the
   reference, the same stage scripts run directly without make. Then the edit-and-rebuild loop
   (one hyperparameter changed), warm and cold, against its in-process floor (bench_loop.py).
2. monitor: `make monitor` over N logged predictions with labels (default 1,000,000) in chunks
   of bench.monitor_chunk, every chunk measured: time and peak RSS (targets < 10 s, < 1 GB); then
   again after bench.monitor_new more predictions, when only the new chunk is measured.
3. quality per cost: F1 on the held-out test set against training time, per algorithm.
Writes logs/bench/bench-<timestamp>.json, checked against schemas/bench.schema.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.core.config import ROOT, ClockworkError, cli, load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.store import compact_time, sha256_file, write_json
from scripts.dev.bench_loop import loop_section
from scripts.dev.sandbox import copy_repo, edit_params, with_model

log = logging.getLogger("clockwork.bench")
# Runs a module and says its peak memory on stderr: its own (PEAK_RSS_KB) and with its workers' (PEAK_TREE_KB).
PEAK = ["-m", "scripts.dev.peak"]


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str, str]:
    """(seconds, stdout, stderr) of one command, which must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    if done.returncode:
        said = [line for line in done.stderr.strip().splitlines() if not line.startswith("PEAK_")] or ["no output"]
        raise ClockworkError(f"{' '.join(command[-3:])} failed: {said[-1]}")
    return seconds, done.stdout, done.stderr


def pipeline_section(work: Path, repeats: int) -> dict:
    quiet = {"CLOCKWORK_LOG": "WARNING"}
    full, _, _ = timed(["make", "train"], work, quiet)
    noop = [timed(["make", "train", "PY=false"], work)[0] for _ in range(repeats)]
    os.utime(work / "data/raw/ai4i2020.csv")
    touched, _, out = timed(["make", "train"], work, quiet)
    rebuilt = [line for line in out.splitlines() if line.startswith(">> ")]
    direct_dir = copy_repo(work.parent / "direct")
    py, out_dir = str(direct_dir / ".venv/bin/python"), direct_dir / ".make/out"
    out_dir.mkdir(parents=True)
    stages = [["-m", "scripts.pipeline.prepare", "--out", str(out_dir / "prepare")],
              ["-m", "scripts.pipeline.train", "--data", str(out_dir / "prepare"), "--out", str(out_dir / "train")],
              ["-m", "scripts.pipeline.evaluate", "--model", str(out_dir / "train"), "--out", str(out_dir / "evaluate")],
              ["-m", "scripts.pipeline.register", "--model", str(out_dir / "evaluate")]]
    direct = sum(timed([py, *stage], direct_dir, quiet)[0] for stage in stages)
    return {"full_build_s": round(full, 3), "noop_median_s": round(statistics.median(noop), 4),
            "noop_max_s": round(max(noop), 4), "noop_starts_python": False,
            "after_touch_s": round(touched, 3), "after_touch_rebuilt_stages": [s[3:] for s in rebuilt],
            "direct_scripts_s": round(direct, 3), "make_overhead_s": round(full - direct, 3)}


def scale_section(rows: list[int], scale_model: dict, base: Path) -> list[dict]:
    """The whole pipeline on synthetic raw files: each stage's time and peak RSS, then make's
    no-op and after-touch cost at that size."""
    out = []
    for n in rows:
        work = copy_repo(base / f"scale-{n}")
        quiet = {"CLOCKWORK_LOG": "WARNING"}
        py = str(work / ".venv/bin/python")
        _, text, _ = timed([py, "-m", "scripts.pipeline.synth", "--rows", str(n)], work, quiet)
        raw = next(line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith("paths.raw:"))
        window = int(n * 0.7)
        data = {"raw_sha256": sha256_file(work / raw), "train_window_rows": window, "test_rows": int(window * 0.2),
                "production_rows": n - window}
        edit_params(work, lambda params, raw=raw, data=data: (params["paths"].update(raw=raw), params["data"].update(data),
                                                              params["model"].update(scale_model)))
        pointers = work / ".make/out"
        pointers.mkdir(parents=True)
        stages = {"prepare": ["scripts.pipeline.prepare", "--out", str(pointers / "prepare")],
                  "train": ["scripts.pipeline.train", "--data", str(pointers / "prepare"), "--out", str(pointers / "train")],
                  "evaluate": ["scripts.pipeline.evaluate", "--model", str(pointers / "train"), "--out", str(pointers / "evaluate")],
                  "register": ["scripts.pipeline.register", "--model", str(pointers / "evaluate")]}
        row: dict = {"rows": n, "raw_mb": round((work / raw).stat().st_size / 2**20, 1), "stages": {}}
        for name, argv in stages.items():
            seconds, _, err = timed([py, *PEAK, *argv], work, quiet)
            row["stages"][name] = {"seconds": round(seconds, 3), "peak_rss_mb": _peak_mb(err)}
        timed(["make", "train"], work, quiet)  # a first make run builds the stamps (versions are reused)
        noop = [timed(["make", "train", "PY=false"], work)[0] for _ in range(5)]
        os.utime(work / raw)
        touched, text, _ = timed(["make", "train"], work, quiet)
        row.update({"noop_median_s": round(statistics.median(noop), 4), "after_touch_s": round(touched, 3),
                    "after_touch_rebuilt_stages": [line[3:] for line in text.splitlines() if line.startswith(">> ")]})
        out.append(row)
        shutil.rmtree(work)
    return out


def _peak_mb(stderr: str, figure: str = "PEAK_RSS_KB") -> float:
    return round(int(next(line.split()[1] for line in stderr.splitlines() if line.startswith(figure))) / 1024, 1)


def synth_logs(work: Path, params: dict, n: int, first: int = 0) -> None:
    """n prediction lines of the production model (numbered from `first`), and a label for each, as the
    server and replay write them, appended to the logs."""
    registry = json.loads((work / params["paths"]["registry"]).read_text())
    version = registry["aliases"]["production"]
    predictions, labels = work / params["deployment"]["predictions_log"], work / params["replay"]["labels_log"]
    predictions.parent.mkdir(parents=True, exist_ok=True)
    base = {"time": "2026-01-01T00:00:00.000000Z", "endpoint": "predict", "model_version": version, "threshold": 0.5,
            "latency_ms": 1.0}
    contract = Contract.from_params(params["dataset"])
    key = contract.id.name if contract.id else None
    with open(predictions, "a") as p_out, open(labels, "a") as l_out:
        for i in range(first, first + n):
            reading = varied(contract, i)
            pid = f"r{i // 10}-{i % 10}"
            p_out.write(json.dumps({**base, "request_id": f"r{i // 10}", "prediction_id": pid, "inputs": reading,
                                    "failure_probability": 0.9 if i % 37 == 0 else 0.01, "prediction": int(i % 37 == 0)},
                                   separators=(",", ":")) + "\n")
            l_out.write(json.dumps({"dataset": "synthetic", "label": int(i % 41 == 0), "prediction_id": pid, "time": base["time"],
                                    **({key: i} if key else {})}, separators=(",", ":"), sort_keys=True) + "\n")


def varied(contract: Contract, i: int) -> dict:
    """Reading i of a synthetic stream: each input cycles through its values, or across its range."""
    out: dict = {}
    for k, column in enumerate(contract.inputs):
        if column.kind == "boolean":
            out[column.name] = i % 2 == 0
        elif column.values:
            out[column.name] = column.values[i % len(column.values)]
        else:
            low, high = column.range or (0.0, 100.0)
            value = low + (high - low) * ((i * (k + 3)) % 97) / 97
            out[column.name] = int(value) if column.kind == "integer" else round(value, 3)
    return out


def monitor_section(work: Path, n: int, new: int, chunk: int) -> dict:
    """make monitor over n predictions in chunks of `chunk`, every chunk measured; then again after `new`
    more predictions, when only the new chunk is."""
    params = edit_params(work, lambda p: p["monitor"].update(window=chunk, max_chunks=max(1, -(-(n + new) // chunk))))
    synth_logs(work, params, n)
    first = _monitor_run(work, params)
    synth_logs(work, params, new, first=n)
    after = _monitor_run(work, params)
    return {"predictions": n, "chunk_size": chunk, "seconds": first["seconds"], "peak_rss_mb": first["peak_rss_mb"],
            "peak_tree_mb": first["peak_tree_mb"], "verdict": first["verdict"], "chunks_measured": first["measured"],
            "after_new": {"new_predictions": new, "seconds": after["seconds"], "peak_rss_mb": after["peak_rss_mb"],
                          "peak_tree_mb": after["peak_tree_mb"],
                          "chunks_measured": after["measured"], "chunks_reused": after["reused"]}}


def _monitor_run(work: Path, params: dict) -> dict:
    """One make-monitor run's time, peak memory, verdict and chunk counts (from the report it wrote)."""
    seconds, out, err = timed([str(work / ".venv/bin/python"), *PEAK, "scripts.monitoring.monitor"], work, {"CLOCKWORK_LOG": "WARNING"})
    verdict = next((line.split("verdict:")[1].split()[0] for line in out.splitlines() if "verdict:" in line), "?")
    report = next(line.split("report:")[1].strip() for line in out.splitlines() if line.strip().startswith("report:"))
    history = json.loads((work / report).read_text())["history"]
    return {"seconds": round(seconds, 3), "peak_rss_mb": _peak_mb(err), "peak_tree_mb": _peak_mb(err, "PEAK_TREE_KB"), "verdict": verdict,
            "measured": history["measured"], "reused": history["reused"]}


def quality_section(params: dict, work: Path) -> list[dict]:
    """F1 against training time for each algorithm, on the copy's data version."""
    import pandas as pd

    from scripts.core import features as F
    from scripts.core.estimator import ALGORITHMS, fit
    from scripts.core.metrics import score

    meta = json.loads(next((work / params["paths"]["processed_dir"]).glob("v*.json")).read_text())
    train_frame = pd.read_csv(work / meta["outputs"]["train"]["path"])
    test_frame = pd.read_csv(work / meta["outputs"]["test"]["path"])
    rows = []
    for algorithm in ALGORITHMS:
        model = {**params["model"], "algorithm": algorithm}
        started = time.perf_counter()
        feature_spec = F.spec(Contract.from_params(params["dataset"]), params["features"])
        pipeline = fit(train_frame, feature_spec, model)
        seconds = time.perf_counter() - started
        metrics = score(pipeline, test_frame, model["threshold"], feature_spec["label"])
        rows.append({"algorithm": algorithm, "train_seconds": round(seconds, 3), "f1": metrics["f1"],
                     "recall": metrics["recall"], "precision": metrics["precision"], "train_rows": len(train_frame)})
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: proves the suite runs, times nothing")
    parser.add_argument("--predictions", type=int, default=1_000_000, help="logged predictions for the monitor section")
    parser.add_argument("--scale", action="store_true", help="also run the pipeline at bench.scale_rows (slow: minutes)")
    args = parser.parse_args(argv)
    params = load_params()
    n = 5000 if args.smoke else args.predictions
    started = compact_time()
    with tempfile.TemporaryDirectory(prefix="clockwork-bench-") as tmp:
        work = copy_repo(Path(tmp) / "repo")
        if args.smoke:  # a light forest: the smoke run proves the benchmarks run, it times nothing
            params = with_model(work, params["bench"]["smoke_model"])
        doc = {"kind": "bench", "started_at": started, "smoke": args.smoke,
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
               "pipeline": pipeline_section(work, 3 if args.smoke else 10)}
        doc.update({"loop": loop_section(work, 1 if args.smoke else 5, doc["pipeline"]["full_build_s"], timed),
               "monitor": monitor_section(work, n, *((1000, 1000) if args.smoke else
                                                      (params["bench"]["monitor_new"], params["bench"]["monitor_chunk"]))),
               "quality_per_cost": quality_section(params, work)})
        if args.scale or args.smoke:
            sizes = [2000] if args.smoke else params["bench"]["scale_rows"]
            doc["scale"] = scale_section(sizes, params["bench"]["scale_model"], Path(tmp))
    out = repo_path(params["paths"]["logs_dir"]) / "bench" / f"bench-{started}.json"
    write_json(out, doc, "bench")
    print(json.dumps({k: doc[k] for k in ("pipeline", "loop", "monitor", "quality_per_cost", "scale") if k in doc}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    cli(main)
