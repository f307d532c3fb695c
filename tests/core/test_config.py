"""params.yaml loading: every failure is one line naming the file and the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scripts.core.config import ROOT, ClockworkError, load_params


@pytest.fixture
def params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def error(path: Path) -> str:
    with pytest.raises(ClockworkError) as caught:
        load_params(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_the_committed_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert set(params) >= {"paths", "data", "features", "model", "evaluate"}


def test_missing_file(tmp_path):
    assert "file not found" in error(tmp_path / "params.yaml")


def test_yaml_syntax_error_names_line(tmp_path):
    assert "YAML syntax error: line 2, column 11: mapping values are not allowed in this context" in error(write(tmp_path, "model:\n  seed: 42: 1\n"))


def test_missing_key(tmp_path, params):
    del params["model"]["seed"]
    assert "model.seed: missing required key (params.yaml has model.seed: 42;" in error(write(tmp_path, params))


def test_unknown_key(tmp_path, params):
    params["model"]["n_trees"] = 5
    assert error(write(tmp_path, params)).endswith("model.n_trees: unknown key")


def test_wrong_type_and_negative(tmp_path, params):
    params["model"]["n_estimators"] = "many"
    assert "model.n_estimators: 'many' is not of type 'integer'" in error(write(tmp_path, params))
    params["model"]["n_estimators"] = -1
    assert "model.n_estimators: -1 is less than the minimum of 1" in error(write(tmp_path, params))


def test_unknown_algorithm(tmp_path, params):
    params["model"]["algorithm"] = "svm"
    assert "model.algorithm: 'svm' is not one of" in error(write(tmp_path, params))


def test_relations_between_values(tmp_path, params):
    params["data"]["test_rows"] = params["data"]["train_window_rows"]
    assert "data.test_rows: must be smaller" in error(write(tmp_path, params))


@pytest.mark.parametrize("change, said", [
    (lambda p: p["simulation"]["drift"]["columns"].update(type={"scale": 1.0, "bias": 0.0}),
     "simulation.drift.columns: type not a numeric input"),
    (lambda p: p["scenarios"]["list"]["torque_gain"]["faults"].update(speed={"gain": 2.0}),
     "scenarios.list.torque_gain: speed not a numeric input"),
    (lambda p: p["scenarios"]["list"]["type_mix"]["mix"].update(column="tool_wear_min"), "scenarios.list.type_mix.mix: needs a category"),
    (lambda p: p["scenarios"]["list"]["type_mix"]["mix"]["shares"].update(X=0.1), "scenarios.list.type_mix.mix: needs a category"),
    (lambda p: p["scenarios"]["list"].update(wear_up={"truth": "covariate_drift", "tilt": {"column": "type", "strength": 1.0, "share": 0.5}}),
     "scenarios.list.wear_up.tilt: type not a numeric input"),
    (lambda p: p["scenarios"]["list"]["concept_power"]["relabel"].update(target="power > 1"),
     "scenarios.list.concept_power.relabel (machine_failure): 'power > 1': 'power' is neither a column"),
])
def test_scenarios_change_only_the_contracts_columns(tmp_path, params, change, said):
    change(params)
    assert said in error(write(tmp_path, params))


def test_a_file_from_an_older_init_is_told_the_default_of_a_key_added_since(tmp_path, params):
    del params["monitor"]["diagnosis"]["min_r2"]
    path = tmp_path / "loans.yaml"
    path.write_text(yaml.safe_dump(params))
    assert error(path).endswith("monitor.diagnosis.min_r2: missing required key (params.yaml has monitor.diagnosis.min_r2: "
                                "0.5; a file written before that key was added needs it copied in)")


def test_top_level_must_be_a_mapping(tmp_path):
    assert "expected a mapping" in error(write(tmp_path, "- a\n- b\n"))


def test_env_var_selects_the_file(tmp_path, params, monkeypatch):
    params["model"]["seed"] = 7
    monkeypatch.setenv("CLOCKWORK_PARAMS", str(write(tmp_path, params)))
    assert load_params()["model"]["seed"] == 7


def test_a_stage_sees_only_the_sections_it_declares(tmp_path, params):
    stage = load_params(write(tmp_path, params), sections=("paths", "model"))
    assert set(stage) == {"paths", "model"} and stage["model"] == params["model"]
    with pytest.raises(KeyError, match="'monitor' is not among the sections this stage declares"):
        stage["monitor"]


def test_declaring_sections_still_validates_the_whole_file(tmp_path, params):
    params["monitor"]["window"] = "many"
    with pytest.raises(ClockworkError, match="monitor.window"):
        load_params(write(tmp_path, params), sections=("paths",))


def test_an_experiment_overrides_the_model_section_and_keeps_the_guard(tmp_path, params):
    from scripts.core.config import experiment_params

    stage = load_params(write(tmp_path, params), sections=("paths", "model", "experiments"))
    tuned = experiment_params(stage, "rf-100")
    assert tuned["model"]["n_estimators"] == 100 and stage["model"]["n_estimators"] == params["model"]["n_estimators"]
    with pytest.raises(KeyError):
        tuned["data"]
