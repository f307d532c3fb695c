"""The Makefile agrees with the code: each stage's code list covers its imports, and each stage is
stamped on exactly the params sections it declares (and loads)."""
from __future__ import annotations

import importlib
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


@pytest.mark.parametrize("stage,modules", [("prepare", ["scripts.pipeline.prepare"]), ("train", ["scripts.pipeline.train"]),
                                           ("evaluate", ["scripts.pipeline.evaluate"]), ("simulate", ["scripts.pipeline.simulate"]),
                                           ("prepare+epoch", ["scripts.pipeline.prepare", "scripts.core.epoch"])])
def test_a_stages_code_identity_is_exactly_its_declared_code(stage, modules):
    """The code a version's key hashes is read from the source (code_files), never from what a process
    has loaded; and it is exactly what the Makefile stamps the stage on, so a stage reruns when, and
    only when, a file of its identity changes."""
    from scripts.core.store import code_files

    variables = make_variables()
    declared = set().union(*(expand(variables[f"{name.upper()}_CODE"], variables) for name in stage.split("+")))
    assert set(code_files(*modules)) == declared, f"{stage}: {sorted(set(code_files(*modules)) ^ declared)}"


def stage_rules() -> dict[str, tuple[set[str], list[tuple[str, str]]]]:
    """Each stage rule of the Makefile: the params sections it is stamped on, and the commands
    (module, arguments) its recipe runs. Read from the Makefile's own text."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    rules, current = {}, None
    for line in text.splitlines():
        head = re.match(r"^\$\(O\)/([\w%-]+)\.done:(.*)$", line)
        if head:
            sections = {s for group in re.findall(r"\$\(call param,([^)]*)\)", head.group(2)) for s in group.split()}
            if "params-exp-%.sha" in head.group(2):  # an experiment's effective model section: model + its grid entry
                sections |= {"model", "experiments"}
            current = rules[head.group(1)] = (sections, [])
        elif current is not None and line.startswith("\t"):
            current[1].extend(re.findall(r"-m (scripts\.[\w.]+)([^;&|}]*)", line))
        elif line.strip():
            current = None
    return rules


def declared(module: str, arguments: str) -> set[str]:
    stage = importlib.import_module(module)
    return set(stage.EXPERIMENT_PARAMS if "--experiment" in arguments else stage.PARAMS)


def test_every_stage_rule_runs_a_declaring_stage():
    rules = stage_rules()
    assert set(rules) == {"prepare", "train", "evaluate", "register", "exp-%", "simulate"}, rules.keys()
    for name, (_, commands) in rules.items():
        assert commands, f"the {name} rule runs no scripts module"


@pytest.mark.parametrize("rule", ["prepare", "train", "evaluate", "register", "exp-%", "simulate"])
def test_a_stage_is_stamped_on_exactly_the_params_sections_it_declares(rule):
    stamped, commands = stage_rules()[rule]
    reads = set().union(*(declared(module, arguments) for module, arguments in commands))
    assert reads <= stamped, f"{rule} reads {sorted(reads - stamped)} but its Makefile rule is not stamped on them"
    assert stamped <= reads, f"{rule} is stamped on {sorted(stamped - reads)}, which none of its commands declares"
