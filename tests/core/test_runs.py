"""A pipeline run's record, from what make noted: pure."""
from __future__ import annotations

import pytest

from scripts.core.config import validate
from scripts.core.runs import run_record

FACTS = {"time": "2026-01-01T00:00:00Z", "duration_s": 1.23456, "stages": ["prepare", "train", "bogus"],
         "stderr": "INFO x\nerror: data/raw/x.csv: missing column(s): UDI\nmake: *** [Makefile:9: x] Error 2\n",
         "params_file": "params.yaml", "params_sha256": "a" * 64, "extra": "", "production": "v1",
         "pointers": {"prepare": "v2", "train": "v3", "register": "v1"}, "git": {"commit": None, "dirty": None},
         "actor": "u@h"}


@pytest.mark.parametrize("code,outcome,failed,model,error", [
    (0, "completed", None, "v1", None),
    (2, "failed", "train", "v3", "data/raw/x.csv: missing column(s): UDI"),
    (130, "interrupted", "train", "v3", "data/raw/x.csv: missing column(s): UDI"),
])
def test_the_outcome_comes_from_the_exit_status(code, outcome, failed, model, error):
    doc = run_record({**FACTS, "exit_code": code})
    validate(doc, "pipeline_run", "runs.jsonl")
    assert (doc["outcome"], doc["failed_stage"], doc["model_version"], doc["error"]) == (outcome, failed, model, error)
    assert doc["stages"] == ["prepare", "train"] and doc["duration_s"] == 1.235 and doc["extra"] is None
