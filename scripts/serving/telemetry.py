"""Prometheus metrics for the service, summed over every worker, and the middleware that counts requests."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import bottle

from scripts.serving.live import LiveModel


class Metrics:
    """Prometheus metrics; with PROMETHEUS_MULTIPROC_DIR set they are summed over all workers."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("clockwork_requests_total", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("clockwork_request_latency_seconds", "Request latency by endpoint", ["endpoint"],
                                 buckets=(.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5), registry=self.registry)
        self.predictions = Counter("clockwork_predictions_total", "Predictions by predicted class", ["class"],
                                   registry=self.registry)
        self.model = Gauge("clockwork_model_info", "The live model (1) per worker", ["version", "sha256"],
                           multiprocess_mode="livemax", registry=self.registry)
        self._shown: tuple | None = None

    def show_model(self, live: LiveModel | None) -> None:
        key = (live.version, live.card["artifact"]["sha256"]) if live else None
        if key != self._shown:
            if self._shown:
                self.model.labels(*self._shown).set(0)
            if key:
                self.model.labels(*key).set(1)
            self._shown = key

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def instrument(app: bottle.Bottle, metrics: Metrics) -> Any:
    """WSGI middleware: count every request by route and status and time it, 404s and 405s included."""
    def middleware(environ: dict, start_response: Callable) -> Any:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = app(environ, capture)
        route = environ.get("bottle.route")
        endpoint = route.rule if route is not None else "unmatched"
        metrics.requests.labels(endpoint, seen.get("status", "500")).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return result
    middleware.bottle = getattr(app, "bottle", app)  # type: ignore[attr-defined]
    return middleware
