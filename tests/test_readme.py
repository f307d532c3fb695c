"""The README runs as written: its monitor-and-retrain walk-through through real make and a real
server, in a copy of a freshly trained project, says what its comments say; every curl body in it
is answered 200 with what the comment after it shows."""
from __future__ import annotations

import json
import re
import shlex

from scripts.core.config import ROOT
from tests.conftest import Repo, copy_of
from tests.serving.test_serve import Server, call


def sh_blocks(section: str) -> list[str]:
    """The ```sh blocks of one README section (### heading)."""
    text = (ROOT / "README.md").read_text()
    body = text.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", body, re.S)


def test_the_monitor_and_retrain_walk_through_runs_as_written(built_as_shipped: Repo, tmp_path):
    repo = copy_of(built_as_shipped, tmp_path / "repo")
    block = sh_blocks("Monitor and retrain")[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands[0] == "make serve-bg" and commands[-1] == "make stop"
    alerted = repo.path / "alerted.txt"  # monitor.alert_command: a program that records the report it was given
    repo.set_param("monitor", "alert_command", [str(repo.path / ".venv/bin/python"), "-c",
                                                f"import os, sys; open({str(alerted)!r}, 'a').write(sys.argv[1] + ' ' + "
                                                f"os.environ['CLOCKWORK_VERDICT'] + ' ' + os.environ['CLOCKWORK_ALERTS'].splitlines()[0] + '\\n')"])
    server = Server(repo).start()  # make serve-bg on a free port: the later commands find it themselves
    outputs = []
    try:
        for command in commands[1:-1]:
            run = repo.make(*shlex.split(command)[1:], timeout=300)
            outputs.append((command, run))
            assert run.code == 0 or command == "make retrain", f"{command}: {run.err}"
    finally:
        server.stop()
    monitors = [run.out for command, run in outputs if command == "make monitor"]
    retrains = [run for command, run in outputs if command == "make retrain"]
    # what the comments claim, as the commands print it
    assert "diagnosis: sensor_fault, torque_nm: gain 1.1252 [1.1125, 1.1381]" in block
    assert "verdict: retrain_required" in monitors[0] and "diagnosis: sensor_fault" in monitors[0]
    assert "alert: sent" in monitors[0] and len(alerted.read_text().splitlines()) == 2, "each alerting report, once"
    first = alerted.read_text().splitlines()[0].split(" ")  # the report's path, the verdict, the first new alert
    assert first[0].endswith(".json") and "/logs/monitor/" in first[0] and first[1:] == ["retrain_required", "retrain_required"]
    assert "torque_nm: gain 1.1252 ratio [1.1125, 1.1381]" in monitors[0]
    assert "# refused: fix the sensor" in block and retrains[0].code == 2
    assert "the monitor diagnosed a sensor fault" in retrains[0].err
    assert "verdict: retrain_required; diagnosis: concept_drift" in block
    assert "verdict: retrain_required" in monitors[1] and "diagnosis: concept_drift" in monitors[1]
    assert "promoted v2: F1 +0.443 [+0.313, +0.578] on the 1200 newest labelled rows" in block
    assert retrains[1].code == 0 and "retrain: promoted v2 (was v1)" in retrains[1].out
    assert "+0.443, 95% interval [+0.313, +0.578] over 1200 rows" in retrains[1].out


def test_every_curl_body_in_the_readme_is_answered_as_shown(built_as_shipped: Repo, tmp_path):
    repo = copy_of(built_as_shipped, tmp_path / "repo")
    text = (ROOT / "README.md").read_text()
    calls = re.findall(r"curl -s localhost:8000(\S+) -H 'Content-Type: application/json'\s*\\?\s*-d '(.*?)'", text, re.S)
    assert {path for path, _ in calls} == {"/predict", "/invocations", "/v2/models/clockwork/infer"}
    server = Server(repo).start()
    try:
        for path, body in calls:
            status, answer = call(server.port, "POST", path, json.loads(body))
            assert status == 200, (path, answer)
            shown = text.split(body, 1)[1].split("curl ", 1)[0][:800]  # the answer shown after it, in a comment or a block
            assert answer["model_version"] == "v1" and '"model_version"' in shown
            probabilities = re.findall(r'"failure_probability"\s*:\s*([\d.]+)', shown)
            if path == "/predict":
                assert answer["failure_probability"] == float(probabilities[0]) and answer["prediction"] == 1
            elif path == "/invocations":
                assert [p["failure_probability"] for p in answer["predictions"]] == [float(p) for p in probabilities]
            else:
                assert answer["outputs"][0]["data"] == [1.0] and answer["outputs"][1]["data"] == [1]
    finally:
        server.stop()
