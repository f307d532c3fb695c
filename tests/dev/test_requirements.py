"""requirements.txt pins what running the product needs, requirements-dev.txt what the tests and
lint add; together they pin every installed distribution exactly, so a fresh venv is the same venv,
and the product's file alone installs everything scripts/ imports."""
from __future__ import annotations

import ast
import re
import sys
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement

from scripts.core.config import ROOT

TOOLS = {"pip", "setuptools", "wheel"}
EXTRAS = {"gunicorn": {"gevent"}}  # the extras the product runs with (gunicorn's gevent worker imports packaging)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        if not line.strip() or line.startswith(("#", "-r ")):
            continue
        package, _, version = line.partition("==")
        assert version, f"{name}: {line!r} is not pinned with =="
        found[canonical(package)] = version
    return found


def test_every_installed_distribution_is_pinned_exactly_once():
    product, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert not set(product) & set(dev), "a package pinned in both files"
    assert (ROOT / "requirements-dev.txt").read_text().count("-r requirements.txt\n") == 1
    every = {**product, **dev}
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unpinned = sorted(set(installed) - set(every) - TOOLS)
    assert not unpinned, f"installed but not pinned: {unpinned}"
    assert {n: installed.get(n) for n in every} == every


def test_the_products_requirements_hold_everything_they_need():
    """Closed under dependencies (markers evaluated here, with the extras the product uses), so `make venv` alone
    installs a working product."""
    product, environment = pins("requirements.txt"), default_environment()
    missing = []
    for name in product:
        for text in metadata.requires(name) or []:
            need = Requirement(text)
            if need.marker and not any(need.marker.evaluate({**environment, "extra": extra})
                                       for extra in {"", *EXTRAS.get(name, ())}):
                continue
            if canonical(need.name) not in product:
                missing.append(f"{name} needs {need.name}")
    assert not missing, missing


def test_every_library_scripts_imports_is_in_the_products_requirements():
    product, owners = pins("requirements.txt"), metadata.packages_distributions()
    outside = set()
    for path in (ROOT / "scripts").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for top in {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"scripts"}:
                if not any(canonical(d) in product for d in owners.get(top, [])):
                    outside.add(f"{path.relative_to(ROOT)}: {top}")
    assert not outside, sorted(outside)
