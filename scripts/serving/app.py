"""The WSGI app factory: it only wires things up.

Each group of routes is its own module and its own Bottle app (with the JSON-errors plugin of
scripts/core/web.py installed); the factory merges them into one app and wraps it in the
request-counting middleware. Other packages' sites (the dashboard, scripts/inspect/site.py) are
passed in by the caller and merged the same way, so serving imports nothing of theirs. The app
reads no file a client names and changes no state but the append-only logs.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import bottle

from scripts.core.contract import Contract
from scripts.core.web import Replies, error_page, guard
from scripts.serving import health, mlflow, native, oip
from scripts.serving.context import Context
from scripts.serving.fields import Fields
from scripts.serving.inference import Requests
from scripts.serving.scoring import Scorer
from scripts.serving.telemetry import Metrics, instrument

ROUTE_GROUPS = (health, native, mlflow, oip)
# A site another package adds to the service: given the params and the JSON reply, it returns its own Bottle app.
Site = Callable[[dict, Replies], bottle.Bottle]


def create_app(params: dict, holder: Any, metrics: Metrics | None = None, sites: Iterable[Site] = ()) -> Any:
    """The service for one worker: every route group over the given live-model holder, plus the sites."""
    deployment = params["deployment"]
    metrics = metrics or Metrics()
    reply = Replies(holder)
    fields = Fields.of(Contract.from_params(params["dataset"]))
    ctx = Context(params, holder, metrics, Requests(fields, deployment["max_batch"]), reply,
                  Scorer(holder, deployment, metrics.predictions, fields))
    app = bottle.Bottle()
    app.default_error_handler = error_page
    for group in ROUTE_GROUPS:
        app.merge(group.routes(ctx))
    for site in sites:
        app.merge(site(params, reply))
    return instrument(guard(app, deployment["allowed_hosts"]), metrics)
