"""The data set contract: built once from params' dataset section, checked, one line per problem."""
from __future__ import annotations

import copy

import pytest
import yaml

from scripts.core.config import ClockworkError, load_params
from scripts.core.contract import Contract, ContractError

LOANS = {
    "columns": [
        {"column": "Loan ID", "name": "loan_id", "kind": "integer", "role": "id"},
        {"column": "Applied", "name": "applied", "kind": "integer", "role": "carried"},
        {"column": "Income", "name": "income", "kind": "number", "role": "input", "range": [0, 1e7]},
        {"column": "Amount", "name": "amount", "kind": "number", "role": "input"},
        {"column": "Purpose", "name": "purpose", "kind": "category", "role": "input", "values": ["car", "home", "other"]},
        {"column": "Owns home", "name": "owns_home", "kind": "boolean", "role": "input"},
        {"column": "Notes", "name": "notes", "kind": "text", "role": "carried"},
        {"column": "Default", "name": "default", "kind": "category", "role": "target", "values": ["yes", "no"]},
    ],
    "order": "applied", "positive": "yes",
    "derived": {"burden": "amount / maximum(income, 1)"},
    "segments": ["purpose", "owns_home"],
}


def test_a_loans_table_is_described_without_any_code():
    c = Contract.from_params(LOANS)
    assert c.input_names == ["income", "amount", "purpose", "owns_home"]
    assert c.numeric_inputs == ["income", "amount", "owns_home"] and c.categorical_inputs == ["purpose"]  # a boolean is 1/0
    assert (c.label, c.positive, c.id.name, c.order) == ("default", "yes", "loan_id", "applied")
    assert [x.name for x in c.carried] == ["applied", "notes"]
    assert c.renames["Owns home"] == "owns_home" and c.aliases["Loan ID"] == "loan_id" and "Notes" not in c.aliases
    assert c.scored == ["income", "amount", "purpose", "owns_home", "default"]
    assert c.derived["burden"]({"amount": [10.0], "income": [0.0]}).tolist() == [10.0]
    assert c.derived_texts(["burden"]) == {"burden": "amount / maximum(income, 1)"}
    assert c.column("purpose").values == ("car", "home", "other") and c.column("income").range == (0, 1e7)


def test_the_default_params_declare_ai4i_and_name_its_columns_only_there():
    c = Contract.from_params(load_params()["dataset"])
    assert c.label == "machine_failure" and c.positive == 1 and c.id.source == "UDI"
    assert len(c.input_names) == 6 and c.categorical_inputs == ["type"]
    assert set(c.derived) == {"temp_diff_k", "power_w", "strain_min_nm"}
    assert c.relations["power"]["sensors"] == ("torque_nm", "rotational_speed_rpm") and c.relations["power"]["fault"] == "gain"
    assert c.relations["temperature_difference"]["unit"] == "K", "the diagnosis's relations are declared in params"


def broken(change) -> dict:
    section = copy.deepcopy(LOANS)
    change(section)
    return section


@pytest.mark.parametrize("change, said", [
    (lambda s: s["columns"].append({**s["columns"][2], "name": "income2"}), "the header 'Income' is declared twice"),
    (lambda s: s["columns"][3].update(name="income"), "the name 'income' is declared twice"),
    (lambda s: s["columns"][7].update(role="carried"), "needs one column of role target"),
    (lambda s: s["columns"][6].update(role="input"), "'text' cannot be a model input"),
    (lambda s: s["columns"][2].update(name="Income"), "'Income' is not snake_case"),
    (lambda s: s["columns"][4].pop("values"), "a category column lists its values"),
    (lambda s: s["columns"][4].update(range=[0, 1]), "needs a number or integer column"),
    (lambda s: s["columns"][2].update(range=[5, 1]), "low < high"),
    (lambda s: s.update(order="when"), "dataset.order: 'when' is not a declared column"),
    (lambda s: s.update(positive="maybe"), "dataset.positive: 'maybe' is not one of the target's values"),
    (lambda s: s["segments"].append("income"), "dataset.segments: 'income' is not an input or carried column of kind"),
    (lambda s: s["derived"].update(x="purpose * 2"), "dataset.derived.x: 'purpose * 2': 'purpose' is neither a column"),
    (lambda s: s["derived"].update(x="__import__('os')"), "the function '__import__' is not allowed"),
    (lambda s: s["derived"].update(income="amount"), "dataset.derived.income: needs a snake_case name no column has"),
    (lambda s: s.update(order="purpose"), "dataset.order: 'purpose' needs a kept column of kind integer, number or timestamp"),
    (lambda s: s["columns"][0].update(kind="timestamp"), "'loan_id': a timestamp is carried (or ignored), never a id"),
    (lambda s: s["columns"][4].update(missing="median"), ".missing: 'median': an input of kind category is filled by most_frequent"),
    (lambda s: s.update(relations={"r": {"columns": ["income", "purpose"], "form": "product"}}),
     "dataset.relations.r.columns: 'purpose' is not a numeric input"),
    (lambda s: s.update(relations={"r": {"columns": ["income", "income"], "form": "product"}}), "two different columns"),
    (lambda s: s.update(relations={"r": {"columns": ["income", "amount"], "form": "difference"}}),
     "dataset.relations.r.min_step: a difference needs the smallest step"),
])
def test_a_contract_that_cannot_work_is_refused_in_one_line(change, said):
    with pytest.raises(ContractError) as caught:
        Contract.from_params(broken(change))
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_params_whose_contract_is_broken_are_refused_naming_the_file(tmp_path):
    params = load_params()
    params["dataset"]["derived"]["power_w"] = "torque_nm.real"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(dict(params)))
    with pytest.raises(ClockworkError, match=r"params.yaml: dataset.derived.power_w: .*an attribute is not allowed"):
        load_params(path)
    params["dataset"]["derived"].pop("power_w")
    path.write_text(yaml.safe_dump(dict(params)))
    with pytest.raises(ClockworkError, match=r"features.derived: power_w not declared in dataset.derived"):
        load_params(path)
