"""Clockwork's own prediction route: POST /predict with one reading, or a batch under "instances"."""
from __future__ import annotations

import bottle

from scripts.core.web import json_app, request_id
from scripts.serving.context import Context


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)

    @app.post("/predict")
    def predict() -> str:
        started, rid = ctx.clock(), request_id()
        readings, batch = ctx.requests.predict(ctx.body())
        scored = ctx.score(readings, rid, "predict", started)
        version = scored.live.version
        items = [{"prediction_id": f"{rid}-{i}", "request_id": rid, "model_version": version, "failure_probability": p,
                  "prediction": label} for i, (p, label) in enumerate(zip(scored.probabilities, scored.labels, strict=True))]
        if batch:
            return ctx.reply(200, {"request_id": rid, "model_version": version, "threshold": scored.live.threshold,
                                   "predictions": items})
        return ctx.reply(200, {**items[0], "threshold": scored.live.threshold})

    return app
