"""Throwaway places to run the project in: a copy of its sources, a free port.

Used by the benchmarks and the tests, so neither ever touches the user's versions, registry or logs.
"""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

from scripts.core.config import ROOT

SOURCES = [".gitignore", "Makefile", "params.yaml", "requirements.txt", "scripts", "schemas", "data/raw"]


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
