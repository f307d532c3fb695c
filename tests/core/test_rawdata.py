"""Raw CSV loading: every bad file is refused with one line naming the file and the problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.core.config import ROOT, ClockworkError, load_params
from scripts.core.rawdata import read_raw, validate_rows

RAW = ROOT / "data/raw/ai4i2020.csv"
HEAD = RAW.read_text().splitlines()[:6]


def load(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "raw.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(ClockworkError) as caught:
        validate_rows(read_raw(path), load_params()["data"]["ranges"], path)
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
    assert "label must be 0 or 1" in load(tmp_path, lines(",".join(row)))


def test_empty_header_only_and_truncated_files(tmp_path):
    assert "empty file" in load(tmp_path, "")
    assert "no data rows" in load(tmp_path, HEAD[0] + "\n")
    truncated = "\n".join(HEAD[:3]) + "\n" + HEAD[3][:20]
    assert "line 4" in load(tmp_path, truncated)


def test_bom_crlf_and_float_integers_are_accepted(tmp_path):
    text = "\ufeff" + "\r\n".join(HEAD).replace(",0,0,0,0,0,0,0", ",0,0,0,0,0,0,0").replace(",1551,", ",1551.0,") + "\r\n"
    path = tmp_path / "variant.csv"
    path.write_bytes(text.encode("utf-8"))
    frame = read_raw(path)
    validate_rows(frame, load_params()["data"]["ranges"], path)
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
    header = rawdata._header(path)
    typed = rawdata._read_typed(path, header)
    assert (typed is None) == (variant == "padded text")
    slow = rawdata._read(path, dtype=str)
    slow.columns = [rawdata.F.RAW_COLUMNS[c] for c in header]
    expected = rawdata._convert(slow, path)
    got = read_raw(path)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.equals(expected)
