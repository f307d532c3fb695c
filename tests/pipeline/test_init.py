"""make init: from a CSV to a params file that make train runs, with every decision said."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from scripts.core.contract import Contract
from scripts.core.rawdata import read_raw
from tests.conftest import Repo
from tests.core.test_profile import loans

API = """
import json
from scripts.api import datasets, load_model
model, test = load_model("production"), datasets("v1").frames["test"]
print(json.dumps({"inputs": list(model.feature_names_in_), "rows": len(model.predict_proba(test))}))
"""


@pytest.mark.slow
def test_a_csv_becomes_a_reviewed_params_file_that_trains(repo: Repo, tmp_path):
    frame = loans(1500)
    rng = np.random.default_rng(1)
    risky = (frame["Income"] < 45_000) ^ (frame["Purpose"] == "car")  # learnable from two inputs together, not one
    frame["Default"] = np.where(rng.random(len(frame)) < np.where(risky, 0.7, 0.1), "yes", "no")
    frame["Collections"] = (frame["Default"] == "yes").astype(int)
    source = tmp_path / "loans.csv"
    frame.to_csv(source, index=False)
    run = repo.make("init", f"RAW={source}", "TARGET=Default", "POSITIVE=yes", "ORDER=Applied", "PARAMS=loans.yaml")
    assert run.code == 0, run.err
    for said in ("Loan ID -> loan_id: the row id", "Collections -> collections: left out: leakage suspect",
                 "Amount -> amount: integer input", "2 missing values: a request may leave it out or send null", "positive class: 'yes'",
                 "split: in applied order: 735 train, 315 test, 450 production rows", "gates: min_f1"):
        assert said in run.out, (said, run.out)
    text = (repo.path / "loans.yaml").read_text()
    assert text.startswith("# Written by make init from") and "# Notes -> notes: left out: free text" in text
    params = yaml.safe_load(text)
    assert params["paths"]["raw"] == "data/raw/loans.csv" and params["paths"]["registry"] == "models/loans/registry.json"
    assert params["deployment"]["predictions_log"].startswith("logs/loans/")
    assert "logs/loans/monitor/*.json" in params["remote"]["artifacts"] and "logs/loans/*.jsonl" in params["remote"]["logs"]
    assert (repo.path / "data/raw/loans.csv").read_bytes() == source.read_bytes()

    run = repo.make("train", "PARAMS=loans.yaml")  # init's variable, not the one that picks the params file
    assert run.code != 0 and "to run on a params file: CLOCKWORK_PARAMS=file.yaml make train" in run.err, run.err
    assert run.stages == []
    run = repo.make("train", CLOCKWORK_PARAMS="loans.yaml")
    assert run.code == 0 and run.stages == ["prepare", "train", "evaluate", "register"], run.err
    card = repo.json("models/loans/model_v1.json")
    assert card["features"]["inputs"] == ["income", "purpose", "owns_home", "amount"] and card["features"]["label"] == "default"
    assert card["features"]["missing"] == {"amount": "median"}, "the model fills what may be missing"
    run = repo.make("verify", CLOCKWORK_PARAMS="loans.yaml")
    assert run.code == 0 and run.out.strip().endswith("PASS"), run.out + run.err
    assert set(card["metrics"]["per_group"]) == {"Purpose car", "Purpose home"}
    run = repo.make("synth", "ROWS=800", CLOCKWORK_PARAMS="loans.yaml")  # init proposed its synth.columns
    assert run.code == 0, run.err
    made = repo.path / next(line.split(": ", 1)[1] for line in run.out.splitlines() if line.strip().startswith("paths.raw:"))
    assert made.name == "loans-synth-800-seed2020.csv" and pd.read_csv(made, nrows=0).columns.tolist() == list(frame.columns)
    synthetic = read_raw(made, Contract.from_params(params["dataset"]))  # the contract's checks pass: types, ranges, values
    assert len(synthetic) == 800 and set(synthetic["purpose"]) == {"car", "home"}
    assert repo.json("models/loans/registry.json")["aliases"]["production"] == "v1", "it beats the trivial floors"
    notebook = subprocess.run([str(repo.path / ".venv/bin/python"), "-c", API], cwd=repo.path, capture_output=True, text=True,
                              env={**os.environ, "CLOCKWORK_PARAMS": "loans.yaml"})
    assert notebook.returncode == 0, notebook.stderr
    assert json.loads(notebook.stdout) == {"inputs": ["income", "purpose", "owns_home", "amount"], "rows": 315}
    serve_label_and_monitor(repo, {"CLOCKWORK_PARAMS": "loans.yaml"})
    scenarios_on_the_table(repo, {"CLOCKWORK_PARAMS": "loans.yaml"})

    again = repo.make("init", f"RAW={source}", "TARGET=Default", "PARAMS=loans.yaml")
    assert again.code != 0 and again.err.startswith("error: PARAMS=loans.yaml: already exists"), again.err
    other = tmp_path / "other" / "loans.csv"
    other.parent.mkdir()
    other.write_text(source.read_text().replace("note 1,", "note one,"))
    run = repo.make("init", f"RAW={other}", "TARGET=Default", "PARAMS=other.yaml")
    assert run.code != 0 and "data/raw/loans.csv: exists with other content" in run.err, run.err
    for args, said in [(("TARGET=Default",), "RAW: missing"), ((f"RAW={source}", "TARGET=Nope"), "TARGET=Nope: no such column"),
                       ((f"RAW={tmp_path}/none.csv", "TARGET=x"), "none.csv: file not found")]:
        run = repo.make("init", *args, "PARAMS=x.yaml")
        assert run.code != 0 and said in run.err and "Traceback" not in run.err, (args, run.err)
    assert not (repo.path / "x.yaml").exists()
    run = repo.make("init", f"RAW={other}", "TARGET=Default")  # PARAMS defaults to the CSV's name, here
    assert run.code != 0 and run.err.startswith("error: PARAMS=loans.yaml: already exists"), run.err
    assert pd.read_csv(repo.path / "data/raw/loans.csv").shape == frame.shape


def serve_label_and_monitor(repo: Repo, env: dict) -> None:
    """The loans model served, its predictions labelled and monitored, in the data set's own terms and files."""
    from scripts.dev.sandbox import free_port
    from tests.serving.test_serve import call

    port = free_port()
    run = repo.make("serve-bg", f"PORT={port}", **env)
    assert run.code == 0, run.out + run.err
    try:
        reading = {"Loan ID": 9001, "Income": 30_000.0, "Purpose": "car", "Owns home": True}  # Amount left out
        status, doc = call(port, "POST", "/predict", reading)
        assert status == 200 and doc["model_version"] == "v1", doc
        status, null = call(port, "POST", "/predict", {**reading, "Loan ID": 9002, "amount": None})
        assert status == 200 and null["failure_probability"] == doc["failure_probability"], "left out or null: filled alike"
        status, bad = call(port, "POST", "/predict", {**reading, "Income": None})
        assert status == 400 and bad["field"] == "income" and "null is not of type 'number'" in bad["error"], bad
        status, bad = call(port, "POST", "/predict", {**reading, "Purpose": "boat"})
        assert status == 400 and bad["field"] == "purpose" and "'boat' is not one of ['car', 'home']" in bad["error"], bad
        status, meta = call(port, "GET", "/v2/models/clockwork")
        assert [(t["name"], t["datatype"]) for t in meta["inputs"]] == [("income", "FP64"), ("purpose", "BYTES"),
                                                                       ("owns_home", "BOOL"), ("amount", "FP64")]
    finally:
        assert repo.make("stop", **env).code == 0
    logged = [json.loads(line) for line in (repo.path / "logs/loans/predictions.jsonl").read_text().splitlines()]
    first = next(line for line in logged if line.get("loan_id") == 9001)
    assert first["inputs"] == {"income": 30_000.0, "purpose": "car", "owns_home": True, "amount": None}
    assert not (repo.path / "logs/predictions.jsonl").exists(), "AI4I's prediction log is not touched"
    labels = repo.path / "loans_labels.csv"
    labels.write_text(f"prediction_id,label,loan_id\n{doc['prediction_id']},1,9001\n")
    run = repo.make("labels", f"FILE={labels}", **env)
    assert run.code == 0 and "1 labels recorded in logs/loans/" in run.out, run.out + run.err
    run = repo.make("monitor", **env)
    assert run.code == 0 and "Traceback" not in run.err, run.out + run.err


def scenarios_on_the_table(repo: Repo, env: dict) -> None:
    """make init proposed scenarios on the table's own columns; make scenarios runs them through the loop."""
    from scripts.dev.sandbox import free_port

    proposed = yaml.safe_load((repo.path / "loans.yaml").read_text())
    assert list(proposed["scenarios"]["list"]) == ["no_drift", "income_stuck", "purpose_mix", "label_shift", "concept"]
    assert proposed["simulation"]["drift"]["columns"] == {"income": {"scale": 1.1, "bias": 0.0}}
    run = repo.make("scenarios", "ONLY=income_stuck,purpose_mix,label_shift", f"PORT={free_port()}", timeout=600, **env)
    assert run.code == 0, run.out + run.err
    for line in ("| income_stuck | sensor_fault | sensor_fault | income | yes |",
                 "| purpose_mix | covariate_drift | covariate_drift | - | yes |", "| label_shift | label_shift | label_shift | - | yes |"):
        assert line in run.out, (line, run.out)
    assert list((repo.path / "logs/loans/scenarios").glob("*.json")), "the result is the table's own"
    assert proposed["simulation"]["demo_checks"] is False, "the table's story is not known: the demo says, not checks"
    run = repo.make("demo", f"PORT={free_port()}", timeout=600, **env)
    assert run.code == 0, run.out + run.err
    for step in ("1. train", "3. replay day2 (untouched)", "4. replay day2_drift", "5. retrain", "6. replay day3_drift",
                 "7. stop the server", "(verdicts said, not checked: simulation.demo_checks is false for this data set)"):
        assert step in run.out, (step, run.out)
    assert run.out.count("   verdict: ") == 3
