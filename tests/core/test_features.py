"""Pure feature functions: the feature spec from the contract, the derived features, the transformer."""
from __future__ import annotations

import math
import pickle

import pandas as pd
import pytest

from scripts.core import features as F
from tests.conftest import contract, spec

DERIVED = ["temp_diff_k", "power_w", "strain_min_nm"]


def reading(**overrides) -> pd.DataFrame:
    row = {"type": "L", "air_temperature_k": 300.0, "process_temperature_k": 310.5, "rotational_speed_rpm": 1500,
           "torque_nm": 40.0, "tool_wear_min": 100}
    row.update(overrides)
    return pd.DataFrame([row])


def test_the_spec_comes_from_the_contract_and_the_features_params():
    out = spec({"derived": ["power_w"], "scaling": "none", "one_hot_type": False})
    c = contract()
    assert out["inputs"] == c.input_names and out["numeric"] == c.numeric_inputs and out["label"] == c.label
    assert out["categories"] == {"type": ["L", "M", "H"]}
    assert out["derived"] == ["power_w"] and out["expressions"] == {"power_w": "torque_nm * rotational_speed_rpm * 2 * pi / 60"}
    assert (out["scaling"], out["one_hot_type"]) == ("none", False)


def test_derived_features_follow_the_declared_expressions():
    made = spec({"derived": DERIVED, "scaling": "none", "one_hot_type": True})
    out = F.add_derived(reading(), made["derived"], made["inputs"], made["expressions"])
    assert out["temp_diff_k"].iloc[0] == pytest.approx(10.5)
    assert out["power_w"].iloc[0] == pytest.approx(40.0 * 1500 * 2 * math.pi / 60)
    assert out["strain_min_nm"].iloc[0] == pytest.approx(4000.0)


def test_add_derived_keeps_inputs_in_order_and_only_requested_features():
    out = F.add_derived(reading(udi=7, twf=1), ["power_w"], contract().input_names, {"power_w": "torque_nm * rotational_speed_rpm"})
    assert list(out.columns) == contract().input_names + ["power_w"]


def test_a_derive_step_pickled_before_the_contract_reads_the_formulas_params_declare():
    """A model pickled with derived=[names] and no inputs (before expressions were declared) still
    computes the features: params' dataset section gives the inputs and each name's expression."""
    out = F.add_derived(reading(), ["temp_diff_k"])
    assert list(out.columns) == contract().input_names + ["temp_diff_k"] and out["temp_diff_k"].iloc[0] == pytest.approx(10.5)
    assert F.derived_names(None, None, ["temp_diff_k"]) == contract().input_names + ["temp_diff_k"]


def test_transformer_output_names():
    transformer = F.build_transformer(spec({"derived": ["temp_diff_k"], "scaling": "standard", "one_hot_type": True}))
    frame = pd.concat([reading(type=t) for t in ["L", "M", "H"]], ignore_index=True)
    transformer.fit(frame)
    names = list(transformer.get_feature_names_out())
    assert names[:3] == ["type_L", "type_M", "type_H"]
    assert names[3:] == contract().numeric_inputs + ["temp_diff_k"]
    assert transformer.transform(frame).shape == (3, len(names))
    again = pickle.loads(pickle.dumps(transformer))  # the pickle carries the inputs and expressions themselves
    assert again.named_steps["derive"].kw_args == {"derived": ["temp_diff_k"], "inputs": contract().input_names,
                                                   "expressions": {"temp_diff_k": "process_temperature_k - air_temperature_k"}}


def test_transformer_without_one_hot_or_scaling():
    transformer = F.build_transformer(spec({"derived": [], "scaling": "none", "one_hot_type": False})).fit(reading())
    assert list(transformer.get_feature_names_out()) == contract().numeric_inputs
    assert transformer.transform(reading())[0, 0] == 300.0


def test_positive_rate():
    assert F.positive_rate(pd.Series([1, 0, 0, 1])) == 0.5 and F.positive_rate(pd.Series([], dtype=int)) == 0.0
