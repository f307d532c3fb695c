"""Clockwork's code, in role packages:

  core        config, store (hashing, atomic writes, metadata, locks), stamp, artifacts, features,
              metrics, drift, the registry library, the runs log, raw-data reading, model
              construction, HTTP plumbing: shared by everything, imports no other package
  pipeline    the make stages (prepare, train, evaluate, register, simulate, synth, experiments,
              retrain) and the release commands (promote, rollback, registry)
  monitoring  the production loop's evidence: replay, labels, monitor
  inspect     read-only views of the records: the dashboard (data, HTML, its own Bottle site),
              compare, report, verify, live, makeinfo
  serving     the prediction service: app factory, route groups, inference, fast path, openapi
  dev         benchmarks, the demo, the smoke test, pre-commit hooks, test sandboxes

The rules, enforced by tests/test_layout.py: a library module imports only core and its own
package (dev may import anything); a command module (one with a `__main__` block, run as
`python -m scripts.<package>.<name>`) is never imported by another module, and may compose the
libraries of other packages (serving/serve.py merges the dashboard site into the service); no
import cycles. What two packages share moves down into core.

Moving a module: pickled model artifacts name the module of every project object they hold
(the feature functions in scripts.core.features), so a module that ever held such objects keeps
importing under its old name. Add `old name -> new name` to MOVED in the same commit as the
move; tests/test_layout.py loads a model pickled under each old name. Standard library only:
`make dag` and the venv stamp run this package with the system python3.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

# Every module's old dotted name -> its new one (the flat layout before the role packages).
MOVED = {f"scripts.{old}": f"scripts.{package}.{old}" for package, names in {
    "core": "config store artifacts features metrics drift registry stamp",
    "pipeline": "prepare train evaluate simulate synth experiments retrain",
    "monitoring": "replay labels monitor",
    "inspect": "dashboard views compare report verify makeinfo",
    "serving": "inference fastpath openapi",
    "dev": "bench bench_serve hooks demo smoke_test",
}.items() for old in names.split()} | {"scripts.serve": "scripts.serving.serve"}


class _Alias:
    """Import an old module name as the module that now lives under the new one (same object): a
    meta-path finder and its loader (the protocol needs no base class; importlib.abc costs ~12 ms
    at every start of every stage)."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001 (importlib's signature)
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):  # noqa: ANN001
        module = importlib.import_module(MOVED[spec.name])
        self._spec = module.__spec__
        return module

    def exec_module(self, module):  # noqa: ANN001
        module.__spec__ = self._spec  # importlib set the alias spec on the real module: put its own back


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.append(_Alias())
