"""The column check accepts exactly what the per-reading schema check accepts, and slices a batch faithfully."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.core.web import RequestError
from scripts.serving.batch import Batch
from scripts.serving.inference import Requests
from tests import ai4i as A
from tests.conftest import fields

READING = {"type": "M", "air_temperature_k": 300.0, "process_temperature_k": 310.0, "rotational_speed_rpm": 1500,
           "torque_nm": 40.0, "tool_wear_min": 10}
# values that probe every rule: in and out of range, integers and floats, null, booleans, strings, huge integers
ODD = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.just(2 ** 70), st.just(-1), st.just(1e9),
                st.lists(st.integers(), max_size=1), st.floats(allow_nan=False, allow_infinity=False))


@pytest.fixture(scope="module")
def requests() -> Requests:
    return Requests(fields(), max_batch=50)


def slow(requests: Requests, rows: list) -> list[dict] | RequestError:
    """What the per-reading schema check makes of the rows."""
    try:
        return requests._records(rows, ["instances"]).readings()
    except RequestError as exc:
        return exc


@st.composite
def batches(draw) -> list[dict]:
    """Mostly good readings, some with one value changed to something odd, some with a udi or an alias."""
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row = dict(READING)
        for column in draw(st.lists(st.sampled_from(A.INPUT_COLUMNS + ["udi"]), max_size=2)):
            row[column] = draw(ODD | st.sampled_from(["L", "M", "H", 0, 7, 3.0, 250.0, 360.0, 5000, 0.0]))
        rows.append(row)
    if draw(st.booleans()):
        for row in rows:
            row["Torque [Nm]"] = row.pop("torque_nm")
    return rows


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(rows=batches())
def test_the_column_check_never_accepts_what_the_schema_refuses(requests, rows):
    fast = requests._fast_records(rows)
    expected = slow(requests, rows)
    if fast is not None:
        assert not isinstance(expected, RequestError), f"column check accepted what the schema refuses: {expected}"
        assert fast.readings() == expected


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(rows=batches())
def test_every_body_gets_the_answer_the_reading_by_reading_check_gives(requests, rows):
    expected = slow(requests, rows)
    try:
        got = requests.predict({"instances": rows})[0].readings()
    except RequestError as exc:
        got = exc
    if isinstance(expected, RequestError):
        assert isinstance(got, RequestError) and (got.status, got.field, got.reason) == \
            (expected.status, expected.field, expected.reason)
    else:
        assert got == expected


def test_a_good_batch_takes_the_column_path_in_every_protocol(requests):
    rows = [READING, {**READING, "torque_nm": 41}]
    assert requests._fast_records(rows) is not None
    split = {"columns": list(READING), "data": [list(r.values()) for r in rows]}
    assert requests._fast_split(split).readings() == rows
    assert requests.invocations({"dataframe_split": split}).readings() == rows
    with_ids = [{**r, "udi": i} for i, r in enumerate(rows)]
    assert requests._fast_records(with_ids).readings() == with_ids


def test_the_messages_name_the_row_and_field_as_before(requests):
    bad = [READING, {**READING, "torque_nm": None}]
    with pytest.raises(RequestError) as caught:
        requests.predict({"instances": bad})
    assert str(caught.value) == "instances[1].torque_nm: null is not of type 'number'"
    split = {"columns": list(READING), "data": [list(READING.values()), [*list(READING.values())[:-1], True]]}
    with pytest.raises(RequestError) as caught:
        requests.invocations({"dataframe_split": split})
    assert str(caught.value) == "dataframe_split.data[1].tool_wear_min: true is not of type 'number'"


def test_a_udi_beyond_64_bits_is_refused_not_rounded(requests):
    with pytest.raises(RequestError) as caught:
        requests.predict({"instances": [{**READING, "udi": 2 ** 64}]})
    assert caught.value.field == "instances[0].udi" and "maximum" in caught.value.reason


def test_slices_and_spans_cover_every_row_once():
    rows = [{**READING, "torque_nm": float(i), "udi": i} for i in range(7)]
    batch = Batch.from_readings(fields(), rows)
    assert len(batch) == 7 and list(batch.spans(3)) == [(0, 3), (3, 6), (6, 7)]
    assert [r for a, b in batch.spans(3) for r in batch.rows(a, b).readings()] == rows
    assert list(batch.numbers("torque_nm")) == [float(i) for i in range(7)]
    assert Batch.from_readings(fields(), [READING]).ids is None
