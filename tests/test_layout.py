"""The house rules of scripts/, read from the code: libraries lean on core only, no cycles, commands stay leaves,
short functions, and old module names that pickled models still use keep importing."""
from __future__ import annotations

import ast
import importlib
import io
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import MOVED
from scripts.core.config import ROOT
from scripts.core.store import sha256_file
from tests import ai4i as A

SCRIPTS = ROOT / "scripts"
ROLES = ["core", "pipeline", "monitoring", "inspect", "serving", "remote", "api", "dev"]
FACADES = ("dev", "api")  # may import any package's libraries; nothing imports them
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SCRIPTS.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Project modules a file imports (at any depth: deferred imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("scripts.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "scripts":
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {name for name in found if name != "scripts"}


def is_command(path: Path) -> bool:
    return 'if __name__ == "__main__":' in path.read_text()


def package(name: str) -> str | None:
    """The role package a module belongs to (a package's __init__ belongs to the package itself)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


COMMANDS = {name for name, path in MODULES.items() if is_command(path)}


def test_every_module_lives_in_a_role_package():
    loose = [name for name in MODULES if name != "scripts" and package(name) not in ROLES]
    assert not loose, f"modules outside the role packages {ROLES}: {loose}"


def test_a_library_imports_only_core_and_its_own_package():
    crossing = [f"{name} imports {target}" for name, targets in GRAPH.items() if name not in COMMANDS
                and package(name) not in (*FACADES, None) for target in targets if package(target) not in ("core", package(name))]
    assert not crossing, "what two packages share belongs in core:\n" + "\n".join(crossing)


def test_core_imports_no_other_package_and_nothing_imports_a_facade():
    assert not [(n, t) for n, ts in GRAPH.items() if package(n) == "core" for t in ts if package(t) != "core"]
    assert not [(n, t) for n, ts in GRAPH.items() for t in ts if package(t) in FACADES and package(n) != package(t)
                and package(n) != "dev"]


def test_no_import_cycle():
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH.get(name, ())):
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(target):] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_no_module_imports_a_command_module():
    offenders = [f"{name} imports the command {target}" for name, targets in GRAPH.items() for target in targets & COMMANDS]
    assert not offenders, "what two commands share belongs in a library module:\n" + "\n".join(offenders)


def test_no_function_is_longer_than_the_limit():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_every_moved_name_points_at_a_module_that_exists():
    assert MOVED, "scripts.MOVED lists the old names of moved modules"
    missing = [f"{old} -> {new}" for old, new in MOVED.items() if new not in MODULES]
    assert not missing, missing


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_name_imports_as_the_same_module(old):
    code = f"import importlib; a = importlib.import_module({old!r}); b = importlib.import_module({MOVED[old]!r}); " \
           "assert a is b, (a, b); assert b.__spec__.name == b.__name__ == " + repr(MOVED[old])
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_pipeline_pickled_under_the_old_feature_module_name_loads_and_predicts(monkeypatch):
    """A model trained before the move pickled scripts.features.add_derived: it must still load."""
    import pandas as pd

    from scripts.core import features as F
    from scripts.core.estimator import dump, fit
    from scripts.core.rawdata import read_raw
    from tests.conftest import contract, spec

    frame = read_raw(ROOT / "data/raw/ai4i2020.csv", contract()).iloc[:400]
    feats = spec({"derived": ["temp_diff_k", "power_w"], "scaling": "standard", "one_hot_type": True})
    model = {"algorithm": "random_forest", "seed": 1, "threshold": 0.5, "n_estimators": 5, "max_features": 1.0,
             "max_depth": None, "min_samples_leaf": 1, "class_weight": None}
    old = importlib.import_module("scripts.features")  # the alias makes the old name a real module name
    for name in ("add_derived", "derived_names"):
        monkeypatch.setattr(getattr(F, name), "__module__", "scripts.features")
    blob = dump(fit(frame, feats, model))
    assert b"scripts.features" in blob and b"scripts.core.features" not in blob
    monkeypatch.undo()
    del sys.modules["scripts.features"]  # a fresh process: only the pickle names the old module
    del old
    pipeline = __import__("joblib").load(io.BytesIO(blob))
    expected = fit(frame, feats, model).predict_proba(frame[A.INPUT_COLUMNS])
    assert (pipeline.predict_proba(pd.DataFrame(frame[A.INPUT_COLUMNS])) == expected).all()
    assert pickle.loads(pickle.dumps(F.add_derived)) is F.add_derived


PRE_MOVE = "bb18c72806ed05834430a93c7385082b8c4eab37"  # main just before scripts/ moved into role packages


def own_venv_marker(clone: Path) -> None:
    """The shared venv's files, linked, with a marker of the clone's own requirements.txt: the old
    commit pinned fewer packages, and the shared venv (a superset) serves it without a reinstall."""
    venv = clone / ".venv"
    venv.mkdir(exist_ok=True)
    for entry in (ROOT / ".venv").iterdir():
        if entry.name != ".installed" and not (venv / entry.name).exists():
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").write_text(sha256_file(clone / "requirements.txt") + "\n")


@pytest.mark.slow
def test_a_model_trained_before_the_move_serves_and_verifies_after_it(tmp_path):
    """Train in a clone at the commit before the move, bring today's code over it, and the old
    model still verifies (refit from its own recorded code) and serves; make rebuilds once, then nothing."""
    from tests.conftest import Repo
    from tests.serving.test_app import READING
    from tests.serving.test_serve import Server, call

    known = subprocess.run(["git", "cat-file", "-e", f"{PRE_MOVE}^{{commit}}"], cwd=ROOT, capture_output=True)
    if known.returncode:
        pytest.skip(f"this checkout's history does not hold {PRE_MOVE[:12]} (a shallow clone)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", PRE_MOVE], cwd=clone, check=True)
    own_venv_marker(clone)
    repo = Repo(clone)
    run = repo.make("train")
    assert run.code == 0 and (clone / "scripts/features.py").exists(), run.err
    assert "scripts/features.py" in repo.json("models/model_v1.json")["code"]["files"]

    for name in ("scripts", "schemas"):  # today's code, as a pull would bring it
        shutil.rmtree(clone / name)
        shutil.copytree(ROOT / name, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "params.yaml", "requirements.txt"):
        shutil.copy2(ROOT / name, clone / name)
    own_venv_marker(clone)  # the shared venv holds today's requirements
    run = repo.make("verify")
    assert run.code == 0 and run.out.strip().endswith("PASS") and f"git commit {PRE_MOVE[:12]}" in run.out, run.out + run.err

    server = Server(repo).start()  # make serve-bg: today's code rebuilds the pipeline once (v2 is only a candidate)
    try:
        assert call(server.port, "GET", "/ready") == (200, {"status": "ready", "model_version": "v1"})
        status, answer = call(server.port, "POST", "/predict", READING)
        assert status == 200 and answer["model_version"] == "v1" and 0 <= answer["failure_probability"] <= 1
    finally:
        server.stop()
    assert repo.json("models/registry.json")["aliases"]["production"] == "v1"
    run = repo.make("train")
    assert run.code == 0 and run.stages == [], "after one rebuild the move is a no-op"
