"""The MLflow scoring-server protocol: POST /invocations (dataframe_split, dataframe_records, instances,
inputs, or text/csv), GET /ping and GET /version. /health is the service's own (health.py)."""
from __future__ import annotations

from typing import Any

import bottle

from scripts.core.web import JSON, RequestError, json_app, media_type, request_ids
from scripts.serving.context import Context

CSV = "text/csv"


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)

    @app.post("/invocations")
    def invocations() -> Any:
        started, (rid, client), kind = ctx.clock(), request_ids(), media_type()
        if kind == CSV:
            batch = ctx.requests.csv(ctx.raw_body())
        elif kind == JSON:
            batch = ctx.requests.invocations(ctx.body())
        else:
            raise RequestError(415, "Content-Type", f"{kind or 'none'}: send application/json or text/csv")
        scored = ctx.score(batch, (rid, client), "invocations", started)

        def items(start: int, stop: int) -> list[dict]:
            return [{"failure_probability": p, "prediction": label} for p, label in
                    zip(scored.probabilities[start:stop].tolist(), scored.labels[start:stop].tolist(), strict=True)]

        echo = {"client_request_id": client} if client else {}
        return ctx.answer({"model_version": scored.live.version, "request_id": rid, **echo}, "predictions", items,
                          len(scored.labels))

    @app.get("/ping")
    def ping() -> Any:
        if ctx.holder.live is None:
            raise RequestError(503, "model", "no model loaded yet")
        bottle.response.content_type = "text/plain; charset=utf-8"
        return "\n"  # MLflow's scoring server answers an empty line too

    @app.get("/version")
    def version() -> Any:
        live = ctx.holder.live
        if live is None:
            raise RequestError(503, "model", "no model loaded yet")
        bottle.response.content_type = "text/plain; charset=utf-8"
        return live.version + "\n"

    return app
