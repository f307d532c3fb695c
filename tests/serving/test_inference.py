"""Request parsing for the three protocols, without HTTP: readings out, or a RequestError naming the field."""
from __future__ import annotations

import pytest

from scripts.core.web import RequestError, parse_json
from scripts.serving.inference import Requests
from tests import ai4i as A
from tests.conftest import fields

READING = {"type": "M", "air_temperature_k": 300.0, "process_temperature_k": 310.0, "rotational_speed_rpm": 1500,
           "torque_nm": 40.0, "tool_wear_min": 10}


@pytest.fixture(scope="module")
def requests() -> Requests:
    return Requests(fields(), max_batch=3)


def refused(call, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args)
    return caught.value


def test_one_reading_or_a_batch(requests):
    batch, is_batch = requests.predict(READING)
    assert (batch.readings(), is_batch) == ([READING], False)
    batch, is_batch = requests.predict({"instances": [READING, READING]})
    assert (batch.readings(), is_batch) == ([READING, READING], True)


def test_the_raw_csv_names_are_aliases_but_not_twice(requests):
    raw = {"Type": "M", "Air temperature [K]": 300.0, "Process temperature [K]": 310.0, "Rotational speed [rpm]": 1500,
           "Torque [Nm]": 40.0, "Tool wear [min]": 10, "UDI": 7}
    assert requests.predict(raw)[0].readings() == [{**READING, "udi": 7}]
    error = refused(requests.predict, {**READING, "Torque [Nm]": 41.0})
    assert (error.status, error.field) == (400, "Torque [Nm]") and "given twice" in error.reason


@pytest.mark.parametrize("change,field,reason", [
    ({"torque_nm": 500.0}, "torque_nm", "is greater than the maximum"),
    ({"type": "X"}, "type", "is not one of"),
    ({"colour": "red"}, "colour", "unknown field"),
    ({"torque_nm": None}, "torque_nm", "null is not of type 'number'"),
])
def test_a_bad_reading_names_its_field(requests, change, field, reason):
    error = refused(requests.predict, {**READING, **change})
    assert error.status == 400 and error.field == field and reason in error.reason, error.reason


def test_a_missing_field_and_a_field_inside_a_batch_are_located(requests):
    missing = {k: v for k, v in READING.items() if k != "tool_wear_min"}
    assert refused(requests.predict, missing).field == "tool_wear_min"
    assert refused(requests.predict, {"instances": [READING, {**READING, "torque_nm": -1.0}]}).field == "instances[1].torque_nm"


def test_too_many_readings_is_413_in_every_protocol(requests):
    assert refused(requests.predict, {"instances": [READING] * 4}).status == 413
    assert refused(requests.invocations, {"dataframe_records": [READING] * 4}).status == 413
    tensors = [{"name": c, "datatype": "BYTES" if c == "type" else "FP64", "shape": [4], "data": [READING[c]] * 4}
               for c in A.INPUT_COLUMNS]
    assert refused(requests.infer, {"inputs": tensors}).status == 413


def test_mlflow_split_records_and_instances_give_the_same_readings(requests):
    split = {"dataframe_split": {"columns": list(READING), "data": [list(READING.values())]}}
    assert requests.invocations(split).readings() == requests.invocations({"dataframe_records": [READING]}).readings() == \
        requests.invocations({"instances": [READING]}).readings() == [READING]
    short = {"dataframe_split": {"columns": list(READING), "data": [list(READING.values())[:-1]]}}
    assert refused(requests.invocations, short).field == "dataframe_split.data[0]"
    assert "exactly one of" in refused(requests.invocations, {"instances": [], "dataframe_records": []}).reason


def test_open_inference_tensors_become_readings_and_errors_name_tensor_and_row(requests):
    def tensors(torque: list) -> dict:
        out = [{"name": c, "datatype": "BYTES" if c == "type" else "FP64", "shape": [2], "data": [READING[c]] * 2}
               for c in A.INPUT_COLUMNS if c != "torque_nm"]
        return {"inputs": out + [{"name": "torque_nm", "datatype": "FP64", "shape": [2, 1], "data": [[t] for t in torque]}]}
    assert requests.infer(tensors([40.0, 41.0])).readings() == [READING, {**READING, "torque_nm": 41.0}]
    error = refused(requests.infer, tensors([40.0, 900.0]))
    assert error.field == "inputs.torque_nm[1]" and "maximum" in error.reason
    wrong_type = tensors([40.0, 41.0])
    wrong_type["inputs"][0]["datatype"] = "FP64"
    assert refused(requests.infer, wrong_type).field == "inputs[0].datatype"


def test_json_bodies_refuse_nan_and_non_utf8():
    assert parse_json(b'{"a": 1}', 32) == {"a": 1}
    assert "NaN is not allowed" in refused(parse_json, b'{"a": NaN}', 32).reason
    assert refused(parse_json, b"\xff\xfe", 32).reason == "not UTF-8"
    assert refused(parse_json, b"{", 32).reason.startswith("not valid JSON")


@pytest.mark.parametrize("depth", [33, 1000, 5000, 100000])
def test_json_nested_deeper_than_the_limit_is_refused_before_any_parser_recurses(depth):
    for body in (b"[" * depth + b"]" * depth, b'{"instances":' + b"[" * depth + b"]" * depth + b"}",
                 b'{"a":' * depth + b"1" + b"}" * depth):
        error = refused(parse_json, body, 32)
        assert error.field == "body" and error.reason.endswith("deep; at most 32 are accepted"), error.reason
    assert parse_json(b'{"a": "' + b"[" * depth + b'"}', 32) == {"a": "[" * depth}, "brackets in a string are text"
    assert parse_json(b"[" * 32 + b"]" * 32, 32) is not None


def test_mlflow_inputs_as_records_or_columns(requests):
    columns = {k: [v, v] for k, v in READING.items()}
    assert requests.invocations({"inputs": [READING, READING]}).readings() == [READING, READING]
    assert requests.invocations({"inputs": columns}).readings() == [READING, READING]
    uneven = {**columns, "torque_nm": [40.0]}
    assert "different lengths" in refused(requests.invocations, {"inputs": uneven}).reason
    bad = {**columns, "torque_nm": [40.0, None]}
    assert str(refused(requests.invocations, {"inputs": bad})) == "inputs[1].torque_nm: null is not of type 'number'"


def test_mlflow_dataframe_split_as_pandas_writes_it(requests):
    import pandas as pd

    split = pd.DataFrame([READING, {**READING, "torque_nm": 41.0}]).to_dict(orient="split")
    assert "index" in split
    batch = requests._fast_split(split)
    assert batch is not None and batch.readings()[1]["torque_nm"] == 41.0
    assert requests.invocations({"dataframe_split": split}).readings() == batch.readings()


def test_mlflow_csv(requests):
    import pandas as pd

    frame = pd.DataFrame([READING, {**READING, "type": "H"}])
    assert requests.csv(frame.to_csv(index=False).encode()).readings() == [READING, {**READING, "type": "H"}]
    raw_names = "Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min]\n"
    assert requests.csv((raw_names + "M,300.0,310.0,1500,40.0,10\n").encode()).readings() == [READING]
    bad = frame.to_csv(index=False).replace("40.0", "heavy", 1).encode()
    assert str(refused(requests.csv, bad)) == "csv[0].torque_nm: 'heavy' is not of type 'number'"
    assert refused(requests.csv, b"").field == "body"
    assert refused(requests.csv, b"\xff\xfe").field == "body"
    short = (raw_names + "M,300.0\n").encode()
    assert str(refused(requests.csv, short)) == "csv[0]: has 2 values for 6 columns"


def test_an_empty_batch_is_refused_in_every_shape(requests):
    assert str(refused(requests.invocations, {"inputs": {"torque_nm": []}})) == "inputs: no readings"
    assert refused(requests.invocations, {"inputs": []}).status == 400
    assert refused(requests.invocations, {"dataframe_records": []}).status == 400
