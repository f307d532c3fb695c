"""The warm worker: a stage forked from it is the process a cold run would be, byte for byte in its
outputs, exit status, stderr and signals; edited code is read afresh; the worker leaves when idle."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import Repo, fresh_copy

WARM = {k: v for k, v in os.environ.items() if k not in ("COLD", "CLOCKWORK_WARM_DIR")}  # its own worker


def warm_run(repo: Repo, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(repo.path / ".venv/bin/python"), "-m", "scripts.core.warm", *argv], cwd=repo.path,
                          capture_output=True, text=True, timeout=120,
                          env={**WARM, "CLOCKWORK_LOG": "INFO"})


def started(repo: Repo) -> Path:
    """Start the repo's worker (the starting call runs cold) and wait until it listens and has said so in
    its log (the socket appears a moment before the line); its log."""
    assert warm_run(repo, "-m", "scripts.core.stamp", "--help").returncode == 0
    home = repo.path / ".make/warm"
    for _ in range(300):
        logs = list(home.glob("*.log"))
        if list(home.glob("*.sock")) and logs and " ready at " in logs[0].read_text():
            return logs[0]
        time.sleep(0.1)
    raise AssertionError("the worker did not start: " + "".join(p.read_text() for p in home.glob("*.log")))


def stop(repo: Repo) -> None:
    for sock in (repo.path / ".make/warm").glob("*.sock"):
        sock.unlink()  # the worker sees its socket gone within a second and exits


def digests(repo: Repo) -> dict[str, str]:
    """sha256 of every data file and model artifact (the JSON records hold times, so are left out)."""
    files = [p for p in (repo.path / "data").rglob("*") if p.is_file() and p.suffix == ".csv"]
    files += list((repo.path / "models").glob("*.joblib"))
    return {str(p.relative_to(repo.path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def keys(repo: Repo) -> dict[str, str]:
    """Each data and model version's identity key and the code it hashed."""
    records = [*(repo.path / "data/processed").glob("v*.json"), *(repo.path / "models").glob("model_v*.train.json")]
    return {p.name: (json.loads(p.read_text())["key"], json.loads(p.read_text()).get("code") or json.loads(p.read_text())["script"]["code"])
            for p in records}


def test_a_warm_build_is_byte_identical_to_a_cold_one(tmp_path):
    cold = fresh_copy(tmp_path / "cold")
    assert cold.make("train").code == 0
    warm = fresh_copy(tmp_path / "warm")
    log = started(warm)
    try:
        run = warm.make("train", COLD="", CLOCKWORK_WARM_DIR="")
        assert run.code == 0, run.err
        ran = log.read_text()
        for stage in ("prepare", "train", "evaluate", "register"):
            assert f"ran scripts.pipeline.{stage} " in ran, ran
        assert digests(warm) == digests(cold) and len(digests(cold)) >= 5
        assert keys(warm) == keys(cold), "a version's name does not depend on how its stage ran"
        check = warm.make("verify", COLD="", CLOCKWORK_WARM_DIR="")
        assert check.code == 0, check.err
    finally:
        stop(warm)


def test_exit_status_stderr_and_signals_pass_through(tmp_path):
    repo = fresh_copy(tmp_path / "repo")
    started(repo)
    try:
        argv = ["-m", "scripts.pipeline.register", "--model", "nowhere"]
        cold = subprocess.run([str(repo.path / ".venv/bin/python"), *argv], cwd=repo.path, capture_output=True, text=True,
                              env={**os.environ, "CLOCKWORK_LOG": "INFO"})
        warm = warm_run(repo, *argv)
        assert cold.returncode != 0 and (warm.returncode, warm.stderr, warm.stdout) == \
            (cold.returncode, cold.stderr, cold.stdout)
        (repo.path / "sleeper.py").write_text("import sys, time\nprint('ready', flush=True)\ntime.sleep(60)\n")
        # as from a terminal, whatever this test runs under (a background job ignores SIGINT, and so did the
        # worker it started): the stage takes Ctrl-C as its client has it
        proc = subprocess.Popen([str(repo.path / ".venv/bin/python"), "-m", "scripts.core.warm", "-m", "sleeper"],
                                cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=WARM,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 128 + signal.SIGINT
    finally:
        stop(repo)


def test_an_edited_module_is_read_afresh(tmp_path):
    repo = fresh_copy(tmp_path / "repo")
    log = started(repo)
    probe = repo.path / "scripts/core/_probe.py"
    try:
        for value in ("first", "second"):
            probe.write_text(f"print({value!r})\n")
            assert warm_run(repo, "-m", "scripts.core._probe").stdout == f"{value}\n"
        assert log.read_text().count("ran scripts.core._probe ") == 2
    finally:
        stop(repo)


@pytest.mark.parametrize("how", ["idle", "socket removed"])
def test_the_worker_leaves_when_idle_or_when_its_socket_goes(tmp_path, how):
    repo = fresh_copy(tmp_path / "repo")
    params = yaml.safe_load((repo.path / "params.yaml").read_text())
    params["warm"]["idle_s"] = 2 if how == "idle" else 300
    (repo.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    log = started(repo)
    pid = int(log.read_text().split("worker ", 1)[1].split()[0])
    if how != "idle":
        stop(repo)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"worker {pid} still running")
    assert not list((repo.path / ".make/warm").glob("*.sock"))


def test_usage_is_one_line():
    done = subprocess.run([sys.executable, "-m", "scripts.core.warm", "scripts.pipeline.train"], capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "usage" in done.stderr


def test_the_same_inputs_give_the_same_versions_cold_warm_and_after_a_switch(tmp_path):
    """The first stage of a fresh clone runs cold (the worker is starting), later ones warm: a params
    switch and back returns to data v1, and a damaged file of a version is restored byte for byte."""
    repo = fresh_copy(tmp_path / "repo")
    try:
        assert repo.make("train", COLD="", CLOCKWORK_WARM_DIR="").code == 0
        first = digests(repo)
        alt = repo.path / "alt.yaml"
        alt.write_text((repo.path / "params.yaml").read_text().replace("  test_rows: 1500", "  test_rows: 1400"))
        started(repo)
        assert repo.make("prepare", COLD="", CLOCKWORK_WARM_DIR="", CLOCKWORK_PARAMS="alt.yaml").code == 0
        run = repo.make("train", COLD="", CLOCKWORK_WARM_DIR="")
        assert run.code == 0, run.err
        assert repo.data_versions == ["v1.json", "v2.json"] and repo.model_versions == ["model_v1.joblib"], run.err
        for damaged in ("data/processed/v1/train.csv", "data/processed/v1/test.csv", "data/production/v1/production.csv",
                        "models/model_v1.joblib"):
            (repo.path / damaged).write_bytes(b"damaged\n")
            run = repo.make("train", COLD="", CLOCKWORK_WARM_DIR="")
            assert run.code == 0 and "repaired" in run.err, run.out + run.err
            assert digests(repo) == {**first, **{k: v for k, v in digests(repo).items() if "/v2/" in k}}, damaged
        assert repo.data_versions == ["v1.json", "v2.json"] and repo.model_versions == ["model_v1.joblib"]
    finally:
        stop(repo)


def test_clones_that_name_one_folder_share_a_worker_and_each_runs_its_own_code(tmp_path):
    """CLOCKWORK_WARM_DIR: one worker for many clones (as the test suite runs); a stage forked for a
    clone reads that clone's code, whichever clone started the worker, and it outlives that clone."""
    import shutil

    shared = Path(tempfile.mkdtemp(prefix="cw-", dir="/tmp"))
    env = {**WARM, "CLOCKWORK_WARM_DIR": str(shared), "CLOCKWORK_LOG": "INFO"}
    clones = [fresh_copy(tmp_path / name) for name in ("a", "b")]
    try:
        for clone, value in zip(clones, ("from a", "from b"), strict=True):  # b imports what the worker had not (lazily, after a is gone)
            (clone.path / "scripts/core/_probe.py").write_text(
                f"import os\n{'import ruptures, sklearn.cluster' if value == 'from b' else ''}\nprint({value!r}, os.getcwd())\n")
        run = lambda clone: subprocess.run(  # noqa: E731
            [str(clone.path / ".venv/bin/python"), "-m", "scripts.core.warm", "-m", "scripts.core._probe"],
            cwd=clone.path, capture_output=True, text=True, timeout=120, env=env).stdout
        assert run(clones[0]) == f"from a {clones[0].path}\n"  # cold, and starts the shared worker
        for _ in range(300):
            if list(shared.glob("*.sock")):
                break
            time.sleep(0.1)
        shutil.rmtree(clones[0].path)  # the clone that started it is gone
        assert run(clones[1]) == f"from b {clones[1].path}\n"
        assert next(shared.glob("*.log")).read_text().count("ran scripts.core._probe ") == 1, "b ran in the worker"
        assert not list((clones[1].path / ".make").glob("warm/*.sock")), "no worker of its own"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
