"""The Makefile's per-stage code lists match what each stage really imports."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from scripts.core.config import ROOT

STAGES = {"prepare": "scripts.pipeline.prepare", "train": "scripts.pipeline.train", "evaluate": "scripts.pipeline.evaluate",
          "register": "scripts.pipeline.register", "simulate": "scripts.pipeline.simulate", "experiment": "scripts.pipeline.experiments"}


def make_variables() -> dict[str, list[str]]:
    out = subprocess.run(["make", "-pRrq", "DAG_ONLY=1", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        match = re.match(r"^([A-Z_]+_CODE) :?= (.*)$", line)
        if match:
            found[match.group(1)] = match.group(2).split()
    return found


def expand(values: list[str], variables: dict[str, list[str]]) -> set[str]:
    out = set()
    for value in values:
        ref = re.fullmatch(r"\$\((\w+)\)", value)
        out |= expand(variables[ref.group(1)], variables) if ref else {value}
    return out


@pytest.mark.parametrize("stage,module", STAGES.items())
def test_stage_code_list_covers_its_imports(stage, module):
    code = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
            "print('\\n'.join(sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None))))")
    files = subprocess.run([sys.executable, "-c", code, module], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    imported = {str(p.relative_to(ROOT)) for p in map(__import__("pathlib").Path, files.split())
                if p.is_relative_to(ROOT / "scripts")}
    variables = make_variables()
    declared = expand(variables[f"{stage.upper()}_CODE"], variables)
    assert imported <= declared, f"{stage} imports {sorted(imported - declared)} but the Makefile does not list them"
