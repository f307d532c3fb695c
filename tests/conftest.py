"""Shared fixtures: a real pipeline built once in a temporary copy of the repository.

Integration tests run the real make in their own copy of that built tree (mtimes kept,
.venv linked), so each one starts from a finished build and pays only for what it changes.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.dev.sandbox import copy_repo

ROOT = Path(__file__).resolve().parent.parent
# The many throwaway copies run their stages warm, as a user's make does, in workers they all share
# (one per key, in one short folder per pytest process, removed when it ends, which stops them).
# tests/core/test_warm.py runs each clone's own worker, and proves a warm stage the same as a cold one.
os.environ.pop("COLD", None)
os.environ["CLOCKWORK_WARM_DIR"] = tempfile.mkdtemp(prefix="cw-warm-", dir="/tmp")
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as make clears it: what the tests start directly reuses bytecode too


def pytest_unconfigure(config) -> None:  # noqa: ANN001 - pytest's hook, run in every process (xdist's too)
    """Stop the shared workers at the end: each leaves once its socket is gone."""
    shutil.rmtree(os.environ["CLOCKWORK_WARM_DIR"], ignore_errors=True)
    if not hasattr(config, "workerinput"):
        Path(os.environ[GROUPS]).unlink(missing_ok=True)


@dataclass
class Run:
    """The outcome of one make invocation."""
    code: int
    out: str
    err: str

    @property
    def stages(self) -> list[str]:
        """Stage recipes that ran, in order (each recipe echoes '>> name')."""
        return [line[3:].strip() for line in self.out.splitlines() if line.startswith(">> ")]


class Repo:
    """A throwaway copy of the project where real make runs."""

    def __init__(self, path: Path):
        self.path = path

    def make(self, *args: str, timeout: int = 300, **env: str) -> Run:
        done = subprocess.run(["make", *args], cwd=self.path, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **env})
        return Run(done.returncode, done.stdout, done.stderr)

    def smoke_bench(self, target: str, pattern: str, schema: str) -> dict:
        """Run a benchmark's make target with SMOKE=1 and read the one result it wrote under logs/bench,
        schema-checked."""
        from scripts.core.config import validate

        run = self.make(target, "SMOKE=1", timeout=600)
        assert run.code == 0, run.out + run.err
        [path] = (self.path / "logs/bench").glob(pattern)
        doc = json.loads(path.read_text())
        validate(doc, schema, path.name)
        return doc

    def params(self) -> dict:
        from scripts.core.config import read_yaml

        return read_yaml((self.path / "params.yaml").read_text())

    def set_param(self, section: str, key: str, value) -> None:
        """Edit one value in place, keeping the file's comments and order (as a person would)."""
        text = (self.path / "params.yaml").read_text().splitlines(keepends=True)
        inside = False
        for i, line in enumerate(text):
            if not line.startswith(" ") and line.strip():
                inside = line.startswith(f"{section}:")
            elif inside and line.strip().startswith(f"{key}:"):
                indent = line[: len(line) - len(line.lstrip())]
                comment = line[line.index("#"):].rstrip("\n") if "#" in line else ""
                text[i] = f"{indent}{key}: {json.dumps(value)}  {comment}\n"
                break
        else:
            raise KeyError(f"{section}.{key}")
        (self.path / "params.yaml").write_text("".join(text))

    def set_grid(self, grid: str) -> None:
        """Replace params experiments.grid with the given YAML block (indented two spaces)."""
        import re

        text = (self.path / "params.yaml").read_text()
        (self.path / "params.yaml").write_text(re.sub(r"  grid:\n(    .*\n)+", grid, text, count=1))

    def json(self, relative: str):
        return json.loads((self.path / relative).read_text())

    def versions(self, directory: str, pattern: str) -> list[str]:
        return sorted(p.name for p in (self.path / directory).glob(pattern))

    @property
    def data_versions(self) -> list[str]:
        return self.versions("data/processed", "v*.json")

    @property
    def model_versions(self) -> list[str]:
        return self.versions("models", "model_v*.joblib")


def contract():
    """The data set contract of the repository's own params.yaml (AI4I)."""
    from scripts.core.config import load_params
    from scripts.core.contract import Contract

    return Contract.from_params(load_params()["dataset"])


def fields():
    """The service's view of AI4I's contract (scripts/serving/fields.py)."""
    from scripts.serving.fields import Fields

    return Fields.of(contract())


def check_line(line: dict, source: str) -> None:
    """Validate a prediction-log line as the service does for AI4I's contract (its inputs, its row id)."""
    _line_checker()(line, source)


@functools.lru_cache(maxsize=1)
def _line_checker():
    from scripts.serving.scoring import line_checker

    return line_checker(fields())


def spec(feats: dict | None = None) -> dict:
    """The feature spec (features.spec) of AI4I's contract with these features params (default: params')."""
    from scripts.core import features as F
    from scripts.core.config import load_params

    return F.spec(contract(), feats or load_params()["features"])


# The forest the tests' copies train: what they check (versions, stamps, gates, the loop, the service)
# is the same for any forest, and this one fits in a quarter of the default's time (1.0 s against 4.2 s
# on AI4I, with the same test F1). The default forest is what the README's figures show: its tests,
# and make bench, train params' own model.
TEST_FOREST = 32


def fresh_copy(destination: Path, forest: int | None = TEST_FOREST) -> Repo:
    """Copy the project's sources (no generated files) and link the shared .venv; the copy trains a
    forest of `forest` trees (None: params' own model)."""
    destination.mkdir(parents=True)
    copy_repo(destination)
    for empty in ("data/processed", "data/production", "models", "logs"):
        (destination / empty).mkdir(parents=True, exist_ok=True)
    repo = Repo(destination)
    if forest is not None:
        repo.set_param("model", "n_estimators", forest)
    return repo


GROUPS = "CLOCKWORK_TEST_GROUPS"  # where the workers write each test's group for the controller's scheduler


def pytest_configure(config) -> None:  # noqa: ANN001 - pytest's hook
    config.addinivalue_line("markers", "slow: a test of half a minute or more, started first")
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist): before any worker starts
        fd, path = tempfile.mkstemp(prefix="cw-groups-", suffix=".json", dir="/tmp")
        os.close(fd)
        os.environ[GROUPS] = path


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001 - pytest's hook
    """make test spreads the tests over two xdist workers, each test on its own, except those that
    share an expensive set-up: every test of the `demoed` project runs on one worker, and so does
    every test of a module whose module-scoped fixture it uses, so each such set-up is built once.
    The `demoed` tests and those marked slow go first, so no long test is left for the end while
    the other worker idles. Each group is an xdist_group mark, and the workers also write them
    down for the scheduler below (pytest 9's node ids no longer take xdist's own group suffix)."""
    first, groups = set(), {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        scopes = {name: defs[-1].scope for name, defs in (info.name2fixturedefs.items() if info else ()) if defs}
        if "demoed" in scopes:
            groups[item.nodeid] = "demoed"
        elif "module" in scopes.values():
            groups[item.nodeid] = item.nodeid.split("::")[0]
        if item.nodeid in groups:
            item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
        if "demoed" in scopes or item.get_closest_marker("slow"):
            first.add(item.nodeid)
    items.sort(key=lambda item: item.nodeid not in first)  # stable: the rest keep their order
    if hasattr(config, "workerinput"):
        from scripts.core.store import atomic_write_text

        atomic_write_text(Path(os.environ[GROUPS]), json.dumps(groups))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):  # noqa: ANN001, ANN201 - xdist's hook
    """xdist's scope scheduler, with the groups the workers wrote as scopes: a group goes whole to one
    worker, every other test is a scope of its own (largest groups first, then in collection order)."""
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):
        groups: dict | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(Path(os.environ[GROUPS]).read_text() or "{}")
            return self.groups.get(nodeid, nodeid)

    return Grouped(config, log)


def shared_build(tmp_path_factory, name: str, forest: int | None) -> Repo:
    """One full `make train` in a fresh copy, shared read-only by many tests: built once per test run,
    by whichever xdist worker asks first, while the others wait on its lock."""
    from scripts.core.store import locked

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    repo, done = Repo(root / name / "repo"), root / f"{name}.done"
    with locked(root / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(repo.path.parent, ignore_errors=True)  # what a failed attempt left
            fresh_copy(repo.path, forest)
            run = repo.make("train")
            assert run.code == 0, run.err
            done.touch()
    return repo


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Repo:
    """The project trained with the tests' forest (TEST_FOREST) and params' other defaults."""
    return shared_build(tmp_path_factory, "built", TEST_FOREST)


@pytest.fixture(scope="session")
def built_as_shipped(tmp_path_factory) -> Repo:
    """The project trained with params exactly as shipped: what the README's figures show."""
    return shared_build(tmp_path_factory, "shipped", None)


def copy_of(source: Repo, destination: Path) -> Repo:
    """A private copy of a built tree (mtimes kept, so make sees it as up to date), without the
    source's warm worker (a socket is no file to copy)."""
    shutil.copytree(source.path, destination, symlinks=True, copy_function=shutil.copy2,
                    ignore=lambda folder, names: ["warm"] if Path(folder).name == ".make" else [])
    return Repo(destination)


@pytest.fixture
def repo(built: Repo, tmp_path: Path) -> Repo:
    return copy_of(built, tmp_path / "repo")


TINY_GRID = """  grid:
    small-rf: {n_estimators: 20}
    logreg: {algorithm: logistic_regression, class_weight: balanced}
"""


def snapshot(repo: Repo) -> dict[str, str]:
    """Every file of the project's sources and state (not make's warm worker, nor Python's bytecode), by content."""
    import hashlib

    return {str(p.relative_to(repo.path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(repo.path.rglob("*")) if p.is_file() and not {".venv", "warm", "__pycache__"} & set(p.parts)}


def kept_copy(run: Run, name: str) -> Repo:
    """The throwaway copy a demo run with KEEP=1 left, from its last line."""
    prefix = f"{name}: the copy is kept: "
    [line] = [line for line in run.out.splitlines() if line.startswith(prefix)]
    return Repo(Path(line.removeprefix(prefix)))


@pytest.fixture(scope="session")
def demoed(built_as_shipped: Repo, tmp_path_factory) -> tuple[Repo, Run]:
    """The built tree after two experiments and the whole `make demo` (serve, replay, monitor,
    retrain, recover), which ran in a throwaway copy kept with KEEP=1: a project with a history,
    shared read-only by the demo and dashboard tests. The project the demo ran from is left
    byte for byte as it was. It trains params' own forest: the tests read the demo's story as the
    README tells it (which gates a forced retrain meets)."""
    from scripts.dev.sandbox import free_port

    repo = copy_of(built_as_shipped, tmp_path_factory.mktemp("demoed") / "repo")
    repo.set_grid(TINY_GRID)
    run = repo.make("-j2", "experiments")
    assert run.code == 0, run.out + run.err
    before = snapshot(repo)
    run = repo.make("demo", f"PORT={free_port()}", "KEEP=1", timeout=600, TMPDIR=str(tmp_path_factory.mktemp("demo")))
    assert run.code == 0, run.out + run.err
    assert snapshot(repo) == before, "make demo changed the project it ran from"
    return kept_copy(run, "demo"), run


class Payload:
    """A pickle that, once loaded, creates a file: the test's witness that something was unpickled."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_model(repo: Repo, version: str, marker: Path, like: str = "v1") -> Path:
    """A hostile model file nobody registered, with a card and training record naming its sha256 (as an
    attacker with write access to models/ would leave it); returns the artifact's path."""
    import hashlib
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(Payload(marker), buffer)
    blob = buffer.getvalue()
    artifact = repo.path / f"models/model_{version}.joblib"
    artifact.write_bytes(blob)
    for suffix in ("json", "train.json"):
        doc = json.loads((repo.path / f"models/model_{like}.{suffix}").read_text())
        doc["version"] = version
        doc["artifact"] = {**doc["artifact"], "path": f"models/model_{version}.joblib",
                           "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
        (repo.path / f"models/model_{version}.{suffix}").write_text(json.dumps(doc))
    return artifact
