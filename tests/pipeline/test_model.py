"""Model quality and behaviour of the model make trained with the default params."""
from __future__ import annotations

import pandas as pd
import pytest

from scripts.core.artifacts import load_model
from scripts.core.config import ClockworkError, load_params, validate
from scripts.core.metrics import per_group
from tests import ai4i as A
from tests.conftest import Repo

# A healthy operating point: power ~5.9 kW, 10 K temperature difference, low strain.
NORMAL = {"type": "L", "air_temperature_k": 300.0, "process_temperature_k": 310.0, "rotational_speed_rpm": 1400,
          "torque_nm": 40.0, "tool_wear_min": 20}


@pytest.fixture(scope="module")
def card(built: Repo) -> dict:
    return built.json("models/model_v1.json")


@pytest.fixture(scope="module")
def model(built: Repo, card: dict):
    return load_model({**card, "artifact": {**card["artifact"], "path": str(built.path / card["artifact"]["path"])}})


def proba(model, **changes) -> float:
    return float(model.predict_proba(pd.DataFrame([{**NORMAL, **changes}]))[0, 1])


def test_card_validates_and_records_lineage(card):
    validate(card, "model", "model_v1.json")
    assert card["data"]["version"] == "v1"
    assert card["algorithm"] == load_params()["model"]["algorithm"]
    assert card["features"]["inputs"] == A.INPUT_COLUMNS
    assert {"numpy", "pandas", "scikit-learn"} <= set(card["environment"]["libraries"])


def test_f1_passes_the_gate_and_the_quality_target(card):
    gates = load_params()["evaluate"]["gates"]
    test = card["metrics"]["test"]
    assert test["f1"] >= gates["min_f1"] and test["recall"] >= gates["min_recall"]
    assert test["f1"] >= 0.80, "README quality target for the default params"


def test_recall_per_type_on_held_out_rows(built: Repo, model):
    """Per-Type recall over test + production rows; a Type with too few failures is not judged."""
    meta = built.json("data/processed/v1.json")
    frame = pd.concat([pd.read_csv(built.path / meta["outputs"][n]["path"]) for n in ("test", "production")])
    predicted = model.predict_proba(frame[A.INPUT_COLUMNS])[:, 1] >= 0.5
    by_type = per_group(frame[A.LABEL].to_numpy(), predicted, frame["type"].to_numpy(), A.TYPES)
    judged = {t: m for t, m in by_type.items() if m["positives"] >= 10}
    assert {"L", "M"} <= set(judged)
    for type_, metrics in judged.items():
        assert metrics["recall"] >= 0.6, (type_, metrics)


def test_minimum_functionality_on_textbook_cases(model):
    assert proba(model) < 0.1, "a healthy reading"
    assert proba(model, torque_nm=70.0, rotational_speed_rpm=2800) > 0.5, "power far above 9000 W"
    assert proba(model, torque_nm=12.0, rotational_speed_rpm=1400) > 0.5, "power below 3500 W"
    assert proba(model, air_temperature_k=302.0, process_temperature_k=309.5, rotational_speed_rpm=1300,
                 torque_nm=50.0) > 0.5, "heat dissipation: small temperature difference at low speed"


def test_direction_more_strain_raises_failure_probability(model):
    low = proba(model, torque_nm=40.0, tool_wear_min=100)    # strain 4,000 min*Nm
    high = proba(model, torque_nm=60.0, tool_wear_min=220)   # strain 13,200 min*Nm, above every Type's limit
    assert high > low + 0.5
    sweep = [proba(model, torque_nm=55.0, tool_wear_min=w) for w in (20, 80, 140, 230)]
    assert sweep[-1] > sweep[0]


def test_invariance_to_tiny_sensor_noise(model):
    base = proba(model)
    for change in ({"air_temperature_k": 300.1, "process_temperature_k": 310.1}, {"rotational_speed_rpm": 1402},
                   {"torque_nm": 40.2}):
        assert abs(proba(model, **change) - base) < 0.1, change


def test_pipeline_takes_raw_readings_and_ignores_extra_columns(model):
    frame = pd.DataFrame([{**NORMAL, "udi": 1, "product_id": "L1"}])
    assert model.predict_proba(frame)[0, 1] == model.predict_proba(pd.DataFrame([NORMAL]))[0, 1]


def test_a_tampered_artifact_is_never_unpickled(built: Repo, card, tmp_path):
    tampered = tmp_path / "model.joblib"
    tampered.write_bytes((built.path / card["artifact"]["path"]).read_bytes()[:-1] + b"X")
    with pytest.raises(ClockworkError, match="differs from .* recorded for model v1; refusing to load it"):
        load_model({**card, "artifact": {**card["artifact"], "path": str(tampered)}})
