"""The MLflow scoring-server protocol: POST /invocations (dataframe_split, dataframe_records, instances)."""
from __future__ import annotations

from typing import Any

import bottle

from scripts.core.web import json_app, request_id
from scripts.serving.context import Context


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)

    @app.post("/invocations")
    def invocations() -> Any:
        started, rid = ctx.clock(), request_id()
        scored = ctx.score(ctx.requests.invocations(ctx.body()), rid, "invocations", started)

        def items(start: int, stop: int) -> list[dict]:
            return [{"failure_probability": p, "prediction": label} for p, label in
                    zip(scored.probabilities[start:stop].tolist(), scored.labels[start:stop].tolist(), strict=True)]

        return ctx.answer({"model_version": scored.live.version, "request_id": rid}, "predictions", items, len(scored.labels))

    return app
