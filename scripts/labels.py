"""`make labels FILE=...`: record ground truth (maintenance records) for served predictions.

A label is only evidence if it belongs to a prediction this service made, so a file is
taken whole or not at all: every row must name a prediction_id found in the prediction
log (and, if it gives a UDI, the same UDI); a label that contradicts one already recorded is
refused; one already recorded with the same value is skipped, so importing a file twice is
harmless. `make replay` records its labels through the same check.

Accepted files: CSV with a header (prediction_id, label and optionally udi) or JSON lines
with the same keys.
"""
from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

from scripts.config import ClockworkError, cli, load_params, repo_path, validate
from scripts.store import append_lines, canonical_json, iter_lines, locked, parse_json_line, utc_now

log = logging.getLogger("clockwork.labels")

COLUMNS = ("prediction_id", "label")
ID_KEY = '"prediction_id":"'


def parse_label(row: dict, where: str) -> dict:
    """One incoming row as {prediction_id, label[, udi]}; anything else is an error naming where."""
    missing = [c for c in COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise ClockworkError(f"{where}: missing {', '.join(missing)}")
    label, udi = str(row["label"]).strip(), row.get("udi")
    if label not in ("0", "1"):
        raise ClockworkError(f"{where}: label: {row['label']!r} is not 0 or 1")
    out = {"prediction_id": str(row["prediction_id"]).strip(), "label": int(label)}
    if udi not in (None, ""):
        try:
            out["udi"] = int(str(udi).strip())
        except ValueError:
            raise ClockworkError(f"{where}: udi: {udi!r} is not an integer") from None
    return out


def check_labels(incoming: list[tuple[str, dict]], known: dict[str, int | None], recorded: dict[str, int]) -> list[dict]:
    """The labels to append, given the predictions' UDIs and the labels already recorded.

    Pure: raises ClockworkError naming the first bad row (and how many are bad) for unknown
    predictions, UDI mismatches and contradictions; drops exact repeats.
    """
    unknown = [(where, row) for where, row in incoming if row["prediction_id"] not in known]
    if unknown:
        where, row = unknown[0]
        raise ClockworkError(f"{where}: prediction_id {row['prediction_id']!r} is not a request this service answered "
                             f"({len(unknown)} of {len(incoming)} labels refer to unknown requests; nothing recorded)")
    fresh: dict[str, dict] = {}
    for where, row in incoming:
        pid, udi = row["prediction_id"], known[row["prediction_id"]]
        if "udi" in row and udi is not None and row["udi"] != udi:
            raise ClockworkError(f"{where}: udi {row['udi']} does not match prediction {pid} (udi {udi}); nothing recorded")
        earlier = recorded.get(pid, fresh[pid]["label"] if pid in fresh else None)
        if earlier is not None and earlier != row["label"]:
            raise ClockworkError(f"{where}: label {row['label']} contradicts label {earlier} already given for {pid}; nothing recorded")
        udi = udi if udi is not None else row.get("udi")
        if udi is None:
            raise ClockworkError(f"{where}: prediction {pid} was served without a udi and the label gives none; "
                                 "add a udi column (a label must name its reading); nothing recorded")
        if earlier is None:
            fresh[pid] = {"prediction_id": pid, "udi": udi, "label": row["label"]}
    return list(fresh.values())


def read_label_file(path: Path) -> list[tuple[str, dict]]:
    """(where, row) for each row of a CSV or JSON-lines label file."""
    if not path.is_file():
        raise ClockworkError(f"{path}: no such file")
    if path.suffix == ".jsonl":
        rows = []
        for number, line in iter_lines(path):
            doc = parse_json_line(path, number, line)
            if not isinstance(doc, dict):
                raise ClockworkError(f"{path}: line {number}: not a JSON object")
            rows.append((f"{path}: line {number}", parse_label(doc, f"{path}: line {number}")))
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise ClockworkError(f"{path}: header lacks column(s) {', '.join(absent)} (need prediction_id,label[,udi])")
            rows = [(f"{path}: line {n}", parse_label(row, f"{path}: line {n}")) for n, row in enumerate(reader, 2)]
    else:
        raise ClockworkError(f"{path}: unsupported file type {path.suffix or '(none)'} (use .csv or .jsonl)")
    if not rows:
        raise ClockworkError(f"{path}: no labels in the file")
    return rows


def scan(path: Path, wanted: set[str], field: str) -> dict[str, int | None]:
    """prediction_id -> record[field] for the wanted ids found in a JSON-lines log (streamed).

    Lines this project wrote are compact JSON, so the id is sliced out before parsing and
    only wanted lines are parsed."""
    found: dict[str, int | None] = {}
    for number, line in iter_lines(path):
        start = line.find(ID_KEY) + len(ID_KEY)
        if start >= len(ID_KEY) and line[start:line.find('"', start)] not in wanted:
            continue
        doc = parse_json_line(path, number, line)
        pid = doc.get("prediction_id") if isinstance(doc, dict) else None
        if pid in wanted:
            found[pid] = doc.get(field)
    return found


def record(incoming: list[tuple[str, dict]], dataset: str, params: dict) -> tuple[int, int]:
    """Check and append under the labels lock; returns (recorded, already there)."""
    labels_log = repo_path(params["replay"]["labels_log"])
    predictions_log = repo_path(params["deployment"]["predictions_log"])
    wanted = {row["prediction_id"] for _, row in incoming}
    with locked(labels_log.with_name(labels_log.name + ".lock")):
        known = scan(predictions_log, wanted, "udi")
        recorded = scan(labels_log, wanted, "label")
        fresh = check_labels(incoming, known, recorded)
        arrived = utc_now()
        for row in fresh:
            row.update(time=arrived, dataset=dataset)
            validate(row, "label", str(labels_log))
        append_lines(labels_log, [canonical_json(r) for r in fresh])
    log.info("%d labels recorded, %d already there", len(fresh), len(incoming) - len(fresh))
    return len(fresh), len(incoming) - len(fresh)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, required=True, help="CSV or JSON lines: prediction_id,label[,udi]")
    parser.add_argument("--dataset", help="where the labels came from (default: the file's name)")
    args = parser.parse_args(argv)
    params = load_params()
    incoming = read_label_file(args.file)
    added, repeated = record(incoming, args.dataset or args.file.name, params)
    print(f"{args.file}: {added} labels recorded in {params['replay']['labels_log']}"
          + (f", {repeated} already recorded (skipped)" if repeated else ""))
    return 0


if __name__ == "__main__":
    cli(main)
