"""A reference epoch: after a concept drift the most recent labelled rows judge every candidate.

The labelled rows are the concept_power scenario's (power failures outside 4.5-9 kW instead of
3.5-9 kW), built by the real make simulate; every stage runs through real make."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from scripts.core.config import validate
from scripts.core.epoch import mark_reference
from tests import ai4i as A
from tests.conftest import Repo
from tests.serving.test_serve import Server

EXTRA = "data/production/labelled/concept.csv"


def start_epoch(repo: Repo) -> pd.DataFrame:
    """make train with the scenario's 1,800 relabelled rows, the most recent 900 marked as the new reference."""
    assert repo.make("simulate").code == 0
    rows = pd.read_csv(repo.path / "data/production/simulated/concept_power/v1.csv")
    labelled = mark_reference(rows.assign(prediction_id=[f"p-{i}" for i in range(len(rows))], dataset="concept_power"), 0.5)
    (repo.path / EXTRA).parent.mkdir(parents=True, exist_ok=True)
    labelled[["prediction_id", "dataset", "udi", *A.INPUT_COLUMNS, A.LABEL, "reference"]].to_csv(repo.path / EXTRA, index=False)
    run = repo.make("train", f"EXTRA={EXTRA}")
    assert run.code == 0, run.out + run.err
    return labelled


def test_a_new_epoch_judges_its_candidate_on_the_new_rows_and_every_later_one_too(repo: Repo):
    labelled = start_epoch(repo)
    meta = repo.json("data/processed/v2.json")
    validate(meta, "data_version", "v2.json")
    epoch = meta["reference_epoch"]
    assert (epoch["reference_rows"], epoch["trained_labelled_rows"]) == (900, 900) and epoch["contradicted_rows"] > 100
    assert "holdout" not in meta["outputs"] and meta["params"]["model"] == repo.params()["model"]
    test = pd.read_csv(repo.path / "data/processed/v2/test.csv")
    train = pd.read_csv(repo.path / "data/processed/v2/train.csv")
    assert test["udi"].tolist() == labelled["udi"].iloc[900:].tolist(), "the most recent labelled rows are the new reference"
    assert not set(train["udi"]) & set(test["udi"]), "nothing trains on the reference rows"
    dropped = {u for lo, hi in epoch["contradicted_udis"] for u in range(lo, hi + 1)}
    assert len(dropped) == epoch["contradicted_rows"] and not dropped & set(train["udi"])
    assert len(train) == 5500 - len(dropped) + 900
    v1 = pd.read_csv(repo.path / "data/processed/v1/train.csv")
    assert (v1[v1["udi"].isin(dropped)][A.LABEL] == 0).all(), "only 'no failure' labels are contradicted; old failures stay"

    registry = repo.json("models/registry.json")
    entry = registry["versions"]["v2"]
    assert entry["gates"]["gate_set"] == "epoch" and entry["status"] == "candidate", entry["gates"]
    assert entry["reference"] == {"data_version": "v2", "rows": 900, "sha256": meta["outputs"]["test"]["sha256"], "epoch": True}
    [difference] = [r for r in entry["gates"]["results"] if r["gate"] == "reference_f1_difference"]
    assert difference["rows"] == 900 and difference["low"] > 0 and difference["limit"] == 0.0
    assert entry["gates"]["production_metrics"]["f1"] < 0.6, "the old model misses the new failures"

    assert repo.make("promote", "VERSION=v2", "REASON=new power limits").code == 0
    repo.set_param("model", "n_estimators", 50)
    run = repo.make("train")  # a model of the old relation, on data v1: judged on the epoch's rows, refused
    assert run.code == 0, run.err
    registry = repo.json("models/registry.json")
    v3 = registry["versions"]["v3"]
    assert v3["data_version"] == "v1" and v3["reference"] == entry["reference"] and v3["status"] == "rejected"
    assert "min_f1" in v3["gates"]["failed"] and v3["metrics"]["f1"] < 0.6
    table = repo.make("registry").out
    lines = {line.split()[0]: line for line in table.splitlines()[2:] if line.startswith("v")}
    assert "*" not in lines["v3"] and "*" in lines["v1"], "v3 is measured on production's rows, v1 on the old ones"
    metrics = {line.split()[0]: line for line in repo.make("metrics").out.splitlines()[1:] if line.startswith("v")}
    assert [v for v in metrics if v.endswith("*")] == ["v3*", "v1*"], "cards measured on other rows than production's"

    assert repo.make("rollback", "REASON=back to the old limits").code == 0
    repo.set_param("model", "n_estimators", 60)
    assert repo.make("train").code == 0
    v4 = repo.json("models/registry.json")["versions"]["v4"]
    assert v4["reference"]["data_version"] == "v1" and not v4["reference"]["epoch"], "the reference follows production back"
    # v4 passed its gates on the old rows: once the epoch's model serves again, they no longer speak for it
    assert repo.make("promote", "VERSION=v2", "REASON=the new limits hold").code == 0
    refused = repo.make("promote", "VERSION=v4")
    assert refused.code != 0 and "VERSION=v4: its gates were measured on other reference rows (v1 test) than the " \
        "reference epoch production was judged on (v2 test, 900 rows); use FORCE=1" in refused.err, refused.err
    assert repo.make("promote", "VERSION=v4", "FORCE=1").code == 0
    assert repo.json("models/registry.json")["history"][-1]["reason"].endswith("(forced: judged before the epoch)")


@pytest.mark.slow
def test_a_retrain_in_an_epoch_keeps_out_its_reference_rows_and_the_history_it_contradicts(repo: Repo):
    start_epoch(repo)
    assert repo.make("promote", "VERSION=v2", "REASON=new power limits").code == 0
    server = Server(repo).start()
    try:  # the scenario's rows again (half are the epoch's reference rows), then later rows of the same relation
        for dataset in ("concept_power", "concept_power_fresh"):
            assert repo.make("replay", f"DATASET={dataset}", f"PORT={server.port}").code == 0
        run = repo.make("retrain", "FORCE=1", timeout=300)
        assert run.code == 0, run.out + run.err
    finally:
        server.stop()
    event = json.loads((repo.path / "logs/retrain_events.jsonl").read_text().splitlines()[-1])
    assert event["labelled_data"]["rows"] == 1800 + 1200 - 900, "the 900 reference rows replayed are left out"
    meta = repo.json(f"data/processed/{event['data_version']}.json")
    assert not meta["reference_epoch"]["starts"] and meta["reference_epoch"]["contradicted_rows"] > 100
    assert meta["outputs"]["holdout"]["rows"] == 420
    candidate = repo.json("models/registry.json")["versions"][event["candidate"]]
    assert candidate["gates"]["gate_set"] == "retrain" and candidate["reference"]["data_version"] == "v2"
    results = {r["gate"]: r for r in candidate["gates"]["results"]}
    assert "reference_unseen" not in results and "holdout_unseen" not in results
    assert results["reference_f1_difference"]["rows"] == 900
    assert results["min_f1"]["passed"], "without the old labels it contradicts, the history does not drag the model back"


def test_a_reference_column_with_other_values_is_refused_in_one_line(repo: Repo):
    rows = pd.read_csv(repo.path / "data/processed/v1/test.csv").iloc[:100]
    labelled = rows.assign(prediction_id=[f"p-{i}" for i in range(len(rows))], dataset="manual", reference=2)
    (repo.path / EXTRA).parent.mkdir(parents=True, exist_ok=True)
    labelled[["prediction_id", "dataset", "udi", *A.INPUT_COLUMNS, A.LABEL, "reference"]].to_csv(repo.path / EXTRA, index=False)
    run = repo.make("train", f"EXTRA={EXTRA}")
    assert run.code != 0 and f"{EXTRA}: column reference: values must be 0 or 1" in run.err, run.err
    assert "Traceback" not in run.err and repo.data_versions == ["v1.json"]


def test_epoch_1_starts_an_epoch_by_hand_and_the_retrain_promotes_through_its_gates(repo: Repo):
    assert repo.make("simulate").code == 0
    server = Server(repo).start()
    try:
        assert repo.make("replay", "DATASET=concept_power", f"PORT={server.port}").code == 0
        run = repo.make("retrain", "FORCE=1", "EPOCH=1", timeout=300)
        assert run.code == 0, run.out + run.err
    finally:
        server.stop()
    assert "EPOCH=1: the most recent 900 labelled rows become the new reference rows" in run.out, run.out
    registry = repo.json("models/registry.json")
    entry = registry["versions"]["v2"]
    assert entry["gates"]["gate_set"] == "epoch" and entry["reference"]["epoch"] and registry["aliases"]["production"] == "v2"
    assert registry["history"][-1]["reason"].endswith("a new reference epoch (EPOCH=1)")
