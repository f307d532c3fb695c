"""The diagnosis on the real readings with faults of known size and start (scripts/monitoring/diagnosis.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts.core.config import load_params, repo_path
from scripts.monitoring.diagnosis import diagnose, relation_values, settings_of
from tests import ai4i as A
from tests.conftest import contract

PARAMS = load_params()
SETTINGS = settings_of(PARAMS["monitor"], contract())
RAW = pd.read_csv(repo_path(PARAMS["paths"]["raw"])).rename(columns=A.RAW_COLUMNS)
REFERENCE = RAW.iloc[:5500].reset_index(drop=True)  # the training rows
TEST_RATE = float(RAW["machine_failure"].iloc[5500:7000].mean())  # the monitor's baseline (test) failure rate


def window(first: int, change=None) -> pd.DataFrame:
    """1000 production readings from this raw row on, with a fault applied."""
    frame = RAW.iloc[first:first + 1000].reset_index(drop=True).astype({c: "float64" for c in A.NUMERIC_INPUTS})
    if change:
        change(frame)
    return frame


def run(frame: pd.DataFrame, drifted: list[str] | None = None, dropped: bool | None = None) -> dict:
    return diagnose(REFERENCE, frame, frame["machine_failure"].to_numpy(), drifted or [], dropped, TEST_RATE, SETTINGS)


@pytest.mark.parametrize("first", [7000, 8000, 9000])
def test_untouched_production_readings_name_no_sensor(first: int):
    found = run(window(first))
    assert found["kind"] == "none" and found["suspect_sensors"] == [] and not found["label_rate"]["shifted"]


@pytest.mark.parametrize("first", [7000, 9000])
@pytest.mark.parametrize("sensor,factor,start", [("torque_nm", 1.12, 0), ("torque_nm", 1.12, 500),
                                                 ("rotational_speed_rpm", 0.95, 300)])
def test_a_gain_is_named_with_its_size_and_start(first: int, sensor: str, factor: float, start: int):
    def gain(frame):
        frame.loc[start:, sensor] *= factor
    found = run(window(first, gain))
    assert found["kind"] == "sensor_fault" and "recalibrate" in found["action"]
    [suspect] = found["suspect_sensors"]
    assert (suspect["sensor"], suspect["fault"], suspect["relation"]) == (sensor, "gain", "power")
    assert abs(suspect["estimate"] - factor) < 0.015 and suspect["interval"][0] <= suspect["estimate"] <= suspect["interval"][1]
    assert abs(suspect["start_index"] - start) <= 100


@pytest.mark.parametrize("first", [7000, 8000, 9000])
@pytest.mark.parametrize("sensor,size,start", [("air_temperature_k", 2.0, 300), ("process_temperature_k", -2.0, 700)])
def test_a_temperature_bias_is_named_at_its_step(first: int, sensor: str, size: float, start: int):
    def bias(frame):
        frame.loc[start:, sensor] += size
    [suspect] = run(window(first, bias))["suspect_sensors"]
    assert (suspect["sensor"], suspect["fault"], suspect["start_index"]) == (sensor, "bias", start)
    assert abs(suspect["estimate"] - size) < 0.6, "the temperatures wander about half a kelvin over 50 readings"


def test_a_stuck_sensor_and_a_noisy_one():
    def stuck(frame):
        frame.loc[300:, "process_temperature_k"] = 310.0
    [suspect] = run(window(7000, stuck))["suspect_sensors"]
    assert (suspect["sensor"], suspect["fault"], suspect["estimate"], suspect["start_index"]) == ("process_temperature_k", "stuck", 310.0, 300)

    def noisy(frame):
        frame["rotational_speed_rpm"] += np.random.default_rng(3).normal(0, 150, len(frame))
    [suspect] = run(window(7000, noisy))["suspect_sensors"]
    assert (suspect["sensor"], suspect["fault"]) == ("rotational_speed_rpm", "noise") and suspect["interval"][0] > 1


def test_two_sensors_drifting_from_mid_stream_are_both_named_and_no_innocent_one():
    def two(frame):
        frame.loc[500:, "rotational_speed_rpm"] *= 0.92
        frame.loc[500:, "air_temperature_k"] -= 2.0
    found = run(window(7000, two))
    assert sorted(s["sensor"] for s in found["suspect_sensors"]) == ["air_temperature_k", "rotational_speed_rpm"]
    assert all(abs(s["start_index"] - 500) <= 30 for s in found["suspect_sensors"])


def test_readings_that_move_together_are_covariate_drift_not_a_fault():
    def season(frame):
        frame["air_temperature_k"] += 3.0
        frame["process_temperature_k"] += 3.0
    found = run(window(7000, season), drifted=["air_temperature_k", "process_temperature_k"])
    assert found["kind"] == "covariate_drift" and found["suspect_sensors"] == []
    assert np.allclose(relation_values(window(7000, season), SETTINGS["relations"]["temperature_difference"]),
                       relation_values(window(7000), SETTINGS["relations"]["temperature_difference"]))


def test_label_shift_concept_drift_and_too_few_labels():
    frame = window(7000)
    y = frame["machine_failure"].to_numpy().copy()
    y[:60] = 1  # six times the failures
    found = diagnose(REFERENCE, frame, y, [], False, TEST_RATE, SETTINGS)
    assert found["kind"] == "label_shift" and found["label_rate"]["shifted"]
    assert run(frame, dropped=True)["kind"] == "concept_drift"
    assert run(frame, drifted=["air_temperature_k"], dropped=True)["kind"] == "concept_drift", "recall decides, not drift"
    few = np.full(len(frame), -1)
    few[:50] = frame["machine_failure"].to_numpy()[:50]
    found = diagnose(REFERENCE, frame, few, [], None, TEST_RATE, SETTINGS)
    assert found["kind"] == "not_enough_evidence" and f"{SETTINGS['min_labels']} are needed" in found["evidence"][0]


def related(n: int, seed: int) -> pd.DataFrame:
    """Four sensors of another data set: b follows a, c follows a and b, d is unrelated."""
    rng = np.random.default_rng(seed)
    a = rng.normal(100, 10, n)
    b = 2 * a + rng.normal(0, 4, n)
    return pd.DataFrame({"a": a, "b": b, "c": 0.5 * a + 0.3 * b + rng.normal(0, 3, n), "d": rng.uniform(0, 50, n),
                         "label": np.zeros(n, dtype=int)})


LEARNED = {**SETTINGS, "relations": {}, "sensors": ("a", "b", "c", "d")}


def test_with_no_relation_declared_the_learned_ones_name_the_faulty_sensor_and_its_start():
    reference, current = related(3000, 1), related(1000, 2)
    current.loc[400:, "b"] *= 1.1  # b's sensor reads 10 % high from reading 400
    found = diagnose(reference, current, current["label"].to_numpy(), ["b"], None, 0.0, LEARNED)
    assert found["kind"] == "sensor_fault" and [s["sensor"] for s in found["suspect_sensors"]] == ["b"], found
    suspect = found["suspect_sensors"][0]
    assert abs(suspect["start_index"] - 400) <= 10 and suspect["relation"] == "learned: b from a, c, d"
    low, high = suspect["interval"]
    assert low < suspect["estimate"] < high and 15 < suspect["estimate"] < 25, "about 10 % of b's mean of 200"


def test_sensors_that_move_together_as_learned_are_drift_not_a_fault():
    reference, current = related(3000, 1), related(1000, 2)
    current["a"] += 15  # the machines changed: a moved, and b and c followed it
    current["b"] = 2 * current["a"] + np.random.default_rng(3).normal(0, 4, 1000)
    current["c"] = 0.5 * current["a"] + 0.3 * current["b"] + np.random.default_rng(4).normal(0, 3, 1000)
    found = diagnose(reference, current, current["label"].to_numpy(), ["a", "b", "c"], None, 0.0, LEARNED)
    assert found["suspect_sensors"] == [] and found["kind"] == "covariate_drift", found
