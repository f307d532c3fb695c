"""Hostile input against the real multi-worker server: no 5xx, JSON errors, and no worker dies."""
from __future__ import annotations

import http.client
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Repo, copy_of
from tests.serving.test_faults import _children
from tests.serving.test_fuzz import ENDPOINTS, json_values, readings
from tests.serving.test_serve import Server

CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded"]


@pytest.fixture(scope="module")
def running(built: Repo, tmp_path_factory):
    server = Server(copy_of(built, tmp_path_factory.mktemp("fuzz") / "repo")).start()
    master = int((server.repo.path / "logs/serve.pid").read_text())
    yield server, master
    server.stop()


def send(port: int, path: str, data: bytes, content_type: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, data, {"Content-Type": content_type} if content_type else {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type", ""), body


bodies = st.one_of(json_values.map(lambda v: json.dumps(v).encode()), readings.map(lambda r: json.dumps(r).encode()),
                   st.binary(max_size=400), st.just(b"{" * 5000), st.just(b'{"instances": [' + b"{}," * 6000 + b"{}]}"))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(ENDPOINTS), data=bodies, content_type=st.sampled_from(CONTENT_TYPES))
def test_hostile_requests_over_http_get_json_answers_and_no_worker_dies(running, path, data, content_type):
    server, master = running
    workers = set(_children(master))
    status, kind, body = send(server.port, path, data, content_type)
    assert status < 500, (status, body[:200])
    if status >= 400:
        assert kind.startswith("application/json") and json.loads(body)["error"]
    assert set(_children(master)) == workers, "no worker crashed or was replaced"


def test_after_the_fuzzing_no_worker_was_restarted(running):
    server, master = running
    starts = [row for row in server.deployment_rows() if row["event"] == "start"]
    assert len(starts) == 2, "each worker started once: none died and came back"
