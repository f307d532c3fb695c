"""make bench SMOKE=1: every benchmark at tiny sizes, so none can rot. It checks the files it
writes, never a timing (timing targets live in make bench itself). One run serves both the
pipeline benchmark's checks and the serving benchmark's, which make bench includes."""
from __future__ import annotations

import json

import pytest

from scripts.core.config import validate
from tests.conftest import Repo


@pytest.mark.slow
def test_bench_smoke_writes_a_valid_result_for_the_pipeline_and_the_server(repo: Repo):
    doc = repo.smoke_bench("bench", "bench-*.json", "bench")
    assert doc["smoke"] and doc["pipeline"]["after_touch_rebuilt_stages"] == [] and not doc["pipeline"]["noop_starts_python"]
    assert {row["algorithm"] for row in doc["quality_per_cost"]} == {"random_forest", "hist_gradient_boosting", "logistic_regression"}
    monitor = doc["monitor"]  # 5,000 predictions in chunks of 1,000, then 1,000 more
    assert (monitor["chunks_measured"], monitor["after_new"]["chunks_measured"], monitor["after_new"]["chunks_reused"]) == (5, 1, 5)
    [scale] = doc["scale"]
    assert scale["rows"] == 2000 and scale["after_touch_rebuilt_stages"] == []
    assert set(scale["stages"]) == {"prepare", "train", "evaluate", "register"}
    assert repo.model_versions == ["model_v1.joblib"], "the benchmark never touches the user's versions"

    [path] = (repo.path / "logs/bench").glob("serve-*.json")  # make bench includes the serving benchmark
    serve = json.loads(path.read_text())
    validate(serve, "bench_serve", path.name)
    assert serve["smoke"] is True and set(serve["by_workers"]) == {"1", "2"}
    assert not (repo.path / "logs/predictions.jsonl").exists(), "benchmark traffic stays out of the production log"
    assert not (repo.path / "logs/deployment_log.csv").exists()
    assert not list((repo.path / "logs/bench").glob(".serve-run-*"))
