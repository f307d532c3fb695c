"""The monitor's chunks over the whole history (scripts/monitoring/chunks.py): measured once each,
read back after, and a fault that began several chunks ago dated to its first prediction."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from scripts.core import features as F
from scripts.monitoring import chunks as C
from scripts.monitoring.diagnosis import over_history
from tests import ai4i as A
from tests.conftest import contract
from tests.monitoring.test_diagnosis import PARAMS, RAW, REFERENCE, SETTINGS

SIZE = 500
MONITOR = {**PARAMS["monitor"], "window": SIZE, "max_chunks": 10}
EXPRESSIONS = {name: spec["expression"] if isinstance(spec, dict) else spec
               for name, spec in (PARAMS["dataset"].get("derived") or {}).items()}


def card() -> dict:
    derived = list(EXPRESSIONS)
    return {"version": "v1", "artifact": {"sha256": "ab" * 32}, "threshold": 0.5,
            "features": {"inputs": A.INPUT_COLUMNS, "derived": derived, "expressions": EXPRESSIONS,
                         "numeric": A.NUMERIC_INPUTS, "categories": {"type": ["L", "M", "H"]}},
            "metrics": {"test": {"f1": 0.8}, "calibration": {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 1.0]}}}


def records(gain_from: int, step_at: int) -> list[dict]:
    """3000 production readings as the service logs them: the torque sensor reads 12 % high from reading
    gain_from on, the process temperature 2 K low from reading step_at on."""
    frame = RAW.iloc[7000:10000].reset_index(drop=True).astype({c: "float64" for c in A.NUMERIC_INPUTS})
    frame.loc[gain_from:, "torque_nm"] *= 1.12
    frame.loc[step_at:, "process_temperature_k"] -= 2.0
    rng = np.random.default_rng(0)
    return [{"prediction_id": f"r-{i}", "time": f"t{i:05d}", "model_version": "v1", "failure_probability": p,
             "prediction": int(p >= 0.5), "inputs": row}
            for i, (row, p) in enumerate(zip(frame[A.INPUT_COLUMNS].to_dict("records"), rng.beta(0.3, 8, len(frame)),
                                             strict=True))]


def write_log(path: Path, log: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in log))
    return path


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> tuple[list[dict], C.Store, C.Judge, list[C.Span], Path]:
    reference = F.add_derived(REFERENCE, list(EXPRESSIONS), A.INPUT_COLUMNS, EXPRESSIONS)
    judge = C.Judge(card(), contract(), reference, MONITOR, SETTINGS)
    store = C.Store(tmp_path_factory.mktemp("chunks"), card(), MONITOR)
    log = records(gain_from=1300, step_at=600)
    path = write_log(tmp_path_factory.mktemp("logs") / "p.jsonl", log)
    total, spans, window = C.history(path, "v1", MONITOR)
    assert total == 3000 and [s.index for s in spans] == list(range(6)) and window == log[-SIZE:]
    measured, besides = C.judged(judge, store, spans, path, lambda: "run meanwhile")  # the first here, five in forked workers
    assert all(fresh for _, fresh, _ in measured) and besides == "run meanwhile"
    assert [ids for _, _, (ids, _) in measured] == [[r["prediction_id"] for r in log[k * SIZE:(k + 1) * SIZE]] for k in range(6)]
    return [doc for doc, _, _ in measured], store, judge, spans, path


def test_each_fault_is_dated_to_its_first_chunk_however_long_ago(judged):
    docs = judged[0]
    named = {doc["index"]: sorted(s["sensor"] for s in doc["suspects"]) for doc in docs}
    assert "process_temperature_k" in named[1], named  # the step is seen in the chunk it happens in only
    assert all("torque_nm" in named[k] for k in (2, 3, 4, 5)), named  # the gain in every chunk from its start
    window = [s for s in docs[-1]["suspects"] if s["sensor"] == "torque_nm"]  # what the latest window alone sees
    found = {s["sensor"]: s for s in over_history(window, docs, SETTINGS["relations"])}
    assert set(found) == {"torque_nm", "process_temperature_k"}, "every faulty sensor is named, not only the window's"
    torque, process = found["torque_nm"], found["process_temperature_k"]
    assert torque["chunk"] == 2 and abs(int(torque["starts_at"]["prediction_id"][2:]) - 1300) <= 100
    assert process["chunk"] == 1 and process["starts_at"]["prediction_id"] == "r-600"


def test_a_complete_chunk_is_measured_once_and_read_back(judged, tmp_path):
    docs, store, judge, spans, path = judged
    files = sorted(store.dir.glob("chunk-*.json"))
    assert len(files) == 6 and len(list(store.dir.glob("chunk-*.npz"))) == 6
    before = {f: f.stat().st_mtime_ns for f in files}
    again, _ = C.judged(judge, store, spans, path)
    assert [fresh for _, fresh, _ in again] == [False] * 6 and [doc for doc, _, _ in again] == docs
    assert {f: f.stat().st_mtime_ns for f in files} == before, "nothing is rewritten"
    shorter = write_log(tmp_path / "p.jsonl", records(gain_from=1300, step_at=600)[:2700])
    _, partial, _ = C.history(shorter, "v1", MONITOR)
    assert partial[-1].rows == 200 and partial[:-1] == spans[:5]
    out, _ = C.judged(judge, store, partial, shorter)
    assert [fresh for _, fresh, _ in out] == [False] * 5 + [True]
    assert len(list(store.dir.glob("chunk-*.json"))) == 6, "a partial chunk is measured each run, never kept"
    assert out[-1][0]["rows"] == 200 and out[-1][0]["judged"] is (200 >= MONITOR["min_drift_rows"])


def test_a_chunk_whose_lines_changed_is_an_error_naming_the_log(judged, tmp_path):
    _, _, _, spans, path = judged
    text = path.read_text()
    edited = tmp_path / "p.jsonl"
    edited.write_text(text.replace('"model_version":"v1"', '"model_version":"v2"', 1))
    with pytest.raises(C.ClockworkError, match=r"p.jsonl: changed while the monitor read it \(chunk 0\)"):
        C.span_lines(edited, spans[0], "v1")


def test_alerts_and_realized_metrics_follow_the_labels(judged):
    docs, _, _, spans, path = judged
    doc = dict(docs[3])
    raw = C.span_lines(path, spans[3], "v1")
    ids, probabilities = C.outcomes(raw, path)
    records_ = [json.loads(line) for _, line in raw]
    assert ids == [r["prediction_id"] for r in records_] and probabilities.tolist() == [r["failure_probability"] for r in records_]
    labels = {r["prediction_id"]: int(r["prediction"]) for r in records_[:250]}  # labels agree with predictions
    labelled, realized = C.realized((ids, probabilities), labels, 0.5, 200)
    assert labelled == 250 and realized["accuracy"] == 1.0
    assert C.realized((ids, probabilities), dict(list(labels.items())[:199]), 0.5, 200) == (199, None)
    doc["estimated"] = {**doc["estimated"], "f1": {"value": 0.2, "interval": [0.15, 0.25], "band": [0.1, 0.3]}}
    doc["realized"] = {**realized, "f1": 0.25}
    assert {"estimated_f1", "realized_f1", "sensor:torque_nm", "drift:torque_nm"} <= set(C.alerts(doc, limit=0.7))
    # the expected F1 is under the limit however unsure the calibrator, though this chunk's labels may land above it
    doc["estimated"]["f1"] = {"value": 0.65, "interval": [0.62, 0.68], "band": [0.5, 0.8]}
    assert "estimated_f1" in C.alerts(doc, limit=0.7)
    doc["estimated"]["f1"] = {"value": 0.65, "interval": [0.58, 0.72], "band": [0.5, 0.8]}  # the calibrator may allow the limit
    assert "estimated_f1" not in C.alerts(doc, limit=0.7)


def test_a_complete_chunks_outcomes_are_kept_and_read_back_while_they_are_its_own(judged, monkeypatch):
    _, store, _, spans, path = judged
    two, three = spans[2], spans[3]
    from_lines = {k: C.outcomes(C.span_lines(path, spans[k], "v1"), path) for k in (2, 3)}
    with monkeypatch.context() as patch:
        patch.setattr(C, "span_lines", lambda *args: pytest.fail("read from the lines again"))
        ids, probabilities = store.outcomes(two, path, "v1")
    assert ids == from_lines[2][0] and (probabilities == from_lines[2][1]).all()
    [kept] = store.dir.glob(f"chunk-{two.index:07d}-*.npz")
    [theirs] = store.dir.glob(f"chunk-{three.index:07d}-*.npz")
    theirs.write_bytes(kept.read_bytes())  # another chunk's outcomes under this chunk's name: not used
    assert store.outcomes(three, path, "v1")[0] == from_lines[3][0]
    kept.write_bytes(b"not an archive")  # damaged: read from the lines again, and kept again
    assert store.outcomes(two, path, "v1")[0] == from_lines[2][0]
    assert kept.read_bytes() != b"not an archive"


def test_predictions_of_one_row_are_grouped_by_its_row_id(judged):
    judge = judged[2]
    key = judge.contract.id.name  # the row id is logged beside each reading
    assert judge.rows([{key: 7}, {key: 8}, {key: 7}, {}, {key: None}]).tolist() == [0, 1, 0, 2, 3]
    assert judge.rows([{key: 1}, {key: 2}, {}]) is None, "no row predicted twice: each its own"


def test_a_worker_that_dies_is_a_one_line_error_and_what_was_measured_is_kept(judged, tmp_path, monkeypatch):
    _, _, judge, spans, path = judged
    store = C.Store(tmp_path, card(), MONITOR)
    parent, measure = os.getpid(), C.measure
    monkeypatch.setattr(C, "measure", lambda *args: measure(*args) if os.getpid() == parent else os._exit(9))
    with pytest.raises(C.ClockworkError, match=r"p.jsonl: a worker measuring its chunks died .* run make monitor again"):
        C.judged(judge, store, spans, path)
    assert len(list(store.dir.glob("chunk-*.json"))) == 1, "the chunk measured before the workers is kept"
