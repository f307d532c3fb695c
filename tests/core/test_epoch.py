"""The reference-epoch rules (scripts/core/epoch.py) on frames with a known answer."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scripts.core.config import load_params
from scripts.core.epoch import contradicted_rows, epoch_record, in_epoch, mark_reference, new_epoch
from tests import ai4i as A
from tests.conftest import spec


def test_mark_reference_marks_the_most_recent_share():
    frame = pd.DataFrame({"udi": range(10)})
    assert mark_reference(frame, 0.3)["reference"].tolist() == [0] * 7 + [1] * 3
    assert "reference" not in frame, "pure: the caller's frame is unchanged"


def test_only_history_rows_the_new_relation_calls_failures_are_contradicted():
    params = load_params()
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"type": rng.choice(list(A.TYPES), n), "air_temperature_k": rng.normal(300, 2, n),
                          "process_temperature_k": rng.normal(310, 1.5, n), "rotational_speed_rpm": rng.normal(1500, 150, n),
                          "torque_nm": rng.uniform(10, 70, n), "tool_wear_min": rng.integers(0, 250, n)})
    history = frame.assign(**{A.LABEL: (frame["torque_nm"] > 65).astype(int)})   # the old relation
    newer = frame.assign(**{A.LABEL: (frame["torque_nm"] > 50).astype(int)})     # failures start earlier now
    flagged = contradicted_rows(history, newer, spec(), {**params["model"], "n_estimators": 30}, 0.5)
    assert flagged.index.equals(history.index)
    between = (history["torque_nm"] > 52) & (history["torque_nm"] < 64)
    assert flagged[between].all(), "old 'no failure' labels where the new relation says failure"
    assert not flagged[history[A.LABEL] == 1].any() and not flagged[history["torque_nm"] < 45].any()


def test_the_reference_column_says_whether_rows_are_in_an_epoch_and_whether_they_start_one():
    plain = pd.DataFrame({"udi": [1, 2, 3]})
    assert not in_epoch(plain) and not new_epoch(plain)
    assert in_epoch(plain.assign(reference=0)) and not new_epoch(plain.assign(reference=0))
    assert new_epoch(mark_reference(plain, 0.5))


def test_rows_of_one_class_contradict_nothing_and_the_record_lists_udi_runs():
    history = pd.DataFrame({"udi": [1, 2], A.LABEL: [0, 0]})
    assert not contradicted_rows(history, history, {"label": A.LABEL}, {}, 0.5).any()
    record = epoch_record(pd.Series([5, 6, 7, 10]), 900, 900)
    assert record == {"starts": True, "reference_rows": 900, "trained_labelled_rows": 900, "contradicted_rows": 4,
                      "contradicted_udis": [[5, 7], [10, 10]]}
    assert not epoch_record(pd.Series([], dtype=int), 0, 10)["starts"]
