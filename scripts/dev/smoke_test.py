"""`make smoke`: real HTTP requests against the running server; exit non-zero on any failure.

Checks a valid single reading, a batch, an invalid reading, readiness and the live model,
each by status code and response shape. Standard library only.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
from typing import Any, Callable

from scripts.core.config import cli, load_params, port_number
from scripts.core.contract import Contract
from scripts.serving.fields import Fields
from scripts.serving.process import server_address

log = logging.getLogger("clockwork.smoke")


def call(host: str, port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request; returns (status, decoded JSON body)."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    payload = None if body is None else json.dumps(body)
    connection.request(method, path, payload, {"Content-Type": "application/json"} if payload else {})
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, json.loads(raw) if raw else None


def checks(version: str, fields: Fields) -> list[tuple[str, str, str, Any, int, Callable[[Any], bool]]]:
    """(name, method, path, body, expected status, shape check) for each smoke request, with a reading
    made from the data set contract (fields)."""
    reading = {name: value for name, value in fields.example().items() if name in fields.inputs}
    number = fields.numeric[0] if fields.numeric else fields.inputs[0]
    def single(doc: Any) -> bool:
        return (0.0 <= doc["failure_probability"] <= 1.0 and doc["prediction"] in (0, 1)
                and doc["model_version"] == version and bool(doc["request_id"]))

    def batch(doc: Any) -> bool:
        return len(doc["predictions"]) == 3 and all(p["model_version"] == version for p in doc["predictions"])

    return [
        ("ready", "GET", "/ready", None, 200, lambda d: d["model_version"] == version),
        ("single reading", "POST", "/predict", reading, 200, single),
        ("batch of 3", "POST", "/predict", {"instances": [reading] * 3}, 200, batch),
        ("invalid reading", "POST", "/predict", {**reading, number: "heavy"}, 400,
         lambda d: number in d["error"] and d["field"] == number),
        ("unknown field", "POST", "/predict", {**reading, "colour_of_the_sky": "red"}, 400,
         lambda d: d["field"] == "colour_of_the_sky"),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=port_number)
    args = parser.parse_args(argv)
    params = load_params()
    deployment, fields = params["deployment"], Fields.of(Contract.from_params(params["dataset"]))
    host, port = server_address(deployment, args.host, args.port)
    try:
        status, model = call(host, port, "GET", "/model")
    except OSError as exc:
        print(f"FAIL no server at {host}:{port}: {exc} (start one with make serve-bg)")
        return 1
    if status != 200:
        print(f"FAIL GET /model answered {status}: {model}")
        return 1
    failures = 0
    for name, method, path, body, expected, shape in checks(model["version"], fields):
        try:
            status, doc = call(host, port, method, path, body)
            ok = status == expected and shape(doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            status, doc, ok = None, str(exc), False
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {method} {path} -> {status}" + ("" if ok else f" {doc}"))
    print(f"{len(checks('', fields))- failures} passed, {failures} failed against model {model['version']} at {host}:{port}")
    return 1 if failures else 0


if __name__ == "__main__":
    cli(main)
