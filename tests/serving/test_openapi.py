"""The OpenAPI document matches the app: every route documented, every $ref resolvable, the
published request schemas the ones the server validates with."""
from __future__ import annotations

import re
from types import SimpleNamespace

from scripts.core.config import load_params
from scripts.inspect import site
from scripts.serving import openapi
from scripts.serving.app import create_app
from scripts.serving.inference import Requests
from scripts.serving.telemetry import Metrics


def refs(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_route_of_the_app_is_documented_and_nothing_else():
    params = load_params()
    app = create_app(params, SimpleNamespace(live=None), Metrics(), sites=[site.routes]).bottle
    served = {(re.sub(r"<(\w+)>", r"{\1}", route.rule), route.method.lower()) for route in app.routes}
    document = openapi.document(Requests(params["data"]["ranges"], 10).schema, "clockwork")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented


def test_every_reference_resolves_inside_the_document():
    requests = Requests(load_params()["data"]["ranges"], 10)
    document = openapi.document(requests.schema, "clockwork")
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
    assert document["openapi"] == "3.1.0"


def test_the_published_ranges_are_the_params_ranges_the_server_checks():
    ranges = load_params()["data"]["ranges"]
    document = openapi.document(Requests(ranges, 10).schema, "clockwork")
    torque = document["components"]["schemas"]["reading"]["properties"]["torque_nm"]
    assert (torque["minimum"], torque["maximum"]) == tuple(ranges["torque_nm"])
    name = document["paths"]["/v2/models/{model_name}/infer"]["post"]["parameters"][0]
    assert name["schema"]["enum"] == ["clockwork"]
