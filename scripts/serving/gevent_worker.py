"""gunicorn's gevent worker with the header wait from params (see worker.py). Imported by gunicorn
in its master process (and by the serve command, which sets the wait), never by the app."""
from __future__ import annotations

from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker


class BoundedGeventWorker(GeventWorker):
    """gunicorn's gevent worker; the request line and headers must arrive within header_timeout_s
    (gunicorn's own uses the keep-alive time), after which the connection is closed."""
    header_timeout_s = 10.0  # set from deployment.header_timeout_s by the serve command before workers fork

    def timeout_ctx(self) -> Any:
        return gevent.Timeout(self.header_timeout_s, False)
