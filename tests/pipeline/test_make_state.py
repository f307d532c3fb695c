"""make's view stays true: switching the params file and back returns every stage to its versions;
a command that calls another passes the inner reason through; a closed pipe is not an error."""
from __future__ import annotations

import subprocess

from tests.conftest import TEST_FOREST, Repo
from tests.serving.test_serve import Server


def pointers(repo: Repo) -> dict[str, str]:
    return {stage: (repo.path / ".make/out" / stage).read_text().strip() for stage in ("prepare", "train", "evaluate", "register")}


def test_switching_the_params_file_and_back_returns_make_to_the_right_versions(repo: Repo):
    default = pointers(repo)
    alt = repo.path / "alt.yaml"
    alt.write_text((repo.path / "params.yaml").read_text().replace(f"  n_estimators: {TEST_FOREST} ", "  n_estimators: 30 "))
    run = repo.make("train", CLOCKWORK_PARAMS="alt.yaml")
    assert run.code == 0 and run.stages == ["train", "evaluate", "register"], run.out + run.err
    switched = pointers(repo)
    assert switched["train"] != default["train"] and switched["prepare"] == default["prepare"]

    status = repo.make("status")
    assert status.code == 0 and "train     stale" in status.out, "back on params.yaml, the alt model is stale"
    run = repo.make("train")
    assert run.code == 0 and run.stages == ["train", "evaluate", "register"], run.out + run.err
    assert pointers(repo) == default, "the default params' versions are back (reused, not rebuilt)"
    assert "reusing it" in run.err and repo.model_versions == ["model_v1.joblib", "model_v2.joblib"]
    assert repo.make("train").stages == [] and "up to date" in repo.make("status").out

    run = repo.make("train", CLOCKWORK_PARAMS="alt.yaml")
    assert pointers(repo) == switched and run.stages == ["train", "evaluate", "register"]
    assert repo.make("train", CLOCKWORK_PARAMS="alt.yaml").stages == [], "the same file twice is a no-op"


def test_a_raw_file_only_the_other_params_name_does_not_leak_back(repo: Repo):
    alt = repo.path / "alt.yaml"
    alt.write_text((repo.path / "params.yaml").read_text().replace("raw: data/raw/ai4i2020.csv", "raw: data/raw/missing.csv"))
    run = repo.make("train", CLOCKWORK_PARAMS="alt.yaml")
    assert run.code != 0 and "data/raw/missing.csv: file not found" in run.err
    run = repo.make("train")
    assert run.code == 0, run.err


def test_the_demo_passes_the_inner_reason_through_and_changes_nothing(repo: Repo, tmp_path):
    """The demo runs in a throwaway copy, so the project's own server is no obstacle; a port it cannot
    have is one line from inside the copy, and the copy is gone."""
    server = Server(repo).start()
    try:
        def visible() -> list[str]:  # the server's own in-flight markers (.pending, .address) come and go
            return sorted(p.name for p in (repo.path / "logs").iterdir() if not p.name.startswith("."))
        logs = visible()
        run = repo.make("demo", f"PORT={server.port}", TMPDIR=str(tmp_path))
        assert run.code == 2
        assert run.err.startswith(f"error: deployment.port: 127.0.0.1:{server.port} is already in use (PORT= picks another)")
        assert len(run.err.splitlines()) == 2 and "] Error 2" in run.err.splitlines()[1], run.err
        assert visible() == logs, "nothing changed in the project's logs"
        assert not list(tmp_path.glob("clockwork-demo-*")), "the copy is removed"
    finally:
        server.stop()


def test_a_reader_that_stops_early_is_not_an_error(repo: Repo):
    for _ in range(3):
        repo.make("promote", "VERSION=v1")
    # `true` exits before reading anything, so every write the command makes meets a closed pipe
    for reader in ("head -1", "true"):
        done = subprocess.run(f"make registry | {reader}; echo \"status=${{PIPESTATUS[0]}}\"", shell=True, executable="/bin/bash",
                              cwd=repo.path, capture_output=True, text=True)
        assert done.stdout.splitlines()[-1] == "status=0", done.stdout + done.stderr
        assert done.stderr == "", "no traceback, no internal error, no make error"
