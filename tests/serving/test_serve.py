"""The real server (gunicorn, several workers) on a free port, started the way users start it."""
from __future__ import annotations

import csv
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scripts.core.config import load_params, validate
from scripts.dev.sandbox import free_port
from tests import ai4i as A
from tests.conftest import (
    Repo,
    check_line,
)
from tests.serving.test_app import READING


def call(port: int, method: str, path: str, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    connection.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    kind = response.getheader("Content-Type", "")
    return response.status, json.loads(raw) if kind.startswith("application/json") else raw.decode()


class Server:
    def __init__(self, repo: Repo):
        self.repo, self.port = repo, free_port()

    def start(self) -> "Server":
        """make serve-bg, then wait (up to 60 s) until every worker has loaded the model and written its
        start row: serve-bg returns when one worker answers, and a test that changes the disk, the
        registry or the model must not race the other worker's start."""
        before = self._starts()
        run = self.repo.make("serve-bg", f"PORT={self.port}")
        assert run.code == 0, run.out + run.err
        workers, deadline = self.repo.params()["deployment"]["workers"], time.time() + 60
        while self._starts() < before + workers and time.time() < deadline:
            time.sleep(0.05)
        return self

    def _starts(self) -> int:
        path = self.repo.path / "logs/deployment_log.csv"
        return sum(row["event"] == "start" for row in self.deployment_rows()) if path.exists() else 0

    def stop(self) -> None:
        self.repo.make("stop")

    def deployment_rows(self) -> list[dict]:
        with open(self.repo.path / "logs/deployment_log.csv") as handle:
            return list(csv.DictReader(handle))

    def predictions(self) -> list[dict]:
        path = self.repo.path / "logs/predictions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


PROMTOOL = Path("/usr/bin/promtool")  # Debian's prometheus package (make test-tools installs it)


@pytest.fixture
def server(repo: Repo):
    server = Server(repo).start()
    yield server
    server.stop()


def test_every_endpoint_over_http_and_the_logs(server: Server):
    port = server.port
    assert call(port, "GET", "/health")[0] == 200
    assert call(port, "GET", "/ready") == (200, {"status": "ready", "model_version": "v1"})
    status, model = call(port, "GET", "/model")
    assert status == 200 and model["version"] == "v1" and model["data_version"] == "v1" and model["loaded_at"]
    assert model["sha256"] == server.repo.json("models/registry.json")["versions"]["v1"]["sha256"]
    assert call(port, "POST", "/predict", READING)[1]["model_version"] == "v1"
    assert len(call(port, "POST", "/predict", {"instances": [READING] * 5})[1]["predictions"]) == 5
    assert call(port, "POST", "/invocations", {"dataframe_records": [READING]})[0] == 200
    assert call(port, "GET", "/v2/health/live") == (200, {"live": True})
    assert call(port, "GET", "/v2/health/ready") == (200, {"ready": True})
    assert call(port, "GET", "/v2/models/clockwork/ready")[1]["ready"] is True
    assert call(port, "GET", "/v2/models/clockwork")[1]["versions"] == ["v1"]
    infer = {"id": "x1", "inputs": [{"name": k, "shape": [1], "datatype": "BYTES" if k == "type" else "FP64", "data": [v]}
                                    for k, v in READING.items()]}
    status, doc = call(port, "POST", "/v2/models/clockwork/infer", infer)
    assert status == 200 and doc["id"] == "x1" and doc["outputs"][1]["data"] in ([0], [1])
    assert call(port, "GET", "/v2/models/other")[0] == 404
    assert call(port, "POST", "/predict", {**READING, "torque_nm": float("1e9")})[0] == 400
    too_many = load_params(server.repo.path / "params.yaml")["deployment"]["max_batch"] + 1
    assert call(port, "POST", "/predict", {"instances": [READING] * too_many})[0] == 413
    assert call(port, "POST", "/predict", b"x", {"Content-Type": "text/csv"})[0] == 415
    assert call(port, "DELETE", "/predict")[0] == 405
    status, text = call(port, "GET", "/metrics")
    assert 'clockwork_requests_total{endpoint="/predict",status="200"}' in text
    check = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True)
    assert (check.returncode, check.stdout + check.stderr) == (0, ""), "promtool: no errors and no warnings"

    lines = server.predictions()
    assert len(lines) == 1 + 5 + 1 + 1
    for line in lines:
        check_line(line, "predictions.jsonl")
    deadline = time.time() + 30  # serve-bg returns when one worker is ready; the other may still be loading
    while time.time() < deadline and len(server.deployment_rows()) < 2:
        time.sleep(0.1)
    rows = server.deployment_rows()
    assert [r["event"] for r in rows] == ["start", "start"], "one start row per worker"
    assert len({r["pid"] for r in rows}) == 2
    for row in rows:
        assert row["model_version"] == "v1" and row["host_port"] == f"127.0.0.1:{port}"


def test_stop_writes_stop_rows_and_smoke_passes(repo: Repo):
    server = Server(repo).start()
    smoke = repo.make("smoke", f"PORT={server.port}")
    assert smoke.code == 0, smoke.out + smoke.err
    assert "0 failed" in smoke.out
    server.stop()
    events = [r["event"] for r in server.deployment_rows()]
    assert events.count("stop") == 2
    for row in server.deployment_rows():
        validate({**row, "pid": int(row["pid"]), **{k: row[k] or None for k in
                  ("model_version", "model_sha256", "data_version", "git_commit")}}, "deployment_event", "csv")
    assert repo.make("smoke", f"PORT={server.port}").code != 0, "smoke fails with no server"


def test_hot_swap_under_load_drops_nothing(repo: Repo):
    repo.set_param("model", "n_estimators", 60)
    assert repo.make("train").code == 0
    server = Server(repo).start()
    answers, errors, stop = [], [], threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, doc = call(server.port, "POST", "/predict", READING)
                (answers if status == 200 else errors).append((time.time(), status, doc))
            except OSError as exc:
                errors.append((time.time(), None, str(exc)))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    promoted_at = time.time()
    assert repo.make("promote", "VERSION=v2").code == 0
    deadline = time.time() + 15
    while time.time() < deadline and not (answers and answers[-1][2]["model_version"] == "v2"
                                          and all(a[2]["model_version"] == "v2" for a in answers[-20:])):
        time.sleep(0.2)
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    server.stop()

    assert errors == []
    versions = [a[2]["model_version"] for a in answers]
    assert set(versions) == {"v1", "v2"}
    assert all(v == "v1" for t, _, doc in answers for v in [doc["model_version"]] if t < promoted_at)
    assert versions[-1] == "v2"
    swaps = [r for r in server.deployment_rows() if r["event"] == "swap"]
    assert len(swaps) == 2 and all(r["model_version"] == "v2" and r["detail"] == "from v1" for r in swaps)
    assert len(server.predictions()) == len(answers)


def test_tampered_model_is_refused_and_the_old_one_keeps_serving(repo: Repo):
    repo.set_param("model", "n_estimators", 50)
    assert repo.make("train").code == 0
    server = Server(repo).start()
    try:
        artifact = repo.path / "models/model_v2.joblib"
        artifact.write_bytes(artifact.read_bytes()[:-10] + b"0123456789")
        assert repo.make("promote", "VERSION=v2").code == 0
        deadline = time.time() + 10
        while time.time() < deadline and sum(r["event"] == "refused" for r in server.deployment_rows()) < 2:
            time.sleep(0.2)
        refused = [r for r in server.deployment_rows() if r["event"] == "refused"]
        assert len(refused) == 2 and "sha256" in refused[0]["detail"] and refused[0]["model_version"] == "v2"
        for _ in range(6):
            assert call(server.port, "POST", "/predict", READING)[1]["model_version"] == "v1"
    finally:
        server.stop()


def test_server_refuses_to_start_on_a_tampered_production_model(repo: Repo):
    artifact = repo.path / "models/model_v1.joblib"
    good = artifact.read_bytes()
    artifact.write_bytes(good + b"\0")
    done = subprocess.run([str(repo.path / ".venv/bin/python"), "-m", "scripts.serving.serve", "--background",
                           "--port", str(free_port())], cwd=repo.path, capture_output=True, text=True)
    assert done.returncode == 2
    assert "refusing to serve it" in done.stderr and "Traceback" not in done.stderr
    # through make, the damaged artifact of the current version is refitted (byte-identical) first
    server = Server(repo).start()
    server.stop()
    assert artifact.read_bytes() == good


def test_default_bind_is_loopback(repo: Repo):
    assert repo.params()["deployment"]["host"] == "127.0.0.1"
    run = subprocess.run([str(repo.path / ".venv/bin/python"), "-c",
                          "from scripts.core.config import load_params; print(load_params()['deployment']['host'])"],
                         cwd=repo.path, capture_output=True, text=True)
    assert run.stdout.strip() == "127.0.0.1"


def test_no_secret_a_client_sends_reaches_any_log(server: Server):
    """Credentials in headers, cookies, the query string or an unknown body field are never written down."""
    secret = "s3cr3t-0a9f"
    headers = {"Authorization": f"Bearer {secret}-auth", "Cookie": f"session={secret}-cookie", "X-Api-Key": f"{secret}-key"}
    assert call(server.port, "POST", f"/predict?token={secret}-query", READING, headers)[0] == 200
    status, doc = call(server.port, "POST", "/predict", {**READING, "api_key": f"{secret}-body"}, headers)
    assert status == 400 and secret not in json.dumps(doc), "the error names the field, not its value"
    assert call(server.port, "GET", f"/api/models/{secret}", headers=headers)[0] == 404
    call(server.port, "GET", "/metrics", headers=headers)
    server.stop()
    written = [p for p in (server.repo.path / "logs").rglob("*") if p.is_file()]
    assert any(p.name == "predictions.jsonl" for p in written) and any(p.name == "serve.log" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), f"{path.name} holds a secret the client sent"



def test_a_too_large_body_is_a_413_that_urllib_reads(server: Server):
    """urllib writes the whole body before it reads: the server reads and drops it, then answers."""
    import urllib.error
    import urllib.request

    limit = load_params(server.repo.path / "params.yaml")["deployment"]["max_body_bytes"]
    body = b'{"instances": [' + b" " * (limit + 8 * 2 ** 20) + b"]}"
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/predict", data=body,
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=60)
    assert caught.value.code == 413
    assert json.loads(caught.value.read())["field"] == "body"
    assert call(server.port, "GET", "/ready")[0] == 200, "the worker is still serving"


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_in_its_default_settings(server: Server, binary: bool):
    """The reference OIP client, unchanged: no Content-Type, binary tensors both ways by default."""
    import numpy as np
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    assert client.is_server_ready() and client.is_model_ready("clockwork")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    for n in (1, 1000):
        rows = [{**READING, "torque_nm": 20.0 + (i % 50), "type": "LMH"[i % 3]} for i in range(n)]
        inputs = []
        for column in A.INPUT_COLUMNS:
            tensor = triton.InferInput(column, [n], "BYTES" if column == "type" else "FP64")
            values = np.array([r[column] for r in rows], dtype=object if column == "type" else np.float64)
            tensor.set_data_from_numpy(values, binary_data=binary)
            inputs.append(tensor)
        result = client.infer("clockwork", inputs)
        probabilities = result.as_numpy("failure_probability")
        expected = call(server.port, "POST", "/predict", {"instances": rows})[1]["predictions"]
        assert probabilities.shape == (n,)
        assert probabilities.tolist() == [p["failure_probability"] for p in expected]
        assert result.as_numpy("prediction").tolist() == [p["prediction"] for p in expected]
        versioned = client.infer("clockwork", inputs, model_version="v1")
        assert versioned.get_response()["model_version"] == "v1"
    client.close()


def test_slow_clients_hold_no_worker_and_meet_their_timeouts(repo: Repo):
    """gevent workers: 50 connections trickling their headers stall no one; a trickling header is cut
    at header_timeout_s, a stalled body answered 408 at body_timeout_s (both 1 s here)."""
    import socket

    import yaml

    params = yaml.safe_load((repo.path / "params.yaml").read_text())
    params["deployment"].update({"worker_class": "gevent", "header_timeout_s": 1, "body_timeout_s": 1})
    (repo.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    server = Server(repo).start()
    try:
        slow = []
        for _ in range(50):
            conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            conn.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
            slow.append(conn)
        answered = [call(server.port, "POST", "/predict", READING)[0] for _ in range(40)]
        assert answered == [200] * 40
        started = time.monotonic()
        for conn in slow:
            assert conn.recv(1024) in (b"", ), "the server closes a header that does not arrive"
            conn.close()
        assert time.monotonic() - started < 5
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        stalled.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100\r\n\r\n{\"type\":")
        answer = b""
        while b'"field"' not in answer:
            chunk = stalled.recv(4096)
            if not chunk:
                break
            answer += chunk
        stalled.close()
        assert answer.startswith(b"HTTP/1.1 408") and b'"field":"body"' in answer, answer[:300]
        assert call(server.port, "POST", "/predict", READING)[0] == 200
    finally:
        server.stop()


def test_the_server_process_leaves_bottle_to_the_workers():
    """bottle's request and response are thread-locals made when it is imported; a gevent worker
    must import it after patching, so the process that forks the workers never does."""
    code = "import sys, scripts.serving.serve; print('bottle' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_gevent_worker_refuses_to_patch_after_bottle():
    from types import SimpleNamespace

    import bottle  # noqa: F401  (already imported by the app's tests; named here for the reader)

    from scripts.serving.gevent_worker import BoundedGeventWorker

    with pytest.raises(RuntimeError, match="bottle was imported before gevent patched"):
        BoundedGeventWorker.patch(SimpleNamespace())  # type: ignore[arg-type]


def test_gunicorn_enforces_the_request_line_and_header_limits_from_params(repo: Repo):
    repo.set_param("deployment", "max_request_line_bytes", 1024)
    repo.set_param("deployment", "max_header_fields", 20)
    server = Server(repo).start()
    try:
        assert call(server.port, "GET", "/health?x=" + "a" * 900)[0] == 200
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/health?x=" + "a" * 1100)
        assert connection.getresponse().status == 414
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/health", headers={f"X-Field-{i}": "1" for i in range(25)})
        assert connection.getresponse().status == 431
    finally:
        server.stop()


def test_deeply_nested_bodies_get_a_400_on_every_route_and_no_traceback(server: Server):
    port = server.port
    for path in ("/predict", "/invocations", "/v2/models/clockwork/infer"):
        for body in (b"[" * 1000 + b"]" * 1000, b'{"instances":' + b"[" * 900 + b"]" * 900 + b"}", b"[" * 200000 + b"]" * 200000):
            status, doc = call(port, "POST", path, body)
            assert status == 400 and doc["field"] == "body" and "deep; at most" in doc["error"], (path, status, doc)
    assert call(port, "POST", "/predict", READING)[0] == 200, "the workers are unharmed"
    assert "Traceback" not in (server.repo.path / "logs/serve.log").read_text()


def test_an_append_never_continues_a_torn_line_while_the_server_runs(server: Server):
    port, log = server.port, server.repo.path / "logs/predictions.jsonl"
    first = call(port, "POST", "/predict", {**READING, "udi": 11})[1]
    text = log.read_bytes()
    log.write_bytes(text[:-1])  # the last newline removed under the running server (an edit, a cut write)
    second = call(port, "POST", "/predict", {**READING, "udi": 12})[1]
    lines = log.read_text().splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines) and json.loads(lines[-1])["prediction_id"] == second["prediction_id"]
    [aside] = list(log.parent.glob("predictions.jsonl.torn-*"))
    assert aside.read_bytes() == text[text.rfind(b"\n", 0, len(text) - 1) + 1:-1], "the torn line is kept beside the log"
    labels = server.repo.path / "labels.csv"
    labels.write_text(f"prediction_id,label,udi\n{second['prediction_id']},1,12\n")
    run = server.repo.make("labels", f"FILE={labels}")
    assert run.code == 0 and "1 labels recorded" in run.out, run.err
    assert first["prediction_id"] not in log.read_text()


def test_dns_rebinding_and_cross_origin_posts_are_refused_over_http(server: Server):
    port = server.port
    status, doc = call(port, "POST", "/predict", READING, {"Host": f"attacker.example:{port}"})
    assert status == 403 and doc["field"] == "Host"
    status, doc = call(port, "POST", "/predict", READING, {"Origin": "http://attacker.example"})
    assert status == 403 and doc["field"] == "Origin"
    status, doc = call(port, "POST", "/predict", READING, {"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200 and doc["model_version"] == "v1"


def test_commands_that_talk_to_the_service_find_the_running_one_on_its_port(server: Server):
    assert server.port != server.repo.params()["deployment"]["port"]
    run = server.repo.make("smoke")
    assert run.code == 0 and f"127.0.0.1:{server.port}" in run.out + run.err or "PASS" in run.out, run.out + run.err
    pid_file = server.repo.path / "logs/serve.pid"
    pid = pid_file.read_text()
    pid_file.write_text("999999\n")  # a server that is gone: back to params' port
    run = server.repo.make("smoke")
    pid_file.write_text(pid)
    assert run.code != 0 and f":{server.repo.params()['deployment']['port']}" in run.out, run.out


def test_make_serve_beside_a_running_server_is_one_line_naming_it(server: Server):
    for target in ("serve", "serve-bg"):
        run = server.repo.make(target, f"PORT={free_port()}", timeout=60)
        assert run.code != 0 and run.err.startswith("error: logs/serve.pid: a server is already running (pid "), run.err
        assert f"http://127.0.0.1:{server.port}); make stop first" in run.err.splitlines()[0] and "Traceback" not in run.err


def test_the_background_server_is_forked_detached_and_holds_none_of_makes_descriptors(server: Server):
    """serve-bg forks the server from the (warm) process that checked the model: it leads a session of
    its own, reads /dev/null and writes the server log, and keeps no pipe of make's or of the
    caller's open (a caller reading make's output to its end would otherwise wait for the server)."""
    import contextlib
    import os

    def descriptors(pid: int | str) -> dict[int, str]:
        found = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor is gone once read
                found[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        return found

    master = int((server.repo.path / "logs/serve.pid").read_text())
    assert os.getsid(master) == master
    fds = descriptors(master)
    log = str((server.repo.path / server.repo.params()["deployment"]["server_log"]).resolve())
    assert (fds[0], fds[1], fds[2]) == ("/dev/null", log, log)
    mine = set(descriptors("self").values())
    assert not {target for target in fds.values() if target.startswith("pipe:")} & mine, "a pipe shared with the caller"
