"""What a model is: the algorithms, the fitted Pipeline (features + estimator), and its bytes.

Shared by the train stage, make verify's refit, the benchmarks and the tests. Pure apart from
the CPU a fit burns; the Pipeline pickles references to scripts.core.features, so see
scripts/__init__.py before moving that module.
"""
from __future__ import annotations

import io
from typing import Any

import pandas as pd

from scripts.core import features as F

# Each algorithm: its scikit-learn class and the params.yaml keys it takes.
ALGORITHMS = {
    "random_forest": ("sklearn.ensemble:RandomForestClassifier", ["n_estimators", "max_features", "max_depth", "min_samples_leaf", "class_weight"]),
    "hist_gradient_boosting": ("sklearn.ensemble:HistGradientBoostingClassifier", ["max_iter", "learning_rate", "max_depth", "min_samples_leaf"]),
    "logistic_regression": ("sklearn.linear_model:LogisticRegression", ["C", "max_iter", "class_weight"]),
}


def effective_params(model: dict) -> dict:
    """The model section reduced to what the chosen algorithm uses: the part that shapes the model."""
    _, keys = ALGORITHMS[model["algorithm"]]
    return {
        "algorithm": model["algorithm"],
        "seed": model["seed"],
        "threshold": model["threshold"],
        "hyperparameters": {k: model[k] for k in keys},
    }


def build_pipeline(feature_spec: dict, model: dict) -> Any:
    """Feature transformer + estimator as one Pipeline, so serving transforms exactly as training did."""
    import importlib

    from sklearn.pipeline import Pipeline

    module, name = ALGORITHMS[model["algorithm"]][0].split(":")
    estimator_class = getattr(importlib.import_module(module), name)
    chosen = effective_params(model)
    estimator = estimator_class(random_state=chosen["seed"], **chosen["hyperparameters"])
    transformer = F.build_transformer(feature_spec)
    return Pipeline([("features", transformer), ("model", estimator)])


def fit(frame: pd.DataFrame, feature_spec: dict, model: dict) -> Any:
    """Fit the Pipeline on a training frame (its label 1 for the positive class, else 0) for a
    feature spec (features.spec); pure apart from the CPU it burns."""
    pipeline = build_pipeline(feature_spec, model)
    pipeline.fit(frame[feature_spec["inputs"]], frame[feature_spec["label"]].to_numpy())
    return pipeline


def dump(pipeline: Any) -> bytes:
    """The joblib bytes of a fitted Pipeline (deterministic for a seeded fit)."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()
