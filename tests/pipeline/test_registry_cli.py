"""Registry lifecycle through the real make targets: gates, promote, rollback, diffs."""
from __future__ import annotations

from tests.conftest import TEST_FOREST, Repo


def _second_model(repo: Repo, n_estimators: int = 60) -> None:
    repo.set_param("model", "n_estimators", n_estimators)
    run = repo.make("train")
    assert run.code == 0, run.err


def test_second_passing_model_is_a_candidate_and_promote_rollback_are_recorded(repo: Repo):
    _second_model(repo)
    registry = repo.json("models/registry.json")
    assert registry["versions"]["v2"]["status"] == "candidate"
    assert registry["versions"]["v2"]["gates"]["compared_with"] == "v1"
    assert registry["aliases"]["production"] == "v1", "only the first passing model is promoted automatically"

    run = repo.make("promote", "VERSION=v2", "REASON=better recall on Type H")
    assert run.code == 0, run.err
    registry = repo.json("models/registry.json")
    assert registry["aliases"]["production"] == "v2"
    assert registry["versions"]["v1"]["status"] == "archived"
    last = registry["history"][-1]
    assert (last["action"], last["from"], last["to"], last["reason"]) == ("promote", "v1", "v2", "better recall on Type H")

    run = repo.make("rollback")
    assert run.code == 0, run.err
    registry = repo.json("models/registry.json")
    assert registry["aliases"]["production"] == "v1"
    assert registry["versions"]["v2"]["status"] == "archived"
    assert [e["action"] for e in registry["history"]] == ["register", "promote", "register", "promote", "rollback"]

    run = repo.make("rollback")
    assert run.code != 0 and "no earlier production version" in run.err


def test_history_is_append_only(repo: Repo):
    before = repo.json("models/registry.json")["history"]
    _second_model(repo)
    repo.make("promote", "VERSION=v2")
    after = repo.json("models/registry.json")["history"]
    assert after[: len(before)] == before


def test_failing_candidate_is_rejected_with_the_gate_named_and_needs_force(repo: Repo):
    repo.set_param("evaluate", "min_f1", 0.99)
    repo.set_param("model", "n_estimators", 50)
    run = repo.make("train")
    assert run.code == 0, run.err
    assert "rejected: failed min_f1" in run.err
    entry = repo.json("models/registry.json")["versions"]["v2"]
    assert entry["status"] == "rejected" and entry["gates"]["failed"] == ["min_f1"]
    assert "status=rejected" in (repo.path / "models/model_metadata.log").read_text().splitlines()[-1]

    run = repo.make("promote", "VERSION=v2")
    assert run.code != 0 and "rejected at registration" in run.err and "FORCE=1" in run.err
    assert repo.json("models/registry.json")["aliases"]["production"] == "v1"
    run = repo.make("promote", "VERSION=v2", "FORCE=1")
    assert run.code == 0, run.err
    assert "forced past failed gates" in repo.json("models/registry.json")["history"][-1]["reason"]


def test_promote_argument_errors_are_one_line(repo: Repo):
    for args, message in [((), "VERSION: missing"), (("VERSION=v9",), "VERSION=v9: not in the registry"),
                          (("VERSION=latest",), "latest: not a version name")]:
        run = repo.make("promote", *args)
        assert run.code != 0
        assert message in run.err, run.err
        assert "Traceback" not in run.err


def test_metrics_table_and_diffs(repo: Repo):
    _second_model(repo)
    run = repo.make("metrics")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split()[:4] == ["version", "status", "data", "algorithm"]
    assert lines[1].startswith("v2") and lines[2].startswith("v1 ")

    run = repo.make("params-diff", "A=v1", "B=v2")
    assert run.code == 0, run.err
    assert f"model.hyperparameters.n_estimators  {TEST_FOREST}  ->  60" in run.out
    assert "data_version" not in run.out, "both models share data v1"

    run = repo.make("metrics-diff", "A=v1", "B=v2")
    assert run.code == 0, run.err
    assert any(line.startswith("test.f1 ") for line in run.out.splitlines())

    run = repo.make("metrics-diff", "A=v1")
    assert run.code != 0 and "B: missing" in run.err


def test_registry_show(repo: Repo):
    run = repo.make("registry")
    assert run.code == 0, run.err
    assert "production: v1" in run.out and "passed all gates" in run.out


def test_corrupt_or_missing_registry_is_a_one_line_error(repo: Repo):
    registry = repo.path / "models/registry.json"
    good = registry.read_text()
    registry.write_text(good[: len(good) // 2])
    run = repo.make("registry")
    assert run.code != 0 and "registry.json: corrupt JSON" in run.err and "Traceback" not in run.err
    registry.unlink()
    run = repo.make("promote", "VERSION=v1")
    assert run.code != 0 and "missing, but models/model_metadata.log shows versions were registered" in run.err
    registry.write_text(good)
    assert repo.make("registry").code == 0


def test_a_hand_edited_registry_is_refused_by_the_server_live_status_and_verify_all(repo: Repo):
    """Moving aliases.production by hand (no event) is seen: the server keeps its model and logs why,
    make live, make status and make verify-all name the event the alias disagrees with; an event
    deleted or an actor forged breaks the chain at the event after it."""
    import json
    import time

    from tests.serving.test_serve import Server, call

    repo.set_param("model", "n_estimators", 30)
    assert repo.make("train").code == 0
    path = repo.path / "models/registry.json"
    honest = path.read_text()
    server = Server(repo).start()
    try:  # Server.start waits until every worker has loaded the honest registry
        doc = json.loads(honest)
        doc["aliases"]["production"] = "v2"
        doc["versions"]["v1"]["status"], doc["versions"]["v2"]["status"] = "archived", "production"
        path.write_text(json.dumps(doc))
        time.sleep(3 * repo.params()["deployment"]["reload_interval_s"] + 1)
        assert call(server.port, "GET", "/model")[1]["version"] == "v1", "the server swapped to a hand-moved alias"
        refused = [r for r in server.deployment_rows() if r["event"] == "refused"]
        assert refused and "aliases.production is v2 but history event" in refused[-1]["detail"], refused
    finally:
        server.stop()
    expected = "aliases.production is v2 but history event"
    for target in ("live", "status", "verify-all"):
        run = repo.make(target)
        assert expected in run.out + run.err and (run.code != 0 or target == "status"), (target, run.out, run.err)
        assert "Traceback" not in run.err
    for change, event in [(lambda d: d["history"].pop(1), 2), (lambda d: d["history"][0].update(actor="mallory@x"), 2)]:
        doc = json.loads(honest)
        change(doc)
        path.write_text(json.dumps(doc))
        run = repo.make("verify-all")
        assert run.code != 0 and f"history event {event} (" in run.out and "does not follow event" in run.out, run.out
