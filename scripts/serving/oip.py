"""The Open Inference Protocol (KServe v2): server and model metadata, health, and inference."""
from __future__ import annotations

import bottle

from scripts.core import features as F
from scripts.core.web import RequestError, json_app, request_id
from scripts.serving.context import Context

NO_MODEL = {"error": "model: no model loaded yet"}


def metadata(name: str, versions: list[str]) -> dict:
    """The model metadata document: its inputs and outputs as named tensors. Pure."""
    numbers = [{"name": c, "datatype": "FP64", "shape": [-1]} for c in F.NUMERIC_INPUTS]
    return {"name": name, "versions": versions, "platform": "sklearn",
            "inputs": [{"name": "type", "datatype": "BYTES", "shape": [-1]}, *numbers],
            "outputs": [{"name": "failure_probability", "datatype": "FP64", "shape": [-1]},
                        {"name": "prediction", "datatype": "INT64", "shape": [-1]}]}


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)
    name = ctx.model_name

    def known(model_name: str) -> None:
        if model_name != name:
            raise RequestError(404, "model", f"no model named {model_name!r} (this server serves {name!r})")

    @app.get("/v2")
    def server() -> str:
        return ctx.reply(200, {"name": "clockwork", "version": "1", "extensions": []})

    @app.get("/v2/health/live")
    def live() -> str:
        return ctx.reply(200, {"live": True})

    @app.get("/v2/health/ready")
    def ready() -> str:
        return ctx.reply(200, {"ready": True}) if ctx.holder.live else ctx.reply(503, NO_MODEL)

    @app.get("/v2/models/<model_name>")
    def model(model_name: str) -> str:
        known(model_name)
        return ctx.reply(200, metadata(name, [ctx.holder.live.version] if ctx.holder.live else []))

    @app.get("/v2/models/<model_name>/ready")
    def model_ready(model_name: str) -> str:
        known(model_name)
        return ctx.reply(200 if ctx.holder.live else 503, {"name": name, "ready": ctx.holder.live is not None})

    @app.post("/v2/models/<model_name>/infer")
    def infer(model_name: str) -> bytes:
        known(model_name)
        started, doc = ctx.clock(), ctx.body()
        given = doc.get("id") if isinstance(doc, dict) else None
        rid = request_id(given)
        scored = ctx.score(ctx.requests.infer(doc), rid, "infer", started)
        n = len(scored.labels)  # the outputs are numpy arrays, which the JSON encoder writes directly
        out = {"model_name": name, "model_version": scored.live.version,
               "outputs": [{"name": "failure_probability", "datatype": "FP64", "shape": [n], "data": scored.probabilities},
                           {"name": "prediction", "datatype": "INT64", "shape": [n], "data": scored.labels}]}
        if given is not None:
            out["id"] = given
        return ctx.reply(200, out)

    return app
