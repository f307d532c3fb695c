"""Pure metrics and gates: undefined values are None, never invented."""
from __future__ import annotations

import numpy as np

from scripts.core.metrics import label_metrics, per_group, probability_metrics
from tests import ai4i as A


def test_label_metrics_by_hand():
    m = label_metrics(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert m["confusion_matrix"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 2}
    assert m["precision"] == round(2 / 3, 6) and m["recall"] == round(2 / 3, 6)
    assert m["accuracy"] == 0.6 and m["error_rate"] == 0.4


def test_undefined_metrics_are_none():
    m = label_metrics(np.array([0, 0]), np.array([0, 0]))
    assert m["recall"] is None and m["precision"] is None and m["f1"] is None
    p = probability_metrics(np.array([0, 0]), np.array([0.1, 0.2]), 0.5)
    assert p["roc_auc"] is None


def test_per_group_counts_each_type():
    out = per_group(np.array([1, 0, 1]), np.array([1, 0, 0]), np.array(["L", "L", "H"]), ["L", "M", "H"])
    assert out["L"]["recall"] == 1.0 and out["H"]["recall"] == 0.0 and out["M"]["rows"] == 0


def test_scoring_a_slice_at_a_time_gives_the_same_probabilities(monkeypatch):
    import numpy as np
    import pandas as pd

    from scripts.core import metrics
    from scripts.core.config import ROOT, load_params
    from scripts.core.estimator import fit
    from scripts.core.rawdata import read_raw
    from tests.conftest import contract, spec

    params = load_params()
    frame = read_raw(ROOT / params["paths"]["raw"], contract()).iloc[:1200]
    pipeline = fit(frame, spec(), {**params["model"], "n_estimators": 10})
    whole = pipeline.predict_proba(frame[A.INPUT_COLUMNS])[:, 1]
    monkeypatch.setattr(metrics, "SCORE_SLICE_ROWS", 500)
    assert np.array_equal(metrics.predict_failure(pipeline, frame), whole)
    assert len(metrics.predict_failure(pipeline, pd.DataFrame(columns=A.SCORED_COLUMNS))) == 0
