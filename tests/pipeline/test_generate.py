"""make synth's generator (scripts/pipeline/generate.py) is declared in params, so it serves any table:
here a loans table no code knows, and the one-line errors a bad declaration gets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts.core.config import ClockworkError
from scripts.pipeline.generate import synthesize

REFERENCE = pd.DataFrame({"income": np.linspace(20, 120, 500), "debt": np.linspace(20, 120, 500) * 0.4 + 3})
LOANS = [
    {"name": "loan_id", "sequence": 100},
    {"name": "purpose", "choice": {"car": 0.7, "home": 0.3}},
    {"name": "ref", "header": "Reference", "text": "{purpose}-{row}", "row_from": 1},
    {"name": "income", "normal": "reference", "round": 1, "clip": [0, None]},
    {"name": "debt", "line": {"from": "income"}, "round": 2},
    {"name": "rate", "map": {"column": "purpose", "values": {"car": 0.05, "home": 0.03}}, "keep": False},
    {"name": "defaulted", "header": "Defaulted", "condition": "debt * rate > 2.5 or income < 30"},
    {"name": "fraud", "random": 0.05},
]


def test_a_table_no_code_knows_is_made_from_its_declaration():
    frame = synthesize(4000, 7, LOANS, REFERENCE)
    assert list(frame.columns) == ["loan_id", "purpose", "Reference", "income", "debt", "Defaulted", "fraud"]
    assert frame["loan_id"].tolist()[:3] == [100, 101, 102] and frame["Reference"].iloc[1] == f"{frame['purpose'].iloc[1]}-2"
    assert abs((frame["purpose"] == "car").mean() - 0.7) < 0.03 and abs(frame["fraud"].mean() - 0.05) < 0.015
    assert abs(frame["income"].mean() - REFERENCE["income"].mean()) < 2 and (frame["income"] >= 0).all()
    slope = np.polyfit(frame["income"], frame["debt"], 1)[0]
    assert abs(slope - 0.4) < 0.02, "the line fitted on the reference carries over"
    rate = frame["purpose"].map({"car": 0.05, "home": 0.03})
    assert frame["Defaulted"].equals(((frame["debt"] * rate > 2.5) | (frame["income"] < 30)).astype(int))
    assert synthesize(4000, 7, LOANS, REFERENCE).equals(frame), "deterministic for a seed"


@pytest.mark.parametrize("change,message", [
    ({"condition": "debt * bogus > 1"}, "synth.columns[6] (defaulted): 'debt * bogus > 1': 'bogus' is neither a column"),
    ({"condition": "debt > 1", "random": 0.1}, "synth.columns[6] (defaulted): needs exactly one of"),
    ({"condition": None, "text": "{nope}"}, "synth.columns[6] (defaulted): text: {nope} is neither an earlier column nor {row}"),
    ({"condition": None, "line": {"from": "later"}}, "synth.columns[6] (defaulted): line: 'later' is not an earlier column"),
])
def test_a_bad_declaration_is_one_line_naming_the_entry(change, message):
    entry = {k: v for k, v in {**LOANS[6], **change}.items() if v is not None}
    with pytest.raises(ClockworkError) as raised:
        synthesize(200, 1, [*LOANS[:6], entry], REFERENCE)
    assert str(raised.value).startswith(message), str(raised.value)
