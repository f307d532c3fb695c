"""The libraries a process imports once so that the processes it forks start with them loaded:
the warm worker before it forks a stage, the server's gunicorn master before it forks a worker.
None of them starts a thread or holds a request's state at import (bottle, whose request and
response are thread-locals made at import, is never on this list: a gevent worker imports it
after patching)."""
from __future__ import annotations

import importlib

LIBRARIES = ("numpy", "pandas", "scipy.stats", "sklearn.ensemble", "sklearn.pipeline", "sklearn.compose",
             "sklearn.preprocessing", "sklearn.linear_model", "sklearn.metrics", "joblib", "yaml", "jsonschema")


def import_libraries() -> None:
    for name in LIBRARIES:
        importlib.import_module(name)
