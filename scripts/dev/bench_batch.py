"""Batch scoring against the model's own time, for `make bench-serve`.

The same rows go through POST /predict (instances), /invocations (dataframe_split, as MLflow's
client sends a DataFrame) and the Open Inference Protocol's /v2/models/<name>/infer, each request
interleaved with the production Pipeline's in-process predict_proba on a DataFrame of those rows
(built once, outside the timing), so both see the same machine noise. Then one request of
`large_rows` rows, with the workers' peak resident memory before and after it.
"""
from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import time
from pathlib import Path

from scripts.core.config import ClockworkError

HEADERS = {"Content-Type": "application/json"}


def bodies(rows: list[dict], model_name: str) -> dict[str, tuple[str, bytes]]:
    """Each protocol's request for the rows: endpoint name -> (path, JSON body)."""
    columns = list(rows[0])  # the model's inputs, in order

    def datatype(value: object) -> str:
        return "BYTES" if isinstance(value, str) else "BOOL" if isinstance(value, bool) else "FP64"
    split = {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}
    tensors = [{"name": c, "datatype": datatype(rows[0][c]), "shape": [len(rows)], "data": [r[c] for r in rows]}
               for c in columns]
    return {"predict": ("/predict", json.dumps({"instances": rows}).encode()),
            "invocations": ("/invocations", json.dumps({"dataframe_split": split}).encode()),
            "infer": (f"/v2/models/{model_name}/infer", json.dumps({"inputs": tensors}).encode())}


def post_ms(port: int, path: str, body: bytes) -> float:
    """One request on a fresh connection, until the whole answer is read, in ms."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    connection.request("POST", path, body, HEADERS)
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    if response.status != 200:
        raise ClockworkError(f"batch request to {path} answered {response.status}")
    return elapsed


def compare(port: int, pipeline, rows: list[dict], repeats: int, model_name: str) -> dict:
    """Median ms of each endpoint and of the in-process predict_proba on the same rows, interleaved."""
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(rows[0]))
    requests = bodies(rows, model_name)
    samples: dict[str, list[float]] = {"predict_proba": [], **{name: [] for name in requests}}
    for path, body in requests.values():  # warm-up
        post_ms(port, path, body)
    for _ in range(repeats):
        started = time.perf_counter()
        pipeline.predict_proba(frame)
        samples["predict_proba"].append((time.perf_counter() - started) * 1000)
        for name, (path, body) in requests.items():
            samples[name].append(post_ms(port, path, body))
    floor = statistics.median(samples["predict_proba"])
    endpoints = {name: {"median_ms": round(statistics.median(samples[name]), 2),
                        "over_predict_proba": round(statistics.median(samples[name]) / floor, 3)} for name in requests}
    return {"rows": len(rows), "repeats": repeats, "predict_proba_ms": round(floor, 2), "endpoints": endpoints}


def workers_peak_rss_mb(master: int) -> float:
    """The largest peak resident memory (VmHWM) among the server's worker processes."""
    pids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    peaks = [0]
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]))
    return round(max(peaks) / 1024, 1)


def large(port: int, master: int, rows: list[dict], n: int) -> dict:
    """One /predict request of n rows (the given rows repeated): its time and the workers' peak memory."""
    many = [rows[i % len(rows)] for i in range(n)]
    path, body = bodies(many, "unused")["predict"]
    before = workers_peak_rss_mb(master)
    elapsed = post_ms(port, path, body)
    return {"rows": n, "body_mb": round(len(body) / 2 ** 20, 1), "ms": round(elapsed, 1),
            "worker_peak_rss_mb_before": before, "worker_peak_rss_mb_after": workers_peak_rss_mb(master)}
