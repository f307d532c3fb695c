"""The libraries a process imports once so that the processes it forks start with them loaded:
the warm worker before it forks a stage, the server's gunicorn master before it forks a worker.
None of them starts a thread or holds a request's state at import (bottle, whose request and
response are thread-locals made at import, is never on this list: a gevent worker imports it
after patching).

After the imports, everything they made is moved out of the garbage collector's reach
(gc.freeze): a forked child's collections then never walk those objects, so they neither spend
its time (a full collection over them took 0.1 s of CPU in each child) nor copy the pages they
sit on (11,000 page faults, against 1,300 frozen)."""
from __future__ import annotations

import gc
import importlib

LIBRARIES = ("numpy", "pandas", "scipy.stats", "sklearn.ensemble", "sklearn.pipeline", "sklearn.compose",
             "sklearn.preprocessing", "sklearn.linear_model", "sklearn.metrics", "joblib", "yaml", "jsonschema",
             "jsonschema_rs")
# What a push or pull to an s3:// or ssh:// remote imports: the warm worker adds them (a stage that
# talks to a remote spent 0.4 s importing each); the server's master does not (a gevent worker must
# patch sockets before asyncio's libraries take references to them).
REMOTE_LIBRARIES = ("fsspec", "s3fs", "sshfs")


def import_libraries(extra: tuple[str, ...] = ()) -> None:
    for name in (*LIBRARIES, *extra):
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
