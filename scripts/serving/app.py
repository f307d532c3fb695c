"""The WSGI app factory: it only wires things up.

Each group of routes is its own module and its own Bottle app (with the JSON-errors plugin
installed); the factory merges them into one app and wraps it in the request-counting
middleware. The app reads no file a client names and changes no state but the append-only logs.
"""
from __future__ import annotations

from typing import Any

import bottle

from scripts.serving import health, mlflow, native, oip, pages
from scripts.serving.context import Context
from scripts.serving.inference import Requests
from scripts.serving.scoring import Scorer
from scripts.serving.telemetry import Metrics, instrument
from scripts.serving.web import Replies, error_page

ROUTE_GROUPS = (health, native, mlflow, oip, pages)


def create_app(params: dict, holder: Any, metrics: Metrics | None = None) -> Any:
    """The service for one worker: every route group over the given live-model holder."""
    deployment = params["deployment"]
    metrics = metrics or Metrics()
    ctx = Context(params, holder, metrics, Requests(params["data"]["ranges"], deployment["max_batch"]), Replies(holder),
                  Scorer(holder, deployment, metrics.predictions))
    app = bottle.Bottle()
    app.default_error_handler = error_page
    for group in ROUTE_GROUPS:
        app.merge(group.routes(ctx))
    return instrument(app, metrics)
