"""Score readings with the live model and log one line per prediction.

The exact fast path (fastpath.py) answers small requests; larger ones go through the
Pipeline itself. Every prediction is one compact JSON line in the prediction log, written
with one append per request so concurrent workers never tear or interleave lines.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from scripts.core import features as F
from scripts.core.config import repo_path, validate
from scripts.core.store import AppendError, append_lines
from scripts.core.web import RequestError
from scripts.serving.live import LiveModel


@dataclass(frozen=True)
class Scored:
    """What one request's readings got, from one model version."""
    live: LiveModel
    probabilities: list[float]
    labels: list[int]


def probabilities(live: LiveModel, readings: list[dict], fast_max: int) -> list[float]:
    """Failure probabilities: the fast path up to fast_max rows, else the Pipeline."""
    if live.fast is not None and len(readings) <= fast_max:
        return live.fast.predict_proba(readings).tolist()
    import pandas as pd

    frame = pd.DataFrame.from_records(readings, columns=F.INPUT_COLUMNS)
    return [float(p) for p in live.pipeline.predict_proba(frame)[:, 1]]


def log_records(scored: Scored, readings: list[dict], rid: str, endpoint: str, latency_ms: float, now: str) -> list[dict]:
    """One prediction-log record per reading. Pure."""
    live, records = scored.live, []
    for i, (reading, p, label) in enumerate(zip(readings, scored.probabilities, scored.labels, strict=True)):
        record = {"time": now, "request_id": rid, "prediction_id": f"{rid}-{i}", "endpoint": endpoint,
                  "model_version": live.version, "inputs": {c: reading[c] for c in F.INPUT_COLUMNS},
                  "failure_probability": p, "prediction": label, "threshold": live.threshold, "latency_ms": latency_ms}
        if "udi" in reading:
            record["udi"] = reading["udi"]
        records.append(record)
    return records


class Scorer:
    """Scores a request's readings with the model live at that moment, logs them, counts them."""

    def __init__(self, holder: Any, deployment: dict, predictions: Any):
        self.holder, self.predictions = holder, predictions
        self.log_path = repo_path(deployment["predictions_log"])
        self.fast_max, self.fsync = deployment["fast_path_max_rows"], deployment["fsync_predictions"]

    def __call__(self, readings: list[dict], rid: str, endpoint: str, started: float) -> Scored:
        live = self.holder.live
        if live is None:
            raise RequestError(503, "model", "no model loaded yet")
        found = probabilities(live, readings, self.fast_max)
        scored = Scored(live, found, [int(p >= live.threshold) for p in found])
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        records = log_records(scored, readings, rid, endpoint, latency_ms, now)
        validate(records[0], "prediction", str(self.log_path))  # every record has this shape: one check per request
        try:
            append_lines(self.log_path, [json.dumps(r, separators=(",", ":")) for r in records], fsync=self.fsync)
        except AppendError as exc:  # a prediction that is not logged is not served
            raise RequestError(503, "predictions_log", f"cannot record the prediction ({str(exc).rsplit(': ', 1)[-1]}); "
                                                       "not served, retry later") from None
        for label in scored.labels:
            self.predictions.labels(str(label)).inc()
        return scored
