"""evaluate(): the card's metrics are measured on the held-out rows, per Type too, with the
training-set figures beside them as the monitor's other baseline."""
from __future__ import annotations

import numpy as np
import pytest

from scripts.core.config import ROOT, load_params
from scripts.core.estimator import fit
from scripts.core.metrics import probability_metrics
from scripts.core.rawdata import read_raw
from scripts.pipeline.evaluate import evaluate
from tests import ai4i as A
from tests.conftest import contract, spec


@pytest.fixture(scope="module")
def measured():
    frame = read_raw(ROOT / "data/raw/ai4i2020.csv", contract())
    train, test = frame.iloc[:3000], frame.iloc[3000:4500]
    params = load_params()
    pipeline = fit(train, spec(), {**params["model"], "n_estimators": 20})
    return pipeline, train, test, evaluate(pipeline, contract(), (train, test, None), 0.5, {"resamples": 5, "seed": 0})


def test_test_metrics_are_those_of_the_held_out_rows(measured):
    pipeline, _, test, metrics = measured
    proba = pipeline.predict_proba(test[A.INPUT_COLUMNS])[:, 1]
    assert metrics["test"] == probability_metrics(test[A.LABEL], proba, 0.5)
    assert metrics["test"]["rows"] == 1500 and metrics["test"]["positives"] == int(test[A.LABEL].sum())


def test_training_metrics_sit_beside_them_and_a_forest_fits_its_training_rows_closely(measured):
    _, train, _, metrics = measured
    assert metrics["train"]["rows"] == len(train)
    assert metrics["train"]["error_rate"] <= metrics["test"]["error_rate"]


def test_per_type_rows_add_up_to_the_test_set(measured):
    _, _, test, metrics = measured
    assert set(metrics["per_group"]) == {f"Type {kind}" for kind in A.TYPES}
    assert sum(group["rows"] for group in metrics["per_group"].values()) == len(test)
    for name, group in metrics["per_group"].items():
        assert group["rows"] == int(np.sum(test["type"] == name.split()[-1]))
