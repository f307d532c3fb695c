"""The pure label checks: unknown requests, contradictions, repeats, bad fields."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.core.config import ClockworkError
from scripts.core.contract import Column
from scripts.core.store import iter_blocks, iter_lines
from scripts.monitoring.groundtruth import check_labels, labels_for, labels_in, parse_label
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


def _label_log(tmp_path, lines: list[str], tail: str = "") -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(line + "\n" for line in lines) + tail)
    return path


LINES = [f'{{"dataset":"day2","label":{i % 2},"prediction_id":"r{i}-0","time":"2026-01-01T00:00:00Z","udi":{i}}}'
         for i in range(50)]


@pytest.mark.parametrize("odd", [
    None,                                                                      # every line pairs up: the fast path
    "",                                                                        # a blank line
    '{"dataset":"day2","label":1,"prediction_id":"r\\u0037-0","time":"t"}',    # an escape in an id
    '{"dataset":"day2","label":true,"prediction_id":"r8-0","time":"t"}',       # a label of another shape
])
def test_a_label_log_read_in_blocks_reads_as_line_by_line(tmp_path, odd):
    lines = LINES[:10] + ([odd] if odd is not None else []) + LINES[10:]
    path = _label_log(tmp_path, lines, tail='{"label":1,"prediction_id":"r3-0"')  # a torn tail: not a record
    wanted = {f"r{i}-0" for i in range(0, 50, 3)}
    assert labels_in(path, wanted) == labels_for(iter_lines(path), wanted, path)
    every = labels_in(path)
    assert every == labels_for(iter_lines(path), None, path) and every[1] == 0 and set(every[0]) >= set(labels_in(path, wanted)[0])
    found, others = labels_in(path, wanted)
    records = [line for line in lines if line]  # a blank line is no record
    assert found["r3-0"] == 1 and found["r6-0"] == 0 and len(found) == 17 and others == len(records) - 17


def test_a_label_log_in_many_blocks_and_a_missing_one(tmp_path):
    path = _label_log(tmp_path, LINES)
    blocks = list(iter_blocks(path, size=1000))
    assert len(blocks) > 4 and all(block.endswith("}\n") for block in blocks), "each block ends at a line's end"
    assert "".join(blocks) == path.read_text()
    assert labels_in(tmp_path / "none.jsonl", {"r1-0"}) == ({}, 0)
    bad = _label_log(tmp_path, [*LINES[:3], '{"label":maybe,"prediction_id":"r1-0"}', *LINES[3:]])
    with pytest.raises(ClockworkError, match="labels.jsonl: line 4: not valid JSON"):
        labels_in(bad, {"r1-0"})
