"""Pure feature functions: the physics of the derived features and the column contract."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from scripts.core import features as F


def reading(**overrides) -> pd.DataFrame:
    row = {"type": "L", "air_temperature_k": 300.0, "process_temperature_k": 310.5, "rotational_speed_rpm": 1500,
           "torque_nm": 40.0, "tool_wear_min": 100}
    row.update(overrides)
    return pd.DataFrame([row])


def test_derived_features_follow_the_physics():
    out = F.add_derived(reading(), ["temp_diff_k", "power_w", "strain_min_nm"])
    assert out["temp_diff_k"].iloc[0] == pytest.approx(10.5)
    assert out["power_w"].iloc[0] == pytest.approx(40.0 * 1500 * 2 * math.pi / 60)
    assert out["strain_min_nm"].iloc[0] == pytest.approx(4000.0)


def test_add_derived_keeps_inputs_in_order_and_only_requested_features():
    out = F.add_derived(reading(udi=7, twf=1), ["power_w"])
    assert list(out.columns) == F.INPUT_COLUMNS + ["power_w"]


def test_labels_and_identifiers_are_never_model_inputs():
    for column in [F.LABEL, *F.FAILURE_MODES, "udi", "product_id"]:
        assert column not in F.INPUT_COLUMNS


def test_transformer_output_names():
    transformer = F.build_transformer(["temp_diff_k"], "standard", True)
    frame = pd.concat([reading(type=t) for t in F.TYPES], ignore_index=True)
    transformer.fit(frame)
    names = list(transformer.get_feature_names_out())
    assert names[:3] == ["type_L", "type_M", "type_H"]
    assert names[3:] == F.NUMERIC_INPUTS + ["temp_diff_k"]
    assert transformer.transform(frame).shape == (3, len(names))


def test_transformer_without_one_hot_or_scaling():
    transformer = F.build_transformer([], "none", False).fit(reading())
    assert list(transformer.get_feature_names_out()) == F.NUMERIC_INPUTS
    assert transformer.transform(reading())[0, 0] == 300.0


def test_label_quirk_masks():
    frame = pd.DataFrame({F.LABEL: [1, 1, 0, 0], "twf": [0, 1, 0, 0], "hdf": [0] * 4, "pwf": [0] * 4,
                          "osf": [0] * 4, "rnf": [0, 0, 1, 0]})
    masks = F.label_quirks(frame)
    assert masks["unexplained_failure"].tolist() == [True, False, False, False]
    assert masks["rnf_without_failure"].tolist() == [False, False, True, False]
