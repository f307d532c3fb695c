"""Prometheus metrics for the service, summed over every worker, and the middleware that counts requests."""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

import bottle

from scripts.core.config import ClockworkError, load_schema
from scripts.core.reports import LatestReport
from scripts.serving.live import LiveModel

log = logging.getLogger("clockwork.metrics")
QUALITY_METRICS = ("f1", "precision", "recall", "error_rate")


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

    def exposition(self, *extra: Any) -> bytes:
        """The service's metrics, and those of the extra collectors (read at each scrape)."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
        if extra:
            own = CollectorRegistry()
            for collector in extra:
                own.register(collector)
            text += generate_latest(own)
        return text


class MonitorCollector:
    """The latest monitor report as gauges, read from its files at each scrape, so an alerting rule
    can page on a verdict, a diagnosis, a drifted column or a quality figure (prometheus-alerts.yml)."""

    def __init__(self, params: dict):
        self.latest = LatestReport(params["monitor"])

    def collect(self) -> Any:
        try:
            report = self.latest.get()
        except (ClockworkError, OSError) as exc:
            log.warning("metrics: the latest monitor report could not be read: %s", exc)
            report = None
        return monitor_families(report)


def monitor_families(report: dict | None) -> list:
    """Gauges of one monitor report (none but clockwork_monitor_report_available=0 without one). Pure."""
    from prometheus_client.core import GaugeMetricFamily as Gauge

    available = Gauge("clockwork_monitor_report_available", "1 if the latest monitor report was read, else 0")
    available.add_metric([], 0 if report is None else 1)
    if report is None:
        return [available]
    schema = load_schema("monitor_report")["properties"]
    version = report["model_version"]
    created = Gauge("clockwork_monitor_last_run_timestamp_seconds", "When the latest monitor report was made")
    created.add_metric([], _epoch_seconds(report["created_at"]))
    verdict = Gauge("clockwork_monitor_verdict", "1 for the latest report's verdict, 0 for the others",
                    labels=["verdict", "model_version"])
    for name in schema["verdict"]["enum"]:
        verdict.add_metric([name, version], 1 if report["verdict"] == name else 0)
    diagnosis = Gauge("clockwork_monitor_diagnosis", "1 for the latest report's diagnosis, 0 for the others",
                      labels=["kind", "model_version"])
    for name in schema["diagnosis"]["properties"]["kind"]["enum"]:
        diagnosis.add_metric([name, version], 1 if (report.get("diagnosis") or {}).get("kind") == name else 0)
    window = Gauge("clockwork_monitor_window_predictions", "Predictions in the judged window, and how many are labelled",
                   labels=["which"])
    window.add_metric(["all"], report["window"]["predictions"])
    window.add_metric(["labelled"], report["window"]["labelled"])
    chunk = _latest_chunk(report)
    return [available, created, verdict, diagnosis, window, *_quality_families(report), *_drift_families(report),
            *_chunk_families(report, chunk), *_chunk_truth_families(report, chunk)]


def _quality_families(report: dict) -> list:
    from prometheus_client.core import GaugeMetricFamily as Gauge

    quality = Gauge("clockwork_monitor_quality", "Quality of the live model on the window's labelled predictions "
                    "(kind=realized; absent below monitor.min_labels)", labels=["metric", "kind"])
    overall = (report.get("quality") or {}).get("overall") or {}
    for metric in QUALITY_METRICS:
        if overall.get(metric) is not None:
            quality.add_metric([metric, "realized"], overall[metric])
    baseline = Gauge("clockwork_monitor_baseline", "The live model's recorded quality the monitor compares with",
                     labels=["metric"])
    for metric in QUALITY_METRICS:
        if report["baseline"].get(metric) is not None:
            baseline.add_metric([metric], report["baseline"][metric])
    return [quality, baseline]


def _drift_families(report: dict) -> list:
    from prometheus_client.core import GaugeMetricFamily as Gauge

    drift = report["drift"]
    judged = Gauge("clockwork_monitor_drift_judged", "1 if the window held enough predictions to judge drift")
    judged.add_metric([], 0 if drift.get("judged") is False else 1)
    share = Gauge("clockwork_monitor_drifted_share", "Share of the columns that drifted")
    share.add_metric([], drift["drifted_share"])
    return [judged, share, *_column_families("clockwork_monitor_column", "the window", drift["features"])]


def _column_families(prefix: str, where: str, features: dict) -> list:
    """Each column's drift record (of the window, or of the latest chunk) as four gauges named prefix_*. Pure."""
    from prometheus_client.core import GaugeMetricFamily as Gauge

    drifted = Gauge(f"{prefix}_drifted", f"1 if the column drifted in {where} (PSI and test both say so)", labels=["column"])
    psi = Gauge(f"{prefix}_psi", f"The column's population stability index in {where}", labels=["column"])
    p_value = Gauge(f"{prefix}_p_value", f"The p-value of the column's KS or chi-square test in {where}",
                    labels=["column", "test"])
    statistic = Gauge(f"{prefix}_statistic", f"The statistic of the column's KS or chi-square test in {where}",
                      labels=["column", "test"])
    for column, record in sorted(features.items()):
        drifted.add_metric([column], 1 if record["drifted"] else 0)
        psi.add_metric([column], record["psi"])
        p_value.add_metric([column, record["test"]], record["p_value"])
        statistic.add_metric([column, record["test"]], record["statistic"])
    return [drifted, psi, p_value, statistic]


def _latest_chunk(report: dict) -> dict | None:
    """The latest chunk with measurements (a partial chunk below monitor.min_drift_rows has none)."""
    measured = [c for c in report.get("chunks") or [] if c["judged"]]
    return measured[-1] if measured else None


def _chunk_families(report: dict, chunk: dict | None) -> list:
    """The latest measured chunk: its metrics estimated without labels with their interval and band, the limit they
    are held to, its multivariate drift measure and its alerts."""
    from prometheus_client.core import GaugeMetricFamily as Gauge

    index = Gauge("clockwork_monitor_chunk", "The latest measured chunk of the live model's history: its number, "
                  "rows and labelled rows", labels=["which"])
    estimated = Gauge("clockwork_monitor_estimated", "The latest chunk's quality estimated from the model's calibrated "
                      "probabilities, before labels: the estimate, its interval (interval_low, interval_high: where the expected "
                      "value lies) and its band (low, high: where the chunk's realized value should fall)",
                      labels=["metric", "bound"])
    multivariate = Gauge("clockwork_monitor_multivariate", "The latest chunk's mean PCA reconstruction error, the "
                         "training rows' and the accepted range, and 1 if it drifted", labels=["which"])
    alerts = Gauge("clockwork_monitor_chunk_alert", "1 for each alert the latest chunk raised", labels=["alert"])
    limit = Gauge("clockwork_monitor_f1_limit", "The F1 a chunk is held to: the baseline F1 less monitor.max_f1_drop")
    families = [index, estimated, multivariate, alerts, limit]
    if "history" in report:
        limit.add_metric([], report["history"]["f1_limit"])
    if chunk is None:
        return families
    for which, value in (("index", chunk["index"]), ("rows", chunk["rows"]), ("labelled", chunk["labelled"])):
        index.add_metric([which], value)
    for metric, found in sorted((chunk["estimated"] or {}).items()):
        if found is not None:
            for bound, value in (("estimate", found["value"]), ("interval_low", found["interval"][0]),
                                 ("interval_high", found["interval"][1]), ("low", found["band"][0]), ("high", found["band"][1])):
                estimated.add_metric([metric, bound], value)
    measure = chunk["multivariate"]
    for which, value in (("value", measure["value"]), ("reference", measure["reference"]), ("low", measure["range"][0]),
                         ("high", measure["range"][1]), ("drifted", 1 if measure["drifted"] else 0)):
        multivariate.add_metric([which], value)
    for alert in chunk["alerts"]:
        alerts.add_metric([alert], 1)
    return families


def _chunk_truth_families(report: dict, chunk: dict | None) -> list:
    """The latest measured chunk's drift per column, and the realized metrics of the latest chunk and of the
    newest chunk that has them (labels come late: the newest labelled chunk is where they last spoke). Pure."""
    from prometheus_client.core import GaugeMetricFamily as Gauge

    realized = Gauge("clockwork_monitor_chunk_realized", "Quality on a chunk's labelled predictions (from "
                     "monitor.min_labels on): which=latest, the latest measured chunk; which=latest_labelled, the "
                     "newest chunk with enough labels", labels=["metric", "which"])
    labelled = [c for c in report.get("chunks") or [] if c.get("realized")]
    index = Gauge("clockwork_monitor_chunk_latest_labelled", "The number of the newest chunk with enough labels")
    for which, found in (("latest", chunk if chunk and chunk.get("realized") else None),
                         ("latest_labelled", labelled[-1] if labelled else None)):
        for metric, value in sorted((found or {}).get("realized", {}).items()):
            if value is not None:
                realized.add_metric([metric, which], value)
    if labelled:
        index.add_metric([], labelled[-1]["index"])
    columns = _column_families("clockwork_monitor_chunk_column", "the latest measured chunk", (chunk or {}).get("drift") or {})
    return [realized, index, *columns]


def _epoch_seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


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
