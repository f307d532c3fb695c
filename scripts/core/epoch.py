"""Reference epochs: after a concept drift, recent labelled rows judge every model.

When the relation between readings and failures changes, the reference rows' labels follow the
old one, so they would refuse every model of the new one. make retrain then marks the most
recent labelled rows as a new epoch's reference rows (column `reference` = 1), which prepare
makes the test split; the other labelled rows train the candidate with the clean history, less
the history rows they contradict. Within an epoch the column is all 0: the rows still follow
the newer relation, and the history is filtered the same way. Pure apart from the CPU a fit
burns; prepare imports this module only for a retrain version, so a plain data version's code
identity never depends on it.
"""
from __future__ import annotations

import pandas as pd

from scripts.core.estimator import fit
from scripts.core.gates import udi_ranges


def mark_reference(frame: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """After a concept drift: the most recent `fraction` of the labelled rows become a new epoch's
    reference rows (reference = 1), which prepare keeps out of training."""
    marked = frame.copy()
    marked["reference"] = 0
    marked.loc[marked.index[-max(1, round(len(frame) * fraction)):], "reference"] = 1
    return marked


def in_epoch(labelled: pd.DataFrame) -> bool:
    """Do the labelled rows follow a newer relation than the history (a `reference` column)?"""
    return "reference" in labelled.columns


def new_epoch(labelled: pd.DataFrame) -> bool:
    """Do the labelled rows mark a new epoch's reference rows?"""
    return in_epoch(labelled) and bool((labelled["reference"] == 1).any())


def contradicted_rows(history: pd.DataFrame, newer: pd.DataFrame, feature_spec: dict, model: dict, probability: float) -> pd.Series:
    """The history rows labelled 'no failure' that a model fitted on the newer labelled rows alone
    gives a failure probability of at least `probability`: the old relation's labels where the new
    one says failure. Old failures stay (the newer rows are too few to speak for every failure mode)."""
    label = feature_spec["label"]
    if newer[label].nunique() < 2:  # rows of one class say nothing about where failures begin
        return pd.Series(False, index=history.index)
    proba = fit(newer, feature_spec, model).predict_proba(history[feature_spec["inputs"]])[:, 1]
    return pd.Series((proba >= probability) & (history[label].to_numpy() == 0), index=history.index)


def epoch_record(contradicted: pd.Series, reference_rows: int, trained_labelled_rows: int) -> dict:
    """What an epoch changed in a data version (its `reference_epoch`): whether it starts one, and
    the history rows (UDIs) it left out."""
    return {"starts": reference_rows > 0, "reference_rows": reference_rows, "trained_labelled_rows": trained_labelled_rows,
            "contradicted_rows": len(contradicted), "contradicted_udis": udi_ranges(contradicted)}
