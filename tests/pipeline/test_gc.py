"""make gc: a dry run by default, the bulky files of versions retention lets go deleted with
CONFIRM=1, their records kept; verify-all and status call them collected, make verify rebuilds one
byte for byte, and REMOTE= collects on a remote too."""
from __future__ import annotations

import json

from tests.conftest import copy_of, fresh_copy
from tests.remote.test_sync import ok


def three_versions(built, path):
    repo = copy_of(built, path)
    repo.set_param("data", "test_rows", 1400)
    ok(repo.make("train"))  # data v2, model v2
    repo.set_param("data", "test_rows", 1500)
    repo.set_param("model", "n_estimators", 50)
    ok(repo.make("train"))  # data v1 again, model v3
    repo.set_param("retention", "keep_last", 0)
    return repo


def test_gc_collects_what_retention_lets_go_and_verify_rebuilds_it(built, tmp_path):
    repo = three_versions(built, tmp_path / "repo")
    bulky = ["models/model_v2.joblib", "models/model_v3.joblib", "data/processed/v2/train.csv", "data/processed/v2/test.csv",
             "data/production/v2/production.csv"]
    out = ok(repo.make("gc"), "would collect: data v2, model v2, model v3 (5 files,", "CONFIRM=1 deletes")
    assert "v1 (the production alias)" in out
    assert all((repo.path / f).exists() for f in bulky), "a dry run deleted something"
    ok(repo.make("gc", "CONFIRM=1"), "collected: data v2, model v2, model v3")
    assert not any((repo.path / f).exists() for f in bulky)
    assert all((repo.path / f).exists() for f in ("models/model_v2.json", "models/model_v3.train.json", "data/processed/v2.json"))
    lines = [json.loads(x) for x in (repo.path / "logs/collected.jsonl").read_text().splitlines()]
    assert sorted(x["path"] for x in lines) == sorted(bulky)
    ok(repo.make("verify-all"), "PASS", "collected: 5 files")
    assert "damaged" not in ok(repo.make("status"))
    assert {"v1", "v2", "v3"} <= set(repo.json("models/registry.json")["versions"]), "the registry lost a collected version"
    ok(repo.make("verify", "VERSION=v2"), "PASS", "make gc had collected its splits", "put back")
    assert (repo.path / "models/model_v2.joblib").exists() and (repo.path / "data/processed/v2/train.csv").exists()
    ok(repo.make("verify-all"), "PASS")
    ok(repo.make("gc"), "would collect: data v2, model v2")


def test_gc_on_a_remote_drops_what_was_collected_and_a_pull_still_verifies(built, tmp_path):
    repo, remote = three_versions(built, tmp_path / "repo"), tmp_path / "remote"
    ok(repo.make("push", f"REMOTE={remote}"))
    objects = len(list((remote / "objects").iterdir()))
    ok(repo.make("gc", f"REMOTE={remote}"), "would drop 5 files")
    assert len(list((remote / "objects").iterdir())) == objects
    ok(repo.make("gc", "CONFIRM=1", f"REMOTE={remote}"), "dropped 5 files")
    left = {p.name for p in (remote / "objects").iterdir()}
    assert objects - 5 <= len(left) < objects  # an object another file shares (v2's production rows are v1's) stays
    index = json.loads((remote / "index.json").read_text())
    assert {r["sha256"] for r in index["files"].values()} <= left, "the index names a deleted object"
    ok(repo.make("push", f"REMOTE={remote}"))  # the collected log travels
    clone = fresh_copy(tmp_path / "clone")
    ok(clone.make("pull", f"REMOTE={remote}"))
    ok(clone.make("verify-all"), "PASS", "collected: 5 files")


def test_gc_on_a_remote_whose_registry_differs_is_refused(built, tmp_path):
    repo, remote = three_versions(built, tmp_path / "repo"), tmp_path / "remote"
    ok(repo.make("push", f"REMOTE={remote}"))
    ok(repo.make("promote", "VERSION=v3", "FORCE=1"))
    run = repo.make("gc", f"REMOTE={remote}")
    assert run.code == 2 and "its registry is not ours; make pull (or make push) first" in run.err
