"""Make variables are data, never code: hostile values run nothing, REASON lands in the history byte
for byte, and a command that prints an error exits non-zero."""
from __future__ import annotations

import pytest

from tests.conftest import Repo


def hostile(marker: str) -> str:
    """Every way a value could become code on the way to Python: quotes, backticks, $(...) for the
    shell and for make, $5, a newline, and a separator."""
    return (f'a"b\'c `touch {marker}-1` $(touch {marker}-2) $(shell touch {marker}-3) $$(touch {marker}-4) '
            f'$5 \\ \n touch {marker}-5 ; touch {marker}-6')


TARGETS = [("promote", "VERSION"), ("promote", "FORCE"), ("rollback", "REASON"), ("labels", "FILE"), ("replay", "DATASET"),
           ("replay", "PORT"), ("synth", "ROWS"), ("experiments-table", "METRIC"), ("experiments-table", "ALL"), ("runs", "ALL"),
           ("live", "JSON"), ("metrics-diff", "A"), ("params-diff", "B"), ("verify", "VERSION"), ("serve-bg", "PORT"),
           ("smoke", "PORT"), ("demo", "PORT"), ("bench-serve", "WORKER_CLASS"), ("train", "EXTRA"),
           ("train", "CLOCKWORK_PARAMS")]


@pytest.mark.parametrize("target,variable", TARGETS)
def test_a_hostile_value_runs_nothing(repo: Repo, tmp_path, target, variable):
    marker = tmp_path / "ran"
    run = repo.make(target, f"{variable}={hostile(marker)}", timeout=120)
    ran = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran"))
    assert ran == [], f"make {target} {variable}=... ran commands: {ran}\n{run.out}{run.err}"
    if run.code == 0:
        assert "error" not in run.err.lower(), "a command that prints an error exits non-zero"
    else:
        assert "Traceback" not in run.err and "internal error" not in run.err, run.err


def test_reasons_land_in_the_history_exactly(repo: Repo, tmp_path):
    repo.set_param("model", "n_estimators", 20)
    assert repo.make("train").code == 0
    reasons = ['model "v3" drifted', "undo `v2`, back to v3", "costs $5 less", "it's $(shell touch /tmp/x) \\n",
               "two\nlines"]
    repo.make("promote", "VERSION=v2", f"REASON={reasons[0]}")
    repo.make("rollback", f"REASON={reasons[1]}")
    for reason in reasons[2:]:
        repo.make("promote", "VERSION=v2", f"REASON={reason}")
        repo.make("rollback", f"REASON={reason}")
    history = [e["reason"] for e in repo.json("models/registry.json")["history"] if e["action"] in ("promote", "rollback")]
    assert history[-8:] == [reasons[0], reasons[1], reasons[2], reasons[2], reasons[3], reasons[3], reasons[4], reasons[4]]


def test_missing_values_are_named_with_their_usage(repo: Repo):
    for target, variable in [("promote", "VERSION"), ("labels", "FILE"), ("replay", "DATASET"), ("synth", "ROWS")]:
        run = repo.make(target)
        assert run.code == 2 and run.err.startswith(f"error: {variable}: missing (usage: make "), run.err


def test_an_unknown_dataset_is_refused_before_anything_is_built(repo: Repo):
    run = repo.make("replay", "DATASET=nonexistent")
    assert run.code == 2 and run.err.startswith("error: DATASET='nonexistent': not in params simulation.datasets")
    assert run.stages == [] and not (repo.path / "data/production/simulated").exists()


def test_label_files_that_are_binary_or_empty_are_named_as_such(repo: Repo, tmp_path):
    binary, empty = tmp_path / "b.csv", tmp_path / "e.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    empty.write_text("")
    run = repo.make("labels", f"FILE={binary}")
    assert run.code == 2 and run.err.startswith(f"error: {binary}: not UTF-8 text"), run.err
    run = repo.make("labels", f"FILE={empty}")
    assert run.code == 2 and run.err.startswith(f"error: {empty}: empty file"), run.err


def test_generated_folders_and_files_share_one_permission_policy(built: Repo):
    for path in [built.path / "data/processed/v1", built.path / "data/production/v1"]:
        assert path.stat().st_mode & 0o777 == 0o755, path
        for child in path.iterdir():
            assert child.stat().st_mode & 0o777 == 0o644, child
