"""make bench-remote runs in CI at its smoke size so it cannot rot; it checks the file, never a timing."""
from __future__ import annotations

import json

import pytest

from scripts.core.config import validate


@pytest.mark.slow
def test_bench_remote_smoke_writes_a_valid_result(repo):
    run = repo.make("bench-remote", "SMOKE=1", timeout=600)
    assert run.code == 0, run.out + run.err
    [path] = (repo.path / "logs/bench").glob("remote-*.json")
    doc = json.loads(path.read_text())
    validate(doc, "bench_remote", path.name)
    assert doc["smoke"] and doc["dvc_s3"] is None and doc["files"] > 0
    assert doc["said"].startswith("pushed ") and set(doc["s3"]) == {"full_push_s", "noop_push_s", "pull_s"}
