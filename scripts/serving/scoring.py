"""Score a batch of readings with the live model and log one line per prediction.

A random forest is scored by the exact fast path (fastpath.py) at every batch size; other
models by their Pipeline. Every prediction is one compact JSON line in the prediction log. A
request's lines are formatted from one template per request (the constant fields encoded once)
and appended under one lock, slice by slice for a large batch, so concurrent workers never tear
or interleave lines and a failed append leaves none of them. When the registry names a
challenger, production traffic is also scored with it and logged to deployment.shadow_log under
the same prediction ids; its predictions are never returned.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from scripts.core.config import ClockworkError, repo_path, validator_with
from scripts.core.store import AppendError, append_chunks
from scripts.core.web import RequestError, dumps
from scripts.serving.batch import Batch
from scripts.serving.fields import Fields
from scripts.serving.live import LiveModel

log = logging.getLogger("clockwork.serve")


@dataclass(frozen=True)
class Scored:
    """What one request's readings got, from one model version."""
    live: LiveModel
    probabilities: np.ndarray  # float64, one per reading
    labels: np.ndarray  # 0 or 1, one per reading


def probabilities(live: LiveModel, batch: Batch) -> np.ndarray:
    """Failure probabilities: the exact fast path for a forest, else the Pipeline."""
    if live.fast is not None:
        return live.fast.probabilities(batch.columns, batch.arrays)
    return np.ascontiguousarray(live.pipeline.predict_proba(batch.frame())[:, 1], dtype="float64")  # a column: strided


def _percent(text: str) -> str:
    return text.replace("%", "%%")


def _texts(values: Any) -> list[str]:
    """Each value's JSON text (a list of numbers or a numpy array), written by one encoder call."""
    return dumps(values).decode()[1:-1].split(",") if len(values) else []


def line_template(live: LiveModel, ids: tuple[str, str | None], endpoint: str, latency_ms: float, now: str,
                  inputs: tuple[str, ...]) -> str:
    """The %-format of one prediction-log line: the request's constant fields JSON-encoded once, then
    the row number, each input, the probability, the prediction and the row id field (empty for a
    reading without one), each already JSON text. Pure."""
    j = json.dumps
    rid, client = ids
    inputs = ",".join(f'{j(c)}:%s' for c in inputs)
    return (_percent(f'{{"time":{j(now)},"request_id":{j(rid)}' + (f',"client_request_id":{j(client)}' if client else "")
                     + f',"prediction_id":{j(rid + "-")[:-1]}') + '%d"'
            + _percent(f',"endpoint":{j(endpoint)},"model_version":{j(live.version)},"inputs":{{') + inputs
            + '},"failure_probability":%s,"prediction":%s'
            + _percent(f',"threshold":{j(live.threshold)},"latency_ms":{j(latency_ms)}')
            + "%s}\n")


def _cells(values: Any, numeric: bool) -> list[str]:
    """Each value's JSON text: numbers (and true/false) by one encoder call, text through a table of the
    distinct values (a category has few; a comma inside text cannot split a cell)."""
    if numeric:
        return _texts(values)
    spelled = {v: json.dumps(v) for v in set(values)}
    return [spelled[v] for v in values]


def log_text(template: str, batch: Batch, scored: Scored, start: int, stop: int) -> str:
    """The log lines of rows start..stop. Pure."""
    fields = batch.fields
    numeric = set(fields.numeric)
    columns: list = [range(start, stop)]
    columns += [_cells(batch.columns[c][start:stop], c in numeric) for c in fields.inputs]
    columns += [_texts(scored.probabilities[start:stop]), _texts(scored.labels[start:stop])]
    if batch.ids is None:
        columns.append([""] * (stop - start))
    else:
        ids, key = batch.ids[start:stop], json.dumps(fields.row_id)
        texts = [json.dumps(i) for i in ids] if fields.id_text else _texts(ids)
        columns.append(["" if i is None else f",{key}:{t}" for i, t in zip(ids, texts, strict=True)])
    return "".join([template % values for values in zip(*columns, strict=True)])


def line_checker(fields: Fields) -> Any:
    """validate(line, source) for a prediction-log line of this data set: its inputs and its row id."""
    inputs = {"type": "object", "additionalProperties": False, "required": list(fields.inputs),
              "properties": fields.input_schemas()}
    extra = {"inputs": inputs} | ({fields.row_id: fields.id_column.id_schema()} if fields.id_column else {})
    return validator_with("prediction", extra)


class Scorer:
    """Scores a request's readings with the model live at that moment, logs them, counts them."""

    def __init__(self, holder: Any, deployment: dict, predictions: Any, fields: Fields):
        self.holder, self.predictions, self.fields = holder, predictions, fields
        self.check_line = line_checker(fields)
        self.log_path = repo_path(deployment["predictions_log"])
        self.shadow_path = repo_path(deployment["shadow_log"])
        self.fsync, self.slice_rows = deployment["fsync_predictions"], deployment["stream_rows"]

    def _log(self, scored: Scored, batch: Batch, ids: tuple[str, str | None], endpoint: str, started: float,
             path: Path | None = None) -> None:
        path = path or self.log_path
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        template = line_template(scored.live, ids, endpoint, latency_ms, now, self.fields.inputs)
        spans = batch.spans(self.slice_rows)
        first = log_text(template, batch, scored, *next(spans))
        self.check_line(json.loads(first.split("\n", 1)[0]), str(path))  # every line has this shape
        slices: Iterator[bytes] = (log_text(template, batch, scored, a, b).encode() for a, b in spans)
        try:
            append_chunks(path, chain([first.encode()], slices), fsync=self.fsync)
        except AppendError as exc:  # a prediction that is not logged is not served
            raise RequestError(503, "predictions_log", f"cannot record the prediction ({str(exc).rsplit(': ', 1)[-1]}); "
                                                       "not served, retry later") from None

    def _shadow(self, batch: Batch, ids: tuple[str, str | None], endpoint: str, started: float) -> None:
        """Score production traffic with the challenger too and log it to the shadow log, under the
        same prediction ids; never returned. A failure here is logged and never fails the request."""
        challenger = getattr(self.holder, "challenger", None)
        if challenger is None:
            return
        try:
            found = probabilities(challenger, batch)
            self._log(Scored(challenger, found, (found >= challenger.threshold).astype("int64")), batch, ids, endpoint,
                      started, self.shadow_path)
        except (RequestError, ClockworkError) as exc:
            log.error("shadow scoring with challenger %s failed: %s", challenger.version, exc)

    def __call__(self, batch: Batch, ids: tuple[str, str | None], endpoint: str, started: float,
                 live: LiveModel | None = None) -> Scored:
        """Score with live (a version the request named), else the production model live now; ids are the
        service's request id and the client's (request_ids)."""
        live = live or self.holder.live
        if live is None:
            raise RequestError(503, "model", "no model loaded yet")
        found = probabilities(live, batch)
        scored = Scored(live, found, (found >= live.threshold).astype("int64"))
        self._log(scored, batch, ids, endpoint, started)
        if live is self.holder.live:
            self._shadow(batch, ids, endpoint, started)
        positives = int(scored.labels.sum())
        for label, count in (("1", positives), ("0", len(batch) - positives)):
            if count:
                self.predictions.labels(label).inc(count)
        return scored
