"""`make labels`: ground truth is taken whole for requests the service answered, or not at all."""
from __future__ import annotations

from tests.conftest import Repo
from tests.serving.test_app import READING
from tests.serving.test_serve import Server, call


def served(repo: Repo, udis: list[int]) -> list[str]:
    server = Server(repo).start()
    try:
        status, doc = call(server.port, "POST", "/predict", {"instances": [{**READING, "udi": u} for u in udis]})
    finally:
        server.stop()
    assert status == 200
    return [p["prediction_id"] for p in doc["predictions"]]


def labels_file(repo: Repo, name: str, rows: list[str]) -> str:
    (repo.path / name).write_text("prediction_id,label,udi\n" + "".join(r + "\n" for r in rows))
    return name


def test_labels_for_unknown_requests_are_refused_whole_and_good_ones_recorded_once(repo: Repo):
    ids = served(repo, [101, 102, 103])
    log = repo.path / "logs/labels.jsonl"
    before = log.read_bytes() if log.exists() else b""

    bad = labels_file(repo, "bad.csv", [f"{ids[0]},1,101", "no-such-request,0,999", "also-unknown,1,5"])
    run = repo.make("labels", f"FILE={bad}")
    assert run.code != 0
    message = run.err.strip().splitlines()[0]
    assert message.startswith("error: bad.csv: line 3: prediction_id 'no-such-request'") and "2 of 3" in message, run.err
    assert "Traceback" not in run.err
    assert (log.read_bytes() if log.exists() else b"") == before, "nothing recorded, not even the known row"

    good = labels_file(repo, "good.csv", [f"{ids[0]},1,101", f"{ids[1]},0,102"])
    run = repo.make("labels", f"FILE={good}")
    assert run.code == 0 and "2 labels recorded" in run.out, run.out + run.err
    run = repo.make("labels", f"FILE={good}")
    assert run.code == 0 and "0 labels recorded" in run.out and "2 already recorded" in run.out

    contradicts = labels_file(repo, "contra.csv", [f"{ids[2]},1,103", f"{ids[1]},1,102"])
    run = repo.make("labels", f"FILE={contradicts}")
    assert run.code != 0 and "line 3: label 1 contradicts label 0" in run.err
    wrong_udi = labels_file(repo, "udi.csv", [f"{ids[2]},1,7"])
    run = repo.make("labels", f"FILE={wrong_udi}")
    assert run.code != 0 and "udi 7 does not match" in run.err

    recorded = [line for line in log.read_text().splitlines() if line not in before.decode().splitlines()]
    assert len(recorded) == 2
    assert repo.make("verify-all").code == 0, "the chain is intact"


def test_labels_needs_a_file(repo: Repo):
    run = repo.make("labels")
    assert run.code == 2 and "FILE: missing" in run.err
    run = repo.make("labels", "FILE=nowhere.csv")
    assert run.code != 0 and "nowhere.csv: no such file" in run.err


def test_a_labels_udi_follows_the_request_rules_and_a_retrain_that_stops_is_one_event(repo: Repo):
    import json

    from scripts.core.config import validate

    server = Server(repo).start()
    try:
        status, doc = call(server.port, "POST", "/predict", {"instances": [READING, READING]})
    finally:
        server.stop()
    ids = [p["prediction_id"] for p in doc["predictions"]]
    log = repo.path / "logs/labels.jsonl"
    for udi in ("99999999999999999999999", "-7"):
        name = labels_file(repo, "huge.csv", [f"{ids[1]},0,5", f"{ids[0]},1,{udi}"])
        run = repo.make("labels", f"FILE={name}")
        lines = run.err.strip().splitlines()
        assert run.code != 0 and lines[0] == f"error: huge.csv: line 3: udi: {int(udi)} is outside 0..9223372036854775807, " \
                                             "the range /predict accepts", run.err
        assert not log.exists() or not log.read_text(), "the whole file is refused"
    run = repo.make("retrain", "FORCE=1")
    assert run.code != 0 and "nothing to retrain on" in run.err and "Traceback" not in run.err
    event = json.loads((repo.path / "logs/retrain_events.jsonl").read_text().splitlines()[-1])
    validate(event, "retrain_event", "retrain_events.jsonl")
    assert "nothing to retrain on" in event["failed"] and event["production_before"] == event["production_after"] == "v1"


def test_a_label_file_nested_at_any_depth_is_refused_in_one_line(repo: Repo):
    for depth in (40, 900, 5000):
        (repo.path / "deep.jsonl").write_text('{"prediction_id": ' + "[" * depth + "]" * depth + ', "label": 1}\n')
        run = repo.make("labels", "FILE=deep.jsonl")
        lines = run.err.strip().splitlines()
        assert run.code != 0 and lines[0].startswith("error: deep.jsonl: line 1: "), run.err
        assert "Traceback" not in run.err and "internal error" not in run.err
