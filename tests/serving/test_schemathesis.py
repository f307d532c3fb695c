"""schemathesis generates requests from /openapi.json and sends them to the WSGI app in-process.

(schemathesis' pytest fixture loader does not work with pytest 9, so the test draws cases
from each operation's hypothesis strategy itself.)
"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.test_app import client, live  # noqa: F401  (fixtures)


def test_every_documented_operation_answers_without_5xx(client):  # noqa: F811
    schema = schemathesis.openapi.from_wsgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert "POST /predict" in labels and "POST /v2/models/{model_name}/infer" in labels and "POST /invocations" in labels
    assert len(labels) == 29, labels  # every documented path but the schema's own /openapi.json

    @given(case=st.one_of([operation.as_strategy() for operation in operations]))
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    def answers(case):
        response = case.call()
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:200])
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("error"), str) and body["error"] and "Traceback" not in body["error"]

    answers()
