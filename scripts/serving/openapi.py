"""The service's OpenAPI 3.1 document, built from schemas/requests.schema.json.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the request definitions the server
validates with are the ones it publishes: the document cannot drift from the checks. The
server resolves the raw CSV's column names (its headers) before it checks a reading;
the published reading names both spellings, so a body the document allows is one the server
takes. What JSON Schema cannot state (equal column lengths, a tensor's shape against its data,
a CSV body's rows) is said in the operation's description and shown in its examples.
Pure: the caller passes the loaded request schema (with the ranges from params filled in).
"""
from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

from scripts.serving.fields import Fields

ERROR = {"$ref": "#/components/schemas/error"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(ok: dict, *errors: int) -> dict:
    out: dict[str, Any] = {"200": {"description": "OK", **_json(ok)}}
    reasons = {400: "invalid input (the body names the field)", 404: "unknown model or route", 405: "method not allowed",
               408: "the body did not arrive within deployment.body_timeout_s", 413: "body or batch too large",
               415: "not application/json", 503: "no model loaded yet"}
    for code in errors:
        out[str(code)] = {"description": reasons[code], **_json(ERROR)}
    return out


def document(requests_schema: dict, fields: Fields, model_name: str, max_batch: int, compare_max: int) -> dict:
    """The OpenAPI document for every route the app serves, for the data set the fields describe."""
    schemas = _published(requests_schema["$defs"], fields, max_batch)
    schemas["error"] = {"type": "object", "required": ["error"],
                        "properties": {"error": {"type": "string"}, "field": {"type": "string"}}}
    schemas["prediction"] = {"type": "object", "required": ["failure_probability", "prediction", "model_version"],
                             "properties": {"failure_probability": {"type": "number", "minimum": 0, "maximum": 1},
                                            "prediction": {"enum": [0, 1]}, "model_version": {"type": "string"},
                                            "request_id": {"type": "string"}, "prediction_id": {"type": "string"},
                                            "client_request_id": {"type": "string"}}}
    ref = {name: {"$ref": f"#/components/schemas/{name}"} for name in schemas}
    examples = _examples(fields)
    anything = {"type": "object"}
    post_errors = (400, 405, 408, 413, 415, 503)
    name_param = [{"name": "model_name", "in": "path", "required": True, "schema": {"type": "string", "enum": [model_name]}}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Clockwork prediction service", "version": "1",
                 "description": "The probability of the data set's positive class, from the registry's production model."},
        "paths": {
            "/predict": {"post": {"summary": "One reading, or a batch under 'instances'",
                                  "requestBody": {"required": True, "content": {"application/json": {
                                      "schema": {"oneOf": [ref["reading"], ref["predict_batch"]]}, "examples": examples["predict"]}}},
                                  "responses": _responses(anything, *post_errors)}},
            "/invocations": {"post": {"summary": "MLflow scoring-server protocol",
                                      "description": "every input format of `mlflow models serve`; dataframe_split's rows "
                                                     "and columnar inputs' lists have one value per column, and all the same length",
                                      "requestBody": {"required": True, "content": {
                                          "application/json": {"schema": {"oneOf": [
                                              ref["dataframe_split"], ref["dataframe_records"], ref["instances"], ref["inputs"]]},
                                              "examples": examples["invocations"]},
                                          "text/csv": {"schema": {"type": "string", "description": "a header row, then one reading a row"},
                                                       "examples": examples["csv"]}}},
                                      "responses": _responses(anything, *post_errors)}},
            "/ping": {"get": {"summary": "MLflow's health check: 200 (an empty line) once a model is loaded",
                              "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                            "503": {"description": "no model loaded yet", **_json(ERROR)}}}},
            "/version": {"get": {"summary": "The live model's version, as text",
                                 "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                               "503": {"description": "no model loaded yet", **_json(ERROR)}}}},
            **oip_paths(ref["infer"], anything, name_param, post_errors, examples["infer"]),
            "/v2": {"get": {"summary": "Server metadata", "responses": _responses(anything)}},
            "/v2/health/live": {"get": {"summary": "Liveness", "responses": _responses(anything)}},
            "/v2/health/ready": {"get": {"summary": "Readiness", "responses": _responses(anything, 503)}},
            "/health": {"get": {"summary": "The process is alive", "responses": _responses(anything)}},
            "/ready": {"get": {"summary": "A model is loaded", "responses": _responses(anything, 503)}},
            "/model": {"get": {"summary": "The live model's metadata", "responses": _responses(anything, 503)}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": _responses(anything)}},
            **read_only_pages(anything, compare_max),
        },
        "components": {"schemas": schemas},
    }


def oip_paths(infer_schema: dict, anything: dict, name_param: list, post_errors: tuple, examples: dict) -> dict:
    """The Open Inference Protocol's model routes, for the production model and each version by name."""
    version_param = [{"name": "version", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^v[0-9]+$"}}]
    both = name_param + version_param
    binary = {"type": "string", "format": "binary",
              "description": "the JSON request, then the binary tensors; header Inference-Header-Content-Length"}

    def infer(summary: str, parameters: list) -> dict:
        return {"post": {"summary": summary, "parameters": parameters,
                         "description": "one tensor per input, named as in the model's metadata; each tensor's shape "
                                        "is [n] or [n, 1] for its n values, and n is the same for every input",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": infer_schema,
                                                                                            "examples": examples},
                                                                       "application/octet-stream": {"schema": binary}}},
                         "responses": _responses(anything, 404, *post_errors)}}

    def get(summary: str, parameters: list, *errors: int) -> dict:
        return {"get": {"summary": summary, "parameters": parameters, "responses": _responses(anything, *errors)}}
    return {
        "/v2/models/{model_name}/infer": infer("Open Inference Protocol (KServe v2) inference", name_param),
        "/v2/models/{model_name}/versions/{version}/infer": infer("Inference by a named registered version", both),
        "/v2/models/{model_name}": get("Model metadata", name_param, 404),
        "/v2/models/{model_name}/versions/{version}": get("A registered version's metadata", both, 404),
        "/v2/models/{model_name}/ready": get("Model readiness", name_param, 404, 503),
        "/v2/models/{model_name}/versions/{version}/ready": get("A registered version's readiness", both, 404),
    }


def read_only_pages(anything: dict, compare_max: int) -> dict:
    """The dashboard, the compare page and the /api/... views of the records (scripts/inspect/dashboard.py)."""
    page = {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}
    version = [{"name": "version", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^v[0-9]+$"}}]
    one = "v[0-9]{1,9}"  # the dashboard's version names (dashboard.VERSION)
    report = [{"name": "report_id", "in": "path", "required": True,
               "schema": {"type": "string", "description": "a report id, or 'latest'"}}]
    versions = [{"name": "versions", "in": "query", "required": True,
                 "description": f"comma-separated, e.g. v1,v3; at most {compare_max} (dashboard.compare_max)",
                 "schema": {"type": "string", "pattern": f"^{one}(,{one}){{0,{compare_max - 1}}}$"}}]

    last = [{"name": "last", "in": "query", "required": False, "description": "only the newest runs, this many (read "
             "from the log's end)", "schema": {"type": "integer", "minimum": 1, "maximum": 999999999}}]

    def get(summary: str, *errors: int, parameters: list | None = None) -> dict:
        return {"get": {"summary": summary, **({"parameters": parameters} if parameters else {}),
                        "responses": _responses(anything, *errors)}}
    return {
        "/": {"get": {"summary": "Dashboard: live model, registry, monitor, drift, lineage, deployments", "responses": page}},
        "/compare": {"get": {"summary": "Versions side by side, differences highlighted", "parameters": versions,
                             "responses": {**page, **{k: v for k, v in _responses(anything, 400, 404).items() if k != "200"}}}},
        "/api/dashboard": get("Everything the dashboard shows, as JSON"),
        "/api/registry": get("models/registry.json"),
        "/api/models/{version}": get("A model card", 404, parameters=version),
        "/api/data/{version}": get("A data version's metadata", 404, parameters=version),
        "/api/monitor": get("Every monitor run (logs/monitor_log.csv), or the newest `last`", 400, parameters=last),
        "/api/monitor/{report_id}": get("One monitor report", 404, parameters=report),
        "/api/deployments": get("The deployment log"),
        "/api/experiments": get("Every recorded experiment run"),
        "/api/runs": get("Every recorded pipeline run (make train), failed ones too"),
        "/api/lineage": get("Inputs, data versions and models, and the edges between them"),
    }


def _published(defs: dict, fields: Fields, max_batch: int) -> dict:
    """The request definitions as the document gives them: a reading under either spelling of
    each field, and every list of readings a list of such readings, at most max_batch long."""
    schemas = {name: _rewrite(copy.deepcopy(schema)) for name, schema in defs.items()}
    reading = schemas["reading"]
    properties, choices = dict(reading["properties"]), []
    for raw, name in fields.aliases.items():
        properties[raw] = properties[name]
        either = [{"required": [name]}, {"required": [raw]}]
        choices.append({"oneOf": either} if name in reading["required"] else {"not": {"required": [name, raw]}})
    schemas["reading"] = {key: value for key, value in reading.items() if key != "required"} | {
        "properties": properties, "allOf": choices,
        "description": "one reading; each field under its name or the raw CSV's column name, never both"}
    readings = {"items": {"$ref": "#/components/schemas/reading"}, "maxItems": max_batch}
    for name in ("predict_batch", "instances"):
        schemas[name]["properties"]["instances"] |= readings
    schemas["dataframe_records"]["properties"]["dataframe_records"] |= readings
    records, columnar = schemas["inputs"]["properties"]["inputs"]["oneOf"]
    records |= readings
    columnar["additionalProperties"] |= {"maxItems": max_batch}
    columnar["propertyNames"] = {"enum": list(properties)}
    split = schemas["dataframe_split"]["properties"]["dataframe_split"]["properties"]
    split["columns"] |= {"items": {"enum": list(properties)}, "uniqueItems": True}
    split["data"] |= {"maxItems": max_batch}
    tensor = schemas["infer"]["properties"]["inputs"]["items"]["properties"]
    tensor["name"] = {"enum": [name for name in properties if fields.aliases.get(name, name) in fields.inputs]}
    return schemas


def _examples(fields: Fields) -> dict:
    """A working request for each body format, made from the data set contract."""
    row = fields.example(1)
    second = {**row, **({fields.row_id: fields.example(2)[fields.row_id]} if fields.row_id else {})}
    names = list(row)
    text = io.StringIO()
    cells = [[json.dumps(v) if isinstance(v, bool) else v for v in r.values()] for r in (row, second)]
    csv.writer(text, lineterminator="\n").writerows([names, *cells])

    def named(**bodies: Any) -> dict:
        return {key: {"summary": key.replace("_", " "), "value": body} for key, body in bodies.items()}
    return {
        "predict": named(one_reading=row, a_batch={"instances": [row, second]},
                         raw_csv_names={raw: row[name] for raw, name in fields.aliases.items()}),
        "invocations": named(dataframe_split={"dataframe_split": {"columns": names,
                                                                        "data": [list(row.values()), list(second.values())]}},
                             dataframe_records={"dataframe_records": [row, second]},
                             instances={"instances": [row, second]}, inputs_records={"inputs": [row, second]},
                             inputs_columns={"inputs": {name: [row[name], second[name]] for name in names}}),
        "csv": named(header_and_rows=text.getvalue()),
        "infer": named(one_row={"id": "example-1", "inputs": [
            {"name": name, "shape": [1], "datatype": fields.datatype(name), "data": [row[name]]}
            for name in fields.inputs]}),
    }


def _rewrite(node: Any) -> Any:
    """Point the request schema's internal $refs at the OpenAPI components."""
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _rewrite(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node
