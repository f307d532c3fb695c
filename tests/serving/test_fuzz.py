"""Property-based fuzzing of the WSGI app: no 5xx, always a JSON body, and a documented API."""
from __future__ import annotations

import json
import re

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.test_app import READING, client, live  # noqa: F401  (fixtures)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENDPOINTS = ["/predict", "/invocations", "/v2/models/clockwork/infer"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25)

hostile = st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2))
readings = st.fixed_dictionaries({}, optional={k: hostile | st.just(v) for k, v in READING.items()}).flatmap(
    lambda r: st.dictionaries(st.sampled_from(["udi", "Torque [Nm]", "extra"]), hostile, max_size=1).map(lambda x: {**r, **x}))


def check(status: int, doc) -> None:
    assert status < 500, (status, doc)
    if status >= 400:
        assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"]
        assert "Traceback" not in doc["error"]


@SETTINGS
@given(endpoint=st.sampled_from(ENDPOINTS), body=json_values)
def test_any_json_body_gets_an_answer_never_a_5xx(client, endpoint, body):  # noqa: F811
    status, doc, _ = client("POST", endpoint, body)
    check(status, doc)


@SETTINGS
@given(reading=readings)
def test_hostile_readings_are_refused_or_predicted(client, reading):  # noqa: F811
    for body in (reading, {"instances": [reading, READING]}, {"dataframe_records": [reading]}):
        status, doc, _ = client("POST", "/predict" if "dataframe_records" not in body else "/invocations", body)
        check(status, doc)
        if status == 200 and "failure_probability" in doc:
            assert 0.0 <= doc["failure_probability"] <= 1.0


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_raw_bytes_never_crash(client, raw):  # noqa: F811
    status, doc, _ = client("POST", "/predict", raw=raw)
    check(status, doc)


def test_openapi_documents_every_route(client):  # noqa: F811
    status, doc, _ = client("GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    routes = {re.sub(r"<(\w+)>", r"{\1}", route.rule) for route in client.app.bottle.routes}
    assert routes == set(doc["paths"]), routes ^ set(doc["paths"])
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    reading = doc["components"]["schemas"]["reading"]
    assert reading["properties"]["torque_nm"]["maximum"] == 200.0, "ranges come from params"
    json.dumps(doc)
