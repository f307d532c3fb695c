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
import multiprocessing
import os
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from scripts.core import drift as D
from scripts.core import estimate as E
from scripts.core import features as F
from scripts.core import multivariate as MV
from scripts.core.config import ClockworkError
from scripts.core.metrics import probability_metrics
from scripts.core.store import atomic_write_bytes, code_identity, iter_byte_blocks, parse_json_line, read_json, sha256_obj, write_json
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
    inputs = [p["inputs"] for p in records]
    numeric = set(contract.numeric_inputs)  # a boolean was logged as sent: true or 1
    columns = {}
    for name in dict.fromkeys([*(inputs[0] if inputs else {}), *feats["inputs"]]):
        values = [row.get(name, np.nan) for row in inputs]
        columns[name] = np.array(values, dtype="float64") if name in numeric else values
    return F.add_derived(pd.DataFrame(columns), feats["derived"], feats["inputs"], feats.get("expressions"))


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
        settings = self.settings["estimate"]
        return E.estimate(self.calibrator, scores, predicted, settings, settings["seed"] + index, self.rows(records))

    def rows(self, records: list[dict]) -> np.ndarray | None:
        """Which predictions are of one row (the data set's row id, logged beside each reading): they share
        one truth in the estimate's draws. None when every prediction is its own (no id, or none repeats);
        a prediction sent without its row id is its own."""
        key = self.contract.id.name if self.contract.id else None
        if key is None:
            return None
        codes: dict = {}
        groups = np.array([codes.setdefault(r[key], len(codes)) if r.get(key) is not None else -1 for r in records])
        alone = groups < 0
        groups[alone] = len(codes) + np.arange(int(alone.sum()))
        return None if len(codes) + int(alone.sum()) == len(records) else groups


def point(record: dict) -> dict:
    """A prediction as the report names it: its id and time."""
    return {"prediction_id": record["prediction_id"], "time": record["time"]}


@dataclass(frozen=True)
class Span:
    """Where chunk `index` lies in the prediction log: its bytes [start, end), the line number of its
    first line, its predictions (rows) and its first and last prediction ids."""
    index: int
    start: int
    end: int
    line: int
    rows: int
    ends: tuple[str, str]


def history(path: Path, version: str, settings: dict) -> tuple[int, list[Span], list[dict]]:
    """The live model's prediction count, where its last monitor.max_chunks chunks lie in the log, and
    its latest monitor.window predictions (the window, parsed), in one pass over the log a block at a
    time: a chunk's lines are read again only where it is measured (span_lines), so memory holds one
    block. Lines of other models between a chunk's are skipped; a torn last line (no newline) is none."""
    size, most = settings["window"], settings["max_chunks"]
    marker = _marker(version).encode()
    starts: list[tuple[int, int, bytes]] = []  # each chunk's first line: (offset, line number, text)
    stops: list[tuple[int, int, bytes]] = []  # each chunk's last: (offset after it, line number, text)
    total = number = 0  # the model's lines so far, and all lines
    last: tuple[int, int, bytes] = (0, 0, b"")
    for offset, block in iter_byte_blocks(path):
        lines = _Block(block, offset, number, marker)
        place = total + np.arange(len(lines.mine))  # each of the model's lines' place among them
        starts.extend(lines.line(i, False) for i in lines.mine[place % size == 0])
        stops.extend(lines.line(i, True) for i in lines.mine[(place + 1) % size == 0])
        last = lines.line(lines.mine[-1], True) if len(lines.mine) else last
        total, number = total + len(lines.mine), number + len(lines.ends)
    if not total:
        return 0, [], []
    if total % size:  # the latest chunk is partial
        stops.append(last)
    first = max(0, len(starts) - most)
    spans = [_span(k, starts[k], stops[k], min(size, total - k * size), path) for k in range(first, len(starts))]
    return total, spans, _window(path, version, (starts, stops[-1]), total, size)


class _Block:
    """A block of a log's complete lines (iter_byte_blocks): where each line begins and ends, and which
    are the model's (mine: the lines the marker is found in, with no loop over the lines: every line
    when the block holds as many markers as lines, else where each marker is found)."""

    def __init__(self, block: bytes, offset: int, number: int, marker: bytes) -> None:
        self.block, self.offset, self.number = block, offset, number
        self.ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + 1
        self.begins = np.concatenate(([0], self.ends[:-1]))
        if block.count(marker) == len(self.ends):
            self.mine = np.arange(len(self.ends))
        else:
            found = np.fromiter((m.start() for m in re.finditer(re.escape(marker), block)), dtype=np.int64)
            self.mine = np.unique(np.searchsorted(self.ends, found, side="right"))

    def line(self, i: int, end: bool) -> tuple[int, int, bytes]:
        """Line i as (its offset in the log, or the offset after it when end; its number; its text)."""
        begin, stop = int(self.begins[i]), int(self.ends[i])
        return self.offset + (stop if end else begin), self.number + int(i) + 1, self.block[begin:stop]


def _window(path: Path, version: str, marks: tuple[list, tuple], total: int, size: int) -> list[dict]:
    """The model's latest `size` predictions, parsed: they lie in its last chunk, or its last two."""
    starts, stop = marks
    k = max(0, len(starts) - (1 if total % size == 0 else 2))
    lines = span_lines(path, Span(k, starts[k][0], stop[0], starts[k][1], total - k * size, ("", "")), version)
    return parsed(lines[-size:], path, version)


def _span(index: int, start: tuple[int, int, bytes], stop: tuple[int, int, bytes], rows: int, path: Path) -> Span:
    """Chunk `index` from its first line (offset, number, text) and its end (offset after, number, text)."""
    ends = []
    for number, line in (start[1:], stop[1:]):
        record = parse_json_line(path, number, line.decode("utf-8", errors="replace"))
        if not isinstance(record, dict) or not isinstance(record.get("prediction_id"), str):
            raise ClockworkError(f"{path}: line {number}: no prediction_id")
        ends.append(record["prediction_id"])
    return Span(index, start[0], stop[0], start[1], rows, (ends[0], ends[1]))


def span_lines(path: Path, span: Span, version: str) -> list[tuple[int, str]]:
    """A chunk's (line number, text) from the log, read again where history found it; a log whose chunk
    no longer holds what it did (logs are append-only: edited by hand) is an error."""
    with open(path, "rb") as handle:
        handle.seek(span.start)
        text = handle.read(span.end - span.start).decode("utf-8", errors="replace")
    marker = _marker(version)
    lines = [(span.line + i, line) for i, line in enumerate(text.split("\n")[:-1]) if marker in line]
    if len(lines) != span.rows:
        raise ClockworkError(f"{path}: changed while the monitor read it (chunk {span.index}); run make monitor again")
    return lines


def _marker(version: str) -> str:
    """What a log line of this model holds: log lines are compact JSON, so it is found verbatim (and
    confirmed by the parse)."""
    return f'"model_version":"{version}"'


def parsed(raw: list[tuple[int, str]], path: Path, version: str | None = None) -> list[dict]:
    """The lines' records; with version, each must be that model's (a line holding its marker elsewhere
    than in its model_version field is an error)."""
    records = [parse_json_line(path, number, line) for number, line in raw]
    if version is not None and any(r["model_version"] != version for r in records):
        raise ClockworkError(f"{path}: a line names model {version} outside its model_version field")
    return records


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
    """The complete chunks' measurements, and their prediction ids and probabilities, one file each,
    written once (atomically) and read back: keyed on the model's sha256, the measuring settings and
    code, and the chunk's first and last prediction ids."""

    def __init__(self, root: Path, card: dict, settings: dict) -> None:
        key = {"settings": {k: settings[k] for k in MEASURED_WITH},
               "code": code_identity(__spec__.name)["sha256"] if __spec__ else None}
        self.dir = root / f"{card['version']}-{card['artifact']['sha256'][:12]}" / sha256_obj(key)[:12]
        self.size = settings["window"]

    def complete(self, span: Span) -> bool:
        """Whether the chunk is whole (only a whole chunk is kept: a partial one is measured each run)."""
        return span.rows == self.size

    def path(self, span: Span, suffix: str = ".json") -> Path:
        return self.dir / f"chunk-{span.index:07d}-{sha256_obj(list(span.ends))[:8]}{suffix}"

    def kept(self, span: Span) -> dict | None:
        """A complete chunk's measurements as written before, or None (partial, or not measured yet)."""
        path = self.path(span)
        return read_json(path, "monitor_chunk") if self.complete(span) and path.exists() else None

    def keep(self, span: Span, doc: dict, outcomes: tuple[list[str], np.ndarray]) -> None:
        """Write a complete chunk's measurements and outcomes."""
        if self.complete(span):
            self._keep_outcomes(span, outcomes)
            write_json(self.path(span), doc, "monitor_chunk")

    def _keep_outcomes(self, span: Span, outcomes: tuple[list[str], np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, ids=np.array(outcomes[0]), probabilities=outcomes[1])
        atomic_write_bytes(self.path(span, ".npz"), buffer.getvalue())

    def outcomes(self, span: Span, log: Path, version: str) -> tuple[list[str], np.ndarray]:
        """A chunk's prediction ids and probabilities: a complete chunk's kept ones while they hold its size
        and its first and last ids (1 ms against 16 ms from its 10,000 lines), else read from its lines
        (and kept, if complete)."""
        if self.complete(span):
            kept = _kept_outcomes(self.path(span, ".npz"), span.ends, self.size)
            if kept is not None:
                return kept
        found = outcomes(span_lines(log, span, version), log)
        if self.complete(span):
            self._keep_outcomes(span, found)
        return found


def _kept_outcomes(path: Path, ends: tuple[str, str], size: int) -> tuple[list[str], np.ndarray] | None:
    """A chunk's kept ids and probabilities, or None when missing, unreadable or not this chunk's."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            ids, probabilities = kept["ids"].tolist(), kept["probabilities"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    whole = len(ids) == len(probabilities) == size and probabilities.dtype == np.float64
    return (ids, probabilities) if whole and (ids[0], ids[-1]) == ends else None


def measure(judge: Judge, store: Store, log: Path, span: Span) -> tuple[dict, tuple[list[str], np.ndarray]]:
    """Read a chunk's lines, measure them and keep the result: its measurements and outcomes."""
    version = judge.card["version"]
    records = parsed(span_lines(log, span, version), log, version)
    doc = judge.measure(records, span.index)
    found = ([r["prediction_id"] for r in records], np.array([r["failure_probability"] for r in records], dtype="float64"))
    store.keep(span, doc, found)
    return doc, found


_TASK: tuple | None = None  # (judge, store, log): what a forked worker measures with, inherited, not pickled


def _one_thread() -> None:
    """A worker's numeric libraries use one thread: the workers already take one core each."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _measure_forked(span: Span) -> tuple[dict, tuple[list[str], np.ndarray]]:
    assert _TASK is not None
    return measure(*_TASK, span)


def judged(judge: Judge, store: Store, spans: list[Span], log: Path,
           meanwhile: Callable[[], Any] = lambda: None) -> tuple[list[tuple[dict, bool, tuple[list[str], np.ndarray]]], Any]:
    """Each chunk's measurements, whether measured now, and its outcomes; and what meanwhile() returned.
    Chunks not kept are measured, the first here (which loads what measuring needs), the rest in one
    worker process per core, forked from this one (each reads its chunk's lines from the log), while
    this one runs meanwhile(); the others are read back from the store."""
    global _TASK
    kept = {span.index: store.kept(span) for span in spans}
    fresh = [span for span in spans if kept[span.index] is None]
    done = {span.index: measure(judge, store, log, span) for span in fresh[:1]}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(cores, len(fresh) - 1)
    if workers > 1:
        _ = judge.multivariate  # fitted once, before the fork, not in each worker
        _TASK = (judge, store, log)
        try:
            with ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), _one_thread) as pool:
                results = pool.map(_measure_forked, fresh[1:])  # every worker is forked here, before meanwhile runs
                besides = meanwhile()
                done.update(zip((span.index for span in fresh[1:]), results, strict=True))
        except BrokenProcessPool:
            raise ClockworkError(f"{log}: a worker measuring its chunks died (killed, or out of memory); chunks "
                                 "measured before are kept: run make monitor again") from None
        finally:
            _TASK = None
    else:
        done.update((span.index, measure(judge, store, log, span)) for span in fresh[1:])
        besides = meanwhile()
    version = judge.card["version"]
    return [(done[span.index][0], True, done[span.index][1]) if span.index in done
            else (kept[span.index], False, store.outcomes(span, log, version)) for span in spans], besides


def realized(chunk: tuple[list[str], np.ndarray], labels: dict[str, int], threshold: float,
             min_labels: int) -> tuple[int, dict | None]:
    """How many of the chunk's predictions (ids, probabilities) are labelled and, from min_labels on,
    their metrics."""
    ids, probabilities = chunk
    y = np.array([labels.get(pid, -1) for pid in ids], dtype=int)
    known = y >= 0
    if known.sum() < min_labels:
        return int(known.sum()), None
    metrics = probability_metrics(y[known], probabilities[known], threshold, log_loss=False)
    return int(known.sum()), {k: metrics[k] for k in E.METRICS}


def alerts(chunk: dict, limit: float) -> list[str]:
    """What in a chunk crossed its threshold: drifted columns, the multivariate measure, an estimated F1
    whose whole interval lies under the limit (the model's expected F1 on these rows is under it however
    unsure the calibrator; the chunk's own labels, the band, may still land above), a realized F1 under
    it, a suspected sensor. Pure."""
    out = [f"drift:{name}" for name in chunk.get("drifted", [])]
    if chunk["multivariate"] and chunk["multivariate"]["drifted"]:
        out.append("multivariate")
    f1 = (chunk["estimated"] or {}).get("f1")
    if f1 and f1["interval"][1] < limit:
        out.append("estimated_f1")
    if chunk.get("realized") and chunk["realized"]["f1"] is not None and chunk["realized"]["f1"] < limit:
        out.append("realized_f1")
    return out + [f"sensor:{s['sensor']}" for s in chunk["suspects"]]
