"""Raw CSV loading: every bad file is refused with one line naming the file and the problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.core.config import ROOT, ClockworkError, load_params
from scripts.core.contract import Contract
from scripts.core.rawdata import read_raw, validate_rows

RAW = ROOT / "data/raw/ai4i2020.csv"
HEAD = RAW.read_text().splitlines()[:6]
CONTRACT = Contract.from_params(load_params()["dataset"])


def load(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "raw.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(ClockworkError) as caught:
        validate_rows(read_raw(path, CONTRACT), path, CONTRACT)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def lines(*rows: str) -> str:
    return "\n".join([HEAD[0], *rows]) + "\n"


def test_missing_and_extra_columns(tmp_path):
    header = HEAD[0].replace(",Torque [Nm]", "")
    assert "missing column(s): Torque [Nm]" in load(tmp_path, header + "\n")
    assert "unexpected column(s): Shift" in load(tmp_path, HEAD[0] + ",Shift\n" + HEAD[1] + ",3\n")


def test_wrong_type_nan_and_non_integer(tmp_path):
    bad = HEAD[1].replace("42.8", "forty")
    assert "line 2: column 'Torque [Nm]': 'forty' is not a finite number" in load(tmp_path, lines(bad))
    assert "is not a finite number" in load(tmp_path, lines(HEAD[1].replace("42.8", "NaN")))
    assert "'1551.5' is not an integer" in load(tmp_path, lines(HEAD[1].replace("1551", "1551.5")))
    assert "empty value" in load(tmp_path, lines(HEAD[1].replace("42.8", "")))


def test_duplicate_udi_and_order(tmp_path):
    assert "duplicated UDI 1" in load(tmp_path, lines(HEAD[1], HEAD[1]))
    assert "UDI not increasing" in load(tmp_path, lines(HEAD[2], HEAD[1]))


def test_domain_rules(tmp_path):
    assert "value not one of L/M/H" in load(tmp_path, lines(HEAD[1].replace(",M,", ",X,")))
    assert "outside the range" in load(tmp_path, lines(HEAD[1].replace("42.8", "420.0")))
    row = HEAD[1].split(",")
    row[8] = "2"
    assert "column 'Machine failure': value not one of 0/1" in load(tmp_path, lines(",".join(row)))


def test_empty_header_only_and_truncated_files(tmp_path):
    assert "empty file" in load(tmp_path, "")
    assert "no data rows" in load(tmp_path, HEAD[0] + "\n")
    truncated = "\n".join(HEAD[:3]) + "\n" + HEAD[3][:20]
    assert "line 4" in load(tmp_path, truncated)


def test_bom_crlf_and_float_integers_are_accepted(tmp_path):
    text = "\ufeff" + "\r\n".join(HEAD).replace(",0,0,0,0,0,0,0", ",0,0,0,0,0,0,0").replace(",1551,", ",1551.0,") + "\r\n"
    path = tmp_path / "variant.csv"
    path.write_bytes(text.encode("utf-8"))
    frame = read_raw(path, CONTRACT)
    validate_rows(frame, path, CONTRACT)
    assert len(frame) == 5 and frame["rotational_speed_rpm"].iloc[0] == 1551
    assert str(frame["rotational_speed_rpm"].dtype) == "int64"


@pytest.mark.parametrize("variant", ["as is", "BOM and CRLF", "integers as 40.0", "padded text"])
def test_the_typed_read_equals_the_text_read(tmp_path, variant):
    """A file the reader parses whole gives the very frame the cell-by-cell text path gives; one it
    cannot (padded text cells) takes the text path."""
    from scripts.core import rawdata

    text = "\n".join(RAW.read_text().splitlines()[:2001]) + "\n"
    if variant == "BOM and CRLF":
        text = "\ufeff" + text.replace("\n", "\r\n")
    elif variant == "integers as 40.0":
        text = text.replace(",1551,", ",1551.0,")
    elif variant == "padded text":
        text = text.replace(",M14860,", ", M14860 ,")
    path = tmp_path / "raw.csv"
    path.write_bytes(text.encode())
    header = rawdata._header(path, CONTRACT)
    typed = rawdata._read_typed(path, header, CONTRACT)
    assert (typed is None) == (variant == "padded text")
    slow = rawdata._read(path, dtype=str)
    slow.columns = [CONTRACT.renames[c] for c in header]
    expected = rawdata._convert(slow, path, CONTRACT)
    got = read_raw(path, CONTRACT)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.equals(expected)


def test_any_table_reads_as_its_contract_declares(tmp_path):
    """Another data set: a category, a boolean written three ways, free text; each problem named."""
    from tests.core.test_contract import LOANS

    loans = Contract.from_params(LOANS)
    header = "Loan ID,Applied,Income,Amount,Purpose,Owns home,Notes,Default"
    path = tmp_path / "loans.csv"
    path.write_text(f"{header}\n1,1,50000,1000,car,yes,first,no\n2,2,0,200.5,home,FALSE,,yes\n3,3,1,3,other,1,x y,no\n")
    with pytest.raises(ClockworkError, match="line 3: column 'Notes': empty value"):
        read_raw(path, loans)
    path.write_text(f"{header}\n1,1,50000,1000,car,yes,first,no\n2,2,0,200.5,home,FALSE,n,yes\n3,3,1,3,other,1,x y,no\n")
    frame = read_raw(path, loans)
    validate_rows(frame, path, loans)
    assert frame["owns_home"].tolist() == [1, 0, 1] and frame["notes"].tolist() == ["first", "n", "x y"]
    assert frame["amount"].dtype == "float64" and frame["loan_id"].dtype == "int64"
    path.write_text(f"{header}\n1,1,50000,1000,boat,maybe,n,no\n")
    with pytest.raises(ClockworkError, match="column 'Owns home': 'maybe' is not true/false, yes/no or 1/0"):
        read_raw(path, loans)
    path.write_text(f"{header}\n1,1,50000,1000,boat,no,n,no\n")
    with pytest.raises(ClockworkError, match="line 2: column 'Purpose': value not one of car/home/other"):
        validate_rows(read_raw(path, loans), path, loans)
    path.write_text(f"{header}\n1,2,5,1,car,no,n,no\n2,2,5,1,car,no,n,no\n")
    with pytest.raises(ClockworkError, match="line 3: Applied not increasing"):
        validate_rows(read_raw(path, loans), path, loans)


STAMPED = Contract.from_params({
    "columns": [{"column": "When", "name": "when", "kind": "timestamp", "role": "carried"},
                {"column": "Level", "name": "level", "kind": "number", "role": "input", "missing": "median"},
                {"column": "Seen", "name": "seen", "kind": "boolean", "role": "input", "missing": "most_frequent"},
                {"column": "Outcome", "name": "outcome", "kind": "integer", "role": "target", "values": [0, 1]}],
    "order": "when", "positive": 1, "derived": {}, "segments": []})


def stamped(tmp_path: Path, *rows: str):
    path = tmp_path / "stamped.csv"
    path.write_text("\n".join(["When,Level,Seen,Outcome", *rows]) + "\n")
    frame = read_raw(path, STAMPED)
    validate_rows(frame, path, STAMPED)
    return frame


def test_time_stamps_order_the_rows_and_missing_values_are_read_where_declared(tmp_path):
    frame = stamped(tmp_path, "2025-01-01T00:00:00Z,1.5,yes,0", "2025-01-01T00:00:00Z,,,1", "2025-01-02,3,no,0")
    assert frame["when"].is_monotonic_increasing and str(frame["when"].dt.tz) == "UTC", "ties allowed, a date is midnight"
    assert frame["level"].isna().tolist() == [False, True, False] and frame["seen"].isna().tolist() == [False, True, False]
    with pytest.raises(ClockworkError, match=r"line 3: When goes back in time"):
        stamped(tmp_path, "2025-01-02T00:00:00Z,1,yes,0", "2025-01-01T23:59:59Z,1,yes,0")
    with pytest.raises(ClockworkError, match=r"line 2: column 'When': 'yesterday' is not an ISO 8601 date or time"):
        stamped(tmp_path, "yesterday,1,yes,0")
    with pytest.raises(ClockworkError, match=r"line 2: column 'Outcome': empty value \(a column that may be missing says"):
        stamped(tmp_path, "2025-01-01,1,yes,")
