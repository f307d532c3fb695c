"""schemathesis generates requests from /openapi.json, sends them to the WSGI app in-process and
runs every one of its checks on the answers: no 5xx; status codes, content types, headers and
bodies as documented; bodies the schema refuses refused; bodies it allows accepted.

Where a body's validity rests on a rule JSON Schema cannot state, and the document says in
prose (equal column lengths, a tensor's shape against its data, a CSV body's rows), a generated
body is not expected to be accepted; the document's own examples of those formats are, with
every check.
(schemathesis' pytest fixture loader does not work with pytest 9, so the test draws cases
from each operation's hypothesis strategy itself.)
"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, positive_data_acceptance
from schemathesis.specs.openapi.examples import get_strategies_from_examples

from tests.serving.test_app import client, live  # noqa: F401  (fixtures)

ALL_CHECKS = CHECKS.get_all()
CROSS_FIELD_OPERATIONS = ("/v2/models/{model_name}/infer", "/v2/models/{model_name}/versions/{version}/infer")


def schema_says_it_all(case) -> bool:
    """True unless the body's validity rests on a rule the document states in prose only."""
    if case.operation.path in CROSS_FIELD_OPERATIONS:
        return False
    if case.operation.path == "/invocations":
        body = case.body if isinstance(case.body, dict) else {}
        return "dataframe_records" in body or "instances" in body or isinstance(body.get("inputs"), list)
    return True


def operations(client):  # noqa: F811
    schema = schemathesis.openapi.from_wsgi("/openapi.json", client.app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_documented_operation_meets_every_check(client):  # noqa: F811
    found = operations(client)
    labels = {operation.label for operation in found}
    assert "POST /predict" in labels and "POST /v2/models/{model_name}/infer" in labels and "POST /invocations" in labels
    assert len(labels) == 29, labels  # every documented path but the schema's own /openapi.json

    @given(case=st.one_of([operation.as_strategy() for operation in found]))
    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    def answers(case):
        response = case.call()
        checks = [c for c in ALL_CHECKS if c is not positive_data_acceptance or schema_says_it_all(case)]
        case.validate_response(response, checks=checks)
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("error"), str) and body["error"] and "Traceback" not in body["error"]

    answers()


def test_every_example_in_the_document_is_answered_and_meets_every_check(client):  # noqa: F811
    strategies = [strategy for operation in operations(client) for strategy in get_strategies_from_examples(operation)]
    assert len(strategies) == 11, "each body format of /predict, /invocations and both OIP routes"
    seen: set[tuple] = set()

    @given(case=st.one_of(strategies))
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    def answers(case):
        if "version" in (case.path_parameters or {}):
            case.path_parameters["version"] = "v1"  # the fixture's registered version; the document names none
        response = case.call()
        case.validate_response(response, checks=ALL_CHECKS)
        assert response.status_code == 200, (case.path, case.body, response.text[:300])
        seen.add((case.operation.label, repr(case.body)))

    answers()
    assert len(seen) == 11
