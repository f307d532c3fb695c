"""The exact fast path equals Pipeline.predict_proba on every held-out row, or is not used at all."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts.core.config import load_params
from scripts.core.estimator import fit
from scripts.serving.fastpath import FastForest
from tests import ai4i as A
from tests.conftest import Repo, spec
from tests.pipeline.test_model import card, model  # noqa: F401  (fixtures)


@pytest.mark.parametrize("split", ["test", "production"])
def test_fast_path_equals_the_pipeline_on_every_row(built: Repo, model, split):  # noqa: F811
    fast = FastForest.compile(model)
    assert fast is not None
    meta = built.json("data/processed/v1.json")
    frame = pd.read_csv(built.path / meta["outputs"][split]["path"])
    expected = model.predict_proba(frame[A.INPUT_COLUMNS])[:, 1]
    got = fast.predict_proba(frame[A.INPUT_COLUMNS].to_dict("records"))
    assert len(got) == len(frame)
    assert np.max(np.abs(got - expected)) <= 1e-9


def test_fast_path_handles_ints_floats_and_single_rows(model):  # noqa: F811
    fast = FastForest.compile(model)
    reading = {"type": "H", "air_temperature_k": 301, "process_temperature_k": 310.9, "rotational_speed_rpm": 1400.0,
               "torque_nm": 60, "tool_wear_min": 220}
    expected = model.predict_proba(pd.DataFrame([reading]))[0, 1]
    assert fast.predict_proba([reading])[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter kept low for speed
@pytest.mark.parametrize("algorithm", ["hist_gradient_boosting", "logistic_regression"])
def test_other_algorithms_fall_back_to_the_pipeline(built: Repo, algorithm):
    params = load_params()
    frame = pd.read_csv(built.path / built.json("data/processed/v1.json")["outputs"]["train"]["path"]).iloc[:800]
    pipeline = fit(frame, spec(), {**params["model"], "algorithm": algorithm, "max_iter": 20})
    assert FastForest.compile(pipeline) is None


def test_unscaled_forest_without_one_hot_is_exact_too(built: Repo):
    params = load_params()
    frame = pd.read_csv(built.path / built.json("data/processed/v1.json")["outputs"]["train"]["path"]).iloc[:1500]
    feats = {"derived": ["power_w"], "scaling": "none", "one_hot_type": False}
    pipeline = fit(frame, spec(feats), {**params["model"], "n_estimators": 20})
    fast = FastForest.compile(pipeline)
    assert fast is not None
    rows = frame[A.INPUT_COLUMNS]
    assert np.max(np.abs(fast.predict_proba(rows.to_dict("records")) - pipeline.predict_proba(rows)[:, 1])) <= 1e-9
