"""The batch path: probabilities equal predict_proba's to 1e-12 for every model kind, one exact log line per
reading, and a large batch logged and answered slice by slice without losing or reordering a row."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from scripts.core.artifacts import load_model
from scripts.core.config import load_params
from scripts.core.estimator import fit
from scripts.serving.app import create_app
from scripts.serving.batch import Batch
from scripts.serving.fastpath import FastForest
from scripts.serving.live import LiveModel
from scripts.serving.scoring import Scorer, probabilities
from scripts.serving.telemetry import Metrics
from tests import ai4i as A
from tests.conftest import (
    Repo,
    check_line,
    fields,
    spec,
)
from tests.serving.test_app import READING, Client, holder_of


@pytest.fixture(scope="module")
def rows(built: Repo) -> pd.DataFrame:
    """Every row of the first data version: train, test and production (about 10,000)."""
    meta = built.json("data/processed/v1.json")
    return pd.concat([pd.read_csv(built.path / meta["outputs"][s]["path"]) for s in ("train", "test", "production")])


def live_model(pipeline, threads: int = 1, min_rows: int = 0) -> LiveModel:
    fast = FastForest.compile(pipeline)
    return LiveModel("v1", {}, pipeline, 0.5, "2026-01-01T00:00:00Z", fast and fast.parallel(threads, min_rows))


@pytest.fixture(scope="module")
def forest(built: Repo):
    card = built.json("models/model_v1.json")
    return load_model({**card, "artifact": {**card["artifact"], "path": str(built.path / card["artifact"]["path"])}})


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_forest_batch_path_equals_predict_proba(forest, rows, threads):
    live = live_model(forest, threads, min_rows=1)
    assert live.fast is not None
    batch = Batch.from_readings(fields(), rows[A.INPUT_COLUMNS].to_dict("records"))
    expected = forest.predict_proba(rows[A.INPUT_COLUMNS])[:, 1]
    got = probabilities(live, batch)
    assert got.shape == expected.shape and np.max(np.abs(got - expected)) <= 1e-12


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter kept low for speed
@pytest.mark.parametrize("algorithm", ["random_forest", "hist_gradient_boosting", "logistic_regression"])
def test_every_model_kind_scores_a_batch_as_its_pipeline_does(rows, algorithm):
    params = load_params()
    model = {**params["model"], "algorithm": algorithm, "max_iter": 20, "n_estimators": 15}
    pipeline = fit(rows.iloc[:2000], spec({**params["features"], "scaling": "none"}), model)
    live = live_model(pipeline, threads=2, min_rows=1)
    assert (live.fast is not None) == (algorithm == "random_forest")
    batch = Batch.from_readings(fields(), rows[A.INPUT_COLUMNS].to_dict("records"))
    expected = pipeline.predict_proba(rows[A.INPUT_COLUMNS])[:, 1]
    assert np.max(np.abs(probabilities(live, batch) - expected)) <= 1e-12


@pytest.fixture
def sliced(forest, tmp_path) -> Client:
    """The app with slices of 3 rows, so a batch of 8 is logged and answered in three slices."""
    params = load_params()
    log = tmp_path / "predictions.jsonl"
    params["deployment"] = {**params["deployment"], "predictions_log": str(log), "stream_rows": 3}
    holder = holder_of(live_model(forest, 2, 1))
    return Client(create_app(params, holder, Metrics()), log, holder)


def test_a_large_batch_is_logged_and_answered_slice_by_slice(sliced: Client):
    readings = [{**READING, "torque_nm": 30.0 + i, "tool_wear_min": 10 * i} for i in range(8)]
    readings[2]["udi"] = 7001
    status, doc, _ = sliced("POST", "/predict", {"instances": readings}, headers={"HTTP_X_REQUEST_ID": "big"})
    assert status == 200
    assert [p["prediction_id"] for p in doc["predictions"]] == [f"{doc['request_id']}-{i}" for i in range(8)]
    assert doc["client_request_id"] == "big" != doc["request_id"]
    lines = sliced.lines()
    assert len(lines) == 8
    for line, reading, answer in zip(lines, readings, doc["predictions"], strict=True):
        check_line(line, "predictions.jsonl")
        assert line["prediction_id"] == answer["prediction_id"] and line["failure_probability"] == answer["failure_probability"]
        assert line["inputs"] == {c: reading[c] for c in A.INPUT_COLUMNS}
        assert type(line["inputs"]["rotational_speed_rpm"]) is int, "values are logged as they were sent"
        assert line.get("udi") == reading.get("udi")
    status, doc, _ = sliced("POST", "/invocations", {"dataframe_records": readings[:7]})
    assert status == 200 and len(doc["predictions"]) == 7 and len(sliced.lines()) == 15


def test_a_log_line_holds_exactly_the_old_record(forest, tmp_path):
    """The line template writes the same record the dict-per-reading code wrote, field by field."""
    params = load_params()
    log = tmp_path / "predictions.jsonl"
    live = live_model(forest)
    scorer = Scorer(SimpleNamespace(live=live), {**params["deployment"], "predictions_log": str(log)},
                    Metrics().predictions, fields())
    scored = scorer(Batch.from_readings(fields(), [{**READING, "udi": 3}, READING]), ("r-1", None), "predict", 0.0)
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert list(first) == ["time", "request_id", "prediction_id", "endpoint", "model_version", "inputs",
                           "failure_probability", "prediction", "threshold", "latency_ms", "udi"]
    assert first["inputs"] == READING and first["udi"] == 3 and "udi" not in second
    assert [first["failure_probability"], second["failure_probability"]] == scored.probabilities.tolist()
    assert first["prediction"] == int(scored.probabilities[0] >= 0.5) and first["threshold"] == 0.5
