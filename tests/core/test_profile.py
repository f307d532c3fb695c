"""make init's inference: each column's kind and role, and the reason, on a table with one of each."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts.core.config import load_params
from scripts.core.contract import Contract
from scripts.core.profile import ProfileError, auc, positive_class, profile, snake

SETTINGS = load_params()["init"]


def loans(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"Loan ID": np.arange(1, n + 1), "Applied": np.arange(10, 10 + n),
                          "Income": rng.normal(50_000, 15_000, n).round(2), "Purpose": rng.choice(["car", "home"], n),
                          "Owns home": rng.choice(["yes", "no"], n), "Notes": [f"note {i}" for i in range(n)],
                          "Region": "north", "Amount": rng.integers(1_000, 50_000, n).astype(float)})
    frame["Income (k)"] = frame["Income"] / 1000
    frame["Default"] = np.where(rng.random(n) < 0.3, "yes", "no")
    frame["Collections"] = (frame["Default"] == "yes").astype(int)  # known only after the outcome
    frame.loc[[3, 7], "Amount"] = np.nan
    return frame


def test_each_column_gets_a_kind_a_role_and_a_reason():
    found = profile(loans(), "Default", {"positive": "yes", "id": None, "order": "Applied"}, SETTINGS)
    by_name = {c["name"]: c for c in found.columns}
    assert [c["name"] for c in found.columns] == ["loan_id", "applied", "income", "purpose", "owns_home", "notes", "region",
                                                  "amount", "income_k", "default", "collections"]
    assert by_name["loan_id"]["role"] == "id" and "row id" in found.reasons["loan_id"]
    assert by_name["applied"]["role"] == "carried" and "order column" in found.reasons["applied"]
    assert by_name["income"] == {"column": "Income", "name": "income", "kind": "number", "role": "input",
                                 "range": [by_name["income"]["range"][0], by_name["income"]["range"][1]]}
    assert by_name["purpose"]["values"] == ["car", "home"] and by_name["owns_home"]["kind"] == "boolean"
    assert by_name["notes"]["role"] == "carried" and "free text" in found.reasons["notes"]
    assert "constant" in found.reasons["region"]
    assert by_name["amount"]["role"] == "input" and by_name["amount"]["missing"] == "median"
    assert "2 missing values: a request may leave it out or send null" in found.reasons["amount"]
    assert "near-duplicate of Income" in found.reasons["income_k"]
    assert by_name["collections"]["role"] == "carried" and "leakage suspect" in found.reasons["collections"]
    assert by_name["default"] == {"column": "Default", "name": "default", "kind": "category", "role": "target",
                                  "values": ["no", "yes"]}
    assert found.positive == "yes" and found.rows == 600 and 0.2 < found.prior < 0.4
    section = {"columns": found.columns, "order": "applied", "positive": "yes", "derived": {}, "segments": ["purpose"]}
    assert Contract.from_params(section).input_names == ["income", "purpose", "owns_home", "amount"], "a contract that works"


def test_the_positive_class_is_the_rarer_one_unless_given():
    target = pd.Series(["a"] * 7 + ["b"] * 3, name="t")
    assert positive_class(target, None) == "b" and positive_class(target, "a") == "a"
    assert positive_class(pd.Series([0, 1, 1], name="t"), "0") == 0
    with pytest.raises(ProfileError, match="POSITIVE=c: not a value of t"):
        positive_class(target, "c")


@pytest.mark.parametrize("change, said", [
    (lambda f: f.assign(Default="no"), "TARGET=Default: 1 distinct values"),
    (lambda f: f.assign(Default=np.arange(len(f)) % 3), "Clockwork trains binary classifiers"),
    (lambda f: f.iloc[:50], "50 rows: at least 100 are needed"),
    (lambda f: f.assign(Applied=f["Applied"][::-1].to_numpy()), "ORDER=Applied: does not increase"),
    (lambda f: f.assign(Applied="x"), "ORDER=Applied: neither a number nor an ISO 8601 time stamp in every row"),
    (lambda f: f.assign(Applied=pd.date_range("2025-01-01", periods=len(f), freq="h")[::-1].strftime("%Y-%m-%dT%H:%M")),
     "ORDER=Applied: goes back in time between rows"),
    (lambda f: f.drop(columns=["Loan ID"]).assign(Applied=1.5), "no column holds a unique whole number per row"),
])
def test_what_cannot_work_is_refused_in_one_line(change, said):
    with pytest.raises(ProfileError, match=None) as caught:
        profile(change(loans()), "Default", {"positive": None, "id": None, "order": "Applied"}, SETTINGS)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_helpers():
    assert snake("Air temperature [K]", set()) == "air_temperature_k" and snake("2nd", set()) == "c_2nd"
    assert snake("a", {"a"}) == "a_2"
    assert auc(np.array([1, 2, 3, 4]), np.array([0, 0, 1, 1])) == 1.0
    assert auc(np.array([1, 1, 1, 1]), np.array([0, 1, 0, 1])) == 0.5


def test_a_column_mostly_missing_or_whose_presence_tells_the_target_is_left_out():
    frame = loans()
    frame["Mostly empty"] = np.where(np.arange(len(frame)) % 3 == 0, 1.0, np.nan)
    frame["Closed on"] = np.where(frame["Default"] == "yes", 20.0, np.nan)  # filled in only after the outcome
    found = profile(frame, "Default", {"positive": "yes", "id": None, "order": "Applied"}, SETTINGS)
    by_name = {c["name"]: c for c in found.columns}
    assert by_name["mostly_empty"]["role"] == "ignored" and "above init.max_missing_share" in found.reasons["mostly_empty"]
    assert by_name["closed_on"]["role"] == "carried" and "whether it is filled in ranks the target" in found.reasons["closed_on"]
