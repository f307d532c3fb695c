"""make init: from a CSV to a params file that make train runs, with every decision said."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import Repo
from tests.core.test_profile import loans


@pytest.mark.slow
def test_a_csv_becomes_a_reviewed_params_file_that_trains(repo: Repo, tmp_path):
    frame = loans(1500)
    rng = np.random.default_rng(1)
    risky = frame["Income"] < 45_000  # make the target learnable from the inputs
    frame["Default"] = np.where(rng.random(len(frame)) < np.where(risky, 0.7, 0.1), "yes", "no")
    frame["Collections"] = (frame["Default"] == "yes").astype(int)
    source = tmp_path / "loans.csv"
    frame.to_csv(source, index=False)
    run = repo.make("init", f"RAW={source}", "TARGET=Default", "POSITIVE=yes", "ORDER=Applied", "PARAMS=loans.yaml")
    assert run.code == 0, run.err
    for said in ("Loan ID -> loan_id: the row id", "Collections -> collections: left out: leakage suspect",
                 "Amount -> amount: left out, never read: 2 missing values", "positive class: 'yes'",
                 "split: in applied order: 735 train, 315 test, 450 production rows", "gates: min_f1"):
        assert said in run.out, (said, run.out)
    text = (repo.path / "loans.yaml").read_text()
    assert text.startswith("# Written by make init from") and "# Notes -> notes: left out: free text" in text
    params = yaml.safe_load(text)
    assert params["paths"]["raw"] == "data/raw/loans.csv" and params["paths"]["registry"] == "models/loans/registry.json"
    assert params["deployment"]["predictions_log"].startswith("logs/loans/")
    assert (repo.path / "data/raw/loans.csv").read_bytes() == source.read_bytes()

    run = repo.make("train", "PARAMS=loans.yaml")  # init's variable, not the one that picks the params file
    assert run.code != 0 and "to run on a params file: CLOCKWORK_PARAMS=file.yaml make train" in run.err, run.err
    assert run.stages == []
    run = repo.make("train", CLOCKWORK_PARAMS="loans.yaml")
    assert run.code == 0 and run.stages == ["prepare", "train", "evaluate", "register"], run.err
    card = repo.json("models/loans/model_v1.json")
    assert card["features"]["inputs"] == ["income", "purpose", "owns_home"] and card["features"]["label"] == "default"
    assert set(card["metrics"]["per_group"]) == {"Purpose car", "Purpose home"}
    assert repo.json("models/loans/registry.json")["aliases"]["production"] == "v1", "it beats the trivial floors"

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
