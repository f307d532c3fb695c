"""A full disk is an error, not a crash, and never a torn record: on a real small filesystem the service
answers 503 JSON and resumes by itself, a stage fails with one line naming the file, and a torn tail
left by a power cut is set aside at start-up."""
from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.serving.test_app import READING
from tests.serving.test_faults import _children
from tests.serving.test_serve import Server, call


@contextmanager
def small_filesystem(where: Path, size: str = "4m"):
    """A tmpfs of the given size mounted over where (its content copied in), unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the CI machine runs as root)")
    keep = where.with_name(where.name + ".before")
    where.rename(keep)
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode:
        where.rmdir()
        keep.rename(where)
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        subprocess.run(["cp", "-a", f"{keep}/.", str(where)], check=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem to 0 bytes free with one file, and return it."""
    filler = directory / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    try:
        with open(filler, "ab") as handle:  # the last partial block
            while True:
                handle.write(b"\0")
                handle.flush()
    except OSError:
        pass
    return filler


def test_the_service_answers_503_on_a_full_disk_and_resumes_by_itself(repo: Repo):
    with small_filesystem(repo.path / "logs") as logs:
        server = Server(repo).start()
        try:
            master = int((logs / "serve.pid").read_text())
            workers = sorted(_children(master))
            assert call(server.port, "POST", "/predict", READING)[0] == 200
            filler = fill(logs)
            answers = [call(server.port, "POST", "/predict", {"instances": [READING] * 20}) for _ in range(30)]
            assert {status for status, _ in answers} == {503}
            assert all(doc["field"] == "predictions_log" and "No space left on device" in doc["error"] for _, doc in answers), answers[:2]
            assert sorted(_children(master)) == workers, "no worker died or was replaced"
            filler.unlink()
            status, doc = call(server.port, "POST", "/predict", {"instances": [READING] * 20})
            assert status == 200 and len(doc["predictions"]) == 20, "service resumes once space returns"
        finally:
            server.stop()
        text = (logs / "predictions.jsonl").read_text()
        assert text.endswith("\n")
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == 21, "every answered prediction logged whole, no refused one, no torn line"
        assert repo.make("monitor").code == 0


def test_a_stage_on_a_full_disk_fails_with_one_line_naming_the_file_and_recovers(repo: Repo):
    repo.set_param("model", "n_estimators", 30)
    with small_filesystem(repo.path / "models", size="16m") as models:
        filler = fill(models)
        run = repo.make("train")
        assert run.code == 2
        [line] = [line for line in run.err.splitlines() if line.startswith("error: ")]
        assert "No space left on device" in line and "/models/" in line and "internal error" not in run.err, run.err
        assert not list(models.glob(".*.tmp")), "no temp file left behind"
        filler.unlink()
        assert repo.make("train").code == 0
        assert repo.make("verify-all").code == 0


def test_a_torn_tail_is_set_aside_at_start_up_and_readers_never_stop_on_it(repo: Repo):
    predictions = repo.path / "logs/predictions.jsonl"
    server = Server(repo).start()
    call(server.port, "POST", "/predict", {**READING, "udi": 1})
    server.stop()
    whole = predictions.read_text()
    with open(predictions, "a") as handle:
        handle.write('{"time": "2026-01-01T00:00:00Z", "request_id": "cut-by-a-power')  # no newline: torn
    assert repo.make("monitor").code == 0, "a reader skips a torn tail"
    server = Server(repo).start()
    try:
        assert call(server.port, "POST", "/predict", READING)[0] == 200
    finally:
        server.stop()
    [aside] = list(predictions.parent.glob("predictions.jsonl.torn-*"))
    assert aside.read_text().startswith('{"time": "2026-01-01T00:00:00Z", "request_id": "cut-by')
    assert predictions.read_text().startswith(whole) and all(json.loads(x) for x in predictions.read_text().splitlines())
    assert any(r["event"] == "repaired" and "torn last line" in r["detail"] for r in server.deployment_rows())
    assert repo.make("verify-all").code == 0


def test_prepare_on_a_full_disk_names_the_version_and_leaves_no_half_version(repo: Repo):
    repo.set_param("data", "train_window_rows", 6900)  # a new data version
    with small_filesystem(repo.path / "data/processed", size="4m") as processed:
        filler = fill(processed)
        run = repo.make("train")
        assert run.code == 2
        [line] = [line for line in run.err.splitlines() if line.startswith("error: ")]
        assert "No space left on device" in line and "internal error" not in run.err, run.err
        assert sorted(p.name for p in processed.iterdir()) == sorted(["filler", "v1", "v1.json", ".lock"]), "no half version"
        filler.unlink()
        assert repo.make("train").code == 0 and repo.make("verify-all").code == 0
