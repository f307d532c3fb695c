"""requirements.txt pins every installed distribution exactly, so a fresh venv is the same venv."""
from __future__ import annotations

import re
from importlib import metadata

from scripts.core.config import ROOT

TOOLS = {"pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_installed_distribution_is_pinned_exactly():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        assert version, f"requirements.txt: {line!r} is not pinned with =="
        pins[canonical(name)] = version
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unpinned = sorted(set(installed) - set(pins) - TOOLS)
    assert not unpinned, f"installed but not pinned in requirements.txt: {unpinned}"
    assert {n: installed.get(n) for n in pins} == pins
