"""What a model is: one Pipeline per algorithm, identity from the params it uses, byte-stable dumps."""
from __future__ import annotations

import pytest

from scripts.core import features as F
from scripts.core.config import ROOT, load_params
from scripts.core.estimator import ALGORITHMS, build_pipeline, dump, effective_params, fit
from scripts.core.rawdata import read_raw
from tests.conftest import contract

FEATS = F.spec(contract(), {"derived": ["temp_diff_k", "power_w", "strain_min_nm"], "scaling": "standard", "one_hot_type": True})


@pytest.fixture(scope="module")
def frame():
    return read_raw(ROOT / "data/raw/ai4i2020.csv", contract()).iloc[:600]


@pytest.fixture
def model() -> dict:
    return dict(load_params()["model"])


def test_only_the_chosen_algorithms_hyperparameters_make_its_identity(model):
    forest = effective_params(model)
    assert set(forest["hyperparameters"]) == set(ALGORITHMS["random_forest"][1])
    assert effective_params({**model, "C": 99.0}) == forest, "a logistic-regression knob does not change a forest"
    assert effective_params({**model, "n_estimators": 7}) != forest
    logreg = effective_params({**model, "algorithm": "logistic_regression"})
    assert set(logreg["hyperparameters"]) == {"C", "max_iter", "class_weight"}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_each_algorithm_builds_its_estimator_with_the_seed(model, algorithm):
    pipeline = build_pipeline(FEATS, {**model, "algorithm": algorithm, "seed": 123})
    estimator = pipeline.named_steps["model"]
    assert type(estimator).__name__ == ALGORITHMS[algorithm][0].split(":")[1]
    assert estimator.random_state == 123
    assert list(pipeline.named_steps) == ["features", "model"]


def test_a_seeded_fit_dumps_the_same_bytes_twice(frame, model):
    small = {**model, "n_estimators": 10}
    assert dump(fit(frame, FEATS, small)) == dump(fit(frame, FEATS, small))
    assert dump(fit(frame, FEATS, small)) != dump(fit(frame, FEATS, {**small, "seed": 7}))


def test_the_fitted_pipeline_takes_raw_readings(frame, model):
    pipeline = fit(frame, FEATS, {**model, "n_estimators": 10})
    proba = pipeline.predict_proba(frame[FEATS["inputs"]].head(5))
    assert proba.shape == (5, 2)
    names = list(pipeline.named_steps["features"].get_feature_names_out())
    assert names[:3] == ["type_L", "type_M", "type_H"] and names[-3:] == list(FEATS["derived"])
