"""`make experiments`: each grid entry is its own make target; every result is kept; people promote."""
from __future__ import annotations

import json
import re

from scripts.core.config import validate
from tests.conftest import TINY_GRID as GRID
from tests.conftest import Repo


def test_experiments_run_in_parallel_targets_keep_every_result_and_promote_nothing(repo: Repo):
    repo.set_grid(GRID)
    run = repo.make("-j2", "experiments")
    assert run.code == 0, run.err
    assert sorted(run.stages) == ["experiment logreg", "experiment small-rf"]
    records = [line for line in (repo.path / "models/experiments.jsonl").read_text().splitlines()]
    assert len(records) == 2
    docs = {d["name"]: d for d in map(json.loads, records)}
    for doc in docs.values():
        validate(doc, "experiment", "experiments.jsonl")
    assert docs["small-rf"]["params"]["hyperparameters"]["n_estimators"] == 20
    assert docs["logreg"]["gates"]["passed"] is False, "a negative result is recorded, not dropped"
    registry = repo.json("models/registry.json")
    assert registry["aliases"]["production"] == "v1", "experiments never promote themselves"
    assert registry["versions"][docs["logreg"]["version"]]["status"] == "rejected"

    table = run.out.splitlines()
    ranked = [line.split()[1] for line in table if re.match(r"^\s*\d+ ", line)]
    assert ranked == ["small-rf", "logreg"], "best f1 first"
    best = docs["small-rf"]["version"]
    assert f"make promote VERSION={best}" in table[-1]

    assert repo.make("experiments").stages == [], "nothing stale: no experiment reruns"
    repo.set_grid(GRID.replace("n_estimators: 20", "n_estimators: 25"))
    run = repo.make("experiments")
    assert run.stages == ["experiment small-rf"], "only the edited experiment reruns"
    assert len((repo.path / "models/experiments.jsonl").read_text().splitlines()) == 3, "the earlier run is kept"

    run = repo.make("experiments-table", "METRIC=recall")
    assert run.code == 0 and [line.split()[1] for line in run.out.splitlines() if re.match(r"^\s*\d+ ", line)][0] == "logreg"
    assert repo.make("experiments-table", "METRIC=bogus").err.strip().startswith("error: METRIC=bogus: unknown")

    assert repo.make("promote", f"VERSION={best}", "REASON=best experiment").code == 0
    assert repo.json("models/registry.json")["aliases"]["production"] == best
    assert repo.make("verify-all").code == 0, "every experiment run names a registered version"


def test_an_invalid_experiment_override_names_the_key(repo: Repo):
    repo.set_grid("  grid:\n    broken: {n_estimators: -3}\n")
    run = repo.make("experiments")
    assert run.code != 0
    assert "params.yaml: experiments.grid.broken.n_estimators" in run.err, run.err


def test_a_run_that_fails_is_recorded_with_its_error_and_make_stops(repo: Repo):
    repo.set_grid("  grid:\n    small-rf: {n_estimators: 20}\n")
    registry = repo.path / "models/registry.json"
    good = registry.read_bytes()
    registry.write_text('{"schema_version": 1,')  # registration will fail
    run = repo.make("experiments")
    assert run.code != 0 and "registry.json: corrupt JSON" in run.err
    docs = [json.loads(line) for line in (repo.path / "models/experiments.jsonl").read_text().splitlines()]
    assert len(docs) == 1 and docs[0]["outcome"] == "error" and docs[0]["version"] is None
    assert "corrupt JSON" in docs[0]["error"] and docs[0]["params"]["n_estimators"] == 20, "kept with its params and the error"
    validate(docs[0], "experiment", "experiments.jsonl")
    registry.write_bytes(good)
    table = repo.make("experiments-table").out
    assert "small-rf" in table and "error: " in table and "no experiment has finished" in table
