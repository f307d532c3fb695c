"""The edit-and-rebuild loop against its floor, for `make bench`.

The loop: change one hyperparameter (model.n_estimators, a new value each time) and run
`make train`, with the warm worker (the default) and with COLD=1. The floor: one Python process
that imports, reads the raw CSV, splits and derives the features as prepare does, fits the same
model and scores the test set, timed from outside like the loop. Runs alternate, so both see the
same machine noise; medians are reported, with the floor's F1 as a check that it did the same work.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

from scripts.core.config import read_yaml
from scripts.dev.sandbox import with_model

FLOOR = """
import json
from scripts.core import features as F
from scripts.core.config import load_params, repo_path
from scripts.core.contract import Contract
from scripts.core.estimator import fit
from scripts.core.metrics import score
from scripts.pipeline.prepare import build_splits, read_table
params = load_params()
contract = Contract.from_params(params["dataset"])
parts, _ = build_splits(read_table(repo_path(params["paths"]["raw"]), contract), contract, params["data"], params["features"])
pipeline = fit(parts["train"], F.spec(contract, params["features"]), params["model"])
print(json.dumps({"f1": score(pipeline, parts["test"], params["model"]["threshold"], contract.label)["f1"]}))
"""


def loop_section(work: Path, repeats: int, full_build_s: float, timed: Callable) -> dict:
    """Median seconds of the loop warm and cold and of the floor, in alternation, in the built copy."""
    quiet = {"CLOCKWORK_LOG": "WARNING"}
    base = read_yaml((work / "params.yaml").read_text())["model"]["n_estimators"]
    warm, cold, floor, f1 = [], [], [], None
    for i in range(repeats):
        with_model(work, {"n_estimators": base + 2 * i + 1})
        warm.append(timed(["make", "train"], work, {**quiet, "COLD": ""})[0])
        with_model(work, {"n_estimators": base + 2 * i + 2})
        cold.append(timed(["make", "train"], work, {**quiet, "COLD": "1"})[0])
        with_model(work, {"n_estimators": base})
        seconds, out, _ = timed([str(work / ".venv/bin/python"), "-c", FLOOR], work, quiet)
        floor.append(seconds)
        f1 = json.loads(out)["f1"]
    for sock in (work / ".make/warm").glob("*.sock"):
        sock.unlink()  # the worker exits within a second
    time.sleep(1.5)
    m = {name: statistics.median(values) for name, values in (("warm", warm), ("cold", cold), ("floor", floor))}
    return {"loop_warm_s": round(m["warm"], 3), "loop_cold_s": round(m["cold"], 3), "floor_s": round(m["floor"], 3),
            "floor_f1": f1, "loop_over_floor": round(m["warm"] / m["floor"], 3),
            "loop_cold_over_floor": round(m["cold"] / m["floor"], 3),
            "full_build_over_floor": round(full_build_s / m["floor"], 3), "repeats": repeats}
