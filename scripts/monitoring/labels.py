"""`make labels FILE=...`: record ground truth (maintenance records) for served predictions.

A label is only evidence if it belongs to a prediction this service made, so a file is
taken whole or not at all: every row must name a prediction_id found in the prediction
log (and, if it gives the row id, the same one); a label that contradicts one already recorded is
refused; one already recorded with the same value is skipped, so importing a file twice is
harmless. `make replay` records its labels through the same check.

Accepted files: CSV with a header (prediction_id, label and optionally the data set's id column, dataset.id) or JSON lines
with the same keys.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from scripts.core.config import ClockworkError, cli, load_params, missing
from scripts.core.contract import Column, Contract
from scripts.core.store import iter_lines, parse_json_line
from scripts.monitoring.groundtruth import COLUMNS, parse_label, record


def read_label_file(path: Path, id_column: Column | None) -> list[tuple[str, dict]]:
    """(where, row) for each row of a CSV or JSON-lines label file; a binary or empty file is named as such."""
    if not path.is_file():
        raise ClockworkError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ClockworkError(f"{path}: empty file (expected a header prediction_id,label[,row id] and one row per label)")
    try:
        return _rows(path, id_column)
    except UnicodeDecodeError as exc:
        raise ClockworkError(f"{path}: not UTF-8 text (byte {exc.start}); expected a CSV or JSON-lines file") from None


def _rows(path: Path, id_column: Column | None) -> list[tuple[str, dict]]:
    if path.suffix == ".jsonl":
        rows = []
        for number, line in iter_lines(path):
            doc = parse_json_line(path, number, line)
            if not isinstance(doc, dict):
                raise ClockworkError(f"{path}: line {number}: not a JSON object")
            rows.append((f"{path}: line {number}", parse_label(doc, f"{path}: line {number}", id_column)))
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise ClockworkError(f"{path}: header lacks column(s) {', '.join(absent)} (need prediction_id,label[,row id])")
            rows = [(f"{path}: line {n}", parse_label(row, f"{path}: line {n}", id_column)) for n, row in enumerate(reader, 2)]
    else:
        raise ClockworkError(f"{path}: unsupported file type {path.suffix or '(none)'} (use .csv or .jsonl)")
    if not rows:
        raise ClockworkError(f"{path}: no labels in the file")
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", required=True, help="CSV or JSON lines: prediction_id,label[,row id]",
                        type=missing("FILE", "make labels FILE=labels.csv; columns prediction_id,label[,row id]"))
    parser.add_argument("--dataset", help="where the labels came from (default: the file's name)")
    args = parser.parse_args(argv)
    params = load_params()
    args.file = Path(args.file)
    incoming = read_label_file(args.file, Contract.from_params(params["dataset"]).id)
    added, repeated = record(incoming, args.dataset or args.file.name, params)
    print(f"{args.file}: {added} labels recorded in {params['replay']['labels_log']}"
          + (f", {repeated} already recorded (skipped)" if repeated else ""))
    return 0


if __name__ == "__main__":
    cli(main)
