"""Pure feature engineering: the column contract and the derived physical features.

The same functions run in prepare (to store the features in each data version) and inside
the fitted scikit-learn Pipeline (so serving applies exactly the training transformation).
Nothing here touches files.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

# The raw CSV's columns, in order, and the snake_case name each one takes in the pipeline.
RAW_COLUMNS = {
    "UDI": "udi",
    "Product ID": "product_id",
    "Type": "type",
    "Air temperature [K]": "air_temperature_k",
    "Process temperature [K]": "process_temperature_k",
    "Rotational speed [rpm]": "rotational_speed_rpm",
    "Torque [Nm]": "torque_nm",
    "Tool wear [min]": "tool_wear_min",
    "Machine failure": "machine_failure",
    "TWF": "twf",
    "HDF": "hdf",
    "PWF": "pwf",
    "OSF": "osf",
    "RNF": "rnf",
}
TYPES = ["L", "M", "H"]
# Model inputs: what a client sends. Identifiers and labels are never among them.
INPUT_COLUMNS = ["type", "air_temperature_k", "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min"]
NUMERIC_INPUTS = INPUT_COLUMNS[1:]
# A client may send a reading's fields (and udi) under the raw CSV's column names: raw -> snake_case.
READING_ALIASES = {raw: snake for raw, snake in RAW_COLUMNS.items() if snake in INPUT_COLUMNS or snake == "udi"}
INTEGER_COLUMNS = ["udi", "rotational_speed_rpm", "tool_wear_min", "machine_failure", "twf", "hdf", "pwf", "osf", "rnf"]
LABEL = "machine_failure"
SCORED_COLUMNS = [*INPUT_COLUMNS, LABEL]  # what fitting or scoring a model reads from a split
FAILURE_MODES = ["twf", "hdf", "pwf", "osf", "rnf"]
# Derived features: name -> function of the input frame. Physics from the data set's
# description: heat dissipation (temperature difference), power (torque x angular speed),
# overstrain (tool wear x torque).
DERIVED = {
    "temp_diff_k": lambda df: df["process_temperature_k"] - df["air_temperature_k"],
    "power_w": lambda df: df["torque_nm"] * df["rotational_speed_rpm"] * (2 * math.pi / 60),
    "strain_min_nm": lambda df: df["tool_wear_min"] * df["torque_nm"],
}


def add_derived(frame: pd.DataFrame, derived: list[str]) -> pd.DataFrame:
    """Return the model inputs plus the requested derived features, in a fixed order."""
    out = frame[INPUT_COLUMNS].copy()
    for name in derived:
        out[name] = DERIVED[name](out).astype("float64")
    return out


def derived_names(_transformer: object, _input_names: object, derived: list[str]) -> list[str]:
    """Output column names of add_derived, for scikit-learn's get_feature_names_out."""
    return INPUT_COLUMNS + list(derived)


def build_transformer(derived: list[str], scaling: str, one_hot_type: bool):
    """The feature half of the model Pipeline: derive, then encode Type and scale numbers."""
    from functools import partial

    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = NUMERIC_INPUTS + list(derived)
    parts = [("numeric", StandardScaler() if scaling == "standard" else "passthrough", numeric)]
    if one_hot_type:
        parts.insert(0, ("type", OneHotEncoder(categories=[TYPES], handle_unknown="error"), ["type"]))
    return Pipeline([
        ("derive", FunctionTransformer(add_derived, kw_args={"derived": list(derived)},
                                       feature_names_out=partial(derived_names, derived=list(derived)))),
        ("encode", ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)),
    ])


def label_quirks(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Boolean masks of the data set's two documented label quirks."""
    any_mode = frame[FAILURE_MODES].to_numpy().any(axis=1)
    return {
        "unexplained_failure": (frame[LABEL] == 1) & ~any_mode,
        "rnf_without_failure": (frame["rnf"] == 1) & (frame[LABEL] == 0),
    }


def failure_rate(labels: pd.Series) -> float:
    """Share of positive labels; 0.0 for an empty split."""
    return float(np.mean(labels)) if len(labels) else 0.0
