"""gunicorn's gevent worker with the header wait from params (see worker.py). Imported by gunicorn
in its master process (and by the serve command, which sets the wait), never by the app."""
from __future__ import annotations

import sys
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker


class BoundedGeventWorker(GeventWorker):
    """gunicorn's gevent worker; the request line and headers must arrive within header_timeout_s
    (gunicorn's own uses the keep-alive time), after which the connection is closed."""
    header_timeout_s = 10.0  # set from deployment.header_timeout_s by the serve command before workers fork

    def patch(self) -> None:
        """Refuse to serve if bottle came before the patch: its request and response would be
        thread-locals shared by every greenlet (see process.run_foreground)."""
        if "bottle" in sys.modules:
            raise RuntimeError("bottle was imported before gevent patched the standard library, so every "
                               "greenlet would share one bottle.request and bottle.response; import it in the worker")
        super().patch()

    def timeout_ctx(self) -> Any:
        return gevent.Timeout(self.header_timeout_s, False)
