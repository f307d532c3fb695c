"""What a scenario does to the production rows (scripts/pipeline/faults.py), on the real data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts.core.config import ClockworkError, load_params, repo_path
from scripts.pipeline.faults import apply_scenario, scenario_datasets
from tests import ai4i as A
from tests.conftest import contract

PARAMS = load_params()
CONTRACT = contract()
RAW = pd.read_csv(repo_path(PARAMS["paths"]["raw"])).rename(columns=CONTRACT.renames).iloc[7000:8800].reset_index(drop=True)
ROWS = RAW.assign(drifted=0)


def test_sensor_faults_change_only_their_sensor_from_their_row():
    out = apply_scenario(ROWS, {"faults": {"torque_nm": {"gain": 1.12, "from_row": 500},
                                           "air_temperature_k": {"bias": -2.5, "from_row": 1000},
                                           "process_temperature_k": {"stuck": 310.0, "from_row": 1500}}}, 5, CONTRACT)
    assert np.allclose(out["torque_nm"][:500], ROWS["torque_nm"][:500])
    assert np.allclose(out["torque_nm"][500:], (ROWS["torque_nm"][500:] * 1.12).round(4))
    assert np.allclose(out["air_temperature_k"][1000:], ROWS["air_temperature_k"][1000:] - 2.5)
    assert (out["process_temperature_k"][1500:] == 310.0).all()
    assert out["drifted"].tolist() == [0] * 500 + [1] * 1300
    untouched = ["rotational_speed_rpm", "tool_wear_min", "type", A.LABEL]
    assert out[untouched].equals(ROWS[untouched]), "other sensors and the labels keep the physical truth"


def test_noise_is_seeded_and_centred():
    one = apply_scenario(ROWS, {"faults": {"rotational_speed_rpm": {"noise": 200}}}, 5, CONTRACT)
    assert one.equals(apply_scenario(ROWS, {"faults": {"rotational_speed_rpm": {"noise": 200}}}, 5, CONTRACT))
    added = one["rotational_speed_rpm"] - ROWS["rotational_speed_rpm"]
    assert abs(added.mean()) < 20 and 180 < added.std() < 220


def test_resampling_sets_the_type_mix_or_the_failure_rate():
    mixed = apply_scenario(ROWS, {"mix": {"column": "type", "shares": {"L": 0.1, "M": 0.3, "H": 0.6}}}, 5, CONTRACT)
    assert len(mixed) == len(ROWS) and mixed["type"].value_counts(normalize=True).round(2).to_dict() == {"H": 0.6, "M": 0.3, "L": 0.1}
    shifted = apply_scenario(ROWS, {"positive_rate": 0.1}, 5, CONTRACT)
    assert shifted[A.LABEL].mean() == pytest.approx(0.1, abs=0.001) and ROWS[A.LABEL].mean() < 0.03
    assert shifted["udi"].is_monotonic_increasing, "rows stay in time order"


def test_a_tilt_draws_a_share_of_the_rows_along_a_numeric_input_each_once_with_its_label():
    tilt = {"column": "tool_wear_min", "strength": 1.5, "share": 0.33}
    up = apply_scenario(ROWS, {"tilt": tilt}, 5, CONTRACT)
    down = apply_scenario(ROWS, {"tilt": {**tilt, "strength": -1.5}}, 5, CONTRACT)
    wear = ROWS["tool_wear_min"]
    assert len(up) == round(0.33 * len(ROWS)) and up["udi"].is_unique and up["udi"].is_monotonic_increasing
    assert up["tool_wear_min"].mean() > wear.mean() + 0.5 * wear.std() and down["tool_wear_min"].mean() < wear.mean() - 0.5 * wear.std()
    assert up.equals(apply_scenario(ROWS, {"tilt": tilt}, 5, CONTRACT)) and up["drifted"].eq(1).all(), "seeded, and marked"
    kept = up.merge(ROWS.drop(columns="drifted"), on="udi", suffixes=("", "_was"))
    assert (kept[A.LABEL] == kept[f"{A.LABEL}_was"]).all(), "each row keeps its label"
    with pytest.raises(ClockworkError, match="tilt: tool_wear_min takes one value in these rows"):
        apply_scenario(ROWS.assign(tool_wear_min=5), {"tilt": tilt}, 5, CONTRACT)


def test_a_new_power_window_labels_the_same_readings_again():
    out = apply_scenario(ROWS, PARAMS["scenarios"]["list"]["concept_power"], 5, CONTRACT)
    power = ROWS["torque_nm"] * ROWS["rotational_speed_rpm"] * 2 * np.pi / 60
    assert out[A.INPUT_COLUMNS].equals(ROWS[A.INPUT_COLUMNS])
    newly = (power < 4500) & (power >= 3500)
    assert (out.loc[newly, A.LABEL] == 1).all() and out[A.LABEL].sum() > ROWS[A.LABEL].sum()
    assert out["drifted"].sum() == (out[A.LABEL] != ROWS[A.LABEL]).sum()
    others = ROWS[["twf", "hdf", "osf", "rnf"]].to_numpy().any(axis=1)
    assert (out[A.LABEL] == (others | (power < 4500) | (power > 9000))).all(), "the rule params give, exactly"


def test_each_scenario_is_two_datasets_and_the_fresh_one_is_faulty_from_its_first_row():
    datasets = scenario_datasets(PARAMS["scenarios"])
    assert set(datasets) == {n + s for n in PARAMS["scenarios"]["list"] for s in ("", "_fresh")}
    air = datasets["air_bias_fresh"]["scenario"]["faults"]["air_temperature_k"]
    assert air["from_row"] == 0 and datasets["air_bias"]["scenario"]["faults"]["air_temperature_k"]["from_row"] == 1300
    assert "truth" not in datasets["air_bias"]["scenario"], "what is measured never leaks into what is built"
