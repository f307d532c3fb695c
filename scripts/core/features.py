"""Pure feature engineering for any data set: a model's feature spec and the Pipeline's feature half.

A feature spec is what the feature step of one model is, made from the data set contract
(core/contract.py) and params' features section: the inputs in order, the categories of each
category input, the derived features with their expressions, the scaling, and the label. It is
recorded in the model card, and the fitted Pipeline carries the inputs and the expressions as
its own arguments, so a model computes its features the same way in prepare, in training, in
serving and in the monitor, whatever params say later. Nothing here touches files.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from scripts.core.expressions import parse


def spec(contract, feats: dict) -> dict:  # noqa: ANN001 - a Contract (core/contract.py)
    """The feature spec of a model trained now: the contract's columns, the derived features params
    choose (derived: their names in order; expressions: each one's formula)."""
    missing = {c.name: c.missing for c in contract.inputs if c.missing}
    return {
        **({"missing": missing} if missing else {}),  # absent when nothing may be missing (older cards lack it)
        "inputs": contract.input_names,
        "numeric": contract.numeric_inputs,
        "categories": {c.name: list(c.values) for c in contract.inputs if not c.numeric},
        "derived": list(feats["derived"]),
        "expressions": contract.derived_texts(feats["derived"]),
        "scaling": feats["scaling"],
        "one_hot_type": feats["one_hot_type"],
        "label": contract.label,
    }


def add_derived(frame: pd.DataFrame, derived: list[str], inputs: list[str] | None = None,
                expressions: dict[str, str] | None = None) -> pd.DataFrame:
    """The model inputs plus the derived features, in a fixed order (the Pipeline's first step).
    Without inputs and expressions (a model pickled before the data set contract), they are those
    params declare."""
    inputs_, computed = _resolved(_key(derived, inputs, expressions))
    out = frame[list(inputs_)].copy()
    for name, expression in computed:
        out[name] = expression(out)
    return out


def derived_names(_transformer: object, _input_names: object, derived: list[str], inputs: list[str] | None = None,
                  expressions: dict[str, str] | None = None) -> list[str]:
    """Output column names of add_derived, for scikit-learn's get_feature_names_out."""
    inputs_, computed = _resolved(_key(derived, inputs, expressions))
    return [*inputs_, *(name for name, _ in computed)]


def expressions_of(arguments: dict) -> tuple[tuple[str, ...], list]:
    """(inputs, [(name, Expression)]) of a Pipeline derive step's arguments (its kw_args)."""
    inputs, computed = _resolved(_key(arguments["derived"], arguments.get("inputs"), arguments.get("expressions")))
    return inputs, list(computed)


def _key(derived: list[str], inputs: list[str] | None, expressions: dict[str, str] | None) -> tuple:
    """The derive step's arguments as a hashable key."""
    return (tuple(derived), tuple(inputs) if inputs is not None else None,
            tuple((name, expressions[name]) for name in derived) if expressions is not None else None)


@lru_cache(maxsize=64)
def _resolved(key: tuple) -> tuple[tuple[str, ...], tuple]:
    """Parse a derive step's expressions once per process (each prediction calls the step)."""
    derived, inputs, texts = key
    if inputs is None or texts is None:  # pickled before the contract: the inputs and formulas params declare
        from scripts.core.config import load_params
        from scripts.core.contract import Contract

        contract = Contract.from_params(load_params(sections=("dataset",))["dataset"])
        inputs, texts = tuple(contract.input_names), tuple(contract.derived_texts(list(derived)).items())
    return inputs, tuple((name, parse(text, list(inputs))) for name, text in texts)


def build_transformer(feature_spec: dict):
    """The feature half of the model Pipeline: derive, then one-hot the category inputs and scale numbers.

    A pickle memoizes objects by identity, so its bytes depend on which name strings are shared:
    every name below comes from the inputs or derived list of one JSON round trip of the spec,
    so a spec from params (train) and the same spec read from a model card (make verify's
    refit) give the same bytes."""
    import json
    from functools import partial

    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    spec_ = json.loads(json.dumps(feature_spec))
    inputs, derived = spec_["inputs"], spec_["derived"]
    arguments = {"derived": derived, "inputs": inputs, "expressions": {name: spec_["expressions"][name] for name in derived}}
    numeric = [*(name for name in inputs if name in set(spec_["numeric"])), *derived]
    parts = [("numeric", StandardScaler() if spec_["scaling"] == "standard" else "passthrough", numeric)]
    categorical = [name for name in inputs if name in spec_["categories"]]
    if spec_["one_hot_type"] and categorical:
        encoder = OneHotEncoder(categories=[spec_["categories"][name] for name in categorical], handle_unknown="error")
        parts.insert(0, ("categorical", encoder, categorical))
    steps = [
        ("derive", FunctionTransformer(add_derived, kw_args=arguments,
                                       feature_names_out=partial(derived_names, **arguments))),
        ("encode", ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)),
    ]
    if spec_.get("missing"):
        steps.insert(0, ("fill", _filler(spec_["missing"])))
    return Pipeline(steps)


def _filler(missing: dict):  # noqa: ANN202 - a ColumnTransformer
    """The step that fills each input that may be missing (median, mean or most_frequent, learned on the
    training rows) before the derived features are computed from it; other columns pass through."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer

    strategies = sorted(set(missing.values()))
    parts = [(strategy, SimpleImputer(strategy=strategy), [name for name, s in missing.items() if s == strategy])
             for strategy in strategies]
    return ColumnTransformer(parts, remainder="passthrough", verbose_feature_names_out=False).set_output(transform="pandas")


def positive_rate(labels: pd.Series) -> float:
    """Share of positive labels; 0.0 for an empty split."""
    return float(np.mean(labels)) if len(labels) else 0.0
