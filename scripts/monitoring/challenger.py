"""`make challenger`: is the challenger better than production on the traffic both have seen?

While the registry names a challenger (`make challenge VERSION=vN`), the server scores every
production request with it too and logs those predictions to deployment.shadow_log under the
same prediction ids, never returning them. This command takes every shadow prediction of the
current challenger whose label has arrived, pairs it with production's prediction of the same
reading, and compares the two on those rows: the F1 difference with a paired bootstrap interval
(the evaluate gates' bootstrap and min_positives). The verdict is "better" when the interval's
lower bound is above challenger.min_f1_gain, "not better", or "not enough evidence". It prints
the figures and the command that would promote the challenger, and writes a schema-checked
report to challenger.reports_dir/<time>.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scripts.core import registry as R
from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.gates import f1_difference
from scripts.core.store import compact_time, iter_lines, parse_json_line, utc_now, write_json
from scripts.monitoring.groundtruth import PREDICTION_ID, labels_in


def predictions_of(path: Path, version: str, wanted: set[str] | None = None) -> dict[str, int]:
    """prediction id -> the 0/1 prediction, for one model version's lines (only the wanted ids, if given)."""
    out = {}
    for number, line in iter_lines(path):
        match = PREDICTION_ID.search(line)
        if match and (wanted is None or match.group(1) in wanted):
            record = parse_json_line(path, number, line)
            if record["model_version"] == version:
                out[record["prediction_id"]] = record["prediction"]
    return out


def verdict(comparison: dict, min_positives: int, min_gain: float) -> tuple[str, str]:
    """The verdict and one line saying why. Pure."""
    if comparison["positives"] < min_positives:
        return "not_enough_evidence", (f"{comparison['positives']} failures among the {comparison['rows']} labelled "
                                       f"readings both scored; at least {min_positives} are needed")
    line = (f"F1 difference {comparison['difference']:+.3f}, interval [{comparison['low']:+.3f}, {comparison['high']:+.3f}] "
            f"over {comparison['rows']} labelled readings ({comparison['positives']} failures)")
    if comparison["low"] > min_gain:  # a tie (an interval of +0.000 at both ends) is not better
        return "better", f"{line}: the lower bound is above {min_gain:+.3f}"
    return "not_better", f"{line}: the lower bound is not above {min_gain:+.3f}"


def report(params: dict) -> dict:
    """The comparison of the current challenger with production on their shared, labelled traffic."""
    registry = R.load(params["paths"])
    challenger, production = registry["aliases"].get("challenger"), registry["aliases"]["production"]
    if challenger is None:
        raise ClockworkError(f"{params['paths']['registry']}: no challenger (make challenge VERSION=vN starts one)")
    shadow = predictions_of(repo_path(params["deployment"]["shadow_log"]), challenger)
    live = predictions_of(repo_path(params["deployment"]["predictions_log"]), production, set(shadow))
    labels_log = repo_path(params["replay"]["labels_log"])
    labels, _ = labels_in(labels_log, set(live))
    ids = [i for i in shadow if i in live and i in labels]
    y = np.array([labels[i] for i in ids], dtype=bool)
    comparison = f1_difference(y, [shadow[i] for i in ids], [live[i] for i in ids], params["evaluate"]["gates"]["bootstrap"])
    kind, why = verdict(comparison, params["evaluate"]["gates"]["min_positives"], params["challenger"]["min_f1_gain"])
    return {"created_at": utc_now(), "challenger": challenger, "production": production,
            "shadow_predictions": len(shadow), "comparison": comparison, "verdict": kind, "reason": why}


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    params = load_params()
    doc = report(params)
    path = repo_path(params["challenger"]["reports_dir"]) / f"{compact_time(doc['created_at'])}.json"
    write_json(path, doc, "challenger_report")
    print(f"challenger {doc['challenger']} against production {doc['production']}: {doc['verdict']}")
    print(f"  {doc['reason']} ({doc['shadow_predictions']} shadow predictions in all)")
    if doc["verdict"] == "better":
        print(f"  make promote VERSION={doc['challenger']} REASON=\"challenger report {path.name}\"")
    print(f"  report: {path.relative_to(repo_path('.'))}")
    return 0


if __name__ == "__main__":
    cli(main)
