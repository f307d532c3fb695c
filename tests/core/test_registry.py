"""The registry library in-process: consistency, promotion rules, rollback by replaying history,
and transactions that write only on change."""
from __future__ import annotations

import json
import os

import pytest

from scripts.core import registry as R
from scripts.core.config import ClockworkError

METRICS = {"f1": 0.8, "recall": 0.7, "precision": 0.9, "roc_auc": 0.95, "error_rate": 0.01}


def entry(status: str, passed: bool = True) -> dict:
    return {"status": status, "registered_at": "2026-01-01T00:00:00Z", "card": "models/model_v1.json", "sha256": "a" * 64,
            "data_version": "v1", "algorithm": "random_forest", "metrics": METRICS,
            "gates": {"passed": passed, "failed": [] if passed else ["min_f1"], "gate_set": "evaluate", "compared_with": None,
                      "production_metrics": None, "results": [{"gate": "min_f1", "value": 0.8 if passed else 0.1,
                                                               "limit": 0.75, "passed": passed}]}}


@pytest.fixture
def paths(tmp_path) -> dict:
    paths = {"registry": str(tmp_path / "registry.json"), "metadata_log": str(tmp_path / "model_metadata.log"),
             "models_dir": str(tmp_path)}
    registry = {**R.empty_registry(), "schema_version": 1}  # as written before chaining: chained when read
    registry["versions"] = {"v1": entry("production"), "v2": entry("candidate"), "v3": entry("rejected", passed=False)}
    registry["aliases"]["production"] = "v1"
    registry["history"] = [*({"at": "2026-01-01T00:00:00Z", "action": "register", "from": None, "to": v, "reason": "gates",
                              "actor": "a@b"} for v in ("v1", "v2", "v3")),
                           {"at": "2026-01-01T00:00:00Z", "action": "promote", "from": None, "to": "v1", "reason": "first",
                            "actor": "a@b"}]
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    return paths


def test_no_registry_is_an_empty_one_until_a_version_was_registered(tmp_path):
    paths = {"registry": str(tmp_path / "registry.json"), "metadata_log": str(tmp_path / "model_metadata.log")}
    assert R.load(paths) == R.empty_registry()
    (tmp_path / "model_metadata.log").write_text("v1 ... status=production\n")
    with pytest.raises(ClockworkError, match="missing, but .* shows versions were registered; restore the registry"):
        R.load(paths)


def test_a_status_that_disagrees_with_the_history_is_refused(paths):
    registry = R.load(paths)
    registry["versions"]["v2"]["status"] = "production"
    with pytest.raises(ClockworkError, match=r"versions.v2.status is production but the history makes it candidate"):
        R.check_history(registry, "registry.json")


def test_promote_moves_the_alias_archives_the_old_one_and_records_why(paths):
    assert R.promote(paths, "v2", "better on recall") == "production -> v2"
    registry = R.load(paths)
    assert registry["aliases"]["production"] == "v2"
    assert [registry["versions"][v]["status"] for v in ("v1", "v2")] == ["archived", "production"]
    last = registry["history"][-1]
    assert (last["action"], last["from"], last["to"], last["reason"]) == ("promote", "v1", "v2", "better on recall")
    assert R.promote(paths, "v2", "again") == "v2 is already in production"


def test_a_challenger_is_another_registered_version_with_its_own_history(paths):
    assert R.challenge(paths, "v2", "try it") == "challenger -> v2"
    assert R.challenge(paths, "v2", "again") == "challenger is already v2"
    with pytest.raises(ClockworkError, match="VERSION=v1: is the production model"):
        R.challenge(paths, "v1", "no")
    with pytest.raises(ClockworkError, match=r"VERSION=v9: not in the registry \(registered: v1, v2, v3\)"):
        R.challenge(paths, "v9", "no")
    registry = R.load(paths)
    assert registry["aliases"]["challenger"] == "v2" and R.production_stack(registry["history"]) == ["v1"]
    assert registry["history"][-1] | {"at": "", "actor": "", "prev": ""} == {"at": "", "action": "challenge", "from": None, "to": "v2", "prev": "",
                                                                  "reason": "try it", "actor": ""}
    registry["aliases"]["challenger"] = "v1"
    with pytest.raises(ClockworkError, match="aliases.challenger is v1 but history event 5 made it v2: an alias moved"):
        R.check_history(registry, "registry.json")
    assert R.challenge(paths, None, "done") == "challenger -> none (was v2)"
    R.challenge(paths, "v2", "once more")
    R.promote(paths, "v2", "it won")
    assert R.load(paths)["aliases"]["challenger"] is None


def test_a_rejected_version_needs_force_and_the_history_says_so(paths):
    with pytest.raises(ClockworkError, match="VERSION=v3: rejected at registration .* use FORCE=1"):
        R.promote(paths, "v3", "try")
    R.promote(paths, "v3", "try", force=True)
    assert R.load(paths)["history"][-1]["reason"] == "try (forced past failed gates)"


def test_promote_names_the_known_versions_when_asked_for_another(paths):
    with pytest.raises(ClockworkError, match=r"VERSION=v9: not in the registry \(registered: v1, v2, v3\)"):
        R.promote(paths, "v9", "x")
    with pytest.raises(ClockworkError, match="not a version name"):
        R.promote(paths, "latest", "x")


def test_rollback_replays_the_history_and_can_go_back_twice(paths):
    with pytest.raises(ClockworkError, match="no earlier production version to roll back to"):
        R.rollback(paths, "oops")
    R.promote(paths, "v2", "x")
    R.promote(paths, "v3", "y", force=True)
    assert R.rollback(paths, "bad") == "production -> v2 (rolled back from v3)"
    assert R.rollback(paths, "worse") == "production -> v1 (rolled back from v2)"
    assert R.production_stack(R.load(paths)["history"]) == ["v1"]


def test_a_transaction_that_changes_nothing_writes_nothing_and_sweeps_debris(paths, tmp_path):
    path = tmp_path / "registry.json"
    os.utime(path, ns=(1, 1))
    debris = tmp_path / ".registry.json.abc.tmp"
    debris.write_text("half a registry")
    with R.transaction(paths) as registry:
        assert registry["aliases"]["production"] == "v1"
    assert path.stat().st_mtime_ns == 1 and not debris.exists()


def test_a_transaction_that_breaks_consistency_writes_nothing(paths, tmp_path):
    before = (tmp_path / "registry.json").read_text()
    with pytest.raises(ClockworkError, match="aliases.production"):
        with R.transaction(paths) as registry:
            registry["aliases"]["production"] = "v2"
    assert (tmp_path / "registry.json").read_text() == before


def test_the_table_lists_newest_first_with_the_gate_verdicts(paths):
    lines = R.table(paths).splitlines()
    assert lines[0] == "production: v1"
    assert [line.split()[0] for line in lines[2:]] == ["v3", "v2", "v1"]
    assert "failed min_f1" in lines[2] or "min_f1" in lines[2]


# ---- the chained history -------------------------------------------------------------------------

def edited(paths: dict, change) -> None:  # noqa: ANN001 - change(registry) edits the file's document in place
    path = paths["registry"]
    doc = json.loads(open(path).read())
    change(doc)
    with open(path, "w") as handle:
        json.dump(doc, handle)


def test_a_registry_from_before_chaining_is_chained_when_read_and_on_disk_at_its_next_change(paths):
    registry = R.load(paths)
    assert registry["schema_version"] == 2 and registry["history"][0]["prev"] is None
    assert [e["prev"] for e in registry["history"][1:]] == [R.event_hash(e) for e in registry["history"][:-1]]
    assert registry["history"][1]["entry"] == R.entry_hash(registry["versions"]["v2"])
    assert json.loads(open(paths["registry"]).read())["schema_version"] == 1, "reading writes nothing"
    R.promote(paths, "v2", "better")
    on_disk = json.loads(open(paths["registry"]).read())
    assert on_disk["schema_version"] == 2 and on_disk["history"][-1]["prev"] == R.event_hash(on_disk["history"][-2])
    assert R.load(paths)["aliases"]["production"] == "v2"


@pytest.mark.parametrize("change,message", [
    (lambda d: d["history"].pop(1), r"history event 2 \(register v3 .*\) does not follow event 1: an event was deleted"),
    (lambda d: d["history"][0].update(actor="mallory@evil"), r"history event 2 \(register v2 .*\) does not follow event 1"),
    (lambda d: d["history"].insert(4, d["history"][3]), r"history event 5 \(promote v1 .*\) does not follow event 4"),
    (lambda d: d["aliases"].update(production="v2"), r"aliases.production is v2 but history event 6 made it v1: an alias moved"),
    (lambda d: d["aliases"].update(challenger="v3"), r"aliases.challenger is v3 but no history event sets it"),
    (lambda d: d["versions"]["v2"].update(sha256="b" * 64), r"versions.v2 differs from what history event 2 registered"),
    (lambda d: d["versions"].update(v9=d["versions"]["v2"]), r"versions.v9 has no register event in the history: added by hand"),
    (lambda d: d["versions"].pop("v3"), r"v3, registered by history event 3, is gone from versions"),
])
def test_an_edited_history_or_alias_is_refused_naming_the_first_bad_event(paths, change, message):
    R.promote(paths, "v2", "better")  # written chained: events 1-3 register, 4 promote v1 (from before), 5 promote v2
    R.rollback(paths, "worse")
    edited(paths, change)
    with pytest.raises(ClockworkError, match=message):
        R.load(paths)
    with pytest.raises(ClockworkError, match=message):
        R.promote(paths, "v2", "no change lands on an edited registry")
