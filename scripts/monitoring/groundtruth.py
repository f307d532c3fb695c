"""Ground truth for served predictions: check incoming labels against the prediction log, then record them.

A label is only evidence if it belongs to a prediction this service made, so a batch is taken
whole or not at all (see check_labels). Used by `make labels` and `make replay`.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable

from scripts.core.config import ClockworkError, repo_path, validator_with
from scripts.core.contract import ID_MAX, ID_TEXT_MAX, Column, Contract
from scripts.core.store import append_lines, canonical_json, iter_blocks, iter_lines, locked, parse_json_line, utc_now

# A prediction id in a prediction- or label-log line, found without parsing the line; and a label.
PREDICTION_ID = re.compile(r'"prediction_id":\s*"([^"]+)"')
LABEL = re.compile(r'"label":\s*(-?[0-9]+)[,}]')


def labels_for(lines: Iterable[tuple[int, str]], wanted: set[str] | None, path: Path) -> tuple[dict[str, int], int]:
    """The labels of the wanted prediction ids (every label when wanted is None), streamed from a label
    log's (number, line) pairs, and how many lines are for other predictions."""
    found, others = {}, 0
    for number, line in lines:
        match = PREDICTION_ID.search(line)
        if match and (wanted is None or match.group(1) in wanted):
            record = parse_json_line(path, number, line)
            found[record["prediction_id"]] = record["label"]
        else:
            others += 1
    return found, others


def labels_in(path: Path, wanted: set[str] | None = None) -> tuple[dict[str, int], int]:
    """labels_for over a whole label log, a block of lines at a time: two passes of a compiled pattern
    find each block's prediction ids and labels (1.5 s for a million labels, against 3.6 s line by
    line), as the monitor reads a chunk's outcomes, without parsing each line whole (a line damaged
    elsewhere than in those two fields is read by them). Should a block hold a line they do not pair
    up on (blank, escaped, CR-ended, another shape), the log is read again line by line by labels_for,
    which names a bad line."""
    found, others = {}, 0
    for text in iter_blocks(path):
        ids, labels = PREDICTION_ID.findall(text), LABEL.findall(text)
        if "\\" in text or "\r" in text or not len(ids) == len(labels) == text.count("\n"):
            return labels_for(iter_lines(path), wanted, path)
        if wanted is None:
            found.update(zip(ids, map(int, labels), strict=True))
            continue
        for pid, label in zip(ids, labels, strict=True):
            if pid in wanted:
                found[pid] = int(label)
            else:
                others += 1
    return found, others


log = logging.getLogger("clockwork.labels")

COLUMNS = ("prediction_id", "label")
ID_KEY = '"prediction_id":"'


def _row_id(value: object, column: Column, where: str) -> object:
    """A label's row id as the prediction log holds it: an integer in range, or non-empty text."""
    text = str(value).strip()
    if column.text_id:
        if not 0 < len(text) <= ID_TEXT_MAX:
            raise ClockworkError(f"{where}: {column.name}: {value!r} is not a row id (1 to {ID_TEXT_MAX} characters)")
        return text
    try:
        number = int(text)
    except ValueError:
        raise ClockworkError(f"{where}: {column.name}: {value!r} is not an integer") from None
    if not 0 <= number <= ID_MAX:
        raise ClockworkError(f"{where}: {column.name}: {number} is outside 0..{ID_MAX}, the range /predict accepts")
    return number


def parse_label(row: dict, where: str, id_column: Column | None) -> dict:
    """One incoming row as {prediction_id, label[, row id]}; anything else is an error naming where. The
    row id is the data set's id column (id_column), under its name."""
    missing = [c for c in COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise ClockworkError(f"{where}: missing {', '.join(missing)}")
    key = id_column.name if id_column else None
    for name in (*COLUMNS, *([key] if key else [])):  # a value is text or a number: never an array or object
        if isinstance(row.get(name), (list, dict)):
            raise ClockworkError(f"{where}: {name}: an {'array' if isinstance(row[name], list) else 'object'}, "
                                 "not a value (expected text or a number)")
    label = str(row["label"]).strip()
    if label not in ("0", "1"):
        raise ClockworkError(f"{where}: label: {row['label']!r} is not 0 or 1")
    out = {"prediction_id": str(row["prediction_id"]).strip(), "label": int(label)}
    if key and row.get(key) not in (None, ""):
        out[key] = _row_id(row[key], id_column, where)
    return out


def check_labels(incoming: list[tuple[str, dict]], known: dict[str, object], recorded: dict[str, int],
                 key: str | None) -> list[dict]:
    """The labels to append, given the predictions' row ids (under key, the id column's name; None when
    the data set has none) and the labels already recorded.

    Pure: raises ClockworkError naming the first bad row (and how many are bad) for unknown
    predictions, row id mismatches and contradictions; drops exact repeats.
    """
    unknown = [(where, row) for where, row in incoming if row["prediction_id"] not in known]
    if unknown:
        where, row = unknown[0]
        raise ClockworkError(f"{where}: prediction_id {row['prediction_id']!r} is not a request this service answered "
                             f"({len(unknown)} of {len(incoming)} labels refer to unknown requests; nothing recorded)")
    fresh: dict[str, dict] = {}
    for where, row in incoming:
        pid, served = row["prediction_id"], known[row["prediction_id"]]
        if key and key in row and served is not None and row[key] != served:
            raise ClockworkError(f"{where}: {key} {row[key]} does not match prediction {pid} ({key} {served}); "
                                 "nothing recorded")
        earlier = recorded.get(pid, fresh[pid]["label"] if pid in fresh else None)
        if earlier is not None and earlier != row["label"]:
            raise ClockworkError(f"{where}: label {row['label']} contradicts label {earlier} already given for {pid}; nothing recorded")
        if key and (served if served is not None else row.get(key)) is None:
            raise ClockworkError(f"{where}: prediction {pid} was served without a {key} and the label gives none; "
                                 f"add a {key} column (a label must name its reading); nothing recorded")
        if earlier is None:
            fresh[pid] = {"prediction_id": pid, **({key: served if served is not None else row[key]} if key else {}),
                          "label": row["label"]}
    return list(fresh.values())


def scan(path: Path, wanted: set[str], field: str | None) -> dict[str, object]:
    """prediction_id -> record[field] (None without a field) for the wanted ids found in a JSON-lines log (streamed).

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
            found[pid] = doc.get(field) if field else None
    return found


def record(incoming: list[tuple[str, dict]], dataset: str, params: dict) -> tuple[int, int]:
    """Check and append under the labels lock; returns (recorded, already there)."""
    labels_log = repo_path(params["replay"]["labels_log"])
    predictions_log = repo_path(params["deployment"]["predictions_log"])
    wanted = {row["prediction_id"] for _, row in incoming}
    id_column = Contract.from_params(params["dataset"]).id
    key = id_column.name if id_column else None
    check = validator_with("label", {key: id_column.id_schema()} if key else {}, [key] if key else [])
    with locked(labels_log.with_name(labels_log.name + ".lock")):
        known = scan(predictions_log, wanted, key)
        recorded = scan(labels_log, wanted, "label")
        fresh = check_labels(incoming, known, recorded, key)
        arrived = utc_now()
        for row in fresh:
            row.update(time=arrived, dataset=dataset)
            check(row, str(labels_log))
        append_lines(labels_log, [canonical_json(r) for r in fresh])
    log.info("%d labels recorded, %d already there", len(fresh), len(incoming) - len(fresh))
    return len(fresh), len(incoming) - len(fresh)
