"""make scenarios, reduced to four scenarios, through the real make targets and a real server."""
from __future__ import annotations

import json

import pytest

from scripts.core.config import validate
from scripts.dev.sandbox import free_port
from scripts.dev.scenarios import targets
from tests.conftest import Repo, copy_of, snapshot


@pytest.mark.slow
def test_a_reduced_suite_diagnoses_acts_and_writes_its_table(built: Repo, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    before = snapshot(repo)
    run = repo.make("scenarios", "ONLY=torque_gain,air_bias,type_mix,concept_power", f"PORT={free_port()}", timeout=600,
                    TMPDIR=str(tmp_path))
    assert run.code == 0, run.out + run.err
    [path] = (repo.path / "logs/scenarios").glob("*.json")
    # It ran in a throwaway copy, now gone: the project gained the result file and nothing else.
    assert {k: v for k, v in snapshot(repo).items() if k != str(path.relative_to(repo.path))} == before
    assert "in a throwaway copy of this project" in run.out and f"result in logs/scenarios/{path.name}" in run.out
    assert not list(tmp_path.glob("clockwork-scenarios-*")), "the copy is removed"
    doc = json.loads(path.read_text())
    validate(doc, "scenarios", path.name)
    rows = {r["scenario"]: r for r in doc["scenarios"]}
    assert list(rows) == ["torque_gain", "air_bias", "type_mix", "concept_power"]
    assert (rows["torque_gain"]["diagnosis"], rows["torque_gain"]["suspect_sensors"]) == ("sensor_fault", ["torque_nm"])
    assert (rows["air_bias"]["diagnosis"], rows["air_bias"]["suspect_sensors"]) == ("sensor_fault", ["air_temperature_k"])
    assert all(rows[n]["action"] == "retrain refused: sensor fault" for n in ("torque_gain", "air_bias"))
    assert rows["type_mix"]["diagnosis"] == "covariate_drift" and all(r["correct"] for r in rows.values())
    assert all(rows[n]["production_after"] == "v1" for n in ("torque_gain", "air_bias", "type_mix"))
    # A concept drift: retrained with a new reference epoch (the most recent labelled rows), promoted,
    # and back within 0.03 of the F1 before on fresh rows of the new relation.
    concept = rows["concept_power"]
    assert concept["diagnosis"] == "concept_drift" and concept["action"].startswith("promoted ")
    assert concept["f1"]["after"] >= concept["f1"]["before"] - 0.03 > concept["f1"]["during"]
    epoch = concept["reference_f1"]
    assert epoch["rows"]["epoch"] and epoch["rows"]["rows"] == 900 and epoch["after"] > epoch["first_model"]
    assert epoch["original_after"] < 0.5, "on the old rows, whose labels follow the old relation, it looks worse"
    assert rows["torque_gain"]["f1"]["during"] < rows["torque_gain"]["f1"]["before"], "the fault costs quality"
    assert "| torque_gain | sensor_fault | sensor_fault | torque_nm | yes |" in run.out
    assert all(t["held"] for t in doc["targets"]), doc["targets"]
    assert repo.make("report").code == 0  # the dashboard's own view, as one offline page
    page = (repo.path / "logs/report.html").read_text()
    assert '<table id="scenarios">' in page and page.count("data-scenario=") == 4 and "new reference: " in page
    bad = repo.make("scenarios", "ONLY=nope")
    assert bad.code == 2 and "ONLY=nope: unknown scenario nope (known: no_drift" in bad.err


def test_the_targets_name_the_scenarios_that_break_them():
    def row(name, truth, correct, first, after, before=0.8, fresh=0.8):
        return {"scenario": name, "truth": truth, "correct": correct, "f1": {"before": before, "after": fresh},
                "reference_f1": {"first_model": first, "after": after}}
    rows = [row("a", "sensor_fault", False, 0.81, 0.81), row("b", "covariate_drift", True, 0.81, 0.78),
            row("c", "concept_drift", True, 0.81, 0.80, before=0.85, fresh=0.80)]
    assert [(t["held"], t["broken_by"]) for t in targets(rows, 0.02, 0.03)] == [(False, ["a"]), (False, ["b"]), (False, ["c"])]
