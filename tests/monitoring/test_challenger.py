"""The challenger: scored in shadow on production traffic by a real server, then compared on the same rows."""
from __future__ import annotations

import json
import time

from scripts.core.config import validate
from scripts.monitoring.challenger import verdict
from tests.conftest import (
    Repo,
    check_line,
)
from tests.serving.test_app import READING
from tests.serving.test_serve import Server, call


def test_a_challenger_is_scored_in_shadow_never_returned_and_compared_on_the_same_readings(repo: Repo):
    repo.set_param("model", "n_estimators", 60)
    assert repo.make("train").code == 0  # v2: a candidate beside production v1
    refused = repo.make("challenge", "VERSION=v1")
    assert refused.code == 2 and "VERSION=v1: is the production model; a challenger is another version" in refused.err
    assert "give VERSION=vN, or CLEAR=1" in repo.make("challenge").err
    assert "no challenger (make challenge VERSION=vN starts one)" in repo.make("challenger").err
    server = Server(repo).start()
    try:
        assert call(server.port, "POST", "/predict", READING)[1]["model_version"] == "v1"
        run = repo.make("challenge", "VERSION=v2", "REASON=try the smaller forest")
        assert run.code == 0 and "challenger -> v2" in run.out, run.err
        time.sleep(2.5)  # every worker follows the registry within deployment.reload_interval_s
        answer = call(server.port, "POST", "/predict", {"instances": [READING, {**READING, "torque_nm": 70.0}]})[1]
        assert {p["model_version"] for p in answer["predictions"]} == {"v1"}, "the challenger's answers are never returned"
        assert 'id="challenger"><a href="/api/models/v2">v2</a>' in call(server.port, "GET", "/")[1]
        assert repo.make("simulate").code == 0
        assert repo.make("replay", "DATASET=day2", f"PORT={server.port}").code == 0
    finally:
        server.stop()
    shadow = [json.loads(line) for line in (repo.path / "logs/shadow.jsonl").read_text().splitlines()]
    served = {json.loads(line)["prediction_id"] for line in (repo.path / "logs/predictions.jsonl").read_text().splitlines()}
    assert {s["model_version"] for s in shadow} == {"v2"} and len(shadow) == 2 + 600
    assert {s["prediction_id"] for s in shadow} <= served, "the shadow lines carry production's prediction ids"
    check_line(shadow[0], "shadow.jsonl")
    run = repo.make("challenger")
    assert run.code == 0, run.err
    assert "challenger v2 against production v1: not_enough_evidence" in run.out
    assert "13 failures among the 600 labelled readings both scored; at least 20 are needed" in run.out
    [path] = (repo.path / "logs/challenger").glob("*.json")
    validate(json.loads(path.read_text()), "challenger_report", path.name)
    registry = repo.json("models/registry.json")
    assert registry["aliases"]["challenger"] == "v2" and registry["history"][-1]["action"] == "challenge"
    assert repo.make("promote", "VERSION=v2").code == 0
    assert repo.json("models/registry.json")["aliases"]["challenger"] is None, "a promoted challenger shadows no one"


def test_the_verdict_needs_evidence_and_a_lower_bound():
    base = {"rows": 600, "positives": 30, "difference": 0.05, "low": 0.01, "high": 0.09}
    assert verdict(base, 20, 0.0)[0] == "better"
    assert verdict({**base, "low": -0.02}, 20, 0.0)[0] == "not_better"
    tie = {**base, "difference": 0.0, "low": 0.0, "high": 0.0}
    assert verdict(tie, 20, 0.0) == ("not_better", "F1 difference +0.000, interval [+0.000, +0.000] over 600 labelled "
                                                   "readings (30 failures): the lower bound is not above +0.000")
    kind, why = verdict({**base, "positives": 8}, 20, 0.0)
    assert kind == "not_enough_evidence" and "8 failures among the 600" in why
