"""`make live`: one command answers what serves now and where it came from, and how to roll back."""
from __future__ import annotations

import json

from tests.conftest import Repo, copy_of


def test_live_answers_every_question_after_a_demo(demoed):
    repo, _ = demoed
    run = repo.make("live")
    assert run.code == 0, run.err
    registry = repo.json("models/registry.json")
    version = registry["aliases"]["production"]
    card = repo.json(f"models/model_{version}.json")
    lines = run.out.splitlines()
    # the demo's retrain promoted nothing (too few failures in its holdout), so v1 still serves
    assert lines[0].startswith(f"production: {version} since ") and "first model to pass the gates" in lines[0]
    labelled = {label: line for line in lines[1:] for label in [line.split()[0]]}
    assert card["artifact"]["sha256"] in labelled["artifact"]
    assert f"{card['data']['version']}: train 5500 rows, test 1500 rows" in labelled["data"]
    assert "n_estimators=200" in labelled["model"] and "max_depth=null" in labelled["model"], "JSON spelling, not Python's"
    assert f"python {card['environment']['python']}" in labelled["environment"]
    assert labelled["monitor"].split()[1] == "retrain_required" and labelled["deployed"].split()[1] == "start"
    assert labelled["roll"] == "  roll back    nothing earlier to return to"


def test_live_as_json_and_before_any_model(demoed, repo: Repo, tmp_path):
    doc = json.loads(demoed[0].make("live", "JSON=1").out)
    assert doc["version"] == demoed[0].json("models/registry.json")["aliases"]["production"]
    assert doc["code"]["git"]["commit"] is None or len(doc["code"]["git"]["commit"]) == 40
    other = copy_of(demoed[0], tmp_path / "other")  # the monitor log's last row for another model: the live one's is found
    log = other.path / "logs/monitor_log.csv"
    last = log.read_text().splitlines()[-1].split(",")
    log.write_text(log.read_text() + ",".join([last[0], "20261204T000000Z-0123abcd", "v99", *last[3:]]) + "\n")
    assert doc["last_monitor"] and json.loads(other.make("live", "JSON=1").out)["last_monitor"] == doc["last_monitor"]
    (repo.path / "models/registry.json").unlink()
    (repo.path / "models/model_metadata.log").unlink()
    run = repo.make("live")
    assert run.code == 2 and run.err.startswith("error: ") and "no production model to describe (run make train)" in run.err


def test_a_recorded_reason_cannot_forge_lines_or_drive_the_terminal(repo: Repo):
    repo.set_param("model", "n_estimators", 30)
    assert repo.make("train").code == 0
    reason = "fine\x1b[2J\x1b[1;1H\nproduction: v9 since forever\rX\x9b31m"
    assert repo.make("promote", "VERSION=v2", f"REASON={reason}").code == 0
    run = repo.make("live")
    assert run.code == 0 and "\x1b" not in run.out and "\r" not in run.out and "\x9b" not in run.out
    first = run.out.splitlines()[0]
    assert first.startswith("production: v2 since ") and "fine\\x1b[2J\\x1b[1;1H\\nproduction: v9 since forever\\rX\\x9b31m" in first
    assert sum(line.startswith("production:") for line in run.out.splitlines()) == 1
    bad = repo.make("promote", "VERSION=v9\x1b[31m")
    assert bad.code != 0 and "\x1b" not in bad.err and bad.err.startswith("error: v9\\x1b[31m: not a version name"), bad.err
