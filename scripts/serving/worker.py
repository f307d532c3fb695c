"""The gevent worker class, with bounded waits for a request's header and body.

gunicorn's sync workers serve one connection at a time, so a client that sends its header a
byte a second holds a worker for as long as it likes; a few such clients stall the service.
Under `deployment.worker_class: gevent`, each connection is a greenlet: a slow or idle client
costs a socket, not a worker. Two waits are bounded, from params:
- the request line and headers must arrive within `deployment.header_timeout_s` (this is also
  how long an idle keep-alive connection is held), else the connection is closed;
- the body within `deployment.body_timeout_s` of starting to read it, else the answer is a
  408 naming the body (body_deadline()).
Under the other worker classes body_deadline() does nothing: gunicorn's own `timeout_s`
bounds a sync worker's request.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from scripts.core.web import RequestError


class BodyTimeout(Exception):
    """The body did not arrive in time."""


def gevent_active() -> bool:
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return monkey.is_module_patched("socket")


@contextlib.contextmanager
def body_deadline(seconds: float) -> Iterator[None]:
    """Bound the reading of a request body under the gevent worker: a 408 naming the body after seconds."""
    if not gevent_active():
        yield
        return
    import gevent

    try:
        with gevent.Timeout(seconds, BodyTimeout):
            yield
    except BodyTimeout:
        raise RequestError(408, "body", f"not received within {seconds:g} s (deployment.body_timeout_s)") from None
