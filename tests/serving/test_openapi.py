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
from tests.conftest import fields


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
    document = openapi.document(Requests(fields(), 10).schema, fields(), "clockwork", 10, 6)
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented


def test_every_reference_resolves_inside_the_document():
    requests = Requests(fields(), 10)
    document = openapi.document(requests.schema, fields(), "clockwork", 10, 6)
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
    assert document["openapi"] == "3.1.0"


def test_the_published_ranges_are_the_params_ranges_the_server_checks():
    ranges = fields().ranges
    document = openapi.document(Requests(fields(), 10).schema, fields(), "clockwork", 10, 6)
    torque = document["components"]["schemas"]["reading"]["properties"]["torque_nm"]
    assert (torque["minimum"], torque["maximum"]) == tuple(ranges["torque_nm"])
    name = document["paths"]["/v2/models/{model_name}/infer"]["post"]["parameters"][0]
    assert name["schema"]["enum"] == ["clockwork"]


def test_the_published_reading_takes_either_spelling_of_a_field_but_not_both():
    import jsonschema

    document = openapi.document(Requests(fields(), 10).schema, fields(), "clockwork", 10, 6)
    reading = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/reading", "components": document["components"]})
    row = fields().example()
    raw = {alias: row[name] for alias, name in fields().aliases.items()}
    assert reading.is_valid(row) and reading.is_valid(raw)
    assert not reading.is_valid({**row, "Torque [Nm]": 40.0}), "a field under both names"
    assert not reading.is_valid({k: v for k, v in row.items() if k != "torque_nm"}), "a field missing"
    assert reading.is_valid({k: v for k, v in row.items() if k != "udi"}), "udi is optional"
    batch = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/predict_batch", "components": document["components"]})
    assert batch.is_valid({"instances": [row] * 10}) and not batch.is_valid({"instances": [row] * 11}), "max_batch"
