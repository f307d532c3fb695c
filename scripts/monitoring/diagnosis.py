"""What kind of change the monitor sees, with the evidence, and what to do about it. Pure.

Real machines keep relations between their readings that a faulty sensor breaks; params'
dataset.relations declares them (two readings whose product is a physical quantity, or one
that follows another at a steady offset). Where no relation is declared, each
numeric sensor is predicted from the others by a line learned on the training rows (kept where
it explains at least min_r2 of the sensor's variance); a sensor whose readings leave that line
and move from training is the suspect. A change that breaks a declared
relation and moves one of its sensors' readings, not the other's, is that sensor's fault: the
gain of a product's sensor (a ratio) or the bias of a difference's (in its unit) is estimated
with a confidence interval on the readings after the change point (ruptures), which names the
first prediction it affects. A difference may wander with the seasons (temperatures often do),
so its fault is judged as a step at the change point against the readings just before it, not
against training: a fault that began before the window is not seen there. A sensor stuck at one value, or much noisier than
in training, is caught too. Readings that move while the relations hold are covariate
drift; a quality drop on labelled data without either is concept drift; a changed failure
rate is label shift.

kinds, each with its action:
  sensor_fault       fix or recalibrate the sensor; retraining would teach the model the fault
  covariate_drift    retrain if quality dropped, else keep watching
  label_shift        retrain, and check the labels' source
  concept_drift      retrain
  not_enough_evidence  wait for more labels (says how many)
  none               nothing to do
"""
from __future__ import annotations

from typing import Any

import numpy as np

from scripts.core.lines import fit_lines

ACTIONS = {
    "sensor_fault": "fix or recalibrate the sensor; do not retrain on its readings (FORCE=1 make retrain overrides)",
    "covariate_drift": "retrain if quality dropped; otherwise keep watching",
    "label_shift": "retrain, and check how the labels are produced",
    "concept_drift": "retrain on recent labelled data",
    "not_enough_evidence": "keep watching until enough labels arrive",
    "none": "nothing to do",
}


def settings_of(monitor: dict, contract: Any) -> dict:
    """The diagnosis's settings: params' monitor.diagnosis, the monitor's p-value and minimum labels, the
    contract's declared relations and its numeric inputs (the sensors a reading may be stuck on)."""
    return {**monitor["diagnosis"], "p_value": monitor["p_value"], "min_labels": monitor["min_labels"],
            "relations": contract.relations, "sensors": tuple(contract.numeric_inputs)}


def relation_values(frame: Any, relation: dict) -> np.ndarray:
    """The relation's value per reading (NaN where it is undefined, e.g. a zero in a product)."""
    a, b = (np.asarray(frame[s], dtype="float64") for s in relation["sensors"])
    if relation["fault"] == "bias":
        return b - a
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a) + np.log(b)
    out[~np.isfinite(out)] = np.nan
    return out


def _welch(current: np.ndarray, reference: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """Mean difference current - reference, its interval and the Welch t-test's p-value."""
    from scipy import stats

    result = stats.ttest_ind(current, reference, equal_var=False)
    interval = result.confidence_interval(confidence)
    return float(np.mean(current) - np.mean(reference)), float(interval.low), float(interval.high), float(result.pvalue)


def change_point(signal: np.ndarray, min_size: int) -> int:
    """Index of the single most likely mean shift in the signal (ruptures, exact dynamic programming);
    0 when the signal is too short to split."""
    import ruptures

    if len(signal) < 2 * min_size:
        return 0
    return int(ruptures.Dynp(model="l2", min_size=min_size, jump=5).fit(signal.reshape(-1, 1)).predict(n_bkps=1)[0])


def _start(signal: np.ndarray, reference_mean: float, settings: dict, tolerance: float) -> int:
    """Where the fault starts: the change point when the readings before it still agree with the
    reference, else the start of the window."""
    split = change_point(signal, settings["min_segment"])
    if split and abs(np.mean(signal[:split]) - reference_mean) < tolerance:
        return split
    return 0


def _moved(before: Any, after: Any, sensors: tuple, p_value: float) -> dict[str, float]:
    """The sensors whose readings differ between two sets of rows (KS p-value below p_value), by p."""
    from scipy import stats

    out = {}
    for sensor in sensors:
        p = float(stats.ks_2samp(np.asarray(before[sensor], dtype="float64"), np.asarray(after[sensor], dtype="float64")).pvalue)
        if p < p_value:
            out[sensor] = p
    return out


def _relation_fault(name: str, reference: Any, current: Any, settings: dict) -> dict | None:
    """A broken relation with its suspect sensor, fault, estimate and start; None if it holds."""
    relation = settings["relations"][name]
    ref_all, cur_all = relation_values(reference, relation), relation_values(current, relation)
    ref, keep = ref_all[~np.isnan(ref_all)], ~np.isnan(cur_all)
    cur, rows = cur_all[keep], np.flatnonzero(keep)
    if len(cur) < settings["min_rows"]:
        return None
    noise = _noise(name, ref, cur, reference, current, settings)
    if noise is not None:
        return noise
    if relation["baseline"] == "local":
        return _step(name, cur, rows, current, settings)
    return _against_training(name, ref, cur, rows, reference, current, settings)


def _against_training(name: str, ref: np.ndarray, cur: np.ndarray, rows: np.ndarray, reference: Any, current: Any,
                      settings: dict) -> dict | None:
    """A gain fault: the relation and one sensor's readings moved away from training."""
    tolerance = np.log1p(settings["min_gain"])
    shift, _, _, p = _welch(cur, ref, settings["confidence"])
    if p >= settings["p_value"] or abs(shift) < tolerance / 2:
        return None
    start = _start(cur, float(np.mean(ref)), settings, tolerance)
    relation = settings["relations"][name]
    moved = _moved(reference, current.iloc[rows[start:]], relation["sensors"], settings["p_value"])
    if len(moved) != 1:
        return None  # both moved (the machines changed) or neither (no sensor to name)
    shift, low, high, _ = _welch(cur[start:], ref, settings["confidence"])
    if abs(shift) < tolerance:
        return None
    return _suspect(next(iter(moved)), "gain", float(np.exp(shift)), [float(np.exp(low)), float(np.exp(high))], name,
                    int(rows[start]), f"{relation['text']} is {np.exp(shift):.3f}x its training level "
                                      "while only this sensor's readings moved")


def _step(name: str, cur: np.ndarray, rows: np.ndarray, current: Any, settings: dict) -> dict | None:
    """A bias fault: a step in the relation at the change point, and in one sensor's readings there."""
    split = change_point(cur, settings["min_segment"])
    if not split:
        return None
    width, relation = settings["local_rows"], settings["relations"][name]
    before, after = slice(max(0, split - width), split), slice(split, split + width)
    shift, _, _, p = _welch(cur[after], cur[before], settings["confidence"])
    if p >= settings["p_value"] or abs(shift) < relation["min_step"] / 2:
        return None
    sensors, unit = relation["sensors"], relation["unit"]
    frame_before, frame_after = current.iloc[rows[before]], current.iloc[rows[after]]
    steps = {s: _welch(np.asarray(frame_after[s], dtype="float64"), np.asarray(frame_before[s], dtype="float64"),
                       settings["confidence"]) for s in sensors}
    moved = _moved(frame_before, frame_after, sensors, settings["p_value"])
    sensor = max(moved or steps, key=lambda s: abs(steps[s][0]))
    step, low, high, _ = steps[sensor]
    expected = np.sign(shift) if sensor == sensors[1] else -np.sign(shift)  # b up, or a down, widens b - a
    if sensor not in moved or abs(step) < relation["min_step"] or np.sign(step) != expected:
        return None
    return _suspect(sensor, "bias", step, [low, high], name, int(rows[split]),
                    f"{relation['text']} stepped by {shift:+.2f} {unit} at this prediction, and {sensor}'s readings "
                    f"by {step:+.2f} {unit} ({width} readings either side)", unit)


def _noise(name: str, ref: np.ndarray, cur: np.ndarray, reference: Any, current: Any, settings: dict) -> dict | None:
    """A noisy sensor: the reading-to-reading jitter of the relation grew, and one sensor's with it.
    Differences of consecutive readings ignore slow wandering and a single step."""
    from scipy import stats

    ref_jitter, cur_jitter = np.diff(ref), np.diff(cur)
    spread = float(np.std(cur_jitter) / max(np.std(ref_jitter), 1e-12))
    if spread < settings["noise_ratio"] or stats.levene(cur_jitter, ref_jitter).pvalue >= settings["p_value"]:
        return None

    def jitter(frame: Any, sensor: str) -> float:
        return float(np.std(np.diff(np.asarray(frame[sensor], dtype="float64"))))
    relation = settings["relations"][name]
    ratios = {s: jitter(current, s) / max(jitter(reference, s), 1e-12) for s in relation["sensors"]}
    sensor = max(ratios, key=ratios.get)
    return _suspect(sensor, "noise", spread, _ratio_interval(cur_jitter, ref_jitter, settings["confidence"]), name, 0,
                    f"the jitter of {relation['text']} is {spread:.2f}x its training jitter, and {sensor}'s "
                    f"{ratios[sensor]:.2f}x")


def _suspect(sensor: str, fault: str, value: float, interval: list[float], relation: str | None, start: int,
             evidence: str, unit: str | None = None) -> dict:
    """unit: a bias's, in its relation's declared unit."""
    return {"sensor": sensor, "fault": fault, "estimate": round(value, 4),
            "interval": [round(float(interval[0]), 4), round(float(interval[1]), 4)],
            "unit": unit or {"gain": "ratio", "noise": "ratio", "stuck": "reading"}[fault],
            "relation": relation, "start_index": start, "evidence": evidence}


def _ratio_interval(cur: np.ndarray, ref: np.ndarray, confidence: float) -> list[float]:
    """Interval of the ratio of standard deviations (F distribution)."""
    from scipy import stats

    ratio = np.var(cur, ddof=1) / np.var(ref, ddof=1)
    tail = (1 - confidence) / 2
    lo = ratio / stats.f.ppf(1 - tail, len(cur) - 1, len(ref) - 1)
    hi = ratio / stats.f.ppf(tail, len(cur) - 1, len(ref) - 1)
    return [float(np.sqrt(lo)), float(np.sqrt(hi))]


def stuck_sensors(reference: Any, current: Any, settings: dict) -> list[dict]:
    """Sensors reading one value far more often than they ever did."""
    out = []
    for sensor in settings["sensors"]:
        cur = np.asarray(current[sensor], dtype="float64")
        if len(cur) < settings["min_rows"]:
            continue
        values, counts = np.unique(cur, return_counts=True)
        value, share = values[np.argmax(counts)], counts.max() / len(cur)
        reference_share = float(np.mean(np.asarray(reference[sensor], dtype="float64") == value))
        if share >= settings["stuck_share"] and share >= 10 * reference_share:
            signal = (cur == value).astype("float64")
            start = _start(signal, reference_share, settings, settings["stuck_share"] / 2)
            out.append(_suspect(sensor, "stuck", float(value), [float(value)] * 2, None, start,
                                f"{share:.0%} of the window reads exactly {value:g} (training data: {reference_share:.1%})"))
    return out


def suspects(reference: Any, current: Any, settings: dict) -> list[dict]:
    """Every sensor with a fault, stuck ones first, then the declared relations', then the learned
    relations' (at most one: the sensor whose own relation moved most); one entry per sensor."""
    found = stuck_sensors(reference, current, settings)
    named = {s["sensor"] for s in found}
    for name in settings["relations"]:
        fault = _relation_fault(name, reference, current, settings)
        if fault is not None and fault["sensor"] not in named:
            found.append(fault)
            named.add(fault["sensor"])
    learned = learned_relations(reference, settings)
    broken = [f for f in (_learned_fault(rel, reference, current, settings) for rel in learned.values()) if f]
    broken = [f for f in broken if f["sensor"] not in named]
    if broken:
        found.append(max(broken, key=lambda f: f.pop("_z")))  # another sensor's fault leaks into its relation, less
    return found


def learned_relations(reference: Any, settings: dict) -> dict[str, dict]:
    """Each numeric sensor that no declared relation covers, as a least-squares line on the other
    sensors fitted on the training rows, kept when it explains at least diagnosis.min_r2 of the
    sensor's variance: how the columns move together, learned on any data."""
    covered = {s for relation in settings["relations"].values() for s in relation["sensors"]}
    names = [s for s in settings["sensors"] if s in reference]
    return fit_lines(reference, names, settings["min_r2"], covered, settings["min_rows"])


def _learned_fault(relation: dict, reference: Any, current: Any, settings: dict) -> dict | None:
    """A sensor whose readings left what the other sensors predict (its learned relation), from a change
    point on, while its readings moved from training: its shift, in its own units, with an interval."""
    name, others = relation["sensor"], relation["others"]
    values = np.asarray(current[[name, *others]], dtype="float64")
    rows = np.flatnonzero(~np.isnan(values).any(axis=1))
    if len(rows) < settings["min_rows"]:
        return None
    x = np.column_stack([np.ones(len(rows)), values[rows, 1:]])
    cur, ref = values[rows, 0] - x @ relation["coefficients"], relation["residuals"]
    tolerance = settings["min_shift_sd"] * float(np.std(ref))
    shift, _, _, p = _welch(cur, ref, settings["confidence"])
    if p >= settings["p_value"] or abs(shift) < tolerance:
        return None
    start = _start(cur, float(np.mean(ref)), settings, tolerance)
    if name not in _moved(reference, current.iloc[rows[start:]], (name,), settings["p_value"]):
        return None  # its readings hold: another sensor's fault shows in this relation
    shift, low, high, _ = _welch(cur[start:], ref, settings["confidence"])
    text = f"{name} from {', '.join(others)}"
    found = _suspect(name, "bias", shift, [low, high], f"learned: {text}", int(rows[start]),
                     f"{name} reads {shift:+.4g} off what {', '.join(others)} predict (a line learned on the training "
                     f"rows, R² {relation['r2']:.2f}), and its readings moved from training", "units")
    return {**found, "_z": abs(shift) / max(float(np.std(ref)), 1e-12)}


def label_rate(y: np.ndarray, reference_rate: float, p_value: float) -> dict:
    """The labelled window's failure rate against the training rate (exact binomial test)."""
    from scipy import stats

    labelled = y[y >= 0]
    if not len(labelled):
        return {"labelled": 0, "window": None, "reference": reference_rate, "p_value": None, "shifted": False}
    k = int(labelled.sum())
    p = float(stats.binomtest(k, len(labelled), reference_rate).pvalue)
    return {"labelled": int(len(labelled)), "window": round(k / len(labelled), 6), "reference": round(reference_rate, 6),
            "p_value": float(f"{p:.6g}"), "shifted": p < p_value}


def classify(found: list[dict], inputs_drifted: list[str], labels: dict, recall_dropped: bool | None,
             min_labels: int) -> tuple[str, list[str]]:
    """The kind of change and the evidence for it, from the pieces above. Under label shift the
    model still finds the failures it knew (recall holds); under concept drift it misses new ones."""
    if found:
        return "sensor_fault", [f"{s['sensor']}: {s['fault']} {s['estimate']} {s['unit']} "
                                f"[{s['interval'][0]}, {s['interval'][1]}]; {s['evidence']}" for s in found]
    enough = labels["labelled"] >= min_labels
    if enough and recall_dropped:
        return "concept_drift", ["recall dropped on labelled data while the sensors' relations held: the model "
                                 "misses failures it used to find"]
    if enough and labels["shifted"]:
        return "label_shift", [f"failure rate {labels['window']} against {labels['reference']} in the baseline "
                               f"(binomial test p = {labels['p_value']}), recall held"]
    if inputs_drifted:
        return "covariate_drift", [f"readings moved together ({', '.join(inputs_drifted)}) while the sensors' "
                                   "relations held"]
    if not enough:
        return "not_enough_evidence", [f"{labels['labelled']} labelled predictions; {min_labels} are needed to judge quality"]
    return "none", ["readings, relations, failure rate and recall as in the baseline"]


def diagnose(reference: Any, current: Any, y: np.ndarray, inputs_drifted: list[str], recall_dropped: bool | None,
             baseline_rate: float, settings: dict) -> dict:
    """The diagnosis of one monitor window (readings in log order, labels -1 where none arrived)
    against the training readings and the baseline failure rate (the monitor's baseline split)."""
    found = suspects(reference, current, settings) if len(current) else []
    labels = label_rate(y, baseline_rate, settings["p_value"])
    kind, evidence = classify(found, inputs_drifted, labels, recall_dropped, settings["min_labels"])
    return {"kind": kind, "action": ACTIONS[kind], "evidence": evidence, "suspect_sensors": found, "label_rate": labels}


def _step_fault(suspect: dict, relations: dict) -> bool:
    """A step in a declared relation judged against the readings just before it (not against training):
    later chunks cannot see it again."""
    return suspect["fault"] == "bias" and relations.get(suspect["relation"], {}).get("baseline") == "local"


def over_history(window: list[dict], chunks: list[dict], relations: dict) -> list[dict]:
    """Every faulty sensor over the model's history, each dated to the first chunk of its fault. A sensor
    counts when the window names it, when the latest measured chunk does, or when a chunk found a step
    in it (a step is seen only where it happens) and no later chunk named it again. Its start is the
    first prediction of the run of consecutive measured chunks naming it that ends at the last one
    that does. chunks: the monitor's, in order, each with its `suspects`. Pure."""
    measured = [c for c in chunks if c["judged"]]
    named: dict[str, list[tuple[int, dict]]] = {}
    for place, chunk in enumerate(measured):
        for suspect in chunk["suspects"]:
            named.setdefault(suspect["sensor"], []).append((place, suspect))
    out = []
    for suspect in window:  # the window overlaps the last one or two chunks: an older run is another fault
        runs = named.pop(suspect["sensor"], [])
        out.append(_dated(suspect, runs, measured) if runs and runs[-1][0] >= len(measured) - 2 else suspect)
    for runs in named.values():
        place, latest = runs[-1]
        if place == len(measured) - 1 or _step_fault(latest, relations):
            out.append(_dated(latest, runs, measured))
    return out


def _dated(suspect: dict, runs: list[tuple[int, dict]], measured: list[dict]) -> dict:
    """The suspect with its start moved to the first chunk of its latest run of consecutive chunks."""
    first = len(runs) - 1
    while first and runs[first - 1][0] == runs[first][0] - 1:
        first -= 1
    place, earliest = runs[first]
    return {**suspect, "starts_at": earliest["starts_at"], "chunk": measured[place]["index"]}
