"""Throwaway places to run the project in: a copy of its sources (and, for the demos, its built
state), a free port.

Used by the benchmarks, the demos and the tests, so none of them ever touches the user's versions,
registry or logs.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from scripts.core.config import ROOT, load_params, params_path, read_yaml
from scripts.core.store import atomic_write_bytes

SOURCES = [".gitignore", "Makefile", "params.yaml", "requirements.txt", "requirements-dev.txt", "scripts", "schemas",
           "data/raw"]
# The built state a demo starts from, by its params key: data versions, models, registry and the run
# history (never the production logs: the demo judges only its own traffic).
STATE = [("paths", "processed_dir"), ("paths", "production_dir"), ("paths", "manifest"), ("paths", "models_dir"),
         ("paths", "registry"), ("paths", "metadata_log"), ("paths", "experiments_log"), ("paths", "runs_log")]
STAMPS = ".make"  # make's stamps and pointers (its warm worker's socket is left behind: a socket is no file)


def copy_repo(into: Path) -> Path:
    """The project's sources in a fresh directory, with the shared .venv linked."""
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    (into / ".venv").symlink_to(ROOT / ".venv")
    return into


def edit_params(work: Path, change: Callable[[dict], Any], name: str = "params.yaml") -> dict:
    """Change a copy's params file in place (change edits the params it is given); the params the copy
    now reads."""
    import yaml

    params = read_yaml((work / name).read_text())
    change(params)
    (work / name).write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def with_model(work: Path, overrides: dict) -> dict:
    """Override model params in a copy's params.yaml; the params the copy now reads."""
    return edit_params(work, lambda params: params["model"].update(overrides))


def copy_project(into: Path, params: dict) -> Path:
    """The project as it stands, sources and built state (mtimes kept, so make sees what is up to
    date), without its logs: a place to run a demo that can change anything."""
    copy_repo(into)
    in_force = params_path().resolve()
    if in_force.is_relative_to(ROOT) and not (into / in_force.relative_to(ROOT)).exists():  # CLOCKWORK_PARAMS's file
        shutil.copy2(in_force, into / in_force.relative_to(ROOT))
    for section, key in STATE:
        source = ROOT / params[section][key]
        if source.is_dir():
            shutil.copytree(source, into / params[section][key], dirs_exist_ok=True, copy_function=shutil.copy2)
        elif source.is_file():
            (into / params[section][key]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / params[section][key])
    if (ROOT / STAMPS).is_dir():
        shutil.copytree(ROOT / STAMPS, into / STAMPS, symlinks=True, copy_function=shutil.copy2, dirs_exist_ok=True,
                        ignore=lambda folder, names: ["warm"] if Path(folder) == ROOT / STAMPS else [])
    return into


def run_in_copy(name: str, module: str, args: list[str], keep: bool, bring_back: str | None = None) -> int:
    """Run `python -m module args` in a throwaway copy of the project (under $TMPDIR), bring back the
    files it wrote in the folder bring_back (new files only: its results), and remove the copy unless
    keep. Ctrl-C reaches the command as it reaches this one, and the copy is removed only once the
    command has wound down (and any server it left is stopped)."""
    place = Path(tempfile.mkdtemp(prefix=f"clockwork-{name}-"))
    params = load_params()
    copy_project(place, params)
    print(f"{name}: in a throwaway copy of this project, {place} (your data, models, registry and logs are not "
          f"touched{'' if keep else '; KEEP=1 keeps the copy'})", flush=True)
    child = subprocess.Popen([sys.executable, "-m", module, *args], cwd=place)
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:
                continue  # the command has the same Ctrl-C; wait for it to wind down
        for result in sorted((place / bring_back).glob("*")) if bring_back and code == 0 else []:
            if result.is_file() and not (ROOT / bring_back / result.name).exists():
                atomic_write_bytes(ROOT / bring_back / result.name, result.read_bytes())
                print(f"{name}: result in {bring_back}/{result.name}")
        return code
    finally:
        stop_server(place, place / params["deployment"]["pid_file"])
        if keep:
            print(f"{name}: the copy is kept: {place}")
        else:
            shutil.rmtree(place, ignore_errors=True)


def stop_server(place: Path, pid_file: Path) -> None:
    """Stop a server a command left running in a copy (it normally stops its own)."""
    if pid_file.exists():
        subprocess.run(["make", "--no-print-directory", "-C", str(place), "stop"], capture_output=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
