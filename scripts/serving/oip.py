"""The Open Inference Protocol (KServe v2) over HTTP/REST: server and model metadata, health, and
inference, for the production model and for every registered version by name, with JSON or binary
tensors (binary.py). A JSON body may come without a Content-Type, as tritonclient sends it."""
from __future__ import annotations

from typing import Any, Callable

import bottle

from scripts.core.web import RequestError, json_app, parse_json, request_ids
from scripts.serving import binary
from scripts.serving.context import Context
from scripts.serving.fields import Fields

NO_MODEL = {"error": "model: no model loaded yet"}
OUTPUTS = ["failure_probability", "prediction"]


def metadata(name: str, versions: list[str], fields: Fields) -> dict:
    """The model metadata document: its inputs (the data set's) and outputs as named tensors. Pure."""
    return {"name": name, "versions": versions, "platform": "sklearn",
            "inputs": [{"name": c, "datatype": fields.datatype(c), "shape": [-1]} for c in fields.inputs],
            "outputs": [{"name": "failure_probability", "datatype": "FP64", "shape": [-1]},
                        {"name": "prediction", "datatype": "INT64", "shape": [-1]}]}


def inference_request(ctx: Context) -> Any:
    """The request document: JSON (with or without a Content-Type), or JSON plus binary tensors."""
    header = bottle.request.get_header(binary.HEADER)
    if header is None:
        return ctx.body(type_optional=True)
    head, blob = binary.split(ctx.raw_body(), header)
    doc = parse_json(head, ctx.params["deployment"]["max_json_depth"])
    binary.attach_inputs(doc, blob)
    return doc


def answer(ctx: Context, doc: dict, out: dict) -> Any:
    """The inference answer, with the outputs the request asked for, in JSON or binary."""
    names = binary.wanted_outputs(doc, OUTPUTS)
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise RequestError(400, "outputs", f"unknown output {unknown[0]!r} (expected {', '.join(OUTPUTS)})")
    out["outputs"], blob = binary.encode_outputs(out["outputs"], names)
    head = ctx.reply(200, out)
    if not blob:
        return head
    bottle.response.content_type = "application/octet-stream"
    bottle.response.set_header(binary.HEADER, str(len(head)))
    return head + blob


def routes(ctx: Context) -> bottle.Bottle:
    app = json_app(ctx.reply)
    name = ctx.model_name

    def known(model_name: str, version: str | None = None) -> Any:
        if model_name != name:
            raise RequestError(404, "model", f"no model named {model_name!r} (this server serves {name!r})")
        if version is None:
            return ctx.holder.live
        live = ctx.holder.model(version)
        if live is None:
            raise RequestError(404, "version", f"no registered version {version!r} of {name!r}")
        return live

    _metadata_routes(app, ctx, known)

    def infer(model_name: str, version: str | None) -> Any:
        chosen = known(model_name, version)
        started, doc = ctx.clock(), inference_request(ctx)
        given = doc.get("id") if isinstance(doc, dict) else None
        scored = ctx.score(ctx.requests.infer(doc), request_ids(given), "infer", started, chosen)
        n = len(scored.labels)
        out = {"model_name": name, "model_version": scored.live.version,
               "outputs": [{"name": "failure_probability", "datatype": "FP64", "shape": [n], "data": scored.probabilities},
                           {"name": "prediction", "datatype": "INT64", "shape": [n], "data": scored.labels}]}
        if given is not None:
            out["id"] = given
        return answer(ctx, doc, out)

    app.post("/v2/models/<model_name>/infer")(lambda model_name: infer(model_name, None))
    app.post("/v2/models/<model_name>/versions/<version>/infer")(infer)
    return app


def _metadata_routes(app: bottle.Bottle, ctx: Context, known: Callable[..., Any]) -> None:
    """Server metadata, health, and each model's (and version's) metadata and readiness."""
    name = ctx.model_name

    @app.get("/v2")
    def server() -> bytes:
        return ctx.reply(200, {"name": "clockwork", "version": "1", "extensions": ["binary_tensor_data"]})

    @app.get("/v2/health/live")
    def live() -> bytes:
        return ctx.reply(200, {"live": True})

    @app.get("/v2/health/ready")
    def ready() -> bytes:
        return ctx.reply(200, {"ready": True}) if ctx.holder.live else ctx.reply(503, NO_MODEL)

    @app.get("/v2/models/<model_name>")
    def model(model_name: str) -> bytes:
        known(model_name)
        return ctx.reply(200, metadata(name, ctx.holder.versions(), ctx.requests.fields))

    @app.get("/v2/models/<model_name>/versions/<version>")
    def model_version(model_name: str, version: str) -> bytes:
        known(model_name, version)
        return ctx.reply(200, metadata(name, [version], ctx.requests.fields))

    @app.get("/v2/models/<model_name>/ready")
    def model_ready(model_name: str) -> bytes:
        known(model_name)
        return ctx.reply(200 if ctx.holder.live else 503, {"name": name, "ready": ctx.holder.live is not None})

    @app.get("/v2/models/<model_name>/versions/<version>/ready")
    def version_ready(model_name: str, version: str) -> bytes:
        known(model_name, version)
        return ctx.reply(200, {"name": name, "version": version, "ready": True})
