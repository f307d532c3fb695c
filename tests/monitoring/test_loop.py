"""The production loop through the real make targets: simulate, replay, monitor, retrain, demo."""
from __future__ import annotations

import json

from scripts.core.config import validate
from tests.conftest import Repo, Run
from tests.serving.test_serve import Server


def test_demo_runs_the_whole_lifecycle(demoed: tuple[Repo, Run]):
    repo, run = demoed  # after two experiments, so the retrain also competes with their versions
    out = run.out
    assert "demo: in a throwaway copy of this project" in out and repo.path.name.startswith("clockwork-demo-")
    for step in ("1. train", "2. start the server", "3. replay day2", "4. replay day2_drift", "5. retrain",
                 "6. replay day3_drift", "7. stop the server", "production model stays v1", "still flagged"):
        assert step in out, step
    assert [line.split()[-1] for line in out.splitlines() if line.strip().startswith("verdict:")] == \
        ["ok", "retrain_required", "retrain_required"]
    # The drift is the torque sensor reading 12 % high: the monitor names it, make retrain refuses.
    assert "diagnosis: sensor_fault" in out and "torque_nm reads 1.1" in out and "diagnosis: covariate_drift" in out
    assert "refused: logs/monitor/" in out and "the monitor diagnosed a sensor fault" in out
    # Forced through anyway, the candidate meets the gates: its drifted holdout holds 8 failures,
    # too few to show it better, so nothing replaces v1.
    assert "FAIL holdout_evidence: not enough evidence: 8 failures among the 480 holdout rows" in out
    assert "pass reference_f1_difference" in out

    registry = repo.json("models/registry.json")
    assert registry["aliases"]["production"] == "v1" and registry["history"][-1]["action"] != "promote"
    events = [json.loads(x) for x in (repo.path / "logs/retrain_events.jsonl").read_text().splitlines()]
    refused, events = [e for e in events if "failed" in e], [e for e in events if "failed" not in e]
    assert len(refused) == 1 and "the monitor diagnosed a sensor fault" in refused[0]["failed"], "the refusal is on record"
    assert not refused[0]["forced"] and refused[0]["production_after"] == "v1"
    assert len(events) == 1 and not events[0]["promoted"] and events[0]["report_id"]
    assert events[0]["forced"] and events[0]["overrode"] == "sensor_fault", "the override is on record"
    validate(events[0], "retrain_event", "retrain_events.jsonl")
    candidate = registry["versions"][events[0]["candidate"]]
    assert candidate["status"] == "rejected" and candidate["gates"]["gate_set"] == "retrain"
    assert candidate["gates"]["failed"] == ["holdout_evidence"]
    assert events[0]["labelled_data"]["datasets"] == {"day2": 600, "day2_drift": 1800}
    assert (repo.path / events[0]["flag"]["report"]).exists(), "the triggering report is kept"
    assert (repo.path / "logs/retrain.flag").exists(), "a retrain that promoted nothing keeps the flag"

    # The retrain data version names exactly the production data that went in; its test rows are
    # the clean reference rows, which no version trained on, and its holdout the latest labelled rows.
    data_version = candidate["data_version"]
    meta = repo.json(f"data/processed/{data_version}.json")
    labelled = meta["inputs"]["production_labelled"]
    manifest = (repo.path / "data/manifest.txt").read_text().splitlines()
    line = next(line for line in manifest if line.startswith(f"{data_version} "))
    assert f"production_labelled={labelled['path']}:{labelled['sha256'][:12]}:{labelled['rows']}rows" in line
    assert labelled["rows"] == 600 + 1800
    assert meta["outputs"]["test"]["sha256"] == repo.json("data/processed/v1.json")["outputs"]["test"]["sha256"]
    assert meta["outputs"]["holdout"]["rows"] == 480 and meta["outputs"]["train"]["rows"] == 5500 + 1920
    assert candidate["trained_on"][0] == [1, 5500] and all(lo > 7000 for lo, _ in candidate["trained_on"][1:])

    reports = sorted((repo.path / "logs/monitor").glob("*.json"))
    assert len(reports) == 3
    for path in reports:
        validate(json.loads(path.read_text()), "monitor_report", path.name)
    swaps = [row for row in (repo.path / "logs/deployment_log.csv").read_text().splitlines() if ",swap," in row]
    assert swaps == [], "nothing was promoted, so no worker swapped"


def test_retrain_without_a_flag_does_nothing(repo: Repo):
    run = repo.make("retrain")
    assert run.code == 0, run.err
    assert "no retrain flag" in run.out
    assert repo.model_versions == ["model_v1.joblib"]


def test_monitor_without_labels_is_insufficient_labels(repo: Repo):
    run = repo.make("monitor")
    assert run.code == 0, run.err
    assert "verdict: insufficient_labels" in run.out
    report = json.loads(next((repo.path / "logs/monitor").glob("*.json")).read_text())
    validate(report, "monitor_report", "report")
    assert report["quality"] is None and report["window"]["labelled"] == 0
    assert not (repo.path / "logs/retrain.flag").exists()


def test_simulate_builds_versioned_datasets_once(repo: Repo):
    run = repo.make("simulate")
    assert run.code == 0, run.err
    assert run.stages == ["simulate"]
    for name, rows in (("day2", 600), ("day2_drift", 1800), ("day3_drift", 600)):
        meta = repo.json(f"data/production/simulated/{name}/v1.json")
        validate(meta, "simulated_dataset", name)
        assert meta["output"]["rows"] == rows
        assert any(line.startswith(f"simulated/{name}/v1 ") for line in (repo.path / "data/manifest.txt").read_text().splitlines())
    assert repo.json("data/production/simulated/day2_drift/v1.json")["output"]["drifted_rows"] == 1800
    assert repo.make("simulate").stages == []


def test_a_worse_candidate_is_not_promoted(repo: Repo):
    server = Server(repo).start()
    try:
        assert repo.make("simulate").code == 0
        assert repo.make("replay", "DATASET=day2", f"PORT={server.port}").code == 0
        repo.set_param("model", "n_estimators", 1)
        repo.set_param("model", "max_depth", 1)  # a stump: clearly worse than production
        run = repo.make("retrain", "FORCE=1", timeout=300)
        assert run.code == 0, run.out + run.err
        assert "not promoted" in run.out
    finally:
        server.stop()
    registry = repo.json("models/registry.json")
    assert registry["aliases"]["production"] == "v1"
    candidate = registry["versions"]["v2"]
    assert candidate["status"] == "rejected" and candidate["gates"]["failed"][0] in ("min_f1", "min_recall")
    event = json.loads((repo.path / "logs/retrain_events.jsonl").read_text().splitlines()[-1])
    assert event["forced"] and not event["promoted"] and event["production_after"] == "v1"


def test_replay_needs_a_known_dataset(repo: Repo):
    run = repo.make("replay", "DATASET=nope")
    assert run.code != 0 and "DATASET='nope': not in params simulation.datasets" in run.err
    run = repo.make("replay")
    assert run.code != 0 and "DATASET: missing" in run.err


def test_verify_all_passes_then_names_every_broken_link(repo: Repo):
    run = repo.make("verify-all")
    assert run.code == 0 and "PASS" in run.out, run.out + run.err
    test_csv = repo.path / "data/processed/v1/test.csv"
    test_csv.write_text(test_csv.read_text().replace("\n1,", "\n2,", 1) + "\n")
    model = repo.path / "models/model_v1.joblib"
    model.write_bytes(model.read_bytes() + b"\0")
    (repo.path / "logs").mkdir(exist_ok=True)
    (repo.path / "logs/labels.jsonl").write_text(
        '{"time":"2026-01-01T00:00:00Z","prediction_id":"ghost-0","udi":1,"label":0,"dataset":"x"}\n')
    run = repo.make("verify-all")
    assert run.code != 0
    assert "data v1: data/processed/v1/test.csv sha256 differs from its metadata" in run.out
    assert "model v1: artifact sha256 differs from its record" in run.out
    assert "logs/labels.jsonl: 1 labels refer to unknown predictions (first: ghost-0)" in run.out
    assert "FAIL: 3 mismatch(es)" in run.out


def test_plain_train_after_an_extra_run_returns_to_the_params_data_version(repo: Repo):
    """EXTRA is an input make tracks: after `make train EXTRA=...` (what retrain runs), a plain
    `make train` goes back to the data version params.yaml describes, reusing it."""
    import pandas as pd

    test = pd.read_csv(repo.path / "data/processed/v1/test.csv").iloc[:300]
    labelled = test.assign(prediction_id=[f"p-{i}" for i in range(len(test))], dataset="manual")
    extra = repo.path / "data/production/labelled/manual.csv"
    extra.parent.mkdir(parents=True)
    labelled[["prediction_id", "dataset", "udi", "type", "air_temperature_k", "process_temperature_k",
              "rotational_speed_rpm", "torque_nm", "tool_wear_min", "machine_failure"]].to_csv(extra, index=False)
    run = repo.make("train", "EXTRA=data/production/labelled/manual.csv")
    assert run.code == 0, run.err
    assert (repo.path / ".make/out/prepare").read_text().strip() == "v2"
    run = repo.make("train")
    assert run.code == 0, run.err
    assert run.stages[:2] == ["prepare", "train"]
    assert (repo.path / ".make/out/prepare").read_text().strip() == "v1"
    assert (repo.path / ".make/out/train").read_text().strip() == "v1"
    assert repo.data_versions == ["v1.json", "v2.json"]
    again = repo.make("train", "PY=false")
    assert again.code == 0 and "Nothing to be done" in again.out
