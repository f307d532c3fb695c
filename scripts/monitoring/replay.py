"""`make replay DATASET=name`: send a simulated dataset through the running API over HTTP.

Readings go in batches of replay.batch_size at replay.rate_per_s, each with its row id (the data
set's id column, when it has one) so the prediction log can be joined with ground truth. When the replay is done the labels
"arrive", as they would from maintenance records: one line per prediction in
logs/labels.jsonl, keyed by prediction id (and row id), recorded through the same check as
`make labels` (scripts/monitoring/labels.py).
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import sys
import time
import uuid
from pathlib import Path

import pandas as pd

from scripts.core.config import ROOT, ClockworkError, cli, load_params, missing, port_number
from scripts.core.contract import Contract
from scripts.monitoring.groundtruth import record as record_labels
from scripts.pipeline.faults import scenario_datasets
from scripts.serving.process import server_address

log = logging.getLogger("clockwork.replay")


def batches(frame: pd.DataFrame, contract: Contract, size: int) -> list[list[dict]]:
    """Readings (with their row id, when the data set has one) in request-sized chunks, in dataset order."""
    key = contract.id.name if contract.id else None
    records = frame[[*([key] if key else []), *contract.input_names]].to_dict("records")
    if key and not contract.id.text_id:
        for record in records:
            record[key] = int(record[key])
    return [records[i:i + size] for i in range(0, len(records), size)]


def post(connection: http.client.HTTPConnection, body: dict, request_id: str) -> dict:
    connection.request("POST", "/predict", json.dumps(body), {"Content-Type": "application/json", "X-Request-ID": request_id})
    response = connection.getresponse()
    doc = json.loads(response.read() or b"{}")
    if response.status != 200:
        raise ClockworkError(f"POST /predict answered {response.status}: {doc.get('error', doc)}")
    return doc


def replay(frame: pd.DataFrame, contract: Contract, name: str, address: tuple[str, int], pace: tuple[int, float]) -> list[dict]:
    """Send every reading, batch_size at a time at rate batches a second (pace); return one label record per
    prediction (its row's target, with the row id when the data set has one)."""
    host, port = address
    batch_size, rate = pace
    chunks = batches(frame, contract, batch_size)
    truth = frame[contract.label].astype(int).tolist()
    key = contract.id.name if contract.id else None
    labels, run = [], uuid.uuid4().hex[:12]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    started, last_shown = time.monotonic(), -1
    for i, chunk in enumerate(chunks):
        if rate:
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
        try:
            doc = post(connection, {"instances": chunk}, f"{name}-{run}-{i}")
        except (OSError, http.client.HTTPException) as exc:
            raise ClockworkError(f"server at {host}:{port}: {exc} (is it running? make serve-bg)") from None
        for k, (reading, prediction) in enumerate(zip(chunk, doc["predictions"], strict=True)):
            label = truth[i * batch_size + k]
            labels.append({"prediction_id": prediction["prediction_id"], **({key: reading[key]} if key else {}), "label": label})
        shown = (i + 1) * 10 // len(chunks)
        if shown != last_shown:
            done = min(len(frame), (i + 1) * batch_size)
            print(f"replay {name}: {done}/{len(frame)} readings ({done * 100 // len(frame)}%), "
                  f"{time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
            last_shown = shown
    connection.close()
    return labels


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, help="a dataset name from params simulation.datasets",
                        type=missing("DATASET", "make replay DATASET=day2; see params simulation.datasets"))
    parser.add_argument("--check", action="store_true", help="only check the name against params simulation.datasets")
    parser.add_argument("--sims", type=Path, required=True, help="pointer file written by make simulate")
    parser.add_argument("--host")
    parser.add_argument("--port", type=port_number)
    args = parser.parse_args(argv)
    params = load_params()
    named = {**params["simulation"]["datasets"], **scenario_datasets(params["scenarios"])}
    if args.dataset not in named:
        raise ClockworkError(f"DATASET={args.dataset!r}: not in params simulation.datasets or scenarios.list "
                             f"(known: {', '.join(sorted(named))})")
    if args.check:
        return 0
    known = json.loads(args.sims.read_text()) if args.sims.exists() else {}
    if args.dataset not in known:
        raise ClockworkError(f"DATASET={args.dataset}: unknown (known: {', '.join(sorted(known)) or 'none; run make simulate'})")
    frame = pd.read_csv(ROOT / known[args.dataset])
    deployment, settings = params["deployment"], params["replay"]
    contract = Contract.from_params(params["dataset"])
    labels = replay(frame, contract, args.dataset, server_address(deployment, args.host, args.port),
                    (settings["batch_size"], settings["rate_per_s"]))
    added, _ = record_labels([(f"replay {args.dataset}: row {n + 1}", r) for n, r in enumerate(labels)], args.dataset, params)
    positives = sum(r["label"] for r in labels)
    print(f"replayed {len(labels)} readings of {args.dataset} ({known[args.dataset]}); "
          f"{added} labels recorded ({positives} failures) in {settings['labels_log']}")
    return 0


if __name__ == "__main__":
    cli(main)
