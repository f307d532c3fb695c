"""Stage 3, evaluate: measure a trained model on its held-out test set; write its model card.

Metrics are a deterministic function of the model version (the threshold is part of the
model's params), so each card is written once and never rewritten. The gates, which
depend on what is in production at the time, are applied by the registry stage.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from scripts.core.artifacts import (
    MODEL_CARD,
    load_model,
    load_split,
    model_path,
    read_data_meta,
    read_pointer,
    read_train_record,
    write_outputs_include,
)
from scripts.core.config import ClockworkError, cli, load_params
from scripts.core.contract import Contract
from scripts.core.estimate import fit_calibrator
from scripts.core.metrics import per_mask, predict_failure, probability_metrics, score
from scripts.core.store import code_identity, locked, read_json, sweep_temp, utc_now, write_if_changed, write_json

log = logging.getLogger("clockwork.evaluate")
# The params sections this stage reads; its Makefile rule is stamped on exactly these.
PARAMS = ("paths", "dataset", "calibration")


def evaluate(pipeline: Any, contract, splits: tuple, threshold: float, calibration: dict) -> dict:  # noqa: ANN001
    """Test metrics, test metrics per value of each category input, training-set metrics (the
    monitoring baseline) and the calibrator fitted on the test rows (estimate.py); for a retrain
    version also its holdout's (the recent labelled production rows). splits: (train, test, holdout or None)."""
    train, test, holdout = splits
    label = contract.label
    test_proba = predict_failure(pipeline, test)
    out = {
        "test": probability_metrics(test[label], test_proba, threshold),
        "train": score(pipeline, train, threshold, label),
        "per_group": per_mask(test[label].to_numpy(), test_proba >= threshold, contract.category_masks(test)),
        # the monitor's label-free estimates map the live model's probabilities through this
        "calibration": fit_calibrator(test[label].to_numpy(), test_proba, calibration),
    }
    if holdout is not None:
        out["holdout"] = score(pipeline, holdout, threshold, label)
    return out


def model_card(paths: dict, version: str, contract, calibration: dict) -> dict:  # noqa: ANN001
    """The training record plus its measured metrics: the model card of one version."""
    record = read_train_record(paths, version)
    pipeline = load_model(record)
    data_meta = read_data_meta(paths, record["data"]["version"])
    columns = [*contract.scored, *(c.name for c in contract.inputs if c.kind == "category")]
    splits = tuple(load_split(data_meta, split, list(dict.fromkeys(columns))) if split in data_meta["outputs"] else None
                   for split in ("train", "test", "holdout"))
    metrics = evaluate(pipeline, contract, splits, record["threshold"], calibration)
    test = metrics["test"]
    log.info("model %s: test F1 %s, recall %s, precision %s, ROC AUC %s", version,
             test["f1"], test["recall"], test["precision"], test["roc_auc"])
    return {
        **record,
        "metrics": metrics,
        "evaluation": {"evaluated_at": utc_now(), "threshold": record["threshold"],
                       "code": code_identity(__spec__.name), "test_data": record["data"]["test"]},
    }


def intact(path: Path, fresh: dict) -> bool:
    """Does the stored card still say what evaluating the model says now? Its metrics are compared only
    when the same evaluate code wrote it (new code may measure more); the record part always is."""
    try:
        stored = read_json(path, "model")
    except ClockworkError:
        return False
    same_code = stored["evaluation"]["code"]["sha256"] == fresh["evaluation"]["code"]["sha256"]
    skip = {"evaluation"} if same_code else {"evaluation", "metrics"}
    return {k: v for k, v in stored.items() if k not in skip} == {k: v for k, v in fresh.items() if k not in skip}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="pointer file naming the model version (from train)")
    parser.add_argument("--out", type=Path, help="pointer file naming the evaluated model version (written only on change)")
    parser.add_argument("--outputs", type=Path, help="make include naming the version's card (written only on change)")
    args = parser.parse_args(argv)
    params = load_params(sections=PARAMS)
    paths, contract = params["paths"], Contract.from_params(params["dataset"])
    version = read_pointer(args.model)
    card_path = model_path(paths, version, MODEL_CARD)
    existed = card_path.exists()
    card = model_card(paths, version, contract, params["calibration"])  # outside the lock: make -j2 evaluates two models at once
    if existed and intact(card_path, card):
        log.info("model %s is already evaluated (%s)", version, card_path.name)
    else:
        with locked(card_path.parent / ".lock"):
            sweep_temp(card_path.parent, ".model_*.tmp")  # left by a killed writer (writers hold this lock)
            if existed or not card_path.exists():  # a concurrent run may have written the same card
                write_json(card_path, card, "model")
        if existed:
            log.warning("repaired %s: it no longer matched its model; evaluated again", card_path.name)
    if args.out:
        write_if_changed(args.out, version + "\n")
    if args.outputs:
        write_outputs_include(args.outputs, "EVALUATE_OUTPUTS", [card_path])
    print(version)
    return 0


if __name__ == "__main__":
    cli(main)
