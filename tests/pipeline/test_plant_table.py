"""A second shape of table through the whole loop with no code: 20,000 rows with a time stamp that
orders them (ties included), categories, a yes/no column and related numbers. make init declares it,
make train trains it, the service takes its columns, and make scenarios diagnoses a sensor bias by
the relations the monitor learned on its training rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import Repo

ROWS = 20_000


def plant(n: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    load = rng.uniform(20, 100, n)
    frame = pd.DataFrame({
        "Event ID": np.arange(100_001, 100_001 + n),
        "Logged at": pd.Timestamp("2025-01-01T00:00:00Z") + pd.to_timedelta(np.arange(n) // 2 * 90, unit="s"),
        "Site": rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "Shift": rng.choice(["day", "night", "late"], n),
        "Under warranty": rng.choice(["yes", "no"], n),
        "Load (%)": load.round(2),
        "Temperature (C)": (30 + 0.5 * load + rng.normal(0, 2, n)).round(2),
        "Vibration": rng.gamma(2.0, 1.5, n).round(3),
        "Age (days)": rng.integers(0, 2000, n),
    })
    hot = (frame["Load (%)"] > 70) & (frame["Vibration"] > 3)  # faults need two columns together: no one-column rule
    worn = (frame["Site"] == "west") & (frame["Age (days)"] > 1000)  # finds them (the first model's baseline gate)
    frame["Outcome"] = np.where(rng.random(n) < np.where(hot | worn, 0.8, 0.05), "fault", "ok")
    frame["Logged at"] = frame["Logged at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return frame


@pytest.mark.slow
def test_a_time_stamped_table_of_categories_and_booleans_runs_the_loop(repo: Repo, tmp_path):
    from scripts.dev.sandbox import free_port
    from tests.serving.test_serve import call

    source = tmp_path / "plant.csv"
    plant().to_csv(source, index=False)
    run = repo.make("init", f"RAW={source}", "TARGET=Outcome", "POSITIVE=fault", "ORDER=Logged at", "PARAMS=plant.yaml")
    assert run.code == 0, run.err
    for said in ("Logged at -> logged_at: the order column", "Under warranty -> under_warranty: boolean input",
                 "Site -> site: category input, 4 values", "split: in logged_at order: 9800 train, 4200 test, 6000 production"):
        assert said in run.out, (said, run.out)
    params = yaml.safe_load((repo.path / "plant.yaml").read_text())
    assert {c["name"]: c["kind"] for c in params["dataset"]["columns"]}["logged_at"] == "timestamp"
    bias = next(name for name in params["scenarios"]["list"] if name.endswith("_bias"))
    env = {"CLOCKWORK_PARAMS": "plant.yaml"}

    run = repo.make("train", **env)
    assert run.code == 0 and run.stages == ["prepare", "train", "evaluate", "register"], run.err
    card = repo.json("models/plant/model_v1.json")
    assert {"Site west", "Shift late"} <= set(card["metrics"]["per_group"]) and card["metrics"]["test"]["rows"] == 4200
    port = free_port()
    assert repo.make("serve-bg", f"PORT={port}", **env).code == 0
    try:
        reading = {"Site": "west", "Shift": "day", "Under warranty": True, "Load (%)": 90.0, "Temperature (C)": 75.0,
                   "Vibration": 6.0, "Age (days)": 1500}
        status, doc = call(port, "POST", "/predict", reading)
        assert status == 200 and doc["prediction"] == 1, doc
    finally:
        repo.make("stop", **env)

    run = repo.make("scenarios", f"ONLY=no_drift,{bias},shift_mix", f"PORT={free_port()}", timeout=900, **env)
    assert run.code == 0, run.out + run.err
    sensor = params["scenarios"]["list"][bias]["sensors"][0]
    for line in ("| no_drift | none | none | - | yes |", f"| {bias} | sensor_fault | sensor_fault | {sensor} | yes |",
                 "| shift_mix | covariate_drift | covariate_drift | - | yes |"):
        assert line in run.out, (line, run.out)
