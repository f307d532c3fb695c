"""The service's OpenAPI 3.1 document, built from schemas/requests.schema.json.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the request definitions the server
validates with are the ones it publishes: the document cannot drift from the checks.
Pure: the caller passes the loaded request schema (with the ranges from params filled in).
"""
from __future__ import annotations

import copy
from typing import Any

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


def document(requests_schema: dict, model_name: str) -> dict:
    """The OpenAPI document for every route the app serves."""
    schemas = {name: _rewrite(copy.deepcopy(schema)) for name, schema in requests_schema["$defs"].items()}
    schemas["error"] = {"type": "object", "required": ["error"],
                        "properties": {"error": {"type": "string"}, "field": {"type": "string"}}}
    schemas["prediction"] = {"type": "object", "required": ["failure_probability", "prediction", "model_version"],
                             "properties": {"failure_probability": {"type": "number", "minimum": 0, "maximum": 1},
                                            "prediction": {"enum": [0, 1]}, "model_version": {"type": "string"},
                                            "request_id": {"type": "string"}, "prediction_id": {"type": "string"}}}
    ref = {name: {"$ref": f"#/components/schemas/{name}"} for name in schemas}
    anything = {"type": "object"}
    post_errors = (400, 405, 408, 413, 415, 503)
    name_param = [{"name": "model_name", "in": "path", "required": True, "schema": {"type": "string", "enum": [model_name]}}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Clockwork prediction service", "version": "1",
                 "description": "Machine-failure predictions from the registry's production model."},
        "paths": {
            "/predict": {"post": {"summary": "One reading, or a batch under 'instances'",
                                  "requestBody": {"required": True, **_json({"oneOf": [ref["reading"], ref["predict_batch"]]})},
                                  "responses": _responses(anything, *post_errors)}},
            "/invocations": {"post": {"summary": "MLflow scoring-server protocol",
                                      "requestBody": {"required": True, "content": {
                                          "application/json": {"schema": {"oneOf": [
                                              ref["dataframe_split"], ref["dataframe_records"], ref["instances"], ref["inputs"]]}},
                                          "text/csv": {"schema": {"type": "string", "description": "a header row, then one reading a row"}}}},
                                      "responses": _responses(anything, *post_errors)}},
            "/ping": {"get": {"summary": "MLflow's health check: 200 (an empty line) once a model is loaded",
                              "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                            "503": {"description": "no model loaded yet", **_json(ERROR)}}}},
            "/version": {"get": {"summary": "The live model's version, as text",
                                 "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                               "503": {"description": "no model loaded yet", **_json(ERROR)}}}},
            **oip_paths(ref["infer"], anything, name_param, post_errors),
            "/v2": {"get": {"summary": "Server metadata", "responses": _responses(anything)}},
            "/v2/health/live": {"get": {"summary": "Liveness", "responses": _responses(anything)}},
            "/v2/health/ready": {"get": {"summary": "Readiness", "responses": _responses(anything, 503)}},
            "/health": {"get": {"summary": "The process is alive", "responses": _responses(anything)}},
            "/ready": {"get": {"summary": "A model is loaded", "responses": _responses(anything, 503)}},
            "/model": {"get": {"summary": "The live model's metadata", "responses": _responses(anything, 503)}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": _responses(anything)}},
            **read_only_pages(anything),
        },
        "components": {"schemas": schemas},
    }


def oip_paths(infer_schema: dict, anything: dict, name_param: list, post_errors: tuple) -> dict:
    """The Open Inference Protocol's model routes, for the production model and each version by name."""
    version_param = [{"name": "version", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^v[0-9]+$"}}]
    both = name_param + version_param
    binary = {"type": "string", "format": "binary",
              "description": "the JSON request, then the binary tensors; header Inference-Header-Content-Length"}

    def infer(summary: str, parameters: list) -> dict:
        return {"post": {"summary": summary, "parameters": parameters,
                         "requestBody": {"required": True, "content": {"application/json": {"schema": infer_schema},
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


def read_only_pages(anything: dict) -> dict:
    """The dashboard, the compare page and the /api/... views of the records (scripts/inspect/dashboard.py)."""
    page = {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}
    version = [{"name": "version", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^v[0-9]+$"}}]
    report = [{"name": "report_id", "in": "path", "required": True,
               "schema": {"type": "string", "description": "a report id, or 'latest'"}}]
    versions = [{"name": "versions", "in": "query", "required": True, "description": "comma-separated, e.g. v1,v3",
                 "schema": {"type": "string", "pattern": "^v[0-9]+(,v[0-9]+)*$"}}]

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
        "/api/monitor": get("Every monitor run (logs/monitor_log.csv)"),
        "/api/monitor/{report_id}": get("One monitor report", 404, parameters=report),
        "/api/deployments": get("The deployment log"),
        "/api/experiments": get("Every recorded experiment run"),
        "/api/runs": get("Every recorded pipeline run (make train), failed ones too"),
        "/api/lineage": get("Inputs, data versions and models, and the edges between them"),
    }


def _rewrite(node: Any) -> Any:
    """Point the request schema's internal $refs at the OpenAPI components."""
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _rewrite(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node
