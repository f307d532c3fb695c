"""Make variables are data, never code: hostile values run nothing, REASON lands in the history byte
for byte, and a command that prints an error exits non-zero."""
from __future__ import annotations

import pytest

from tests.conftest import Repo


def hostile(marker: str) -> str:
    """Every way a value could become code on the way to Python: quotes, backticks, $(...) for the
    shell and for make, $5, a newline, and a separator."""
    return (f'a"b\'c `touch {marker}-1` $(touch {marker}-2) $(shell touch {marker}-3) $$(touch {marker}-4) '
            f'$5 \\ \n touch {marker}-5 ; touch {marker}-6')


TARGETS = [("promote", "VERSION"), ("promote", "FORCE"), ("rollback", "REASON"), ("labels", "FILE"), ("replay", "DATASET"),
           ("replay", "PORT"), ("synth", "ROWS"), ("experiments-table", "METRIC"), ("experiments-table", "ALL"), ("runs", "ALL"),
           ("live", "JSON"), ("metrics-diff", "A"), ("params-diff", "B"), ("verify", "VERSION"), ("serve-bg", "PORT"),
           ("smoke", "PORT"), ("demo", "PORT"), ("bench-serve", "WORKER_CLASS"), ("train", "EXTRA"),
           ("train", "CLOCKWORK_PARAMS")]


@pytest.mark.parametrize("target,variable", TARGETS)
def test_a_hostile_value_runs_nothing(repo: Repo, tmp_path, target, variable):
    marker = tmp_path / "ran"
    run = repo.make(target, f"{variable}={hostile(marker)}", timeout=120)
    ran = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran"))
    assert ran == [], f"make {target} {variable}=... ran commands: {ran}\n{run.out}{run.err}"
    if run.code == 0:
        assert "error" not in run.err.lower(), "a command that prints an error exits non-zero"
    else:
        assert "Traceback" not in run.err and "internal error" not in run.err, run.err


def test_reasons_land_in_the_history_exactly(repo: Repo, tmp_path):
    repo.set_param("model", "n_estimators", 20)
    assert repo.make("train").code == 0
    reasons = ['model "v3" drifted', "undo `v2`, back to v3", "costs $5 less", "it's $(shell touch /tmp/x) \\n",
               "two\nlines"]
    repo.make("promote", "VERSION=v2", f"REASON={reasons[0]}")
    repo.make("rollback", f"REASON={reasons[1]}")
    for reason in reasons[2:]:
        repo.make("promote", "VERSION=v2", f"REASON={reason}")
        repo.make("rollback", f"REASON={reason}")
    history = [e["reason"] for e in repo.json("models/registry.json")["history"] if e["action"] in ("promote", "rollback")]
    assert history[-8:] == [reasons[0], reasons[1], reasons[2], reasons[2], reasons[3], reasons[3], reasons[4], reasons[4]]


def test_missing_values_are_named_with_their_usage(repo: Repo):
    for target, variable in [("promote", "VERSION"), ("labels", "FILE"), ("replay", "DATASET"), ("synth", "ROWS")]:
        run = repo.make(target)
        assert run.code == 2 and run.err.startswith(f"error: {variable}: missing (usage: make "), run.err


def test_an_unknown_dataset_is_refused_before_anything_is_built(repo: Repo):
    run = repo.make("replay", "DATASET=nonexistent")
    assert run.code == 2 and run.err.startswith("error: DATASET='nonexistent': not in params simulation.datasets")
    assert run.stages == [] and not (repo.path / "data/production/simulated").exists()


def test_label_files_that_are_binary_or_empty_are_named_as_such(repo: Repo, tmp_path):
    binary, empty = tmp_path / "b.csv", tmp_path / "e.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    empty.write_text("")
    run = repo.make("labels", f"FILE={binary}")
    assert run.code == 2 and run.err.startswith(f"error: {binary}: not UTF-8 text"), run.err
    run = repo.make("labels", f"FILE={empty}")
    assert run.code == 2 and run.err.startswith(f"error: {empty}: empty file"), run.err


def test_generated_folders_and_files_share_one_permission_policy(built: Repo):
    for path in [built.path / "data/processed/v1", built.path / "data/production/v1"]:
        assert path.stat().st_mode & 0o777 == 0o755, path
        for child in path.iterdir():
            assert child.stat().st_mode & 0o777 == 0o644, child


# ---- every variable the Makefile reads, found by reading the Makefile --------------------------

def makefile_reads(repo: Repo) -> tuple[dict[str, set[str]], set[str]]:
    """From the Makefile's own text: each variable it reads without defining it (the values a user, a
    script or the environment gives it), with the targets whose rules read it, directly or through a
    variable that does; and every variable it expands with $(NAME) rather than $(value NAME)."""
    import re

    text = (repo.path / "Makefile").read_text().replace("\\\n", " ")
    generated = make_database_variables(repo)
    definitions, rules, top, current = {}, {}, [], None
    lines = iter(text.splitlines())
    for line in lines:
        head = re.match(r"^(?:define\s+([A-Za-z_]\w*)|([A-Za-z_.][\w.]*)\s*(?::=|::=|\?=|\+=|=))(.*)$", line)
        rule = re.match(r"^([^\t#=:][^=:]*?)\s*:(?![=:])(.*)$", line)
        if head and head.group(1):
            body = []
            for inner in lines:
                if inner.startswith("endef"):
                    break
                body.append(inner)
            definitions[head.group(1)] = "\n".join(body)
            current = None
        elif head:
            definitions[head.group(2)] = definitions.get(head.group(2), "") + head.group(3)
            current = None
        elif rule and not line.startswith((".PHONY", ".SECONDARY", "unexport", "include", "-include")):
            current = rules.setdefault(rule.group(1), [])
            current.append(rule.group(2))
        elif line.startswith("\t") and current is not None:
            current.append(line)
        elif line.strip() and not line.startswith("#"):
            top.append(line)
            current = None
    defined = set(definitions) | generated | set(re.findall(r"\$\(foreach (\w+),", text))

    def reads(fragment: str) -> set[str]:
        return set(re.findall(r"\$\((?:value |origin |call q,)?([A-Za-z_]\w*)\)", fragment)) | set(
            re.findall(r"\$\((?:if|filter|or|and|findstring) [^,]*?\$\(value ([A-Za-z_]\w*)\)", fragment))

    def closure(fragment: str, seen: frozenset = frozenset()) -> set[str]:
        out = set()
        for name in reads(fragment) - seen:
            out |= {name} | (closure(definitions[name], seen | {name}) if name in definitions else set())
        return out

    builtins = {"MAKE", "MAKEFLAGS", "MAKECMDGOALS", "MAKEFILE_LIST", "CURDIR", "SHELL", ".VARIABLES", ".DEFAULT_GOAL"}
    targets: dict[str, set[str]] = {}
    for target, body in [*rules.items(), ("help train", top)]:
        for name in closure("\n".join(body)) - defined - builtins:
            for word in target.split():
                phony = re.fullmatch(r"[a-z][a-z-]*", word)
                targets.setdefault(name, set()).add(word if phony else "experiments" if "exp-" in word
                                                    else "simulate" if "simulate" in word else "train")
    expanded = {n for n in re.findall(r"\$\(([A-Za-z_]\w*)\)", text)} - defined - builtins
    return targets, expanded


def make_database_variables(repo: Repo) -> set[str]:
    """Variables the Makefile's generated includes (params.mk, the stages' outputs) define, from make's own database."""
    import re
    import subprocess

    out = subprocess.run(["make", "-pRrq", "train"], cwd=repo.path, capture_output=True, text=True).stdout
    return set(re.findall(r"^# makefile \(from '\.make/[^']*', line \d+\)\n([A-Za-z_]\w*) :?=", out, re.M))


@pytest.mark.slow
def test_every_variable_the_makefile_reads_is_data(repo: Repo, tmp_path):
    """Each variable the Makefile reads and does not define, given a hostile value on the command line and
    in the environment, to every target that reads it (every stage rerun, Python replaced by a recorder
    so every recipe runs in seconds): nothing runs, and a value handed to Python arrives whole."""
    import shlex

    targets, expanded = makefile_reads(repo)
    assert {"REASON", "VERSION", "CLOCKWORK_PARAMS", "EXTRA", "KEEP", "CLEAR", "COLD", "REMOTE"} <= set(targets), targets
    assert expanded == set(), f"the Makefile expands {sorted(expanded)}: read a value with $(value NAME), never $(NAME)"
    # the recorder is a shell script, each argument ended by a NUL (which no argument can hold): it
    # starts in a twentieth of Python's time (1.8 ms against 37 ms), and these makes start it for every
    # stage of every target
    recorder, argv_log = tmp_path / "python", tmp_path / "argv.bin"
    recorder.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> {shlex.quote(str(argv_log))}\n")
    recorder.chmod(0o755)
    pairs = sorted((target, name) for name, where in targets.items() for target in where)
    for target, name in sorted(pairs, key=lambda pair: pair[0] == "clean"):
        value = hostile(tmp_path / f"ran-{name}-{target}")
        for how in ("command line", "environment"):
            args, env = (([target, f"{name}={value}"], {}) if how == "command line" else ([target], {name: value}))
            for done in [*(repo.path / ".make/out").glob("*.done"), *(repo.path / ".make/stamps").glob("*.checked")]:
                done.unlink()  # every stage recipe runs again (the recorder stands in for Python)
            run = repo.make(*args, f"PY={recorder}", timeout=120, **env)
            ran = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran"))
            assert ran == [], f"make {target} with {name} from the {how}: ran {ran}\n{run.out}{run.err}"
    passed = set(argv_log.read_text().split("\0"))
    quoted = {name for name in targets if f"$(call q,{name})" in (repo.path / "Makefile").read_text()}
    for name in quoted - {"CLOCKWORK_PARAMS", "EXTRA"}:  # file names make handles are refused earlier, in one line
        assert hostile(tmp_path / f"ran-{name}-{sorted(targets[name])[0]}") in passed or any(
            hostile(tmp_path / f"ran-{name}-{t}") in passed for t in targets[name]), f"{name} did not reach Python whole"


def test_a_params_path_make_would_read_as_code_is_refused(repo: Repo, tmp_path):
    marker = tmp_path / "ran"
    text = (repo.path / "params.yaml").read_text()
    (repo.path / "params.yaml").write_text(text.replace("raw: data/raw/ai4i2020.csv", f"raw: data/$(shell touch {marker})x.csv"))
    run = repo.make("train")
    assert run.code != 0 and "paths.raw" in run.err and "is not one plain file name" in run.err, run.err
    assert not marker.exists() and "Traceback" not in run.err
