"""The pure label checks: unknown requests, contradictions, repeats, bad fields."""
from __future__ import annotations

import pytest

from scripts.core.config import ClockworkError
from scripts.core.contract import Column
from scripts.monitoring.groundtruth import check_labels, parse_label
from tests.conftest import contract

KNOWN = {"a": 1, "b": 2, "c": None}
ID = contract().id


def rows(*items):
    return [(f"f: line {i + 2}", parse_label(item, "f", ID)) for i, item in enumerate(items)]


def test_new_labels_are_returned_with_the_predictions_udi():
    fresh = check_labels(rows({"prediction_id": "a", "label": "1"}, {"prediction_id": "b", "label": 0}), KNOWN, {}, "udi")
    assert fresh == [{"prediction_id": "a", "udi": 1, "label": 1}, {"prediction_id": "b", "udi": 2, "label": 0}]


def test_repeats_are_skipped_and_contradictions_refused():
    assert check_labels(rows({"prediction_id": "a", "label": 1}, {"prediction_id": "a", "label": 1}), KNOWN, {"a": 1}, "udi") == []
    with pytest.raises(ClockworkError, match="line 2: label 0 contradicts label 1"):
        check_labels(rows({"prediction_id": "a", "label": 0}), KNOWN, {"a": 1}, "udi")
    with pytest.raises(ClockworkError, match="line 3: label 0 contradicts label 1"):
        check_labels(rows({"prediction_id": "b", "label": 1}, {"prediction_id": "b", "label": 0}), KNOWN, {}, "udi")


def test_unknown_requests_refuse_the_whole_file():
    with pytest.raises(ClockworkError, match=r"line 3: prediction_id 'zz' is not a request .* \(1 of 2 labels"):
        check_labels(rows({"prediction_id": "a", "label": 1}, {"prediction_id": "zz", "label": 1}), KNOWN, {}, "udi")


def test_udi_must_match_or_be_given_when_the_request_had_none():
    with pytest.raises(ClockworkError, match="udi 9 does not match prediction a"):
        check_labels(rows({"prediction_id": "a", "label": 1, "udi": "9"}), KNOWN, {}, "udi")
    with pytest.raises(ClockworkError, match="served without a udi"):
        check_labels(rows({"prediction_id": "c", "label": 1}), KNOWN, {}, "udi")
    assert check_labels(rows({"prediction_id": "c", "label": 1, "udi": 5}), KNOWN, {}, "udi")[0]["udi"] == 5


@pytest.mark.parametrize("row,problem", [({"label": 1}, "missing prediction_id"), ({"prediction_id": "a"}, "missing label"),
                                         ({"prediction_id": "a", "label": "yes"}, "label: 'yes' is not 0 or 1"),
                                         ({"prediction_id": "a", "label": True}, "label: True is not 0 or 1"),
                                         ({"prediction_id": "a", "label": 1, "udi": "x"}, "udi: 'x' is not an integer")])
def test_bad_rows_are_named(row, problem):
    with pytest.raises(ClockworkError, match=f"^here: {problem}"):
        parse_label(row, "here", ID)


def test_a_text_row_id_and_a_data_set_without_one():
    text = Column("Loan ID", "loan_id", "text", "id")
    assert parse_label({"prediction_id": "a", "label": 1, "loan_id": " L-7 "}, "f", text)["loan_id"] == "L-7"
    with pytest.raises(ClockworkError, match=r"^f: loan_id: 'x+' is not a row id \(1 to 128 characters\)$"):
        parse_label({"prediction_id": "a", "label": 1, "loan_id": "x" * 129}, "f", text)
    known = {"a": "L-7"}
    with pytest.raises(ClockworkError, match="loan_id L-8 does not match prediction a"):
        check_labels([("f: line 2", parse_label({"prediction_id": "a", "label": 1, "loan_id": "L-8"}, "f", text))],
                     known, {}, "loan_id")
    row = parse_label({"prediction_id": "a", "label": 1, "udi": 3}, "f", None)
    assert row == {"prediction_id": "a", "label": 1}, "without an id column nothing else is read"
    assert check_labels([("f: line 2", row)], {"a": None}, {}, None) == [{"prediction_id": "a", "label": 1}]
