"""make bench-epoch: the four ways to retrain after a concept drift, on the scenario's rows."""
from __future__ import annotations

import json

from scripts.core.config import validate
from tests.conftest import Repo, copy_of


def test_bench_epoch_scores_each_training_set_on_the_reference_and_fresh_rows(built: Repo, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    run = repo.make("bench-epoch", timeout=600)
    assert run.code == 0, run.out + run.err
    [path] = (repo.path / "logs/bench").glob("epoch-*.json")
    doc = json.loads(path.read_text())
    validate(doc, "bench_epoch", path.name)
    [study] = doc["scenarios"]
    assert study["scenario"] == "concept_power" and study["reference_rows"] == 900 and study["contradicted_rows"] > 100
    f1 = {v["training"].split(" (")[0]: v["f1_fresh"] for v in study["variants"]}
    assert len(f1) == 4 and f1["history less contradicted rows, and the new rows"] > f1["history alone"] + 0.3
    assert "| history and the new rows | 6400 |" in run.out
