"""Derived-feature expressions: a closed grammar over columns, checked before anything runs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scripts.core.expressions import ExpressionError, parse

COLUMNS = ["torque_nm", "rotational_speed_rpm", "air_temperature_k", "process_temperature_k"]
FRAME = pd.DataFrame({"torque_nm": [40.0, 10.0], "rotational_speed_rpm": [1500, 3000],
                      "air_temperature_k": [300.0, 298.0], "process_temperature_k": [310.5, 308.0]})


def test_arithmetic_over_columns_with_constants_and_functions():
    power = parse("torque_nm * rotational_speed_rpm * 2 * pi / 60", COLUMNS)
    assert power.columns == ("torque_nm", "rotational_speed_rpm")
    assert power(FRAME) == pytest.approx([40.0 * 1500 * 2 * math.pi / 60, 10.0 * 3000 * 2 * math.pi / 60])
    assert parse("process_temperature_k - air_temperature_k", COLUMNS)(FRAME) == pytest.approx([10.5, 10.0])
    assert parse("-log1p(abs(torque_nm)) + maximum(torque_nm, 20) ** 0.5 % 3 // 1", COLUMNS)(FRAME) == pytest.approx(
        -np.log1p([40.0, 10.0]) + np.maximum([40.0, 10.0], 20) ** 0.5 % 3 // 1)
    out = parse("torque_nm / 2", COLUMNS)({"torque_nm": np.array([3])})  # a mapping of arrays works as a frame
    assert out.dtype == np.float64 and out.tolist() == [1.5]


@pytest.mark.parametrize("text, said", [
    ("__import__('os').system('true')", "a call is not allowed"),
    ("__import__('os')", "the function '__import__' is not allowed"),
    ("sqrt(torque_nm, key=1)", "the function 'sqrt' is not allowed"),
    ("torque_nm.__class__", "an attribute is not allowed"),
    ("FRAME['torque_nm']", "a subscript is not allowed"),
    ("torque_nm > 3", "a comparison is not allowed"),
    ("(lambda: 1)()", "is not allowed"),
    ("torque_nm and 1", "and/or is not allowed"),
    ("sqrt(x=torque_nm)", "is not allowed"),
    ("open", "'open' is neither a column nor one of ['e', 'pi']"),
    ("torque_nm + 'a'", "only numbers may be written as constants"),
    ("torque_nm + True", "only numbers may be written as constants"),
    ("torque_nm +", "does not parse"),
    ("2 * pi", "reads no column"),
    ("", "non-empty text"),
    ("[torque_nm]", "list is not allowed"),
])
def test_anything_outside_the_grammar_is_refused_before_it_runs(text, said):
    with pytest.raises(ExpressionError) as caught:
        parse(text, COLUMNS)
    assert said in str(caught.value)


def test_a_column_may_shadow_a_constant():
    assert parse("e * 2", ["e"])({"e": np.array([1.0])}).tolist() == [2.0]


def test_a_condition_compares_and_combines_row_by_row():
    frame = {"label": np.array([1, 1, 0, 0]), "twf": np.array([0, 1, 0, 0]), "rnf": np.array([0, 0, 1, 0])}
    unexplained = parse("label == 1 and twf + rnf == 0", ["label", "twf", "rnf"], condition=True)
    assert unexplained(frame).tolist() == [True, False, False, False]
    assert parse("not (rnf == 1 or 0 < twf <= 1)", ["twf", "rnf"], condition=True)(frame).tolist() == [True, False, False, True]
    with pytest.raises(ExpressionError, match="a comparison is not allowed"):
        parse("label == 1", ["label"])  # a derived feature is a number, never a condition
    with pytest.raises(ExpressionError, match="a comparison is not allowed"):
        parse("(label == 1) * 2 == 2", ["label"], condition=True)  # a comparison's result is no number
