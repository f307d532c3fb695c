"""make bench-monitor (scripts/dev/bench_monitor.py): which datasets make the period, how each chunk's
estimate is judged against its labels, and a smoke run (a light forest, a small second table) that
proves the whole benchmark runs. The full run is a benchmark, run by hand (its figures are in
REFERENCE.md)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts.core.config import ROOT, load_params, validate
from scripts.dev.bench_monitor import beyond_if_exact, distinct_readings, judged, model_readings, period, table, with_tilt
from tests.conftest import Repo


def chunk(index: int, rows: int, estimate: tuple[float, float, float] | None, realized: float | None, alerts=()) -> dict:
    out = {"index": index, "rows": rows, "alerts": list(alerts),
           "estimated": None if estimate is None else {"f1": {"value": estimate[0], "interval": [estimate[0], estimate[0]],
                                                                "band": [estimate[1], estimate[2]]}}}
    if realized is not None:
        out["realized"] = {"f1": realized}
    return out


def test_the_period_is_the_untouched_rows_then_each_covariate_drift_and_its_fresh_rows():
    assert period(load_params()) == ["no_drift", "type_mix", "type_mix_fresh"]


def test_each_chunk_is_judged_against_its_labels():
    report = {"history": {"f1_limit": 0.6}, "chunks": [
        chunk(0, 1000, (0.80, 0.70, 0.90), 0.75),                      # inside, no drop
        chunk(1, 1000, (0.50, 0.40, 0.55), 0.45, ["estimated_f1"]),    # a drop, flagged before labels
        chunk(2, 1000, (0.80, 0.75, 0.85), 0.50),                      # a drop the estimate missed, outside its band
        chunk(3, 400, (0.80, 0.70, 0.90), 0.10),                       # too few rows: not judged
        chunk(4, 1000, (0.80, 0.70, 0.90), None),                      # no labels yet: not judged
    ]}
    settings = {"monitor_min_rows": 1000, "monitor_tolerance": 0.03}
    found = judged(report, {0: 1000, 1: 1000, 2: 640, 3: 400, 4: 1000}, settings, 0.9)  # chunk 2 repeats some rows
    assert [r["chunk"] for r in found["chunks"]] == [0, 1, 2]
    assert (found["drops"], found["drops_flagged"], found["false_flags"]) == (2, 1, 0)
    assert found["inside_share"] == round(2 / 3, 6) and found["max_error"] == 0.3
    assert found["mean_error"] == round((0.05 + 0.05 + 0.3) / 3, 6)
    assert (found["unrepeated_chunks"], found["unrepeated_inside_share"]) == (2, 1.0)
    doc = {"kind": "bench_monitor", "started_at": "2026-12-04T00:00:00Z", "min_rows": 1000, "datasets": {"a": {**found, "chunk_size": 1000}}}
    validate(doc, "bench_monitor", "doc")
    assert found["band_half_width"] == 0.075  # the middle of 0.1, 0.075 and 0.05
    assert (found["tolerance"], found["within_tolerance"]) == (0.03, 0)  # errors 0.05, 0.05, 0.3
    assert found["beyond_if_exact"] == beyond_if_exact(found["chunks"], 0.03, 0.9)
    assert "| a | 3 | 0.133333 | 0.3 | 0 within 0.03 (an exact estimate: about 1.5) | 0.075 | 67% | 100% of 2 | 1 of 2 | 0 |" in table(doc)


def test_how_many_chunks_an_exact_estimate_would_miss_by_more_than_the_tolerance():
    """A 90 % band of half-width 1.645 sigma: sigma 0.03 misses 0.03 with chance 2 (1 - Phi(1)) = 0.317;
    sigma 0.015 misses with chance 2 (1 - Phi(2)) = 0.0455; a band of one point never misses. The
    calibrator's share (the interval) is taken out: a band of sigma 0.05 about an interval of sigma 0.04
    leaves sigma 0.03 to the labels."""
    z = 1.6448536269514722

    def spread(band: float, interval: float = 0.0) -> dict:
        return {"band": [0.5, 0.5 + 2 * z * band], "interval": [0.5, 0.5 + 2 * z * interval]}
    assert beyond_if_exact([spread(0.03)] * 10, 0.03, 0.9) == 3.2
    assert beyond_if_exact([spread(0.015)] * 100, 0.03, 0.9) == 4.6
    assert beyond_if_exact([spread(0.05, 0.04)] * 10, 0.03, 0.9) == 3.2
    assert beyond_if_exact([spread(0.0)], 0.03, 0.9) == 0.0


def test_each_chunks_distinct_readings_are_counted_from_the_log(tmp_path):
    log = tmp_path / "p.jsonl"
    rows = [{"model_version": "v1", "inputs": {"udi": i % 3, "x": 1.0}} for i in range(5)]  # chunk 0 repeats none
    rows.insert(2, {"model_version": "v2", "inputs": {"udi": 9}})  # another model's: not counted
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert distinct_readings(model_readings(log, "v1"), 3) == {0: 3, 1: 2}


def test_the_bench_tilts_along_the_input_most_correlated_with_the_label_toward_fewer_positives(tmp_path):
    params = load_params()
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    processed = tmp_path / params["paths"]["processed_dir"]
    processed.mkdir(parents=True)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.normal(0, 1, 400) for name in ("air_temperature_k", "process_temperature_k",
                                                                     "rotational_speed_rpm", "torque_nm", "tool_wear_min")})
    frame["machine_failure"] = (frame["rotational_speed_rpm"] < -0.5).astype(int)  # fewer failures as the speed rises
    frame.to_csv(tmp_path / "train.csv", index=False)
    (processed / "v1.json").write_text(json.dumps({"outputs": {"train": {"path": "train.csv"}}}))
    tilted = with_tilt(tmp_path, "params.yaml", {"strength": 1.5, "share": 0.4})
    assert tilted["scenarios"]["list"]["tilt"] == {"truth": "covariate_drift",
                                                   "tilt": {"column": "rotational_speed_rpm", "share": 0.4, "strength": 1.5}}
    assert "tilt" in period(load_params(tmp_path / "params.yaml")), "a valid scenario the period replays"


@pytest.mark.slow
def test_bench_monitor_smoke_replays_both_tables_and_writes_a_valid_result(repo: Repo):
    doc = repo.smoke_bench("bench-monitor", "monitor-*.json", "bench_monitor")
    sizes = load_params()["bench"]
    assert doc["smoke"] and sorted(doc["datasets"]) == sorted(
        f"{name}, chunks of {size}" for name in ("ai4i (params.yaml)", "synthetic loans (bench.monitor_table)")
        for size in (sizes["monitor_min_rows"], sizes["monitor_wide_chunk"]))
    for name, result in doc["datasets"].items():
        assert result["chunk_size"] == int(name.rsplit(" ", 1)[1])
        assert all(chunk["rows"] >= result["chunk_size"] for chunk in result["chunks"])
    judged = [r for name, r in doc["datasets"].items() if name.endswith(f"chunks of {sizes['monitor_min_rows']}")]
    assert all(r["chunks"] for r in judged), "each table's period fills chunks of the smaller size"
    assert repo.model_versions == ["model_v1.joblib"], "the benchmark never touches the user's project"
