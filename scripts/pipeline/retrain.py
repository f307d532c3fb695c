"""`make retrain`: answer a monitor flag with a new model, through the same make pipeline.

1. Without logs/retrain.flag (and without FORCE=1) it says so and exits 0. EPOCH=1 starts a new
   reference epoch (below) whatever the diagnosis, for a change in the relation you know of. When the monitor
   diagnosed a sensor fault it refuses, naming the sensor: the fix is at the sensor, and a
   model retrained on its readings would learn the fault (FORCE=1 overrides; the event says so).
2. It joins the prediction log with the labels received so far into one immutable,
   content-addressed file of labelled production rows (data/production/labelled/<sha>.csv),
   less the rows of production's reference epoch, if it has one. After a concept drift (the
   flag's diagnosis) the most recent retrain.concept.reference_fraction of them are marked as a
   new reference epoch: the old reference rows' labels follow the old relation and cannot judge
   a model of the new one.
3. It runs `make train EXTRA=<that file>`: prepare builds a new data version (training
   rows + older labelled rows to train on, the most recent labelled rows as the holdout; for a
   new epoch, the marked rows as the test rows and no holdout),
   then train, evaluate and register run as always. No stage code is repeated here.
4. register has gated the candidate against production on the same rows: the clean reference
   rows no version trains on, and the holdout; only a candidate that passed is promoted, and the
   running server hot-swaps to it.
5. The flag is cleared after a promotion, and every attempt is recorded in
   logs/retrain_events.jsonl with the monitor report that triggered it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from scripts.core import epoch as E
from scripts.core import registry as R
from scripts.core.artifacts import load_split, read_data_meta, read_pointer, relative
from scripts.core.config import ClockworkError, cli, error_line, load_params, params_path, repo_path, validate
from scripts.core.contract import Contract
from scripts.core.reports import suspect_text
from scripts.core.store import append_line, atomic_write_text, read_json, read_jsonl, sha256_bytes, utc_now

log = logging.getLogger("clockwork.retrain")


def labelled_rows(predictions: list[dict], labels: list[dict], contract: Contract) -> pd.DataFrame:
    """Every prediction whose label has arrived, in log (time) order, under the data set's column names;
    a row id served twice counts once, at its latest prediction."""
    by_id = {label["prediction_id"]: label for label in labels}
    key, target = contract.id.name, contract.label
    rows = []
    for p in predictions:
        label = by_id.get(p["prediction_id"])
        if label is not None:
            rows.append({"prediction_id": p["prediction_id"], "dataset": label["dataset"], key: label[key],
                         **p["inputs"], target: label["label"]})
    frame = pd.DataFrame(rows, columns=["prediction_id", "dataset", key, *contract.input_names, target])
    return frame.drop_duplicates(key, keep="last").reset_index(drop=True)


def epoch_rows(paths: dict, registry: dict, key: str) -> pd.Series | None:
    """The row ids of the reference epoch production was judged on, if it was (None otherwise): those
    rows judge every candidate, so no retrain may train on them."""
    reference = R.live_reference(registry)
    if not reference.get("epoch"):
        return None
    return load_split(read_data_meta(paths, reference["data_version"]), "test", [key])[key]


def write_labelled(directory: Path, frame: pd.DataFrame) -> Path:
    """Store the rows under their own sha256: the same rows are the same file, never rewritten."""
    text = frame.to_csv(index=False)
    path = directory / f"{sha256_bytes(text.encode())[:16]}.csv"
    if not path.exists():
        atomic_write_text(path, text)
    return path


def refusal(flag: dict, events_log: str) -> str:
    """Why retrain will not answer a flag whose report diagnosed a sensor fault."""
    diagnosis = flag["diagnosis"]
    found = "; ".join(suspect_text(s) for s in diagnosis["suspect_sensors"])
    return (f"{flag['report']}: the monitor diagnosed a sensor fault, not a change in the machines: {found}. "
            f"Fix or recalibrate the sensor; a model retrained on these readings would learn the fault "
            f"(FORCE=1 make retrain overrides, and {events_log} records it)")


def rows_to_train(params: dict, registry: dict, flag: dict | None, epoch: bool = False) -> pd.DataFrame:
    """The labelled production rows a retrain passes to prepare: less the rows of production's reference
    epoch, if any; after a concept drift (or with epoch), the most recent marked as a new epoch's reference rows."""
    contract = Contract.from_params(params["dataset"])
    if contract.id is None:
        raise ClockworkError(f"{params_path()}: dataset: retraining on labelled predictions needs a row id column "
                             "(role: id), so a labelled row is counted once and kept apart from the reference rows")
    key = contract.id.name
    labelled = labelled_rows(read_jsonl(repo_path(params["deployment"]["predictions_log"])),
                             read_jsonl(repo_path(params["replay"]["labels_log"])), contract)
    kept_out = epoch_rows(params["paths"], registry, key)
    if kept_out is not None:
        labelled = labelled[~labelled[key].isin(kept_out)].reset_index(drop=True)
    if len(labelled) < 2:
        raise ClockworkError(f"{params['replay']['labels_log']}: {len(labelled)} labelled predictions"
                             f"{' outside the reference rows' if kept_out is not None else ''}; nothing to retrain on")
    if epoch or ((flag or {}).get("diagnosis") or {}).get("kind") == "concept_drift":
        labelled = E.mark_reference(labelled, params["retrain"]["concept"]["reference_fraction"])
        print(f"retrain: {'EPOCH=1' if epoch else 'concept drift'}: the most recent {int(labelled['reference'].sum())} labelled rows become the new "
              "reference rows, which judge this candidate and every later one")
    elif kept_out is not None:  # in production's epoch: the labelled rows follow its relation, not the history's
        labelled = labelled.assign(reference=0)
    return labelled


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="retrain without a flag")
    parser.add_argument("--epoch", action="store_true", help="start a new reference epoch whatever the diagnosis "
                        "(you know the relation between readings and failures changed)")
    parser.add_argument("--pointer", type=Path, required=True, help="make's train pointer (names the candidate)")
    parser.add_argument("--make", default=os.environ.get("MAKE", "make"))
    args = parser.parse_args(argv)
    params = load_params()
    flag_path = repo_path(params["monitor"]["flag"])
    flag = read_json(flag_path, "retrain_flag") if flag_path.exists() else None
    if flag is None and not args.force:
        print(f"no retrain flag ({params['monitor']['flag']}): nothing to do (FORCE=1 retrains anyway)")
        return 0
    overrode = "sensor_fault" if ((flag or {}).get("diagnosis") or {}).get("kind") == "sensor_fault" else None
    try:
        if overrode and not args.force:
            raise ClockworkError(refusal(flag, params["retrain"]["events_log"]))
        return retrain(params, args, flag, overrode)
    except BaseException as exc:  # a retrain that stops is one line in the events log, with why
        record_failure(params, flag, overrode if args.force else None, exc)
        raise


def retrain(params: dict, args: argparse.Namespace, flag: dict | None, overrode: str | None) -> int:
    """Build the labelled file, run make train on it, promote a candidate that passed its gates, record it."""
    paths, flag_path = params["paths"], repo_path(params["monitor"]["flag"])
    if (flag or {}).get("basis") == "estimated":
        print(f"retrain: the flag rests on F1 estimated before labels ({flag['report']}): the candidate learns from the "
              "labelled rows on hand and must pass the same gates; the flagged predictions' labels will confirm or withdraw it")
    registry = R.load(paths)
    labelled = rows_to_train(params, registry, flag, args.epoch)
    extra = write_labelled(repo_path(params["retrain"]["labelled_dir"]), labelled)
    before = registry["aliases"]["production"]
    counts = ", ".join(f"{k}: {v}" for k, v in labelled["dataset"].value_counts().sort_index().items())
    print(f"retrain: {len(labelled)} labelled production rows ({counts}) -> {relative(extra)}")
    done = subprocess.run([args.make, "--no-print-directory", "train", f"EXTRA={relative(extra)}"], cwd=repo_path("."),
                          stderr=subprocess.PIPE, text=True)
    sys.stderr.write(done.stderr)
    if done.returncode:
        raise ClockworkError(f"make train EXTRA={relative(extra)}: {error_line(done.stderr)} (the flag is kept)")
    candidate = read_pointer(args.pointer)
    entry = R.load(paths)["versions"][candidate]
    promoted = False
    if candidate == before:
        outcome = f"candidate {candidate} is already the production model"
    elif entry["status"] == "candidate":
        print(R.promote(paths, candidate, f"retrain for monitor report {flag['report_id'] if flag else '(forced)'}"
                                          + (", a new reference epoch (EPOCH=1)" if args.epoch else "")))
        promoted, outcome = True, f"promoted {candidate} (was {before})"
    else:
        outcome = f"{candidate} not promoted: {R.describe_gates(entry['gates'])}"
    record(params, flag, overrode, (extra, labelled), (candidate, entry, before), promoted)
    if promoted and flag_path.exists():
        flag_path.unlink()
    print(f"retrain: {outcome}")
    for result in entry["gates"]["results"]:
        if "detail" in result:
            print(f"  {'pass' if result['passed'] else 'FAIL'} {result['gate']}: {result['detail']}")
    return 0


def record_failure(params: dict, flag: dict | None, overrode: str | None, exc: BaseException) -> None:
    """The events-log line of a retrain that stopped: the one line it printed, and production around it."""
    reason = (str(exc) if isinstance(exc, ClockworkError) else "interrupted" if isinstance(exc, KeyboardInterrupt)
              else f"internal error: {type(exc).__name__}: {exc}")
    try:
        production = R.load(params["paths"])["aliases"]["production"]
    except ClockworkError:
        production = None
    event = {"time": utc_now(), "report_id": flag["report_id"] if flag else None, "flag": flag,
             "forced": flag is None or overrode is not None, "overrode": overrode, "failed": reason or type(exc).__name__,
             "production_before": production, "production_after": production}
    events_log = params["retrain"]["events_log"]
    validate(event, "retrain_event", events_log)
    append_line(repo_path(events_log), json.dumps(event, sort_keys=True, separators=(",", ":")))


def record(params: dict, flag: dict | None, overrode: str | None, data: tuple, outcome: tuple, promoted: bool) -> None:
    """One schema-checked line in the retrain events log."""
    (extra, labelled), (candidate, entry, before) = data, outcome
    event = {
        "time": utc_now(), "report_id": flag["report_id"] if flag else None, "flag": flag,
        "forced": flag is None or overrode is not None, "overrode": overrode,
        "labelled_data": {"path": relative(extra), "sha256": sha256_bytes(extra.read_bytes()), "rows": len(labelled),
                          "datasets": {str(k): int(v) for k, v in labelled["dataset"].value_counts().items()}},
        "data_version": entry["data_version"], "candidate": candidate, "production_before": before,
        "candidate_metrics": entry["metrics"], "production_metrics": entry["gates"]["production_metrics"],
        "gates": entry["gates"], "promoted": promoted,
        "production_after": R.load(params["paths"])["aliases"]["production"],
    }
    events_log = params["retrain"]["events_log"]
    validate(event, "retrain_event", events_log)
    append_line(repo_path(events_log), json.dumps(event, sort_keys=True, separators=(",", ":")))


if __name__ == "__main__":
    cli(main)
