"""Health, the live model's identity, Prometheus metrics and the OpenAPI document."""
from __future__ import annotations

import json
import os

import bottle

from scripts.core.web import JSON, json_app
from scripts.serving import openapi
from scripts.serving.context import Context
from scripts.serving.telemetry import MonitorCollector

NO_MODEL = {"error": "model: no model loaded yet"}


def model_document(live: object) -> dict:
    """What GET /model answers: the live version and where it came from. Pure."""
    card = live.card
    return {"version": live.version, "data_version": card["data"]["version"], "algorithm": card["algorithm"],
            "params": card["params"], "metrics": card["metrics"], "git": card["git"],
            "sha256": card["artifact"]["sha256"], "threshold": live.threshold, "loaded_at": live.loaded_at,
            "created_at": card["created_at"], "features": card["features"]["inputs"], "pid": os.getpid(),
            "fast_path": live.fast is not None}


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)
    document = json.dumps(openapi.document(ctx.requests.schema, ctx.requests.fields, ctx.model_name, ctx.requests.max_batch,
                                           ctx.params["dashboard"]["compare_max"]))

    @app.get("/health")
    def health() -> str:
        return ctx.reply(200, {"status": "alive", "pid": os.getpid()})

    @app.get("/ready")
    def ready() -> str:
        live = ctx.holder.live
        return ctx.reply(200, {"status": "ready", "model_version": live.version}) if live else ctx.reply(503, NO_MODEL)

    @app.get("/model")
    def model() -> str:
        live = ctx.holder.live
        return ctx.reply(200, model_document(live)) if live else ctx.reply(503, NO_MODEL)

    monitor = MonitorCollector(ctx.params)  # one per worker: it keeps the report until the monitor log changes

    @app.get("/metrics")
    def metrics() -> bytes:
        ctx.metrics.show_model(ctx.holder.live)
        bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
        return ctx.metrics.exposition(monitor)

    @app.get("/openapi.json")
    def openapi_json() -> str:
        bottle.response.content_type = JSON
        return document

    return app
