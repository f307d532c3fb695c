"""Load and faults: nothing lost under concurrency, a killed worker replaced, concurrent runs serialised."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

from scripts.config import validate
from tests.conftest import Repo
from tests.integration.test_serve import Server, call
from tests.unit.test_serve_app import READING

CLIENTS, REQUESTS = 8, 150  # CI-sized; the 8 x 2000 is the same test with bigger numbers


def test_load_every_request_answered_and_one_untorn_line_per_prediction(repo: Repo):
    server = Server(repo).start()
    statuses: list[int] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(REQUESTS):
            body = {"instances": [{**READING, "udi": k * 10_000 + i}, {**READING, "udi": k * 10_000 + i + 5000}]} \
                if i % 3 == 0 else {**READING, "udi": k * 10_000 + i}
            status, _ = call(server.port, "POST", "/predict", body)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.stop()
    assert statuses == [200] * CLIENTS * REQUESTS
    batches = CLIENTS * len(range(0, REQUESTS, 3))
    lines = (repo.path / "logs/predictions.jsonl").read_text().splitlines()
    assert len(lines) == CLIENTS * REQUESTS + batches, "exactly one line per prediction"
    records = [json.loads(line) for line in lines]  # a torn line would not parse
    for record in records[:: max(1, len(records) // 200)]:
        validate(record, "prediction", "predictions.jsonl")
    assert len({r["prediction_id"] for r in records}) == len(records)


def test_a_killed_worker_is_replaced_and_the_server_keeps_serving(repo: Repo):
    server = Server(repo).start()
    try:
        master = int((repo.path / "logs/serve.pid").read_text())
        deadline = time.time() + 30
        while time.time() < deadline and len(_children(master)) < 2:
            time.sleep(0.1)
        victim = _children(master)[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(20):
            assert call(server.port, "POST", "/predict", READING)[0] == 200
        deadline = time.time() + 30
        while time.time() < deadline and (victim in _children(master) or len(_children(master)) < 2):
            time.sleep(0.2)
        workers = _children(master)
        assert victim not in workers and len(workers) == 2, "gunicorn replaced the killed worker"
        deadline = time.time() + 30  # the new worker writes its start row once its model is loaded
        while time.time() < deadline and sum(r["event"] == "start" for r in server.deployment_rows()) < 3:
            time.sleep(0.2)
        starts = [row for row in server.deployment_rows() if row["event"] == "start"]
        assert len(starts) >= 3 and int(starts[-1]["pid"]) in workers
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_two_concurrent_make_train_runs_are_serialised(repo: Repo):
    repo.set_param("model", "n_estimators", 40)
    runs = [subprocess.Popen(["make", "train"], cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for run in runs:
        run.wait(timeout=300)
        assert run.returncode == 0, run.stderr.read()
    assert repo.model_versions == ["model_v1.joblib", "model_v2.joblib"], "the same inputs give one version, not two"
    registry = repo.json("models/registry.json")
    validate(registry, "registry", "registry.json")
    assert [e["to"] for e in registry["history"] if e["action"] == "register"] == ["v1", "v2"]
    assert len((repo.path / "models/model_metadata.log").read_text().splitlines()) == 2
    assert repo.make("train", PY="false").stages == [], "and the next run is a no-op"


def test_promotes_killed_at_random_moments_leave_a_valid_registry(repo: Repo):
    import random

    from scripts import registry as R

    repo.set_param("model", "n_estimators", 30)
    assert repo.make("train").code == 0
    py, rng = str(repo.path / ".venv/bin/python"), random.Random(7)
    for i in range(25):
        target = "v2" if i % 2 == 0 else "v1"
        proc = subprocess.Popen([py, "-m", "scripts.registry", "promote", target, "--reason", f"kill test {i}"],
                                cwd=repo.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        registry = json.loads((repo.path / "models/registry.json").read_text())  # never half-written
        validate(registry, "registry", "registry.json")
        R.check_consistent(registry, "registry.json")
        assert registry["aliases"]["production"] in ("v1", "v2")
    assert repo.make("promote", "VERSION=v2", "REASON=after the kills").code == 0
    assert not list((repo.path / "models").glob(".registry.json.*.tmp")), "the next change sweeps killed writers' debris"
    registry = repo.json("models/registry.json")
    assert registry["aliases"]["production"] == "v2"
    assert R.production_stack(registry["history"])[-1] == "v2"
