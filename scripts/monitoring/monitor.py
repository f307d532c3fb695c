"""`make monitor`: is the live model still good? Quality against its baseline, drift against its training data.

Reads the prediction log and the labels, takes the live (production) model's most recent
monitor.window predictions, and writes a report to logs/monitor/<id>.json, a row to
logs/monitor_log.csv and, when retraining is required, logs/retrain.flag.
- Quality (error rate, precision, recall, F1, overall and per Type) uses only labelled
  predictions; with fewer than monitor.min_labels the verdict is insufficient_labels and
  no rate is invented.
- Drift uses every prediction in the window, labelled or not: PSI on training-decile bins,
  KS for numbers, chi-square for categories, per feature (inputs and derived features).
- The diagnosis (diagnosis.py) says what kind of change it is (a sensor fault with the
  suspect sensors, covariate drift, label shift, concept drift, not enough evidence) and what
  to do; the flag carries it, and make retrain refuses a sensor fault.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from scripts.core import registry as R
from scripts.core.artifacts import load_split, read_data_meta
from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.metrics import label_metrics, per_mask
from scripts.core.reports import latest_report
from scripts.core.store import append_csv_row, compact_time, read_json, sha256_obj, utc_now, write_json
from scripts.monitoring import chunks as C
from scripts.monitoring.diagnosis import ACTIONS, classify, diagnose, over_history, settings_of
from scripts.monitoring.groundtruth import labels_for, labels_in

log = logging.getLogger("clockwork.monitor")
SHOWN_ALERTS = 5  # new alerts named in make monitor's summary; the report holds them all
LOG_COLUMNS = ["time", "report_id", "model_version", "predictions", "labelled", "error_rate", "baseline_error_rate",
               "precision", "recall", "f1", "drifted_features", "drifted_share", "predicted_failure_rate", "verdict"]


def window_labels(lines: Iterable[tuple[int, str]], window: list[dict], path: Path) -> tuple[dict[str, int], int]:
    """Labels of the window's predictions (streamed), and how many labels are for other predictions."""
    return labels_for(lines, {p["prediction_id"] for p in window}, path)


def join_labels(window: list[dict], labels: dict[str, int]) -> np.ndarray:
    """Label per window prediction, -1 where none has arrived."""
    return np.array([labels.get(p["prediction_id"], -1) for p in window], dtype=int)


def quality(window: list[dict], y: np.ndarray, contract) -> dict:  # noqa: ANN001 - a Contract
    """Quality over the labelled predictions: overall and per value of each category input ("Type L")."""
    mask = y >= 0
    predicted = np.array([p["prediction"] for p in window])[mask]
    rows = pd.DataFrame([p["inputs"] for p, labelled in zip(window, mask, strict=True) if labelled],
                        columns=contract.input_names)
    overall = label_metrics(y[mask], predicted)
    overall.pop("confusion_matrix")
    return {"overall": overall, "per_group": per_mask(y[mask], predicted, contract.category_masks(rows))}


def baseline_of(card: dict, split: str) -> dict:
    """The live model's recorded quality on one split (monitor.baseline: test or train), every figure
    from that same split. Pure."""
    m = card["metrics"][split]
    predicted = (m["confusion_matrix"]["tp"] + m["confusion_matrix"]["fp"]) / m["rows"]
    return {"source": f"model {card['version']} {split} metrics", "error_rate": m["error_rate"], "precision": m["precision"],
            "recall": m["recall"], "f1": m["f1"], "predicted_failure_rate": round(predicted, 6)}


def quality_reasons(observed: dict, baseline: dict, settings: dict) -> list[str]:
    """What is wrong with the labelled quality against the baseline, if anything. Pure."""
    reasons = []
    limit = baseline["error_rate"] * settings["error_rate_ratio"]
    if observed["error_rate"] > limit:
        reasons.append(f"error rate {observed['error_rate']:.4f} exceeds baseline {baseline['error_rate']:.4f} "
                       f"x {settings['error_rate_ratio']} = {limit:.4f}")
    for name in ("recall", "precision"):
        value, floor = observed[name], settings[f"min_{name}"]
        if value is not None and value < floor:
            reasons.append(f"{name} {value:.3f} below {floor}")
    return reasons


def decide(labelled: int, observed: dict | None, baseline: dict, drifted_share: float, settings: dict,
           estimated: str | None = None) -> tuple[str, list[str]]:
    """The verdict and its reasons. Labels decide when there are enough of them: a quality limit crossed
    requires a retrain; broad drift with quality within limits is `watch`. Before, an estimated F1 drop
    (estimated: its reason, from the latest chunk) requires a retrain. Pure."""
    reasons = []
    if drifted_share > settings["max_drifted_share"]:
        reasons.append(f"{drifted_share:.0%} of features drifted (limit {settings['max_drifted_share']:.0%})")
    if labelled < settings["min_labels"] or observed is None:
        if estimated:
            return "retrain_required", [estimated, *reasons]
        return "insufficient_labels", [f"{labelled} labelled predictions in the window, fewer than {settings['min_labels']}"] + reasons
    failed = quality_reasons(observed, baseline, settings)
    if failed:
        return "retrain_required", failed + reasons
    if reasons:  # drift alone: the model may still be right on the moved readings
        return "watch", [*reasons, "quality within limits on the labelled predictions: drift alone does not require a retrain"]
    return "ok", ["quality within limits and no broad drift"]


def estimated_reason(chunks: list[dict], limit: float) -> str | None:
    """Why the latest measured chunk's estimated F1 requires a retrain, if it does: its whole interval
    lies under the limit. Pure."""
    judged = [c for c in chunks if c["judged"]]
    if not judged or "estimated_f1" not in judged[-1]["alerts"]:
        return None
    chunk = judged[-1]
    f1 = chunk["estimated"]["f1"]
    return (f"estimated F1 {f1['value']:.3f} (interval {f1['interval'][0]:.3f} to {f1['interval'][1]:.3f}) in chunk "
            f"{chunk['index']} (predictions {chunk['first']['prediction_id']} to {chunk['last']['prediction_id']}) "
            f"is below {limit:.3f} (baseline F1 less monitor.max_f1_drop): estimated from the model's "
            f"probabilities, before labels; its labels should give {f1['band'][0]:.3f} to {f1['band'][1]:.3f} "
            "and will confirm or withdraw it")


def diagnosis_of(window: list[dict], frames: tuple[pd.DataFrame, pd.DataFrame] | None, y: np.ndarray, drift: dict,
                 observed: dict | None, model: tuple[dict, list[str], Contract], settings: dict,
                 chunks: list[dict]) -> dict:
    """The window's diagnosis (diagnosis.py), each suspect's start named by its prediction, with the
    faulty sensors the earlier chunks found (dated to the first chunk of each fault).
    model: (the live model's card, its input columns, the data set contract)."""
    card, inputs, contract = model
    split = card["metrics"][settings["baseline"]]
    matrix = split["confusion_matrix"]
    baseline_rate = (matrix["tp"] + matrix["fn"]) / split["rows"]
    recall = None if observed is None else observed["overall"]["recall"]
    dropped = None if recall is None else recall < settings["min_recall"]
    drifted_inputs = [name for name, record in drift.items() if record["drifted"] and name in inputs]
    reference, current = frames if frames else (pd.DataFrame(columns=inputs), pd.DataFrame(columns=inputs))
    diagnosis_settings = settings_of(settings, contract)
    found = diagnose(reference, current, y, drifted_inputs, dropped, baseline_rate, diagnosis_settings)
    for suspect in found["suspect_sensors"]:
        suspect["starts_at"] = C.point(window[suspect["start_index"]])
    dated = over_history(found["suspect_sensors"], chunks, diagnosis_settings["relations"])
    if dated != found["suspect_sensors"]:
        kind, evidence = classify(dated, drifted_inputs, found["label_rate"], dropped, settings["min_labels"])
        found.update(kind=kind, action=ACTIONS[kind], evidence=evidence, suspect_sensors=dated)
    return found


def chunk_report(params: dict, card: dict, chunks: list[tuple[dict, bool, tuple]], labels: dict[str, int]) -> tuple[list[dict], dict]:
    """Every chunk of the history (C.judged: its measurements, whether measured now, its outcomes), with its
    realized metrics where labelled enough and its alerts; and how the run went. labels: by prediction id."""
    settings = params["monitor"]
    limit = round(baseline_of(card, settings["baseline"])["f1"] - settings["max_f1_drop"], 6)
    out = []
    for doc, _, outcomes in chunks:
        doc["labelled"], metrics = C.realized(outcomes, labels, card["threshold"], settings["min_labels"])
        if metrics:
            doc["realized"] = metrics
        doc["alerts"] = C.alerts(doc, limit)
        out.append(doc)
    measured = sum(fresh for _, fresh, _ in chunks)
    calibrated = card["metrics"].get("calibration", {}).get("method", "none") != "none"
    return out, {"chunk_size": settings["window"], "max_chunks": settings["max_chunks"], "measured": measured,
                 "reused": len(out) - measured, "f1_limit": limit, "calibrated": calibrated}


def report(params: dict) -> dict:
    """Build the monitor report for the live model (reads the logs; writes nothing but the chunk store)."""
    paths, settings = params["paths"], params["monitor"]
    _, card = R.production_card(paths, "monitor")
    predictions_log = repo_path(params["deployment"]["predictions_log"])
    labels_log = repo_path(params["replay"]["labels_log"])
    total, spans, window = C.history(predictions_log, card["version"], settings)
    contract = Contract.from_params(params["dataset"])
    reference = None  # the training rows, read when some chunk or the window can be judged
    if total >= settings["min_drift_rows"]:
        reference = load_split(read_data_meta(paths, card["data"]["version"]), "train")
    judge = C.Judge(card, contract, reference, settings, settings_of(settings, contract))
    chunks, (labels, _) = C.judged(judge, C.Store(repo_path(settings["chunks_dir"]), card, settings), spans,
                                   predictions_log, lambda: labels_in(labels_log))  # every label, read while workers measure
    y = join_labels(window, labels)
    labelled = int((y >= 0).sum())
    columns = C.model_columns(card, contract)
    observed = quality(window, y, contract) if labelled >= settings["min_labels"] else None
    drift: dict[str, Any] = {}
    drifted_share, frames = 0.0, None
    if len(window) >= settings["min_drift_rows"]:
        current = C.readings(window, card, contract)
        drift = C.drift_table(reference, current, columns, settings)
        drifted_share = round(sum(d["drifted"] for d in drift.values()) / len(drift), 6)
        frames = (reference, current)
    history, run = chunk_report(params, card, chunks, labels)
    body = _body(card, settings, window, (labelled, len(labels) - labelled), observed,
                 (drift, drifted_share, frames is not None))
    body["verdict"], body["reasons"] = decide(labelled, observed and observed["overall"], body["baseline"], drifted_share,
                                              settings, estimated_reason(history, run["f1_limit"]))
    body["diagnosis"] = diagnosis_of(window, frames, y, drift, observed, (card, columns["inputs"], contract), settings, history)
    body["verdict"], body["reasons"] = settle(body["verdict"], body["reasons"], body["diagnosis"])
    body["basis"] = "labels" if observed else ("estimated" if body["verdict"] == "retrain_required" else "none")
    body["history"] = {"predictions": total, **run}
    body["chunks"] = history
    body["raised"] = raised(previous_report(settings), body)
    withdrawn = withdraws(repo_path(settings["flag"]), body)
    if withdrawn:
        body["withdraws"] = withdrawn
    body["report_id"] = compact_time(body["created_at"]) + "-" + sha256_obj(body)[:8]
    return body


def withdraws(flag_path: Path, body: dict) -> dict | None:
    """The retrain flag this report withdraws, if any: one raised on an estimate before labels, for this
    model, when the labels now on hand do not require a retrain (the flag's report id and reasons)."""
    if body["basis"] != "labels" or body["verdict"] == "retrain_required" or not flag_path.exists():
        return None
    flag = read_json(flag_path, "retrain_flag")
    if flag.get("basis") != "estimated" or flag["model_version"] != body["model_version"]:
        return None
    return {"report_id": flag["report_id"], "reasons": flag["reasons"]}


def _body(card: dict, settings: dict, window: list[dict], counts: tuple[int, int], observed: dict | None,
          drift: tuple[dict, float, bool]) -> dict:
    """The window's part of the report. counts: (labelled, labels outside the window)."""
    features, share, judged = drift
    baseline = baseline_of(card, settings["baseline"])
    predicted_rate = round(float(np.mean([p["prediction"] for p in window])), 6) if window else None
    return {
        "created_at": utc_now(), "model_version": card["version"], "model_sha256": card["artifact"]["sha256"],
        "window": {"size": settings["window"], "predictions": len(window), "labelled": counts[0],
                   "labels_outside_window": counts[1],
                   "first": window[0]["time"] if window else None, "last": window[-1]["time"] if window else None},
        "quality": observed, "baseline": baseline,
        "drift": {"features": features, "drifted": sorted(k for k, d in features.items() if d["drifted"]),
                  "drifted_share": share, "judged": judged, "needed": settings["min_drift_rows"]},
        "predicted_failure_rate": {"window": predicted_rate, "baseline": baseline["predicted_failure_rate"],
                                   "shift": None if predicted_rate is None else round(predicted_rate - baseline["predicted_failure_rate"], 6)},
        "settings": settings,
    }


def publish(params: dict, doc: dict) -> Path:
    """Write the report, the monitor-log row and, if required, the retrain flag."""
    settings = params["monitor"]
    path = repo_path(settings["reports_dir"]) / f"{doc['report_id']}.json"
    write_json(path, doc, "monitor_report")
    overall = (doc["quality"] or {}).get("overall", {})
    append_csv_row(repo_path(settings["monitor_log"]), LOG_COLUMNS, {
        "time": doc["created_at"], "report_id": doc["report_id"], "model_version": doc["model_version"],
        "predictions": doc["window"]["predictions"], "labelled": doc["window"]["labelled"],
        "error_rate": overall.get("error_rate"), "baseline_error_rate": doc["baseline"]["error_rate"],
        "precision": overall.get("precision"), "recall": overall.get("recall"), "f1": overall.get("f1"),
        "drifted_features": " ".join(doc["drift"]["drifted"]), "drifted_share": doc["drift"]["drifted_share"],
        "predicted_failure_rate": doc["predicted_failure_rate"]["window"], "verdict": doc["verdict"]})
    if doc["verdict"] == "retrain_required":
        flag = {"report_id": doc["report_id"], "created_at": doc["created_at"], "model_version": doc["model_version"],
                "basis": doc["basis"], "reasons": doc["reasons"], "report": str(path.relative_to(repo_path("."))),
                "diagnosis": {k: doc["diagnosis"][k] for k in ("kind", "action", "suspect_sensors")}}
        write_json(repo_path(settings["flag"]), flag, "retrain_flag")
    elif doc.get("withdraws"):
        repo_path(settings["flag"]).unlink(missing_ok=True)
    return path


def settle(verdict: str, reasons: list[str], diagnosis: dict) -> tuple[str, list[str]]:
    """The verdict beside the diagnosis: never `ok` next to a faulty sensor (quality may hold while a
    sensor drifts off; retraining is not the answer either): `watch`, with the sensor named. Pure."""
    if verdict == "ok" and diagnosis["kind"] == "sensor_fault":
        named = ", ".join(s["sensor"] for s in diagnosis["suspect_sensors"])
        return "watch", [f"quality within limits, but a sensor is faulty ({named}): {diagnosis['action']}"]
    return verdict, reasons


def standing(doc: dict) -> set[str]:
    """Every alert a report holds: a retrain required, each faulty sensor the diagnosis names, and each
    chunk's alerts ('chunk 3 of 1000: drift:<column>'; chunk indexes count from the model's go-live). Pure."""
    out = {"retrain_required"} if doc["verdict"] == "retrain_required" else set()
    if doc["diagnosis"]["kind"] == "sensor_fault":
        out |= {f"sensor_fault:{s['sensor']}" for s in doc["diagnosis"]["suspect_sensors"]}
    size = (doc.get("history") or {}).get("chunk_size")  # a report written before chunks has none
    return out | {f"chunk {c['index']} of {size}: {name}" for c in doc.get("chunks", []) for name in c["alerts"]}


def raised(previous: dict | None, doc: dict) -> list[str]:
    """The alerts this report holds that the one before it, for the same model, did not: what
    monitor.alert_command is run for, so a rerun (make monitor-watch) does not page again for what
    it already said. Pure."""
    before = standing(previous) if previous and previous["model_version"] == doc["model_version"] else set()
    return sorted(standing(doc) - before, key=lambda a: (a.startswith("chunk"), a))


def previous_report(settings: dict) -> dict | None:
    """The newest report before this run, or None; one that cannot be read is said and taken as none
    (every alert then counts as new: a page too many, never one too few)."""
    try:
        return latest_report(settings)
    except ClockworkError as exc:
        log.warning("the previous monitor report: %s; every alert counts as new", exc)
        return None


def alert_environment(doc: dict) -> dict[str, str]:
    """What the alert command finds in its environment besides the report's path, so a pager script
    can say it without reading JSON: the new alerts (one per line), the verdict, the diagnosis and the
    model. Pure."""
    return {"CLOCKWORK_ALERTS": "\n".join(doc["raised"]), "CLOCKWORK_VERDICT": doc["verdict"],
            "CLOCKWORK_DIAGNOSIS": doc["diagnosis"]["kind"], "CLOCKWORK_MODEL_VERSION": doc["model_version"],
            "CLOCKWORK_REPORT_ID": doc["report_id"]}


def run_alert(settings: dict, report: Path, environment: dict[str, str] | None = None) -> str:
    """Run monitor.alert_command (a list of arguments, never a shell line) with the report's path added
    and `environment` (alert_environment) beside the caller's, within monitor.alert_timeout_s; what
    happened, in a few words. Its failure is said, never fatal."""
    import os
    import subprocess

    command = [*settings["alert_command"], str(report)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=settings["alert_timeout_s"],
                              stdin=subprocess.DEVNULL, env={**os.environ, **(environment or {})})
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("monitor.alert_command failed: %s", exc)
        return f"monitor.alert_command failed: {exc}"
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        log.warning("monitor.alert_command exited %d: %s", done.returncode, last)
        return f"monitor.alert_command exited {done.returncode}: {last}"
    return f"sent ({command[0]} exited 0)"


def drift_text(drift: dict, predictions: int) -> str:
    """The drift verdict in a few words, or why there is none. Pure."""
    if drift.get("judged") is False:
        return f"not enough data: {predictions} predictions in the window, {drift['needed']} needed (monitor.min_drift_rows)"
    return f"{', '.join(drift['drifted']) or 'none'} ({drift['drifted_share']:.0%} of features)"


def history_lines(doc: dict) -> list[str]:
    """The history in a line or two: its chunks, and the latest measured chunk's estimate and alerts. Pure."""
    run, chunks = doc["history"], doc["chunks"]
    if not chunks:
        return []
    lines = [f"  history: {run['predictions']} predictions in {len(chunks)} chunks of {run['chunk_size']} "
             f"({run['measured']} measured now, {run['reused']} read back)"]
    measured = [c for c in chunks if c["judged"]]
    if measured:
        chunk = measured[-1]
        f1 = (chunk["estimated"] or {}).get("f1")
        estimate = (f"estimated F1 {f1['value']:.3f} (interval {f1['interval'][0]:.3f} to {f1['interval'][1]:.3f}, "
                    f"band {f1['band'][0]:.3f} to {f1['band'][1]:.3f})" if f1 else
                    "no estimate (the model's card has no calibrator)" if not run["calibrated"] else "no estimate")
        realized = (chunk.get("realized") or {}).get("f1")
        lines.append(f"  chunk {chunk['index']}: {estimate}, realized {'-' if realized is None else f'{realized:.3f}'} "
                     f"(limit {run['f1_limit']:.3f}); alerts: {', '.join(chunk['alerts']) or 'none'}")
    return lines


def summary(doc: dict) -> str:
    """A few readable lines for people."""
    w, q = doc["window"], doc["quality"]
    lines = [f"model {doc['model_version']}: {w['predictions']} predictions in the window, {w['labelled']} labelled"]
    if q:
        o = q["overall"]
        lines.append(f"  error rate {o['error_rate']} (baseline {doc['baseline']['error_rate']}), precision {o['precision']}, "
                     f"recall {o['recall']}, F1 {o['f1']}")
    lines.append(f"  drift: {drift_text(doc['drift'], w['predictions'])}")
    lines += history_lines(doc)
    lines.append(f"  verdict: {doc['verdict']} - {'; '.join(doc['reasons'])}")
    if doc.get("withdraws"):
        lines.append(f"  withdrawn: the retrain flag of report {doc['withdraws']['report_id']}, raised on F1 estimated "
                     "before labels: the labels now on hand do not require a retrain")
    if doc.get("raised"):
        shown = doc["raised"][:SHOWN_ALERTS]
        more = f" and {len(doc['raised']) - len(shown)} more (the report's `raised`)" if len(doc["raised"]) > len(shown) else ""
        lines.append(f"  new alerts: {', '.join(shown)}{more}")
    diagnosis = doc["diagnosis"]
    lines.append(f"  diagnosis: {diagnosis['kind']} - {diagnosis['action']}")
    for suspect in diagnosis["suspect_sensors"]:
        low, high = suspect["interval"]
        lines.append(f"    {suspect['sensor']}: {suspect['fault']} {suspect['estimate']} {suspect['unit']} [{low}, {high}] "
                     f"since prediction {suspect['starts_at']['prediction_id']} ({suspect['starts_at']['time']})")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watch", action="store_true", help="rerun every monitor.watch_interval_s until stopped")
    args = parser.parse_args(argv)
    while True:
        params = load_params()
        doc = report(params)
        path = publish(params, doc)
        print(summary(doc))
        print(f"  report: {path.relative_to(repo_path('.'))}", flush=True)
        if doc["raised"] and params["monitor"]["alert_command"]:
            print(f"  alert: {run_alert(params['monitor'], path, alert_environment(doc))}", flush=True)
        if not args.watch:
            return 0
        time.sleep(params["monitor"]["watch_interval_s"])


if __name__ == "__main__":
    cli(main)
