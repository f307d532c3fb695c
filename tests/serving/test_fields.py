"""The service follows the data set contract: a loans table with a text row id, a category, a boolean,
an integer and numbers, served in-process by a model fitted on it. Requests, refusals, the OIP and
MLflow formats, the OpenAPI document's examples and the prediction log all speak its columns."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts.core import estimator
from scripts.core import features as F
from scripts.core.config import load_params
from scripts.core.contract import Contract
from scripts.serving.app import create_app
from scripts.serving.fastpath import FastForest
from scripts.serving.fields import Fields
from scripts.serving.live import LiveModel
from scripts.serving.scoring import line_checker
from scripts.serving.telemetry import Metrics
from tests.serving.test_app import Client, holder_of

LOANS = {
    "columns": [
        {"column": "Loan ID", "name": "loan_id", "kind": "text", "role": "id"},
        {"column": "Purpose", "name": "purpose", "kind": "category", "role": "input", "values": ["car", "home", "study"]},
        {"column": "Has Guarantor", "name": "has_guarantor", "kind": "boolean", "role": "input"},
        {"column": "Term (months)", "name": "term_months", "kind": "integer", "role": "input", "range": [6, 120]},
        {"column": "Income", "name": "income", "kind": "number", "role": "input", "range": [0, 1_000_000]},
        {"column": "Amount", "name": "amount", "kind": "number", "role": "input", "missing": "median"},
        {"column": "Defaulted", "name": "defaulted", "kind": "category", "role": "target", "values": ["no", "yes"]},
    ],
    "order": None, "positive": "yes", "derived": {"burden": "amount / (income + 1)"}, "segments": ["purpose"],
}
ONE = {"loan_id": "L-1", "purpose": "car", "has_guarantor": True, "term_months": 36, "income": 52000.0, "amount": 9000.0}


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({"purpose": rng.choice(["car", "home", "study"], n), "has_guarantor": rng.integers(0, 2, n),
                         "term_months": rng.integers(6, 121, n), "income": rng.uniform(1e4, 2e5, n),
                         "amount": rng.uniform(1e3, 5e4, n)})
    risk = rows["amount"] / rows["income"] * 3 - rows["has_guarantor"] + (rows["purpose"] == "study")
    rows["defaulted"] = (risk + rng.normal(0, 0.3, n) > 0.8).astype(int)
    rows.loc[rows.index % 10 == 0, "amount"] = np.nan  # may be missing: the model fills it
    return rows


@pytest.fixture(scope="module")
def live() -> LiveModel:
    contract = Contract.from_params(LOANS)
    feature_spec = F.spec(contract, {"derived": ["burden"], "scaling": "standard", "one_hot_type": True})
    model = {**load_params()["model"], "n_estimators": 20}
    pipeline = estimator.fit(frame(600, 1), feature_spec, model)
    card = {"features": feature_spec}
    return LiveModel("v1", card, pipeline, 0.5, "2026-01-01T00:00:00Z", FastForest.compile(pipeline))


@pytest.fixture
def client(live, tmp_path) -> Client:
    params = load_params()
    params["dataset"] = LOANS
    params["deployment"] = {**params["deployment"], "predictions_log": str(tmp_path / "predictions.jsonl"), "max_batch": 50}
    holder = holder_of(live)
    return Client(create_app(params, holder, Metrics()), tmp_path / "predictions.jsonl", holder)


def test_an_input_that_may_be_missing_is_left_out_or_null_and_filled_by_the_model(client, live):
    assert live.fast is None, "a Pipeline that fills missing values is served by the Pipeline itself"
    left_out = {k: v for k, v in ONE.items() if k != "amount"}
    answers = [client("POST", "/predict", body)[1]["failure_probability"] for body in (left_out, {**ONE, "amount": None})]
    filled = live.pipeline.named_steps["features"].named_steps["fill"].named_transformers_["median"].statistics_[0]
    expected = live.pipeline.predict_proba(pd.DataFrame([{**ONE, "has_guarantor": 1.0, "amount": filled}]))[0, 1]
    assert answers == [pytest.approx(expected, abs=1e-12)] * 2, "the training rows' median fills it"
    assert [line["inputs"]["amount"] for line in client.lines()] == [None, None], "logged as missing"
    status, doc, _ = client("POST", "/predict", {**ONE, "income": None})
    assert status == 400 and doc["field"] == "income" and "null is not of type 'number'" in doc["error"], doc
    tensors = [{"name": name, "datatype": Fields.of(Contract.from_params(LOANS)).datatype(name), "shape": [1], "data": [ONE[name]]}
               for name in ("purpose", "has_guarantor", "term_months", "income")]
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"inputs": tensors})
    assert status == 200 and doc["outputs"][0]["data"] == [pytest.approx(answers[0])], doc


def test_a_reading_of_the_data_sets_own_columns_is_scored_and_logged_as_sent(client, live):
    status, doc, _ = client("POST", "/predict", ONE)
    assert status == 200 and 0 <= doc["failure_probability"] <= 1, doc
    line = client.lines()[0]
    assert line["inputs"] == {k: v for k, v in ONE.items() if k != "loan_id"} and line["loan_id"] == "L-1"
    line_checker(Fields.of(Contract.from_params(LOANS)))(line, "predictions.jsonl")
    expected = live.pipeline.predict_proba(pd.DataFrame([{**ONE, "has_guarantor": 1.0}]))[0, 1]
    assert doc["failure_probability"] == pytest.approx(expected, abs=1e-12)
    headers = {"Loan ID": "L-2", "Purpose": "car", "Has Guarantor": 1, "Term (months)": 36, "Income": 52000.0, "Amount": 9000.0}
    status, again, _ = client("POST", "/predict", headers)
    assert status == 200 and again["failure_probability"] == doc["failure_probability"], "CSV headers, 1 for true"


def test_the_fast_column_check_and_the_per_reading_check_agree(client):
    rows = [{**ONE, "loan_id": f"L-{i}", "has_guarantor": i % 2 == 0, "purpose": ["car", "home", "study"][i % 3]}
            for i in range(9)]
    status, fast, _ = client("POST", "/predict", {"instances": rows})
    status_slow, slow, _ = client("POST", "/predict", {"instances": [*rows[:-1], {**rows[-1], "loan_id": "L-8"}]})
    assert status == status_slow == 200
    assert [p["failure_probability"] for p in fast["predictions"]] == [p["failure_probability"] for p in slow["predictions"]]
    text = "loan_id,purpose,has_guarantor,term_months,income,amount\n" + "\n".join(
        f'"{r["loan_id"]}, a comma",{r["purpose"]},{int(r["has_guarantor"])},36,52000.0,9000.0' for r in rows)
    status, doc, _ = client("POST", "/invocations", raw=text.encode(), headers={"CONTENT_TYPE": "text/csv"})
    assert status == 200 and len(doc["predictions"]) == 9, doc
    assert client.lines()[-1]["loan_id"] == "L-8, a comma", "a text id with a comma is logged whole"


@pytest.mark.parametrize("change,field,reason", [
    ({"purpose": "boat"}, "purpose", "is not one of"),
    ({"has_guarantor": 2}, "has_guarantor", "is not one of"),
    ({"has_guarantor": None}, "has_guarantor", "null is not one of"),
    ({"term_months": 500}, "term_months", "maximum"),
    ({"income": "lots"}, "income", "is not of type 'number'"),
    ({"loan_id": 7}, "loan_id", "is not of type 'string'"),
    ({"type": "L"}, "type", "unknown field"),
])
def test_a_bad_field_is_named_in_the_data_sets_terms(client, change, field, reason):
    status, doc, _ = client("POST", "/predict", {"instances": [ONE, {**ONE, **change}]})
    assert status == 400 and doc["field"] == f"instances[1].{field}" and reason in doc["error"], doc


def test_oip_metadata_and_inference_use_the_columns_kinds(client):
    status, meta, _ = client("GET", "/v2/models/clockwork")
    assert status == 200 and [(t["name"], t["datatype"]) for t in meta["inputs"]] == [
        ("purpose", "BYTES"), ("has_guarantor", "BOOL"), ("term_months", "FP64"), ("income", "FP64"), ("amount", "FP64")]
    tensors = [{"name": t["name"], "datatype": t["datatype"], "shape": [1],
                "data": [ONE[t["name"]]]} for t in meta["inputs"]]
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"inputs": tensors})
    assert status == 200 and doc["outputs"][0]["name"] == "failure_probability", doc
    tensors[0]["datatype"] = "FP64"
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"inputs": tensors})
    assert status == 400 and doc["field"] == "inputs[0].datatype" and "expected BYTES" in doc["error"]


def test_every_example_in_the_openapi_document_is_answered(client):
    status, document, _ = client("GET", "/openapi.json")
    assert status == 200
    reading = document["components"]["schemas"]["reading"]
    assert set(reading["properties"]) >= {"loan_id", "Loan ID", "purpose", "Has Guarantor"}
    answered = 0
    for path in ("/predict", "/invocations", "/v2/models/{model_name}/infer"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        for kind, media in content.items():
            for example in media.get("examples", {}).values():
                raw = example["value"].encode() if kind == "text/csv" else json.dumps(example["value"]).encode()
                status, doc, _ = client("POST", path.replace("{model_name}", "clockwork"), raw=raw,
                                        headers={"CONTENT_TYPE": kind})
                assert status == 200, (path, example, doc)
                answered += 1
    assert answered >= 9
