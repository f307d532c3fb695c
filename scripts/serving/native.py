"""Clockwork's own prediction route: POST /predict with one reading, or a batch under "instances"."""
from __future__ import annotations

from typing import Any

import bottle

from scripts.core.web import json_app, request_ids
from scripts.serving.context import Context


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)

    @app.post("/predict")
    def predict() -> Any:
        started, (rid, client) = ctx.clock(), request_ids()
        batch, is_batch = ctx.requests.predict(ctx.body())
        scored = ctx.score(batch, (rid, client), "predict", started)
        echo = {"client_request_id": client} if client else {}
        version = scored.live.version

        def items(start: int, stop: int) -> list[dict]:
            found = zip(scored.probabilities[start:stop].tolist(), scored.labels[start:stop].tolist(), strict=True)
            return [{"prediction_id": f"{rid}-{i}", "request_id": rid, **echo, "model_version": version, "failure_probability": p,
                     "prediction": label} for i, (p, label) in enumerate(found, start=start)]

        if is_batch:
            return ctx.answer({"request_id": rid, **echo, "model_version": version, "threshold": scored.live.threshold},
                              "predictions", items, len(batch))
        return ctx.reply(200, {**items(0, 1)[0], "threshold": scored.live.threshold})

    return app
