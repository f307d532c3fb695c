"""Every make train run that does something is kept, failures included; a no-op records nothing."""
from __future__ import annotations

import hashlib
import json

from scripts.core.config import validate
from tests.conftest import Repo


def runs(repo: Repo) -> list[dict]:
    path = repo.path / "logs/runs.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    for record in records:
        validate(record, "pipeline_run", "runs.jsonl")
    return records


def test_a_full_build_is_one_completed_run(built: Repo):
    [run] = runs(built)
    assert run["outcome"] == "completed" and run["exit_code"] == 0 and run["error"] is None
    assert run["stages"] == ["prepare", "train", "evaluate", "register"] and run["failed_stage"] is None
    assert (run["data_version"], run["model_version"], run["production"]) == ("v1", "v1", "v1")
    assert run["params_file"] == "params.yaml"
    assert run["params_sha256"] == hashlib.sha256((built.path / "params.yaml").read_bytes()).hexdigest()
    assert run["duration_s"] > 0 and "@" in run["actor"]


def test_a_no_op_or_a_touch_records_nothing_and_a_change_records_what_ran(repo: Repo):
    before = runs(repo)
    assert repo.make("train", "PY=false").code == 0, "a no-op starts no Python, recording included"
    (repo.path / "data/raw/ai4i2020.csv").touch()
    assert repo.make("train").stages == []
    assert runs(repo) == before
    repo.set_param("model", "n_estimators", 40)
    assert repo.make("train").code == 0
    latest = runs(repo)[-1]
    assert len(runs(repo)) == len(before) + 1
    assert latest["stages"] == ["train", "evaluate", "register"] and latest["model_version"] == "v2"
    assert latest["production"] == "v1", "a later version waits as a candidate"


def test_a_failed_run_is_kept_with_its_stage_and_reason_and_the_next_run_starts_fresh(repo: Repo):
    raw = repo.path / "data/raw/ai4i2020.csv"
    good, good_sha = raw.read_bytes(), repo.params()["data"]["raw_sha256"]
    raw.write_text("UDI,Type\n1,L\n")
    repo.set_param("data", "raw_sha256", hashlib.sha256(b"UDI,Type\n1,L\n").hexdigest())
    run = repo.make("train")
    assert run.code == 2 and "missing column(s)" in run.err
    failed = runs(repo)[-1]
    assert failed["outcome"] == "failed" and failed["exit_code"] == 2 and failed["failed_stage"] == "prepare"
    assert failed["stages"] == ["prepare"] and "missing column(s): Product ID" in failed["error"]
    assert failed["error"].startswith(str(raw)), "the reason as the stage gave it, naming the file"
    raw.write_bytes(good)
    repo.set_param("data", "raw_sha256", good_sha)
    assert repo.make("train").code == 0
    # the data section changed and changed back: prepare and train rerun and reuse v1
    assert runs(repo)[-1]["stages"] == ["prepare", "train"] and runs(repo)[-1]["outcome"] == "completed"

    shown = repo.make("runs").out.splitlines()
    assert shown[1].split()[1] == "completed" and shown[2].split()[1] == "failed" and "error in prepare:" in shown[2]
    assert repo.make("report").code == 0
    page = (repo.path / "logs/report.html").read_text()
    assert 'id="runs"' in page and "missing column(s)" in page


def test_a_killed_run_is_recorded_as_killed_by_the_next_one_and_each_duration_is_its_own(repo: Repo):
    import os
    import signal
    import subprocess
    import time

    before = runs(repo)
    repo.set_param("model", "n_estimators", 300)
    proc = subprocess.Popen(["make", "train"], cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env={**os.environ})
    for line in proc.stdout:
        if line.startswith(">> train"):
            break
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # make, its recipe and the stage: nothing runs to record the run
    proc.wait()
    assert runs(repo) == before, "a killed run cannot record itself"
    time.sleep(2)
    started = time.monotonic()
    repo.set_param("model", "n_estimators", 40)
    assert repo.make("train").code == 0
    took = time.monotonic() - started
    killed, completed = runs(repo)[-2:]
    assert killed["outcome"] == "killed" and killed["stages"] == ["train"] and killed["failed_stage"] == "train"
    assert "killed before it could record itself" in killed["error"] and killed["exit_code"] == 137
    assert completed["outcome"] == "completed" and completed["stages"] == ["train", "evaluate", "register"]
    assert completed["duration_s"] <= took and completed["time"] >= killed["time"], "the killed run's time is not counted"
