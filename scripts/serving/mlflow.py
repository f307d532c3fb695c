"""The MLflow scoring-server protocol: POST /invocations (dataframe_split, dataframe_records, instances)."""
from __future__ import annotations

import bottle

from scripts.core.web import json_app, request_id
from scripts.serving.context import Context


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)

    @app.post("/invocations")
    def invocations() -> str:
        started, rid = ctx.clock(), request_id()
        scored = ctx.score(ctx.requests.invocations(ctx.body()), rid, "invocations", started)
        predictions = [{"failure_probability": p, "prediction": label}
                       for p, label in zip(scored.probabilities, scored.labels, strict=True)]
        return ctx.reply(200, {"predictions": predictions, "model_version": scored.live.version, "request_id": rid})

    return app
