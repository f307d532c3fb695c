"""A second machine that serves: a fresh clone whose deployment.registry names a remote builds
nothing, serves the remote's production model byte for byte, hot-swaps when the remote's alias
moves, says in its deployment log which host and remote it served from, and pushes its logs back."""
from __future__ import annotations

import socket
import time

from scripts.core.store import sha256_file
from tests.conftest import copy_of, fresh_copy
from tests.remote.test_sync import ok
from tests.serving.test_serve import Server, call


def test_a_replica_follows_the_remote_registry_and_hot_swaps(built, tmp_path):
    trainer, remote = copy_of(built, tmp_path / "trainer"), str(tmp_path / "remote")
    trainer.set_param("model", "n_estimators", 50)
    ok(trainer.make("train"))  # v2, a candidate
    ok(trainer.make("push", f"REMOTE={remote}"))
    replica = fresh_copy(tmp_path / "replica")
    replica.set_param("deployment", "registry", remote)
    server = Server(replica).start()
    try:
        assert replica.data_versions == [], "a replica built a data version"
        status, served = call(server.port, "GET", "/model")
        assert status == 200 and served["version"] == "v1"
        assert served["sha256"] == sha256_file(trainer.path / "models/model_v1.joblib")
        ok(trainer.make("promote", "VERSION=v2", "REASON=bigger is not better", "FORCE=1"))
        ok(trainer.make("push", f"REMOTE={remote}"))
        deadline, streak = time.monotonic() + 30, 0
        while time.monotonic() < deadline and streak < 10:  # every worker swaps on its own: ten answers in a row
            streak = streak + 1 if call(server.port, "GET", "/model")[1]["version"] == "v2" else 0
            time.sleep(0.05)
        assert streak == 10, "the replica did not follow the remote's alias"
    finally:
        server.stop()
    rows = server.deployment_rows()
    where = f"[host {socket.gethostname()}, registry {remote}]"
    assert {"start", "swap", "stop"} <= {r["event"] for r in rows}
    assert all(r["detail"].endswith(where) for r in rows), rows
    ok(replica.make("push", f"REMOTE={remote}"))
    ok(trainer.make("pull", f"REMOTE={remote}"))
    assert where in (trainer.path / "logs/deployment_log.csv").read_text(), "the replica's rows did not reach the trainer"


def test_a_replica_with_its_own_promotions_is_refused(built, tmp_path):
    trainer, remote = copy_of(built, tmp_path / "trainer"), str(tmp_path / "remote")
    ok(trainer.make("push", f"REMOTE={remote}"))
    replica = copy_of(built, tmp_path / "replica")
    replica.set_param("deployment", "registry", remote)
    (replica.path / "models/registry.json").write_text((replica.path / "models/registry.json").read_text().replace(
        '"reason": "first model to pass the gates (automatic)"', '"reason": "promoted here"'))
    run = replica.make("serve-bg", "PORT=1")
    assert run.code == 2 and "a serving replica follows the remote, it does not promote" in run.err, run.err
