"""make push and make pull with real make, against a directory, a real S3 server (SeaweedFS) and a
real SSH server: a fresh clone brings the same state back, a second push writes nothing, a push
killed mid-way leaves the remote whole, and two clones promoting at once never lose an event."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.core.store import sha256_file
from scripts.remote.sync import _referenced
from tests.conftest import Repo, copy_of, fresh_copy
from tests.serving.test_app import READING
from tests.serving.test_serve import Server, call


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root: (size, mtime_ns), to see that nothing was written."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def state(repo: Repo) -> dict[str, str]:
    """sha256 of every generated file a remote carries (not make's bookkeeping, the server's own log)."""
    out = {}
    for top in ("data/processed", "data/production", "models", "logs"):
        for path in (repo.path / top).rglob("*"):
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith((".lock", ".log", ".flag", ".png")) \
                    and "bench" not in path.parts:
                out[str(path.relative_to(repo.path))] = sha256_file(path)
    if (repo.path / "data/manifest.txt").exists():
        out["data/manifest.txt"] = sha256_file(repo.path / "data/manifest.txt")
    return out


def ok(run, *words: str) -> str:
    assert run.code == 0, run.out + run.err
    for word in words:
        assert word in run.out, run.out
    return run.out


def round_trip(source: Repo, clone: Repo, remote: str, **env: str) -> None:
    """Push source, push again (nothing), pull into a fresh clone; both hold the same state after."""
    ok(source.make("push", f"REMOTE={remote}", **env), "pushed ")
    ok(source.make("push", f"REMOTE={remote}", **env), "pushed nothing")
    ok(clone.make("pull", f"REMOTE={remote}", **env), "pulled ")
    assert state(clone) == state(source)
    ok(clone.make("verify-all"), "PASS")
    ok(clone.make("status", f"REMOTE={remote}", **env), "in step")


def test_a_fresh_clone_pulls_the_same_state_from_a_directory(demoed, tmp_path):
    source = copy_of(demoed[0], tmp_path / "source")
    remote = tmp_path / "remote"
    ok(source.make("push", f"REMOTE={remote}"), "pushed ")
    before = tree(remote)
    ok(source.make("push", f"REMOTE={remote}"), "pushed nothing")
    assert tree(remote) == before, "a second push wrote to the remote"
    clone = fresh_copy(tmp_path / "clone", forest=None)  # the params the demo ran with
    ok(clone.make("pull", f"REMOTE={remote}"), "pulled ", "the registry")
    assert state(clone) == state(source)
    ok(clone.make("verify-all"), "PASS")
    production = source.json("models/registry.json")["aliases"]["production"]
    assert clone.json("models/registry.json") == source.json("models/registry.json")
    model = f"models/model_{production}.joblib"
    assert sha256_file(clone.path / model) == sha256_file(source.path / model)
    versions = (clone.data_versions, clone.model_versions)
    run = clone.make("train")
    ok(run)
    assert (clone.data_versions, clone.model_versions) == versions, "make train after a pull built a version"
    assert "created data version" not in run.err and "trained model" not in run.err, run.err
    ok(clone.make("pull", f"REMOTE={remote}"), "pulled nothing")
    server = Server(clone).start()
    try:
        status, served = call(server.port, "GET", "/model")
    finally:
        server.stop()
    assert status == 200 and served["version"] == production
    assert served["sha256"] == sha256_file(source.path / model)


def test_what_grew_since_travels_and_nothing_else(built, tmp_path):
    source, remote = copy_of(built, tmp_path / "source"), tmp_path / "remote"
    clone = fresh_copy(tmp_path / "clone")
    round_trip(source, clone, str(remote))
    source.set_param("model", "n_estimators", 50)
    ok(source.make("train"))
    ok(source.make("status", f"REMOTE={remote}"), "ahead:")
    out = ok(source.make("push", f"REMOTE={remote}"), "the registry (1 new events)")
    assert "log segment" in out
    ok(clone.make("status", f"REMOTE={remote}"), "behind:")
    ok(clone.make("pull", f"REMOTE={remote}"), "the registry")
    assert state(clone) == state(source)


def test_pull_refuses_a_damaged_object_naming_the_file(built, tmp_path):
    source, remote = copy_of(built, tmp_path / "source"), tmp_path / "remote"
    ok(source.make("push", f"REMOTE={remote}"))
    index = json.loads((remote / "index.json").read_text())
    sha = index["files"]["models/model_v1.joblib"]["sha256"]
    damaged = remote / "objects" / sha
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    clone = fresh_copy(tmp_path / "clone")
    run = clone.make("pull", f"REMOTE={remote}")
    assert run.code != 0
    assert "models/model_v1.joblib: the remote's copy has sha256" in run.err and "Traceback" not in run.err
    assert not (clone.path / "models/model_v1.joblib").exists()
    assert not (clone.path / "models/registry.json").exists(), "the registry came before the models it names"


def test_bad_remotes_get_one_line(built, tmp_path):
    source = copy_of(built, tmp_path / "source")
    cases = {"REMOTE=nosuch": "REMOTE=nosuch: not a remote named in params.yaml remote.remotes",
             "REMOTE=gs://b/p": "unknown scheme gs://",
             f"REMOTE={tmp_path / 'empty'}": "holds nothing yet"}
    for arg, message in cases.items():
        command = "pull" if "empty" in arg else "push"
        run = source.make(command, arg)
        assert run.code == 2 and message in run.err and "Traceback" not in run.err, run.err
    run = source.make("push", "REMOTE=s3://clockwork/p", AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="a",
                      AWS_SECRET_ACCESS_KEY="b")
    assert run.code == 2 and "remote s3://clockwork/p: Could not connect" in run.err, run.err
    source.set_param("remote", "default", "team")
    run = source.make("push")
    assert run.code == 2 and "remote.default: team is not a name in remote.remotes" in run.err


def test_s3_round_trip_on_seaweedfs(built, tmp_path, objectstore):
    source, clone = copy_of(built, tmp_path / "source"), fresh_copy(tmp_path / "clone")
    round_trip(source, clone, "s3://clockwork/round-trip", **objectstore)
    run = source.make("push", "REMOTE=s3://no-such-bucket/p", **objectstore)
    assert run.code == 2 and "bucket no-such-bucket does not exist" in run.err


def test_ssh_round_trip_checks_the_host_key(built, tmp_path, sshd):
    source, clone = copy_of(built, tmp_path / "source"), fresh_copy(tmp_path / "clone")
    remote = f"ssh://clockwork-test{tmp_path}/ssh-remote"
    round_trip(source, clone, remote, HOME=sshd["HOME"])
    known = sshd["where"] / "known_hosts"
    saved = known.read_text()
    try:
        known.write_text(f"[127.0.0.1]:{sshd['port']} " + (sshd["where"] / "client_key.pub").read_text())
        run = source.make("push", f"REMOTE={remote}", HOME=sshd["HOME"])
        assert run.code == 2 and "Host key is not trusted" in run.err, run.err
    finally:
        known.write_text(saved)


def _push_killed(source: Repo, fs, prefix: str, objectstore: dict) -> bool:  # noqa: ANN001 - an s3fs filesystem
    """Start a push to s3://prefix and kill it as soon as an object is there: whether it was killed before it
    wrote its index. If it wrote it first (it finished), every object the index names must be there."""
    push = subprocess.Popen([str(source.path / ".venv/bin/python"), "-m", "scripts.remote.transfer", "push", "--remote",
                             f"s3://{prefix}", "--cache", ".make/statcache.json"], cwd=source.path,
                            env={**os.environ, **objectstore}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (fs.exists(prefix + "/objects") and fs.ls(prefix + "/objects")):
        time.sleep(0.01)
    push.send_signal(signal.SIGKILL)
    push.wait()
    if not fs.exists(prefix + "/index.json"):
        return True
    there = {name.rsplit("/", 1)[1] for name in fs.ls(prefix + "/objects")}
    assert _referenced(json.loads(fs.cat(prefix + "/index.json"))) <= there, "the index named objects before they were all there"
    return False


def test_a_push_killed_mid_way_leaves_the_remote_whole(built, tmp_path, objectstore):
    import s3fs
    source = copy_of(built, tmp_path / "source")
    source.set_param("remote", "jobs", 1)
    fs = s3fs.S3FileSystem(endpoint_url=objectstore["AWS_ENDPOINT_URL"], key="any", secret="any", skip_instance_cache=True,
                           use_listings_cache=False)
    # a push on a loaded machine can finish between two looks: then try again, on a fresh prefix
    prefix = next((p for p in (f"clockwork/killed-{k}" for k in range(5)) if _push_killed(source, fs, p, objectstore)), None)
    assert prefix, "five pushes each finished before the kill landed"
    clone = fresh_copy(tmp_path / "clone")
    assert clone.make("pull", f"REMOTE=s3://{prefix}", **objectstore).code == 2  # an empty remote, not a half one
    round_trip(source, clone, f"s3://{prefix}", **objectstore)


# as make runs them: forked from the warm worker, so the two pushes of a round race as soon as they start
WARM = ("-m", "scripts.core.warm")


def _promote(repo: Repo, version: str, reason: str) -> None:
    done = subprocess.run([str(repo.path / ".venv/bin/python"), *WARM, "-m", "scripts.pipeline.release", "promote", version,
                           "--reason", reason, "--force"], cwd=repo.path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _push(repo: Repo, remote: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *WARM, "-m", "scripts.remote.transfer", "push", "--remote", remote, "--cache",
                             ".make/statcache.json"], cwd=repo.path, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_two_clones_promoting_at_once_never_lose_an_event(built, tmp_path, objectstore, kind):
    first = copy_of(built, tmp_path / "a")
    first.set_param("model", "n_estimators", 50)
    ok(first.make("train"))  # v2, a candidate to move production to and fro
    remote, env = (str(tmp_path / "remote"), {}) if kind == "directory" else (f"s3://clockwork/race-{os.getpid()}", objectstore)
    ok(first.make("push", f"REMOTE={remote}", **env))
    second = copy_of(first, tmp_path / "b")
    clones = {"a": first, "b": second}
    for round_ in range(20):
        target = "v2" if round_ % 2 == 0 else "v1"
        for name, repo in clones.items():
            _promote(repo, target, f"{name} round {round_}")
        pushes = {name: _push(repo, remote, env) for name, repo in clones.items()}
        results = {name: (p.wait(), p.stdout.read(), p.stderr.read()) for name, p in pushes.items()}
        winners = [name for name, (code, _, _) in results.items() if code == 0]
        assert len(winners) == 1, results
        winner, loser = winners[0], ({"a", "b"} - set(winners)).pop()
        message = results[loser][2]
        assert f"ours has promote {target}" in message and f"{loser} round {round_}" in message, message
        assert f"the remote has promote {target}" in message and f"{winner} round {round_}" in message, message
        loser_history = clones[loser].json("models/registry.json")["history"]
        assert loser_history[-1]["reason"] == f"{loser} round {round_}", "the refused event left the loser's registry"
        ok(clones[loser].make("pull", f"REMOTE={remote}", "KEEP=theirs", **env), "ours is kept as")
        assert clones[loser].json("models/registry.json") == clones[winner].json("models/registry.json")
    history = clones["a"].json("models/registry.json")["history"]
    assert len([e for e in history if e["action"] == "promote" and "round" in e["reason"]]) == 20
    aside = sorted((clones["a"].path / "models").glob("registry.json.ours-*")) + \
        sorted((clones["b"].path / "models").glob("registry.json.ours-*"))
    assert len(aside) == 20, "each refused event is kept in the registry set aside"


def _serve(repo: Repo, readings: int) -> None:
    server = Server(repo).start()
    try:
        for _ in range(readings):
            assert call(server.port, "POST", "/predict", {"instances": [READING]})[0] == 200
    finally:
        server.stop()


def _lines(repo: Repo, relative: str) -> list[str]:
    return sorted((repo.path / relative).read_text().splitlines())


def test_two_replicas_push_their_logs_and_each_pull_holds_every_line(built, tmp_path):
    first, remote = copy_of(built, tmp_path / "a"), str(tmp_path / "remote")
    ok(first.make("push", f"REMOTE={remote}"))
    second = fresh_copy(tmp_path / "b")
    ok(second.make("pull", f"REMOTE={remote}"))
    before = len(_lines(first, "logs/predictions.jsonl")) if (first.path / "logs/predictions.jsonl").exists() else 0
    _serve(first, 3)
    _serve(second, 2)
    pushes = [_push(repo, remote, {}) for repo in (first, second)]  # at once: one swaps the index first, the other rereads
    for push in pushes:
        assert push.wait() == 0, push.stderr.read()
    for repo in (first, second):
        ok(repo.make("pull", f"REMOTE={remote}"))
    for log in ("logs/predictions.jsonl", "logs/deployment_log.csv"):
        assert _lines(first, log) == _lines(second, log), log
    assert len(_lines(first, "logs/predictions.jsonl")) == before + 5
    rows = (first.path / "logs/deployment_log.csv").read_text().splitlines()
    assert [r for r in rows if r.startswith("time,")] == [rows[0]], "the CSV header was written twice"
    for repo in (first, second):
        ok(repo.make("verify-all"), "PASS")
        ok(repo.make("status", f"REMOTE={remote}"), "in step")


def test_a_log_rewritten_here_is_refused_and_an_archived_one_starts_afresh(built, tmp_path):
    repo, remote = copy_of(built, tmp_path / "repo"), str(tmp_path / "remote")
    _serve(repo, 2)
    ok(repo.make("push", f"REMOTE={remote}"))
    index = (tmp_path / "remote/index.json").read_bytes()
    log = repo.path / "logs/predictions.jsonl"
    kept = log.read_bytes()
    edited = bytearray(kept)
    edited[2] = ord("X") if edited[2] != ord("X") else ord("Y")
    log.write_bytes(bytes(edited))  # an earlier line edited by hand
    run = repo.make("push", f"REMOTE={remote}")
    assert run.code == 2 and "logs/predictions.jsonl: its first" in run.err and "have changed here" in run.err, run.err
    assert (tmp_path / "remote/index.json").read_bytes() == index, "a refused push changed the remote"
    archive = repo.path / "logs/archive/20260101T000000Z"
    archive.mkdir(parents=True)
    log.write_bytes(kept)
    log.rename(archive / "predictions.jsonl")  # what make demo and make scenarios do before they start
    _serve(repo, 1)
    ok(repo.make("push", f"REMOTE={remote}"), "log segment")
    clone = fresh_copy(tmp_path / "clone")
    ok(clone.make("pull", f"REMOTE={remote}"))
    assert (clone.path / "logs/archive/20260101T000000Z/predictions.jsonl").read_bytes() == kept
    assert len(_lines(clone, "logs/predictions.jsonl")) == len(kept.splitlines()) + 1, "the remote's stream holds both"


def test_a_pull_leaves_a_log_with_unpushed_lines_until_the_next_push(built, tmp_path):
    first, remote = copy_of(built, tmp_path / "a"), str(tmp_path / "remote")
    log = first.path / "logs/predictions.jsonl"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    ok(first.make("push", f"REMOTE={remote}"))
    second = fresh_copy(tmp_path / "b")
    ok(second.make("pull", f"REMOTE={remote}"))
    _serve(first, 1)
    ok(first.make("push", f"REMOTE={remote}"))
    _serve(second, 1)
    out = ok(second.make("pull", f"REMOTE={remote}"))
    assert "logs/predictions.jsonl: " in out and "not on the remote yet; make push, then pull" in out
    ok(second.make("push", f"REMOTE={remote}"))
    for repo in (second, first):
        ok(repo.make("pull", f"REMOTE={remote}"))
    lines = _lines(first, "logs/predictions.jsonl")
    assert lines == _lines(second, "logs/predictions.jsonl") and len(lines) == len(set(lines)) == before + 2
