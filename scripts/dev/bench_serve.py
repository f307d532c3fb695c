"""`make bench-serve`: measure the prediction service against the model's own predict time.

Starts the real server (gunicorn) on a free port, once with one worker and once with the
configured number, and measures from separate client processes:
- the floor: the production Pipeline's in-process predict_proba for one row;
- single-reading latency p50/p99 over keep-alive and over fresh connections;
- requests per second with 1 and 8 concurrent clients, for each worker count;
- batch throughput for the production window (3000 rows) in one request;
- with the configured workers, that batch through each protocol against the Pipeline's in-process
  predict_proba on the same rows, and one request of deployment.max_batch rows (bench_batch.py);
- the server's RSS (master + workers);
- with the configured workers, normal traffic while 200 slow clients hold connections, and while 2,000
  idle connections are held open (bench_slow.py).
Writes logs/bench/serve-<timestamp>.json, checked against schemas/bench_serve.schema.json.
The benchmark server logs to a throwaway directory: its traffic never reaches the production
prediction and deployment logs.
Figures are paired with the floor measured in the same run: ratios are what count.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scripts.core import registry as R
from scripts.core.artifacts import load_split, read_data_meta
from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.store import compact_time, write_json
from scripts.dev import bench_batch, bench_slow
from scripts.dev.sandbox import free_port
from scripts.serving.process import wait_ready

log = logging.getLogger("clockwork.bench")
HEADERS = {"Content-Type": "application/json"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def predict_once_ms(pipeline, reading: dict) -> float:
    """One in-process predict_proba for one row, DataFrame construction included: the floor."""
    import pandas as pd

    started = time.perf_counter()
    pipeline.predict_proba(pd.DataFrame.from_records([reading], columns=list(reading)))
    return (time.perf_counter() - started) * 1000


def paired_latencies(port: int, pipeline, n: int, keep_alive: bool, reading: dict) -> tuple[list[float], list[float]]:
    """Alternate one HTTP request with one in-process predict of the same reading, so both see the same
    machine noise.

    Returns (server latencies, floor samples), in ms.
    """
    body = json.dumps(reading)
    server, floor = [], []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(n):
        floor.append(predict_once_ms(pipeline, reading))
        if not keep_alive:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        connection.request("POST", "/predict", body, HEADERS)
        response = connection.getresponse()
        response.read()
        server.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise ClockworkError(f"bench request answered {response.status}")
        if not keep_alive:
            connection.close()
    return server, floor


def _client(port: int, seconds: float, counter, body: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        connection.request("POST", "/predict", body, HEADERS)
        response = connection.getresponse()
        response.read()
        done += response.status == 200
    with counter.get_lock():
        counter.value += done


def throughput(port: int, clients: int, seconds: float, body: str) -> float:
    """Requests per second from `clients` keep-alive client processes, each posting body again and again."""
    counter = multiprocessing.Value("i", 0)
    procs = [multiprocessing.Process(target=_client, args=(port, seconds, counter, body)) for _ in range(clients)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return counter.value / (time.perf_counter() - started)


def batch_rows_per_second(port: int, rows: list[dict], repeats: int) -> float:
    body = json.dumps({"instances": rows})
    best = None
    for _ in range(repeats):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        connection.request("POST", "/predict", body, HEADERS)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise ClockworkError(f"batch request answered {response.status}")
        best = elapsed if best is None else min(best, elapsed)
    return len(rows) / best


def rss_mb(master: int) -> float:
    """Resident memory of the server: the master and its children, from /proc."""
    pids = [master] + [int(p) for p in subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                                      text=True).stdout.split()]
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def isolated_params(params: dict, run_dir: str) -> Path:
    """A params file whose deployment logs, pid and metrics live in run_dir, so benchmark traffic
    never lands in the production prediction or deployment logs the monitor reads."""
    import yaml

    deployment = dict(params["deployment"])
    for key in ("predictions_log", "deployment_log", "pid_file", "server_log", "metrics_dir"):
        deployment[key] = f"{run_dir}/{Path(params['deployment'][key]).name}"
    path = repo_path(run_dir) / "params.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**params, "deployment": deployment}, sort_keys=False))
    return path


def start(workers: int, worker_class: str, timeout: float, params_file: Path) -> tuple[subprocess.Popen, int]:

    port = free_port()
    env = {**os.environ, "CLOCKWORK_LOG": "WARNING", "CLOCKWORK_PARAMS": str(params_file)}
    proc = subprocess.Popen([sys.executable, "-m", "scripts.serving.serve", "--port", str(port), "--workers", str(workers),
                             "--worker-class", worker_class],
                            cwd=repo_path("."), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if not wait_ready("127.0.0.1", port, timeout, lambda: proc.poll() is None):
        proc.terminate()
        raise ClockworkError(f"bench server with {workers} worker(s) did not become ready")
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=60)


def run(params: dict, requests: int, seconds: float, smoke: bool, worker_class: str) -> dict:
    paths, deployment = params["paths"], params["deployment"]
    _, card = R.production_card(paths, "benchmark")
    version = card["version"]
    pipeline, card = R.load_registered(paths, version)
    production = load_split(read_data_meta(paths, card["data"]["version"]), "production")
    rows = production[card["features"]["inputs"]].to_dict("records")
    reading, body = rows[0], json.dumps(rows[0])  # the production window's first reading
    result = {"model_version": version, "algorithm": card["algorithm"], "params": card["params"],
              "worker_class": worker_class, "by_workers": {}}
    counts = sorted({1, deployment["workers"]})
    run_dir = f"{paths['logs_dir']}/bench/.serve-run-{os.getpid()}"
    params_file = isolated_params(params, run_dir)
    for workers in counts:
        proc, port = start(workers, worker_class, deployment["ready_timeout_s"], params_file)
        try:
            paired_latencies(port, pipeline, 10, True, reading)  # warm-up
            keep, floor_samples = paired_latencies(port, pipeline, requests, True, reading)
            fresh, _ = paired_latencies(port, pipeline, max(10, requests // 3), False, reading)
            floor = statistics.median(floor_samples)
            entry = {
                "floor_ms": round(floor, 3),
                "p50_ms": round(percentile(keep, 0.5), 3), "p99_ms": round(percentile(keep, 0.99), 3),
                "fresh_connection_p50_ms": round(percentile(fresh, 0.5), 3),
                "fresh_connection_p99_ms": round(percentile(fresh, 0.99), 3),
                "rps_1_client": round(throughput(port, 1, seconds, body), 1),
                "rps_8_clients": round(throughput(port, 8, seconds, body), 1),
                "batch_rows": len(rows),
                "batch_rows_per_second": round(batch_rows_per_second(port, rows, 1 if smoke else 3), 1),
                "rss_mb": rss_mb(proc.pid),
            }
            if workers == counts[-1]:
                result["batch"] = bench_batch.compare(port, pipeline, rows, 3 if smoke else 15, deployment["model_name"])
                result["large_batch"] = bench_batch.large(port, proc.pid, rows, 10 * len(rows) if smoke else
                                                          deployment["max_batch"])
                result["slow_clients"] = bench_slow.slow_clients(port, 20 if smoke else 200, 2.0 if smoke else 30.0, body)
                result["idle_clients"] = bench_slow.idle_clients(port, 50 if smoke else 2000, 2.0 if smoke else 15.0, body)
        finally:
            stop(proc)
        entry["p50_over_floor_ms"] = round(entry["p50_ms"] - floor, 3)
        entry["p50_over_floor_ratio"] = round(entry["p50_ms"] / floor, 3)
        result["by_workers"][str(workers)] = entry
    shutil.rmtree(repo_path(run_dir), ignore_errors=True)  # the benchmark's own traffic logs
    top = result["by_workers"][str(counts[-1])]
    result["summary"] = {
        "workers": counts[-1], "p50_ms": top["p50_ms"], "p99_ms": top["p99_ms"], "floor_ms": top["floor_ms"],
        "p50_within_2ms_of_floor": top["p50_over_floor_ms"] <= 2.0,
        "rps_8_clients_growth_over_1_worker": round(top["rps_8_clients"] / result["by_workers"]["1"]["rps_8_clients"], 3),
    }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: proves the suite runs, times nothing")
    parser.add_argument("--worker-class", choices=["sync", "gthread", "gevent"], help="override deployment.worker_class")
    args = parser.parse_args(argv)
    params = load_params()
    requests, seconds = (30, 0.5) if args.smoke else (400, 5.0)
    started = compact_time()
    doc = {"kind": "serve", "started_at": started, "smoke": args.smoke,
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "settings": {"requests": requests, "seconds_per_throughput_run": seconds},
           **run(params, requests, seconds, args.smoke, args.worker_class or params["deployment"]["worker_class"])}
    out = repo_path(params["paths"]["logs_dir"]) / "bench" / f"serve-{started}.json"
    write_json(out, doc, "bench_serve")
    print(json.dumps(doc["summary"], indent=2))
    print(f"wrote {out.relative_to(repo_path('.'))}")
    return 0


if __name__ == "__main__":
    cli(main)
