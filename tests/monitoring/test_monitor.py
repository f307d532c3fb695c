"""Monitor and simulation logic on small hand-made fixtures."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from scripts.core import store
from scripts.core.config import ClockworkError, load_params
from scripts.monitoring import chunks as C
from scripts.monitoring.chunks import history, span_lines
from scripts.monitoring.monitor import alert_environment, baseline_of, decide, join_labels, quality, raised, run_alert, settle, summary, window_labels
from scripts.pipeline.retrain import labelled_rows, rows_to_train
from scripts.pipeline.simulate import simulate
from tests.conftest import contract

SETTINGS = load_params()["monitor"]
BASELINE = {"error_rate": 0.01, "precision": 1.0, "recall": 0.7, "f1": 0.8}


def prediction(i: int, label: int, version: str = "v1", type_: str = "L") -> dict:
    return {"prediction_id": f"r-{i}", "model_version": version, "prediction": label, "time": f"t{i}",
            "inputs": {"type": type_, "air_temperature_k": 300.0, "process_temperature_k": 310.0,
                       "rotational_speed_rpm": 1500, "torque_nm": 40.0, "tool_wear_min": 10}}


def lines(records: list[dict]) -> list[tuple[int, str]]:
    return [(i, json.dumps(r, separators=(",", ":"))) for i, r in enumerate(records, 1)]


def history_of(records: list[dict], version: str, settings: dict, tmp_path: Path) -> tuple[int, list, list[dict]]:
    """history over a log of these records: the count, each chunk as (index, its prediction ids), the window."""
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    total, spans, window = history(path, version, {"window": 3, **settings})
    chunks = [(s.index, [json.loads(line)["prediction_id"] for _, line in span_lines(path, s, version)]) for s in spans]
    return total, chunks, window


def test_window_takes_the_live_models_latest_and_chunks_count_from_its_first(tmp_path):
    log = [prediction(i, 0, "v1" if i % 2 else "v2") for i in range(10)]
    total, chunks, window = history_of(log, "v1", {"max_chunks": 1}, tmp_path)
    assert [p["prediction_id"] for p in window] == ["r-5", "r-7", "r-9"], "the window spans the chunk boundary"
    assert total == 5 and chunks == [(1, ["r-7", "r-9"])]
    _, chunks, _ = history_of(log, "v1", {"max_chunks": 5}, tmp_path)
    assert [(k, len(ids)) for k, ids in chunks] == [(0, 3), (1, 2)]
    assert history_of(log, "v11", {"max_chunks": 5}, tmp_path) == (0, [], []), "v1 must not match v11"
    many = [prediction(i, 0) for i in range(10)]
    _, chunks, window = history_of(many, "v1", {"max_chunks": 2}, tmp_path)
    assert [k for k, _ in chunks] == [2, 3] and chunks[0][1][0] == "r-6" and len(window) == 3
    whole = history_of(log, "v1", {"max_chunks": 5}, tmp_path)
    for size in (37, 300, 1000):  # the log read in blocks that cut chunks and lines anywhere: the same chunks
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(C, "iter_byte_blocks", lambda path, size=size: store.iter_byte_blocks(path, size))
            assert history_of(log, "v1", {"max_chunks": 5}, tmp_path) == whole
            assert history_of(many, "v1", {"max_chunks": 2}, tmp_path)[1] == [(2, ["r-6", "r-7", "r-8"]), (3, ["r-9"])]
    torn = tmp_path / "p.jsonl"
    torn.write_text(torn.read_text() + '{"prediction_id":"r-10","model_version":"v1"')  # a write cut short
    assert history(torn, "v1", {"window": 3, "max_chunks": 2})[0] == 10, "a torn last line is no record"


def test_quality_matches_hand_computation():
    window = [prediction(0, 1), prediction(1, 1), prediction(2, 0), prediction(3, 0, type_="H"), prediction(4, 1)]
    labels = [{"prediction_id": "r-0", "label": 1}, {"prediction_id": "r-1", "label": 0},
              {"prediction_id": "r-2", "label": 0}, {"prediction_id": "r-3", "label": 1},
              {"prediction_id": "r-99", "label": 1}]
    found, outside = window_labels(lines(labels), window, Path("l.jsonl"))
    y = join_labels(window, found)
    assert y.tolist() == [1, 0, 0, 1, -1] and outside == 1
    q = quality(window, y, contract())["overall"]
    # labelled: (pred, true) = (1,1) (1,0) (0,0) (0,1) -> tp 1, fp 1, tn 1, fn 1
    assert (q["rows"], q["error_rate"], q["precision"], q["recall"], q["f1"]) == (4, 0.5, 0.5, 0.5, 0.5)
    groups = quality(window, y, contract())["per_group"]
    assert groups["Type H"]["recall"] == 0.0 and groups["Type H"]["rows"] == 1 and groups["Type M"]["rows"] == 0


def test_verdicts():
    good = {"error_rate": 0.012, "precision": 0.9, "recall": 0.7}
    assert decide(500, good, BASELINE, 0.1, SETTINGS)[0] == "ok"
    verdict, reasons = decide(500, {"error_rate": 0.05, "precision": 0.2, "recall": 0.7}, BASELINE, 0.1, SETTINGS)
    assert verdict == "retrain_required"
    assert any("error rate 0.0500 exceeds baseline 0.0100 x 2.0" in r for r in reasons)
    assert any("precision 0.200 below 0.5" in r for r in reasons)
    verdict, reasons = decide(500, good, BASELINE, 0.6, SETTINGS)
    assert verdict == "watch" and "drift alone does not require a retrain" in reasons[-1], "drift alone is watch"
    assert decide(500, {"error_rate": 0.05, "precision": 0.9, "recall": 0.7}, BASELINE, 0.6, SETTINGS)[0] == "retrain_required"
    estimated = "estimated F1 0.400 [0.300, 0.500] in chunk 3 ... is below 0.700"
    assert decide(10, None, BASELINE, 0.0, SETTINGS, estimated) == ("retrain_required", [estimated]), "before labels"
    assert decide(500, good, BASELINE, 0.0, SETTINGS, estimated)[0] == "ok", "labels withdraw an estimated drop"


def test_too_few_labels_never_gives_a_rate():
    for labelled in (0, SETTINGS["min_labels"] - 1):
        verdict, reasons = decide(labelled, None, BASELINE, 0.0, SETTINGS)
        assert verdict == "insufficient_labels"
        assert f"{labelled} labelled predictions" in reasons[0]


@pytest.fixture
def production() -> pd.DataFrame:
    n = 20
    return pd.DataFrame({"udi": range(1, n + 1), "product_id": ["L1"] * n, "type": ["L"] * n,
                         "air_temperature_k": [300.0] * n, "process_temperature_k": [310.0] * n,
                         "rotational_speed_rpm": [1500] * n, "torque_nm": [40.0] * n, "tool_wear_min": [10] * n,
                         "machine_failure": [0, 1] * (n // 2), **{flag: [0] * n for flag in ("twf", "hdf", "pwf", "osf", "rnf")}})


def test_simulation_drifts_readings_not_labels(production):
    drift = {"columns": {"torque_nm": {"scale": 1.1, "bias": 1.0}}, "from_row": 5, "fraction": 1.0, "seed": 0}
    out = simulate(production, {"rows": [0, 10], "drift": True}, drift, contract())
    assert out["torque_nm"].tolist() == [40.0] * 5 + [45.0] * 5
    assert out["drifted"].tolist() == [0] * 5 + [1] * 5
    assert out["machine_failure"].tolist() == production["machine_failure"][:10].tolist()
    untouched = simulate(production, {"rows": [10, 20], "drift": False}, drift, contract())
    assert untouched["torque_nm"].tolist() == [40.0] * 10 and untouched["udi"].iloc[0] == 11


def test_simulation_fraction_is_seeded(production):
    drift = {"columns": {"torque_nm": {"scale": 2.0, "bias": 0.0}}, "from_row": 0, "fraction": 0.5, "seed": 3}
    a = simulate(production, {"rows": [0, 20], "drift": True}, drift, contract())
    b = simulate(production, {"rows": [0, 20], "drift": True}, drift, contract())
    assert a.equals(b) and 0 < a["drifted"].sum() < 20


def test_the_verdict_is_never_ok_beside_a_faulty_sensor():
    fault = {"kind": "sensor_fault", "action": "fix or recalibrate the sensor",
             "suspect_sensors": [{"sensor": "torque_nm"}, {"sensor": "air_temperature_k"}]}
    verdict, reasons = settle("ok", ["quality within limits and no broad drift"], fault)
    assert verdict == "watch" and reasons == ["quality within limits, but a sensor is faulty (torque_nm, "
                                              "air_temperature_k): fix or recalibrate the sensor"]
    assert settle("retrain_required", ["recall 0.3 below 0.5"], fault) == ("retrain_required", ["recall 0.3 below 0.5"])
    assert settle("ok", ["fine"], {"kind": "covariate_drift"}) == ("ok", ["fine"])


def test_an_alert_runs_the_command_with_the_report_and_its_failure_is_said_not_raised(tmp_path):
    import sys

    report = tmp_path / "report.json"
    settings = {"alert_command": [sys.executable, "-c", "import sys; open(sys.argv[1] + '.seen', 'w').write('x')"],
                "alert_timeout_s": 10}
    assert run_alert(settings, report).startswith("sent") and (tmp_path / "report.json.seen").exists()
    failing = {**settings, "alert_command": [sys.executable, "-c", "import sys; sys.exit('pager down')"]}
    assert run_alert(failing, report) == "monitor.alert_command exited 1: pager down"
    missing = {**settings, "alert_command": [str(tmp_path / "no-such-program")]}
    assert run_alert(missing, report).startswith("monitor.alert_command failed: [Errno 2]")
    slow = {"alert_command": [sys.executable, "-c", "import time; time.sleep(5)"], "alert_timeout_s": 0.3}
    assert "timed out after 0.3 seconds" in run_alert(slow, report)
    doc = {**_report("retrain_required", ["torque_nm"], [["drift:torque_nm"]]), "report_id": "20261204T000000Z-0123abcd"}
    doc["raised"] = raised(None, doc)
    told = {**settings, "alert_command": [sys.executable, "-c", "import json, os, sys; open(sys.argv[1] + '.env', 'w')"
                                          ".write(json.dumps({k: v for k, v in os.environ.items() if k.startswith('CLOCKWORK_')}))"]}
    assert run_alert(told, report, alert_environment(doc)).startswith("sent")
    expected = {"CLOCKWORK_ALERTS": "retrain_required\nsensor_fault:torque_nm\nchunk 0 of 1000: drift:torque_nm",
                "CLOCKWORK_VERDICT": "retrain_required", "CLOCKWORK_DIAGNOSIS": "sensor_fault",
                "CLOCKWORK_MODEL_VERSION": "v1", "CLOCKWORK_REPORT_ID": "20261204T000000Z-0123abcd"}
    seen = json.loads((tmp_path / "report.json.env").read_text())
    assert {k: seen.get(k) for k in expected} == expected, "what a pager script can say without reading JSON"


def _report(verdict="ok", sensors=(), chunks=(), version="v1", size=1000):
    kind = "sensor_fault" if sensors else "covariate_drift"
    return {"model_version": version, "verdict": verdict, "history": {"chunk_size": size},
            "diagnosis": {"kind": kind, "suspect_sensors": [{"sensor": s} for s in sensors]},
            "chunks": [{"index": i, "alerts": list(a)} for i, a in enumerate(chunks)]}


def test_the_alert_command_is_run_for_what_is_new_a_chunk_alert_too_and_not_again_on_a_rerun():
    first = _report(chunks=[[], ["drift:torque_nm"]])
    assert raised(None, first) == ["chunk 1 of 1000: drift:torque_nm"], "drift alone pages once, though it is only 'watch'"
    assert raised(first, first) == [], "a rerun that finds nothing new says nothing new"
    later = _report("retrain_required", ["torque_nm"], [[], ["drift:torque_nm"], ["drift:torque_nm", "realized_f1"]])
    assert raised(first, later) == ["retrain_required", "sensor_fault:torque_nm", "chunk 2 of 1000: drift:torque_nm",
                                    "chunk 2 of 1000: realized_f1"]
    labelled = _report("retrain_required", ["torque_nm"], [[], ["drift:torque_nm", "realized_f1"], ["drift:torque_nm", "realized_f1"]])
    assert raised(later, labelled) == ["chunk 1 of 1000: realized_f1"], "labels arriving for an old chunk are news"
    assert raised(_report(version="v0", chunks=[["multivariate"]]), _report(chunks=[["multivariate"]])) == \
        ["chunk 0 of 1000: multivariate"], "another model's report says nothing of this one's"
    assert raised(_report(chunks=[["multivariate"]], size=500), _report(chunks=[["multivariate"]])) == \
        ["chunk 0 of 1000: multivariate"], "chunks of another size are other chunks"
    assert raised({"model_version": "v1", "verdict": "ok", "diagnosis": {"kind": "none", "suspect_sensors": []}},
                  _report("retrain_required")) == ["retrain_required"], "a report written before chunks"


def test_retraining_a_table_without_a_row_id_is_refused_in_one_line():
    params = load_params()
    params["dataset"] = {**params["dataset"], "order": None, "segments": ["type"],
                         "columns": [c for c in params["dataset"]["columns"] if c["role"] != "id"]}
    with pytest.raises(ClockworkError, match=r"dataset: retraining on labelled predictions needs a row id column \(role: id\)"):
        rows_to_train(params, {"aliases": {"production": None}, "versions": {}}, None)


def test_labelled_rows_join_and_dedupe():
    log = [prediction(0, 0), prediction(1, 1), prediction(2, 0)]
    labels = [{"prediction_id": "r-0", "label": 0, "udi": 7, "dataset": "a"},
              {"prediction_id": "r-2", "label": 1, "udi": 7, "dataset": "b"}]
    rows = labelled_rows(log, labels, contract())
    assert len(rows) == 1 and rows["dataset"].iloc[0] == "b" and rows["machine_failure"].iloc[0] == 1


def test_the_baseline_takes_every_figure_from_the_chosen_split():
    def split(error: float, tp: int, fp: int, rows: int) -> dict:
        return {"error_rate": error, "precision": 0.9, "recall": 0.8, "f1": 0.85, "rows": rows,
                "confusion_matrix": {"tp": tp, "fp": fp, "tn": rows - tp - fp, "fn": 0}}
    card = {"version": "v3", "metrics": {"test": split(0.02, 30, 10, 1000), "train": split(0.001, 150, 50, 5000)}}
    train, test = baseline_of(card, "train"), baseline_of(card, "test")
    assert train == {"source": "model v3 train metrics", "error_rate": 0.001, "precision": 0.9, "recall": 0.8, "f1": 0.85,
                     "predicted_failure_rate": 0.04}
    assert test["predicted_failure_rate"] == 0.04 and test["error_rate"] == 0.02
    card["metrics"]["train"]["confusion_matrix"]["fp"] = 0
    assert baseline_of(card, "train")["predicted_failure_rate"] == 0.03, "the train baseline's rate is the train set's"


def test_a_corrupt_retrain_flag_is_one_line_naming_the_file(repo):
    flag = repo.path / "logs/retrain.flag"
    flag.write_text('{"report_id": "x"')
    run = repo.make("retrain")
    assert run.code == 2 and run.err.startswith(f"error: {flag}: corrupt JSON"), run.err
    assert len(run.err.splitlines()) == 2 and "] Error 2" in run.err.splitlines()[1], "one line of ours, then make's own"
    flag.write_text(json.dumps({"report_id": "20260101T000000Z-0123abcd", "created_at": "2026-01-01T00:00:00Z",
                                "model_version": None, "reasons": ["x"], "report": "logs/monitor/x.json"}))
    run = repo.make("retrain")
    assert run.code == 2 and "retrain.flag: model_version: null is not of type 'string'" in run.err, run.err


def test_drift_on_too_few_predictions_is_not_enough_data(repo):
    """Eleven predictions cannot say that most features drifted: below monitor.min_drift_rows the
    report says how many are needed, and nothing is diagnosed from drift."""
    from tests.serving.test_app import READING
    from tests.serving.test_serve import Server, call

    server = Server(repo).start()
    try:
        for i in range(11):
            assert call(server.port, "POST", "/predict", {**READING, "torque_nm": 30.0 + i})[0] == 200
    finally:
        server.stop()
    run = repo.make("monitor")
    assert run.code == 0, run.err
    needed = load_params()["monitor"]["min_drift_rows"]
    assert f"drift: not enough data: 11 predictions in the window, {needed} needed (monitor.min_drift_rows)" in run.out
    [path] = (repo.path / "logs/monitor").glob("*.json")
    report = json.loads(path.read_text())
    assert report["drift"] == {"features": {}, "drifted": [], "drifted_share": 0.0, "judged": False, "needed": needed}
    assert report["verdict"] == "insufficient_labels" and not any("drifted" in r for r in report["reasons"])
    assert report["diagnosis"]["kind"] != "covariate_drift"


def test_drift_is_judged_for_the_models_own_columns_by_kind():
    """Any table's columns: chi-square for each category input, KS for each number (derived ones too)."""
    import numpy as np
    import pandas as pd

    from scripts.core.config import load_params
    from scripts.monitoring.chunks import drift_table

    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"purpose": rng.choice(["car", "home"], 2000), "income": rng.normal(50, 5, 2000)})
    current = pd.DataFrame({"purpose": ["car"] * 500, "income": rng.normal(50, 5, 500)})
    settings = load_params()["monitor"]
    drift = drift_table(reference, current, {"categories": {"purpose": ["car", "home"]}, "numeric": ["income"]}, settings)
    assert (drift["purpose"]["test"], drift["purpose"]["drifted"]) == ("chi_square", True)
    assert (drift["income"]["test"], drift["income"]["drifted"]) == ("ks", False)


def _missed_reading(repo) -> tuple[dict, float]:  # noqa: ANN001 - a Repo
    """The reading the live model scores under its threshold with the greatest calibrated chance of
    failure, on a ramp of torque at high tool wear (overstrain), through the real service; and that chance."""
    from scripts.core import estimate as E
    from tests.serving.test_app import READING
    from tests.serving.test_serve import Server, call

    card = json.loads((repo.path / "models/model_v1.json").read_text())
    ramp = [{**READING, "tool_wear_min": 210, "torque_nm": round(40 + 0.25 * i, 2)} for i in range(120)]
    server = Server(repo).start()
    try:
        status, doc = call(server.port, "POST", "/predict", {"instances": ramp})
    finally:
        server.stop()
    assert status == 200
    chances = [(float(E.calibrate(card["metrics"]["calibration"], p["failure_probability"])), reading)
               for reading, p in zip(ramp, doc["predictions"], strict=True) if p["prediction"] == 0]
    chance, reading = max(chances, key=lambda found: found[0])
    assert chance * 300 > 5, "300 of them hold some failures: the ramp crosses the overstrain boundary"
    return reading, chance


def _monitored(repo) -> dict:  # noqa: ANN001 - a Repo
    run = repo.make("monitor")
    assert run.code == 0, run.err
    path = next(line.split("report:")[1].strip() for line in run.out.splitlines() if line.strip().startswith("report:"))
    return json.loads((repo.path / path).read_text())


@pytest.mark.parametrize("failures", [0, 30])
def test_an_estimated_drop_requires_a_retrain_before_labels_and_labels_confirm_or_withdraw_it(repo, built, tmp_path,
                                                                                              failures):
    """300 predictions of a reading the model calls healthy while its calibrated chance of failure says
    some of them fail: every expected failure is missed, so the estimated F1 is 0, its interval too, and
    make monitor requires a retrain on the estimate, before any label. Labels that show no failure
    withdraw it; labels that show failures, all missed, confirm it."""
    from tests.conftest import copy_of
    from tests.serving.test_serve import Server, call

    reading, _ = _missed_reading(copy_of(built, tmp_path / "probe"))  # the ramp's predictions logged there
    server = Server(repo).start()
    try:
        status, doc = call(server.port, "POST", "/predict", {"instances": [{**reading, "udi": 1 + i} for i in range(300)]})
    finally:
        server.stop()
    assert status == 200
    ids = [p["prediction_id"] for p in doc["predictions"]]

    before = _monitored(repo)
    chunk = before["chunks"][-1]
    assert chunk["rows"] == 300 and chunk["judged"] and "realized" not in chunk
    assert chunk["estimated"]["f1"]["value"] == 0.0 and chunk["estimated"]["f1"]["interval"][1] < before["history"]["f1_limit"]
    assert "estimated_f1" in chunk["alerts"]
    assert (before["verdict"], before["basis"]) == ("retrain_required", "estimated")
    assert before["reasons"][0].startswith("estimated F1 0.000 (interval 0.000 to 0.000) in chunk 0") and \
        before["reasons"][0].endswith("will confirm or withdraw it")
    flag = json.loads((repo.path / "logs/retrain.flag").read_text())
    assert (flag["basis"], flag["report_id"]) == ("estimated", before["report_id"]), "the flag says what it rests on"
    size = before["history"]["chunk_size"]
    assert {"retrain_required", f"chunk 0 of {size}: estimated_f1"} <= set(before["raised"])
    assert "new alerts: retrain_required" in summary(before)

    (repo.path / "labels.csv").write_text("prediction_id,label\n" + "".join(
        f"{pid},{int(i < failures)}\n" for i, pid in enumerate(ids)))
    assert repo.make("labels", "FILE=labels.csv").code == 0
    after = _monitored(repo)
    realized = after["chunks"][-1]["realized"]
    assert after["basis"] == "labels" and after["chunks"][-1]["labelled"] == 300
    if failures:  # all missed: confirmed
        assert realized["f1"] == 0.0 and "realized_f1" in after["chunks"][-1]["alerts"]
        assert after["verdict"] == "retrain_required" and not after["reasons"][0].startswith("estimated")
        assert json.loads((repo.path / "logs/retrain.flag").read_text())["basis"] == "labels"
        assert after["raised"] == [f"chunk 0 of {size}: realized_f1"], "only what the labels added is new"
    else:  # no failure, none predicted: withdrawn, and the flag goes
        assert realized["f1"] is None and "realized_f1" not in after["chunks"][-1]["alerts"]
        assert after["verdict"] != "retrain_required", after["reasons"]
        assert after["withdraws"] == {"report_id": before["report_id"], "reasons": before["reasons"]}
        assert not (repo.path / "logs/retrain.flag").exists()
        assert after["raised"] == [] and "new alerts" not in summary(after)
        assert f"withdrawn: the retrain flag of report {before['report_id']}" in summary(after)
        assert "no retrain flag" in repo.make("retrain").out
