"""A damaged generated file is never invisible: make status names it, and make train rebuilds it from
its inputs (checked against its record) or stops with one line naming the file and the way out."""
from __future__ import annotations

import hashlib
import json

from tests.conftest import Repo


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_data_file_is_named_then_rebuilt_byte_identical(repo: Repo):
    train_csv = repo.path / "data/processed/v1/train.csv"
    recorded = repo.json("data/processed/v1.json")["outputs"]["train"]["sha256"]
    assert "every data version, model, card and the registry match" in repo.make("status").out
    with open(train_csv, "a") as handle:
        handle.write("1,2,3\n")
    status = repo.make("status")
    assert "damaged   data/processed/v1/train.csv: sha256" in status.out and "recorded in data/processed/v1.json" in status.out
    run = repo.make("train")
    assert run.code == 0 and run.stages == ["prepare"], run.out + run.err
    assert "repaired data/processed/v1/train.csv" in run.err and sha(train_csv) == recorded
    assert "match their records" in repo.make("status").out and repo.make("train").stages == []


def test_a_missing_model_is_refitted_and_an_edited_card_evaluated_again(repo: Repo):
    artifact, card = repo.path / "models/model_v1.joblib", repo.path / "models/model_v1.json"
    recorded, f1 = sha(artifact), repo.json("models/model_v1.json")["metrics"]["test"]["f1"]
    artifact.unlink()
    doc = json.loads(card.read_text())
    doc["metrics"]["test"]["f1"] = 0.99
    card.write_text(json.dumps(doc))
    assert "damaged   models/model_v1.joblib: missing" in repo.make("status").out
    run = repo.make("train")
    assert run.code == 0 and run.stages == ["train", "evaluate"], run.out + run.err
    assert sha(artifact) == recorded and repo.json("models/model_v1.json")["metrics"]["test"]["f1"] == f1
    assert "repaired models/model_v1.joblib" in run.err and "repaired model_v1.json" in run.err
    assert repo.make("verify-all").code == 0


def test_a_file_a_rebuild_cannot_reproduce_stops_with_the_way_out(repo: Repo):
    meta_path = repo.path / "data/processed/v1.json"
    meta = json.loads(meta_path.read_text())
    meta["outputs"]["test"]["sha256"] = "0" * 64  # the record now names bytes no rebuild gives
    meta_path.write_text(json.dumps(meta))
    (repo.path / "data/processed/v1/test.csv").touch()
    run = repo.make("train")
    assert run.code == 2
    [line] = [line for line in run.err.splitlines() if line.startswith("error: ")]
    assert "data/processed/v1/test.csv: differs from its record in v1.json" in line
    assert "restore it from a backup, or delete" in line and line.endswith("v1.json to build the version again")
