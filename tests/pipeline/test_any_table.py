"""Another table through the pipeline with no code change: only a params file that declares it.

scikit-learn's breast-cancer table (569 rows, 30 numeric columns, a text target) with a row id,
and no order (so a seeded, stratified random split), declared in a params file of its own whose
paths keep it apart from AI4I in the same clone:
make train prepares, trains, evaluates and registers it, make verify refits it byte for byte,
a second model is gated against the first, and AI4I's records stay as they were.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import yaml

from tests.conftest import Repo

SEPARATE = {"raw": "data/raw/cancer.csv", "processed_dir": "data/cancer/processed", "production_dir": "data/cancer/production",
            "manifest": "data/cancer/manifest.txt", "models_dir": "models/cancer", "registry": "models/cancer/registry.json",
            "metadata_log": "models/cancer/model_metadata.log", "experiments_log": "models/cancer/experiments.jsonl",
            "runs_log": "logs/cancer/runs.jsonl", "logs_dir": "logs/cancer"}


def cancer_params(repo: Repo) -> str:
    """Write the table and its params file into the copy; the file's name."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "Patient", np.arange(1, len(frame) + 1))
    frame["target"] = np.where(frame["target"] == 0, "malignant", "benign")
    raw = repo.path / SEPARATE["raw"]
    frame.to_csv(raw, index=False)
    params = yaml.safe_load((repo.path / "params.yaml").read_text())
    columns = [{"column": "Patient", "name": "patient", "kind": "integer", "role": "id"}]
    columns += [{"column": c, "name": re.sub(r"[^a-z0-9]+", "_", c.lower()).strip("_"), "kind": "number", "role": "input",
                 "range": [0.0, 10_000.0]} for c in frame.columns[1:-1]]
    columns.append({"column": "target", "name": "diagnosis", "kind": "category", "role": "target",
                    "values": ["benign", "malignant"]})
    params["dataset"] = {"columns": columns, "order": None, "positive": "malignant",
                         "derived": {"radius_ratio": "worst_radius / mean_radius"}, "segments": []}
    params["features"]["derived"] = ["radius_ratio"]
    params["data"].update({"raw_sha256": hashlib.sha256(raw.read_bytes()).hexdigest(), "train_window_rows": 400,
                           "test_rows": 120, "production_rows": 169, "label_quirks": {}})
    params["paths"].update(SEPARATE)
    params["model"]["n_estimators"] = 30
    params["simulation"]["drift"]["columns"] = {"mean_radius": {"scale": 1.1, "bias": 0.0}}  # AI4I's name its columns
    params["scenarios"]["list"] = {"no_drift": {"truth": "none"}}
    (repo.path / "cancer.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return "cancer.yaml"


@pytest.mark.slow
def test_a_table_declared_in_params_trains_verifies_and_gates_beside_ai4i(repo: Repo):
    ai4i = {name: (repo.path / name).read_bytes() for name in ("models/registry.json", "data/manifest.txt")}
    env = {"CLOCKWORK_PARAMS": cancer_params(repo)}
    run = repo.make("train", **env)
    assert run.code == 0 and run.stages == ["prepare", "train", "evaluate", "register"], run.err
    card = repo.json("models/cancer/model_v1.json")
    assert card["features"]["label"] == "diagnosis" and len(card["features"]["inputs"]) == 30
    assert card["features"]["expressions"] == {"radius_ratio": "worst_radius / mean_radius"}
    assert card["metrics"]["test"]["rows"] == 120 and card["metrics"]["test"]["f1"] > 0.8  # malignant is the positive class
    assert card["metrics"]["per_group"] == {}, "no category input: no groups"
    assert repo.json("models/cancer/registry.json")["aliases"]["production"] == "v1"
    split = (repo.path / "data/cancer/processed/v1/train.csv").read_text().splitlines()
    assert split[0].startswith("patient,mean_radius,") and split[0].endswith(",radius_ratio,diagnosis")
    assert {line.rsplit(",", 1)[1] for line in split[1:]} == {"0", "1"}, "the target is stored as 1 for malignant, 0 else"
    ids = [int(line.split(",", 1)[0]) for line in split[1:]]
    assert ids != sorted(ids), "no order column: the rows were shuffled"
    share = [line.rsplit(",", 1)[1] for line in split[1:]].count("1") / len(ids)
    assert abs(share - 212 / 569) < 0.01, "stratified: each part holds the table's share of malignant rows"

    run = repo.make("verify", **env)
    assert run.code == 0 and run.out.strip().endswith("PASS"), run.out + run.err
    assert repo.make("train", **env).stages == [], "a second run is a no-op"
    (repo.path / "cancer.yaml").write_text((repo.path / "cancer.yaml").read_text().replace("n_estimators: 30", "n_estimators: 10"))
    run = repo.make("train", **env)  # a second model, gated against the first on the same reference rows
    assert run.code == 0 and run.stages == ["train", "evaluate", "register"], run.err
    entry = repo.json("models/cancer/registry.json")["versions"]["v2"]
    judged = {result["gate"]: result for result in entry["gates"]["results"]}
    assert entry["gates"]["compared_with"] == "v1" and judged["reference_f1_difference"]["rows"] == 120, entry["gates"]
    assert {name: (repo.path / name).read_bytes() for name in ai4i} == ai4i, "AI4I's records are untouched"
    run = repo.make("train")  # back to AI4I's params: its versions are found again, none is made
    assert run.code == 0 and {name: (repo.path / name).read_bytes() for name in ai4i} == ai4i, run.err


def test_the_stratified_order_is_seeded_and_keeps_each_class_share_in_every_stretch():
    from scripts.pipeline.prepare import stratified_order

    labels = np.array([1] * 100 + [0] * 900)
    order = stratified_order(labels, 7)
    assert sorted(order) == list(range(1000)) and np.array_equal(order, stratified_order(labels, 7))
    assert not np.array_equal(order, stratified_order(labels, 8))
    for stop in (100, 250, 700):
        assert abs(labels[order[:stop]].sum() - stop / 10) <= 1
