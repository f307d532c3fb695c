"""The WSGI app driven in-process, with no socket (as bottle's own unit tests do)."""
from __future__ import annotations

import io
import json
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import pytest

from scripts.core.artifacts import load_model
from scripts.core.config import load_params
from scripts.inspect import site
from scripts.serving.app import create_app
from scripts.serving.fastpath import FastForest
from scripts.serving.live import LiveModel
from scripts.serving.telemetry import Metrics
from tests.conftest import (
    Repo,
    check_line,
)

READING = {"type": "L", "air_temperature_k": 300.0, "process_temperature_k": 310.0, "rotational_speed_rpm": 1400,
           "torque_nm": 40.0, "tool_wear_min": 20}
CSV_NAMES = {"Type": "L", "Air temperature [K]": 300.0, "Process temperature [K]": 310.0,
             "Rotational speed [rpm]": 1400, "Torque [Nm]": 40.0, "Tool wear [min]": 20}


@pytest.fixture(scope="module")
def live(built: Repo) -> LiveModel:
    card = built.json("models/model_v1.json")
    pipeline = load_model({**card, "artifact": {**card["artifact"], "path": str(built.path / card["artifact"]["path"])}})
    return LiveModel("v1", card, pipeline, card["threshold"], "2026-01-01T00:00:00Z", FastForest.compile(pipeline))


@pytest.fixture
def client(live, tmp_path):
    params = load_params()
    params["deployment"] = {**params["deployment"], "predictions_log": str(tmp_path / "predictions.jsonl"),
                            "max_batch": 10, "max_body_bytes": 4096}
    holder = holder_of(live)
    app = create_app(params, holder, Metrics(), sites=[site.routes])
    return Client(app, tmp_path / "predictions.jsonl", holder)


def holder_of(live: LiveModel) -> SimpleNamespace:
    """A stand-in for the ModelHolder: one live model, the only version it knows."""
    holder = SimpleNamespace(live=live)
    holder.model = lambda version: holder.live if holder.live and holder.live.version == version else None
    holder.versions = lambda: [holder.live.version] if holder.live else []
    return holder


class Client:
    def __init__(self, app, log, holder):
        self.app, self.log, self.holder = app, log, holder

    def __call__(self, method: str, path: str, body=None, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        environ: dict = {}
        setup_testing_defaults(environ)
        environ.update({"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(data),
                        "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json"})
        for key, value in (headers or {}).items():
            environ[key] = value
        seen = {}
        chunks = self.app(environ, lambda status, hdrs, exc=None: seen.update(status=int(status[:3]), headers=dict(hdrs)))
        text = b"".join(chunks).decode()
        return seen["status"], (json.loads(text) if seen["headers"].get("Content-Type", "").startswith("application/json") else text), seen["headers"]

    def raw(self, method: str, path: str, data: bytes, headers: dict) -> tuple[int, bytes, dict]:
        """The answer's status, bytes and headers, whatever its content type."""
        environ: dict = {}
        setup_testing_defaults(environ)
        environ.update({"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(data),
                        "CONTENT_LENGTH": str(len(data)), **headers})
        seen = {}
        chunks = self.app(environ, lambda status, hdrs, exc=None: seen.update(status=int(status[:3]), headers=dict(hdrs)))
        return seen["status"], b"".join(chunks), seen["headers"]

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


def test_single_reading(client):
    status, doc, headers = client("POST", "/predict", READING)
    assert status == 200
    assert doc["model_version"] == "v1" and headers["X-Model-Version"] == "v1"
    assert 0 <= doc["failure_probability"] <= 1 and doc["prediction"] in (0, 1)
    assert doc["prediction_id"] == doc["request_id"] + "-0"


def test_batch_and_csv_column_names(client):
    status, doc, _ = client("POST", "/predict", {"instances": [READING, CSV_NAMES, {**READING, "torque_nm": 70.0,
                                                                                      "rotational_speed_rpm": 2800}]})
    assert status == 200
    probabilities = [p["failure_probability"] for p in doc["predictions"]]
    assert probabilities[0] == probabilities[1], "CSV names are aliases of the same fields"
    assert doc["predictions"][2]["prediction"] == 1
    assert len(client.lines()) == 3


def test_every_prediction_is_one_valid_log_line(client):
    client("POST", "/predict", {**READING, "udi": 42}, headers={"HTTP_X_REQUEST_ID": "req-1"})
    client("POST", "/predict", {"instances": [READING] * 4})
    lines = client.lines()
    assert len(lines) == 5
    for line in lines:
        check_line(line, "predictions.jsonl")
    assert lines[0]["client_request_id"] == "req-1" and lines[0]["udi"] == 42
    assert lines[0]["request_id"] != "req-1" and "client_request_id" not in lines[1]


def test_prediction_ids_are_the_services_own_and_a_clients_id_is_only_echoed(client):
    """Two requests with the same X-Request-ID get distinct prediction ids: a label names one reading,
    never the reading a client chose to collide with."""
    answers = [client("POST", "/predict", READING, headers={"HTTP_X_REQUEST_ID": "same"})[1] for _ in range(2)]
    assert [a["client_request_id"] for a in answers] == ["same", "same"]
    assert answers[0]["prediction_id"] != answers[1]["prediction_id"] and "same" not in answers[0]["prediction_id"]
    _, doc, _ = client("POST", "/invocations", {"dataframe_records": [READING]}, headers={"HTTP_X_REQUEST_ID": "same"})
    assert doc["client_request_id"] == "same" and doc["request_id"] != "same"
    ids = [line["prediction_id"] for line in client.lines()]
    assert len(ids) == len(set(ids)) == 3 and {line["client_request_id"] for line in client.lines()} == {"same"}


@pytest.mark.parametrize("body,field,reason", [
    ({**READING, "torque_nm": "heavy"}, "torque_nm", "is not of type 'number'"),
    ({**READING, "torque_nm": 500.0}, "torque_nm", "is greater than the maximum"),
    ({**READING, "type": "X"}, "type", "is not one of"),
    ({**READING, "colour": "red"}, "colour", "unknown field"),
    ({k: v for k, v in READING.items() if k != "tool_wear_min"}, "tool_wear_min", "missing required field"),
    ({**READING, "torque_nm": True}, "torque_nm", "true is not of type 'number'"),
    ({**READING, "torque_nm": None}, "torque_nm", "null is not of type 'number'"),
    ({"instances": [READING, {**READING, "torque_nm": -1.0}]}, "instances[1].torque_nm", "is less than the minimum"),
    ({"instances": []}, "instances", "should be non-empty"),
    ([READING], "body", "a reading must be a JSON object"),
    ({**READING, "Torque [Nm]": 40.0}, "Torque [Nm]", "given twice"),
])
def test_bad_readings_are_400_naming_the_field(client, body, field, reason):
    status, doc, _ = client("POST", "/predict", body)
    assert status == 400
    assert doc["field"] == field and reason in doc["error"], doc
    assert client.lines() == [], "a refused request logs no prediction"


def test_non_finite_numbers_and_broken_json(client):
    status, doc, _ = client("POST", "/predict", raw=json.dumps(READING).replace("40.0", "NaN").encode())
    assert status == 400 and "NaN is not allowed" in doc["error"]
    status, doc, _ = client("POST", "/predict", raw=json.dumps(READING).replace("40.0", "Infinity").encode())
    assert status == 400 and "Infinity is not allowed" in doc["error"]
    status, doc, _ = client("POST", "/predict", raw=b'{"type": ')
    assert status == 400 and "not valid JSON" in doc["error"]


def test_limits_and_media_type(client):
    status, doc, _ = client("POST", "/predict", {"instances": [READING] * 11})
    assert status == 413 and "limit of 10" in doc["error"]
    status, doc, _ = client("POST", "/predict", raw=b" " * 5000)
    assert status == 413 and doc["field"] == "body"
    status, doc, _ = client("POST", "/predict", READING, headers={"CONTENT_TYPE": "text/plain"})
    assert status == 415 and "application/json" in doc["error"]


def test_unknown_route_and_method_are_json(client):
    status, doc, _ = client("GET", "/nope")
    assert status == 404 and doc == {"error": "no such endpoint"}
    status, doc, _ = client("GET", "/predict")
    assert status == 405 and "POST" in doc["error"]


def test_invocations_three_shapes(client):
    split = {"dataframe_split": {"columns": list(CSV_NAMES), "data": [list(CSV_NAMES.values())] * 2}}
    for body in (split, {"dataframe_records": [READING]}, {"instances": [READING, READING]}):
        status, doc, _ = client("POST", "/invocations", body)
        assert status == 200, doc
        assert set(doc["predictions"][0]) == {"failure_probability", "prediction"}
    status, doc, _ = client("POST", "/invocations", {"records": [READING]})
    assert status == 400 and doc["field"] == "records"
    status, doc, _ = client("POST", "/invocations", {"dataframe_split": {"columns": ["Type"], "data": [["L", 1]]}})
    assert status == 400 and "1 columns" in doc["error"]


def _tensors(n: int = 2, **override):
    inputs = [{"name": "type", "shape": [n], "datatype": "BYTES", "data": ["L"] * n}]
    for name, value in list(READING.items())[1:]:
        inputs.append({"name": name, "shape": [n, 1], "datatype": "FP64", "data": [[value]] * n})
    for tensor in inputs:
        tensor.update(override.get(tensor["name"], {}))
    return inputs


def test_open_inference_protocol(client):
    status, doc, _ = client("GET", "/v2/models/clockwork")
    assert status == 200 and doc["name"] == "clockwork" and len(doc["inputs"]) == 6
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"id": "r-7", "inputs": _tensors()})
    assert status == 200 and doc["id"] == "r-7" and doc["model_version"] == "v1"
    assert [o["name"] for o in doc["outputs"]] == ["failure_probability", "prediction"]
    assert doc["outputs"][0]["shape"] == [2] and doc["outputs"][1]["datatype"] == "INT64"
    assert client.lines()[0]["client_request_id"] == "r-7" and client.lines()[0]["request_id"] != "r-7"


@pytest.mark.parametrize("override,field,reason", [
    ({"torque_nm": {"datatype": "BYTES"}}, "inputs[4].datatype", "expected a number type"),
    ({"torque_nm": {"shape": [3, 1]}}, "inputs[4].data", "2 values for shape [3, 1]"),
    ({"torque_nm": {"name": "torque"}}, "inputs[4].name", "unknown input 'torque'"),
    ({"torque_nm": {"data": [[40.0], [900.0]]}}, "inputs.torque_nm[1]", "is greater than the maximum"),
])
def test_open_inference_errors(client, override, field, reason):
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"inputs": _tensors(**override)})
    assert status == 400 and doc["field"] == field and reason in doc["error"], doc


def test_unknown_model_name_is_404(client):
    status, doc, _ = client("POST", "/v2/models/other/infer", {"inputs": _tensors()})
    assert status == 404 and "no model named 'other'" in doc["error"]


def test_health_ready_model_and_metrics(client):
    assert client("GET", "/health")[0] == 200
    assert client("GET", "/v2/health/live")[1] == {"live": True}
    status, doc, _ = client("GET", "/model")
    assert status == 200 and doc["version"] == "v1" and len(doc["sha256"]) == 64 and doc["metrics"]["test"]["f1"]
    client("POST", "/predict", READING)
    client("GET", "/nope")
    status, text, _ = client("GET", "/metrics")
    assert status == 200
    assert 'clockwork_requests_total{endpoint="/predict",status="200"} 1.0' in text
    assert 'clockwork_requests_total{endpoint="unmatched",status="404"} 1.0' in text
    assert 'clockwork_model_info{sha256="' in text and 'version="v1"} 1.0' in text
    assert "clockwork_request_latency_seconds_bucket" in text and "clockwork_predictions_total" in text


def test_not_ready_without_a_model(client):
    client.holder.live = None
    assert client("GET", "/ready")[0] == 503
    assert client("GET", "/v2/health/ready")[0] == 503
    status, doc, _ = client("POST", "/predict", READING)
    assert status == 503 and "no model loaded" in doc["error"]


def test_fast_path_and_pipeline_answer_alike(client, live):
    """Small requests take the fast path, large ones the Pipeline; the numbers are the same."""
    import pandas as pd

    assert live.fast is not None
    readings = [{**READING, "torque_nm": 30.0 + i * 3, "tool_wear_min": 20 * i} for i in range(10)]
    fast = [p["failure_probability"] for p in client("POST", "/predict", {"instances": readings})[1]["predictions"]]
    plain = live.pipeline.predict_proba(pd.DataFrame(readings))[:, 1].tolist()
    assert max(abs(a - b) for a, b in zip(fast, plain, strict=True)) <= 1e-9


def test_mlflow_csv_ping_and_version(client):
    import pandas as pd

    csv_body = pd.DataFrame([READING, READING]).to_csv(index=False).encode()
    status, doc, _ = client("POST", "/invocations", raw=csv_body, headers={"CONTENT_TYPE": "text/csv"})
    assert status == 200 and len(doc["predictions"]) == 2 and doc["model_version"] == "v1"
    status, doc, _ = client("POST", "/invocations", raw=csv_body, headers={"CONTENT_TYPE": "text/plain"})
    assert status == 415 and "text/csv" in doc["error"]
    status, text, _ = client("GET", "/ping")
    assert status == 200
    status, text, headers = client("GET", "/version")
    assert status == 200 and text == "v1\n" and headers["Content-Type"].startswith("text/plain")
    client.holder.live = None
    assert client("GET", "/ping")[0] == 503 and client("GET", "/version")[0] == 503


def tensors(rows: list[dict]) -> list[dict]:
    return [{"name": c, "datatype": "BYTES" if c == "type" else "FP64", "shape": [len(rows)], "data": [r[c] for r in rows]}
            for c in READING]


def binary_body(rows: list[dict], parameters: dict | None = None, outputs: list | None = None) -> tuple[bytes, str]:
    """A request in the binary tensor data extension, as tritonclient builds it: (body, header length)."""
    import struct

    import numpy as np

    head, blobs = [], []
    for tensor in tensors(rows):
        if tensor["datatype"] == "BYTES":
            blob = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in tensor["data"])
        else:
            blob = np.asarray(tensor["data"], dtype="<f8").tobytes()
        head.append({k: v for k, v in tensor.items() if k != "data"} | {"parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    doc = {"inputs": head, **({"parameters": parameters} if parameters else {}), **({"outputs": outputs} if outputs else {})}
    text = json.dumps(doc).encode()
    return text + b"".join(blobs), str(len(text))


def test_oip_json_without_a_content_type_and_named_versions(client):
    rows = [READING, {**READING, "torque_nm": 70.0, "rotational_speed_rpm": 2800}]
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"inputs": tensors(rows)}, headers={"CONTENT_TYPE": ""})
    assert status == 200 and doc["outputs"][1]["data"][1] == 1
    status, same, _ = client("POST", "/v2/models/clockwork/versions/v1/infer", {"inputs": tensors(rows)})
    assert status == 200 and same["model_version"] == "v1" and same["outputs"] == doc["outputs"]
    assert client("POST", "/v2/models/clockwork/versions/v9/infer", {"inputs": tensors(rows)})[0] == 404
    assert client("GET", "/v2/models/clockwork/versions/v1")[1]["versions"] == ["v1"]
    assert client("GET", "/v2/models/clockwork/versions/v1/ready")[1]["ready"] is True
    assert client("GET", "/v2")[1]["extensions"] == ["binary_tensor_data"]
    only = {"inputs": tensors(rows), "outputs": [{"name": "prediction"}], "parameters": {"note": "kept"}}
    assert [o["name"] for o in client("POST", "/v2/models/clockwork/infer", only)[1]["outputs"]] == ["prediction"]
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", {"inputs": tensors(rows)},
                            headers={"CONTENT_TYPE": "text/plain"})
    assert status == 415


def test_oip_binary_tensors_in_and_out(client):
    import numpy as np

    rows = [{**READING, "torque_nm": 30.0 + 5 * i, "type": "LMH"[i % 3]} for i in range(9)]  # max_batch is 10 here
    expected = client("POST", "/v2/models/clockwork/infer", {"inputs": tensors(rows)})[1]["outputs"]
    body, length = binary_body(rows)
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", raw=body,
                            headers={"HTTP_INFERENCE_HEADER_CONTENT_LENGTH": length, "CONTENT_TYPE": ""})
    assert status == 200 and [o["data"] for o in doc["outputs"]] == [o["data"] for o in expected]
    body, length = binary_body(rows, parameters={"binary_data_output": True})
    environ_headers = {"HTTP_INFERENCE_HEADER_CONTENT_LENGTH": length, "CONTENT_TYPE": "application/octet-stream"}
    status, text, headers = client.raw("POST", "/v2/models/clockwork/infer", body, environ_headers)
    n = int(headers["Inference-Header-Content-Length"])
    head = json.loads(text[:n])
    sizes = [o["parameters"]["binary_data_size"] for o in head["outputs"]]
    blob = text[n:]
    assert status == 200 and "data" not in head["outputs"][0] and sum(sizes) == len(blob)
    assert np.frombuffer(blob[:sizes[0]], "<f8").tolist() == expected[0]["data"]
    assert np.frombuffer(blob[sizes[0]:], "<i8").tolist() == expected[1]["data"]
    status, doc, _ = client("POST", "/v2/models/clockwork/infer", raw=body[:-3],
                            headers={"HTTP_INFERENCE_HEADER_CONTENT_LENGTH": length})
    assert status == 400 and doc["field"].endswith("binary_data_size"), doc


@pytest.mark.parametrize("headers,field", [
    ({"HTTP_HOST": "attacker.example:8000"}, "Host"),  # DNS rebinding: the browser sends the attacker's name
    ({"HTTP_HOST": "127.0.0.1.attacker.example"}, "Host"),
    ({"HTTP_ORIGIN": "http://attacker.example"}, "Origin"),  # any web page posting across origins
    ({"HTTP_ORIGIN": "null"}, "Origin"),  # a sandboxed frame or a file:// page
    ({"HTTP_ORIGIN": "http://127.0.0.1:9999"}, "Origin"),  # another service on the same machine
])
def test_a_browser_cannot_be_used_against_the_service(client, headers, field):
    for method, path, body in [("POST", "/predict", READING), ("POST", "/invocations", {"dataframe_records": [READING]}),
                               ("POST", "/v2/models/clockwork/infer", {"inputs": _tensors()}), ("GET", "/", None)]:
        status, doc, sent = client(method, path, body, headers=headers)
        assert status == 403 and doc["field"] == field, (path, status, doc)
        assert sent["X-Content-Type-Options"] == "nosniff"
    assert client.lines() == [], "nothing was scored"


def test_the_services_own_origin_and_clients_without_one_are_served_with_nosniff_and_a_strict_page_policy(client):
    own = {"HTTP_HOST": "localhost:8000", "HTTP_ORIGIN": "http://localhost:8000"}
    for headers in ({}, own, {"HTTP_HOST": "[::1]:8000"}):
        status, _, sent = client("POST", "/predict", READING, headers=headers)
        assert status == 200 and sent["X-Content-Type-Options"] == "nosniff", headers
    status, page, sent = client("GET", "/", headers=own)
    assert status == 200 and "default-src 'none'" in sent["Content-Security-Policy"] and "script-src" not in sent["Content-Security-Policy"]
    assert "<script" not in page, "pages hold no script, so the policy allows none"
