"""A kill at the worst moment leaves no trace: SIGKILL a stage at each file it creates, rerun it, and
the manifest and the metadata log name every version exactly once, no temp file is left, and
make verify-all passes."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Repo, copy_of

# Imported by every Python process through PYTHONPATH (site's sitecustomize hook), the warm worker
# included (PYTHONPATH is part of its key, so these runs have a worker of their own, and a stage it
# forks inherits the hook): an audit hook that, in the named stage's process only (its sys.argv[0],
# not the warm client's), counts the events that create or replace a file and SIGKILLs the process
# at the Nth, or just lists them. The kill hits the stage as it runs for a user: warm, by default.
KILLER = '''
import os, sys
_state = {"pid": None, "count": 0, "busy": False}

def _in_stage():
    stage = os.environ.get("CLOCKWORK_KILL_STAGE", "")
    first = str(sys.argv[0]) if sys.argv else ""
    return bool(stage) and (first == f"scripts.pipeline.{stage}" or first.endswith(f"scripts/pipeline/{stage}.py"))

def _hook(event, args):
    if _state["busy"]:
        return
    writes = event == "open" and ((args[1] is not None and any(c in str(args[1]) for c in "wax"))
                                  or (isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)))
    if not (writes or event in ("os.rename", "os.replace", "os.link", "os.mkdir", "tempfile.mkdtemp", "tempfile.mkstemp")):
        return
    if not _in_stage():
        return
    if _state["pid"] != os.getpid():  # a forked stage counts its own events from zero
        _state["pid"], _state["count"] = os.getpid(), 0
    _state["count"] += 1
    listing = os.environ.get("CLOCKWORK_KILL_LIST")
    if listing:
        _state["busy"] = True
        with open(listing, "a") as handle:
            handle.write(f"{event} {args[0]}\\n")
        _state["busy"] = False
    if _state["count"] == int(os.environ.get("CLOCKWORK_KILL_AT", "0")):
        os.kill(os.getpid(), 9)

sys.addaudithook(_hook)
'''


def killer(tmp_path: Path) -> Path:
    directory = tmp_path / "killer"
    directory.mkdir(exist_ok=True)
    (directory / "sitecustomize.py").write_text(KILLER)
    return directory


def events(repo: Repo, target: str, stage: str, hook: Path, tmp_path: Path) -> list[str]:
    """The file-creating events of one run of the stage (the run happens in a throwaway copy)."""
    probe, listing = copy_of(repo, tmp_path / f"probe-{stage}"), tmp_path / f"{stage}.events"
    run = probe.make(target, PYTHONPATH=str(hook), CLOCKWORK_KILL_STAGE=stage, CLOCKWORK_KILL_LIST=str(listing))
    assert run.code == 0, run.err
    return listing.read_text().splitlines()


def killed_then_rerun(base: Repo, target: str, stage: str, n: int, hook: Path, tmp_path: Path) -> Repo:
    repo = copy_of(base, tmp_path / f"{stage}-{n}")
    killed = repo.make(target, PYTHONPATH=str(hook), CLOCKWORK_KILL_STAGE=stage, CLOCKWORK_KILL_AT=str(n))
    assert killed.code != 0, f"the kill at event {n} did not happen"
    rerun = repo.make(target)
    assert rerun.code == 0, f"rerun after a kill at event {n}: {rerun.err}"
    return repo


def no_trace(repo: Repo, where: str) -> None:
    leftovers = [str(p.relative_to(repo.path)) for d in ("data", "models") for p in (repo.path / d).rglob(".*.tmp")]
    assert not leftovers, f"{where}: temp files left: {leftovers}"
    run = repo.make("verify-all")
    assert run.code == 0, f"{where}: {run.out}"


@pytest.mark.slow
@pytest.mark.parametrize("stage,change,target", [
    ("prepare", ("data", "train_window_rows", 6900), "prepare"),  # a new data version, its files, its manifest line
    ("evaluate", ("model", "min_samples_leaf", 2), "evaluate"),    # a new model's card
    ("register", ("model", "min_samples_leaf", 2), "register"),    # the registry and the metadata-log line
])
def test_a_kill_at_each_file_creation_leaves_no_trace(built: Repo, tmp_path, stage, change, target):
    base = copy_of(built, tmp_path / "base")
    base.set_param("model", "n_estimators", 10)  # a light forest: the kills are about files, not fitting
    base.set_param(*change)
    upstream = {"prepare": None, "evaluate": ".make/out/train", "register": "evaluate"}[stage]
    if upstream:
        assert base.make(upstream).code == 0
    hook = killer(tmp_path)
    count = len(events(base, target, stage, hook, tmp_path))
    assert count >= 5, f"{stage} creates files: {count} events seen"
    with ThreadPoolExecutor(max_workers=2) as pool:
        repos = list(pool.map(lambda n: killed_then_rerun(base, target, stage, n, hook, tmp_path), range(1, count + 1)))
    for n, repo in enumerate(repos, 1):
        no_trace(repo, f"{stage} killed at event {n} of {count}")
