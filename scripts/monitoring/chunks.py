"""The live model's whole history in consecutive chunks of monitor.window predictions, judged once each.

Chunk k holds the model's predictions k*window to (k+1)*window - 1, counted from its first; the
last chunk may be partial. Each chunk is measured without labels: drift per column (as the window's),
multivariate drift (scripts/core/multivariate.py), performance estimated from the model's
probabilities through the calibrator on its card (scripts/core/estimate.py), and the sensors the
diagnosis suspects in it. A complete chunk's measurements are written once to
monitor.chunks_dir/<model>/<settings>/ and read back on later runs, so a run after new predictions
measures only the new chunk. Labels arrive late: each run joins them again and adds the realized
metrics where a chunk holds at least monitor.min_labels of them.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from scripts.core import drift as D
from scripts.core import estimate as E
from scripts.core import features as F
from scripts.core import multivariate as MV
from scripts.core.config import ClockworkError
from scripts.core.metrics import probability_metrics
from scripts.core.store import atomic_write_bytes, code_identity, parse_json_line, read_json, sha256_obj, write_json
from scripts.monitoring.diagnosis import suspects
from scripts.monitoring.groundtruth import PREDICTION_ID

# The monitor settings a chunk's measurements depend on; the chunk store is keyed on them and on the code.
MEASURED_WITH = ("window", "min_drift_rows", "psi_bins", "psi_threshold", "p_value", "diagnosis", "estimate", "multivariate")


def model_columns(card: dict, contract: Any) -> dict:
    """The live model's inputs by kind, from its card's feature spec (a card written before the data
    set contract records fewer: params' contract gives the rest)."""
    feats = card["features"]
    categories = feats.get("categories")
    if categories is None:
        categories = {c.name: list(c.values) for c in contract.inputs if c.kind == "category"}
    numeric = feats.get("numeric") or contract.numeric_inputs
    return {"inputs": feats["inputs"], "categories": categories, "numeric": [*numeric, *feats["derived"]]}


def _per_column(reference: pd.DataFrame, current: pd.DataFrame, columns: dict) -> Iterator[tuple[str, np.ndarray, np.ndarray, list | None]]:
    """(name, training values, current values, categories or None) for each category input, numeric
    input and derived feature of the model; a missing value (an input the model fills) is no reading."""
    for name, values in columns["categories"].items():
        yield name, reference[name].astype(str).to_numpy(), current[name].astype(str).to_numpy(), [str(v) for v in values]
    for name in columns["numeric"]:
        ref, cur = (frame[name].to_numpy(dtype="float64") for frame in (reference, current))
        yield name, ref[~np.isnan(ref)], cur[~np.isnan(cur)], None


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, columns: dict, settings: dict) -> dict:
    """Drift record for each category input (chi-square), each numeric input and each derived feature (KS)."""
    tests = {"bins": settings["psi_bins"], "psi_threshold": settings["psi_threshold"], "p_value": settings["p_value"]}
    return {name: D.feature_drift(ref, cur, categories=categories, **tests)
            for name, ref, cur, categories in _per_column(reference, current, columns)}


def distributions(reference: pd.DataFrame, current: pd.DataFrame, columns: dict, bins: int) -> dict:
    """Each column's shares per bin in the training rows and in these readings (drift.distribution)."""
    return {name: D.distribution(ref, cur, categories=categories, bins=bins)
            for name, ref, cur, categories in _per_column(reference, current, columns)}


def readings(records: list[dict], card: dict, contract: Any) -> pd.DataFrame:
    """The logged inputs of some predictions as a frame, numbers as floats, with the model's derived features."""
    feats = card["features"]  # the model's own inputs and expressions (a card before the contract: params')
    logged = pd.DataFrame([p["inputs"] for p in records])
    numeric = [c for c in contract.numeric_inputs if c in logged]  # a boolean was logged as sent: true or 1
    return F.add_derived(logged.astype(dict.fromkeys(numeric, "float64")), feats["derived"], feats["inputs"],
                         feats.get("expressions"))


@dataclass
class Judge:
    """What measuring a chunk needs: the model's card and columns, the training rows, the multivariate
    model fitted on them, the monitor settings and the diagnosis's."""
    card: dict
    contract: Any
    reference: pd.DataFrame
    settings: dict
    diagnosis: dict

    def __post_init__(self) -> None:
        self.columns = model_columns(self.card, self.contract)
        self.calibrator = self.card["metrics"].get("calibration") or {
            "method": "none", "reason": "the model's card was written before calibrators"}

    @cached_property
    def multivariate(self) -> dict:
        """The principal components of the training rows (fitted only when a chunk is measured)."""
        return MV.fit(self.reference, [c for c in self.columns["numeric"] if c in self.reference],
                      self.columns["categories"], self.settings["multivariate"]["variance"])

    def measure(self, records: list[dict], index: int) -> dict:
        """A chunk's label-free measurements (what the chunk store keeps)."""
        settings = self.settings
        out = {"index": index, "rows": len(records), "first": point(records[0]), "last": point(records[-1]),
               "predicted_rate": round(float(np.mean([p["prediction"] for p in records])), 6),
               "judged": len(records) >= settings["min_drift_rows"]}
        if not out["judged"]:
            return {**out, "drift": None, "multivariate": None, "estimated": None, "suspects": []}
        current = readings(records, self.card, self.contract)
        drift = drift_table(self.reference, current, self.columns, settings)
        multi = {**settings["multivariate"], "p_value": settings["p_value"]}
        found = suspects(self.reference, current[[c for c in current if c in self.reference]], self.diagnosis)
        for suspect in found:
            suspect["starts_at"] = point(records[suspect["start_index"]])
        return {**out, "drift": drift, "drifted": sorted(k for k, d in drift.items() if d["drifted"]),
                "distributions": distributions(self.reference, current, self.columns, settings["psi_bins"]),
                "multivariate": MV.judge(self.multivariate, current, multi),
                "estimated": self.estimated(records, index), "suspects": found}

    def estimated(self, records: list[dict], index: int) -> dict | None:
        """The chunk's metrics estimated from the model's probabilities (null without a calibrator)."""
        if self.calibrator["method"] == "none":
            return None
        scores = np.array([p["failure_probability"] for p in records], dtype="float64")
        predicted = np.array([p["prediction"] for p in records], dtype=bool)
        return E.estimate(self.calibrator, scores, predicted, self.settings["estimate"], self.settings["estimate"]["seed"] + index)


def point(record: dict) -> dict:
    """A prediction as the report names it: its id and time."""
    return {"prediction_id": record["prediction_id"], "time": record["time"]}


def history(lines: Iterable[tuple[int, str]], version: str, settings: dict,
            path: Path) -> tuple[int, list[tuple[int, list[tuple[int, str]]]], list[dict]]:
    """The live model's prediction count, its last monitor.max_chunks chunks as (index, its raw log lines)
    and its latest monitor.window predictions (the window, parsed), streamed: at most
    (max_chunks + 1) * window raw lines are kept. A chunk's lines are parsed only to be measured."""
    size, most = settings["window"], settings["max_chunks"]
    marker = f'"model_version":"{version}"'  # log lines are compact JSON: found verbatim, confirmed by the parse
    kept: deque = deque(maxlen=size * (most + 1))
    total = 0
    for number, line in lines:
        if marker in line:
            kept.append((number, line))
            total += 1
    if not total:
        return 0, [], []
    last = (total - 1) // size
    first = max(0, last - most + 1)
    kept_list = list(kept)
    at = first * size - (total - len(kept_list))  # the first chunk's place in the kept lines
    chunks = [(k, kept_list[at + (k - first) * size: at + (k - first + 1) * size]) for k in range(first, last + 1)]
    window = parsed(kept_list[-size:], path)
    if any(r["model_version"] != version for r in window):
        raise ClockworkError(f"{path}: a line names model {version} outside its model_version field")
    return total, chunks, window


def parsed(raw: list[tuple[int, str]], path: Path) -> list[dict]:
    return [parse_json_line(path, number, line) for number, line in raw]


PROBABILITY = re.compile(r'"failure_probability":(-?[0-9.eE+-]+)')


def outcomes(raw: list[tuple[int, str]], path: Path) -> tuple[list[str], np.ndarray]:
    """Each logged prediction's id and probability, read from the compact log lines without parsing them
    whole (a chunk read back from the store needs no more)."""
    ids, probabilities = [], []
    for number, line in raw:
        pid, probability = PREDICTION_ID.search(line), PROBABILITY.search(line)
        if pid is None or probability is None:
            raise ClockworkError(f"{path}: line {number}: no prediction_id or failure_probability")
        ids.append(pid.group(1))
        probabilities.append(float(probability.group(1)))
    return ids, np.array(probabilities, dtype="float64")


class Store:
    """The complete chunks' measurements, one file each, written once (atomically) and read back: keyed
    on the model's sha256, the measuring settings and code, and the chunk's first and last predictions."""

    def __init__(self, root: Path, card: dict, settings: dict) -> None:
        key = {"settings": {k: settings[k] for k in MEASURED_WITH},
               "code": code_identity(__spec__.name)["sha256"] if __spec__ else None}
        self.dir = root / f"{card['version']}-{card['artifact']['sha256'][:12]}" / sha256_obj(key)[:12]
        self.size = settings["window"]

    def path(self, index: int, ends: tuple[dict, dict]) -> Path:
        key = sha256_obj([ends[0]["prediction_id"], ends[1]["prediction_id"]])[:8]
        return self.dir / f"chunk-{index:07d}-{key}.json"

    def measured(self, judge: Judge, index: int, raw: list[tuple[int, str]], log: Path) -> tuple[dict, bool]:
        """The chunk's measurements, and whether they were measured now (else read from the store)."""
        complete = len(raw) == self.size
        path = self.path(index, (parsed(raw[:1], log)[0], parsed(raw[-1:], log)[0]))
        if complete and path.exists():
            return read_json(path, "monitor_chunk"), False
        records = parsed(raw, log)
        if any(r["model_version"] != judge.card["version"] for r in records):
            raise ClockworkError(f"{log}: a line names model {judge.card['version']} outside its model_version field")
        doc = judge.measure(records, index)
        if complete:
            write_json(path, doc, "monitor_chunk")
        return doc, True


    def outcomes(self, index: int, raw: list[tuple[int, str]], log: Path) -> tuple[list[str], np.ndarray]:
        """The chunk's prediction ids and probabilities (outcomes()). A complete chunk's are kept beside its
        measurements, written once, and read back while they hold the chunk's size and its first and last
        prediction ids (1 ms against 16 ms from its 10,000 lines); anything else is read from the lines."""
        if len(raw) != self.size:
            return outcomes(raw, log)
        ends = (parsed(raw[:1], log)[0]["prediction_id"], parsed(raw[-1:], log)[0]["prediction_id"])
        path = self.path(index, ({"prediction_id": ends[0]}, {"prediction_id": ends[1]})).with_suffix(".npz")
        kept = _kept_outcomes(path, ends, self.size)
        if kept is not None:
            return kept
        ids, probabilities = outcomes(raw, log)
        buffer = io.BytesIO()
        np.savez(buffer, ids=np.array(ids), probabilities=probabilities)
        atomic_write_bytes(path, buffer.getvalue())
        return ids, probabilities


def _kept_outcomes(path: Path, ends: tuple[str, str], size: int) -> tuple[list[str], np.ndarray] | None:
    """A chunk's kept ids and probabilities, or None when missing, unreadable or not this chunk's."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            ids, probabilities = kept["ids"].tolist(), kept["probabilities"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    whole = len(ids) == len(probabilities) == size and probabilities.dtype == np.float64
    return (ids, probabilities) if whole and (ids[0], ids[-1]) == ends else None


def realized(chunk: tuple[list[str], np.ndarray], labels: dict[str, int], threshold: float,
             min_labels: int) -> tuple[int, dict | None]:
    """How many of the chunk's predictions (ids, probabilities) are labelled and, from min_labels on,
    their metrics."""
    ids, probabilities = chunk
    y = np.array([labels.get(pid, -1) for pid in ids], dtype=int)
    known = y >= 0
    if known.sum() < min_labels:
        return int(known.sum()), None
    metrics = probability_metrics(y[known], probabilities[known], threshold)
    return int(known.sum()), {k: metrics[k] for k in E.METRICS}


def alerts(chunk: dict, limit: float) -> list[str]:
    """What in a chunk crossed its threshold: drifted columns, the multivariate measure, an estimated F1
    whose whole band lies under the limit, a realized F1 under it, a suspected sensor. Pure."""
    out = [f"drift:{name}" for name in chunk.get("drifted", [])]
    if chunk["multivariate"] and chunk["multivariate"]["drifted"]:
        out.append("multivariate")
    f1 = (chunk["estimated"] or {}).get("f1")
    if f1 and f1["band"][1] < limit:
        out.append("estimated_f1")
    if chunk.get("realized") and chunk["realized"]["f1"] is not None and chunk["realized"]["f1"] < limit:
        out.append("realized_f1")
    return out + [f"sensor:{s['sensor']}" for s in chunk["suspects"]]
