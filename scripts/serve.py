"""The prediction service: a Bottle app that always serves the registry's production model.

Each gunicorn worker loads the model that models/registry.json marks `production` (sha256
checked before unpickling) and watches the registry. When the alias moves, the new model
is loaded beside the old one and swapped in with one reference assignment, so in-flight
requests finish on the model they started with and none is dropped. A model that fails its
sha256 check is refused and the old one keeps serving. Every prediction is one line in the
prediction log; every start, swap, refusal and stop is one row in the deployment log.

  python -m scripts.serve                 # foreground (make serve)
  python -m scripts.serve --background    # start, wait for /ready, return (make serve-bg)
  python -m scripts.serve --stop          # stop the background server (make stop)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import bottle

from scripts import dashboard, openapi
from scripts import features as F
from scripts import registry as R
from scripts.artifacts import load_model, read_card
from scripts.config import ClockworkError, cli, load_params, repo_path, validate
from scripts.fastpath import FastForest
from scripts.inference import RequestError, Requests, parse_json
from scripts.store import append_csv_row, append_lines, sha256_file, utc_now

log = logging.getLogger("clockwork.serve")
DEPLOYMENT_COLUMNS = ["time", "event", "model_version", "model_sha256", "data_version", "git_commit",
                      "host_port", "pid", "detail"]
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JSON = "application/json"


@dataclass(frozen=True)
class LiveModel:
    """One loaded model version; swapped as a whole, never mutated."""
    version: str
    card: dict
    pipeline: Any
    threshold: float
    loaded_at: str
    fast: FastForest | None = None  # the exact fast path, when the Pipeline's shape allows it


class DeploymentLog:
    """Rows of logs/deployment_log.csv: which model was live where, and when."""

    def __init__(self, path: Path, host_port: str):
        self.path, self.host_port = path, host_port

    def write(self, event: str, card: dict | None, detail: str = "") -> None:
        row = {
            "time": utc_now(), "event": event,
            "model_version": card["version"] if card else None,
            "model_sha256": card["artifact"]["sha256"] if card else None,
            "data_version": card["data"]["version"] if card else None,
            "git_commit": card["git"]["commit"] if card else None,
            "host_port": self.host_port, "pid": os.getpid(), "detail": detail,
        }
        validate(row, "deployment_event", str(self.path))
        append_csv_row(self.path, DEPLOYMENT_COLUMNS, row)


class ModelHolder:
    """The live model of this process, following the registry's production alias."""

    def __init__(self, paths: dict, threshold: float | str, events: DeploymentLog):
        self.paths, self.threshold, self.events = paths, threshold, events
        self.live: LiveModel | None = None
        self._seen: tuple | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _registry_signature(self) -> tuple | None:
        try:
            stat = repo_path(self.paths["registry"]).stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def refresh(self) -> bool:
        """Load the production model if the alias moved; True if a model was swapped in."""
        with self._lock:
            signature = self._registry_signature()
            if signature is not None and signature == self._seen:
                return False
            self._seen = signature
            try:
                registry = R.load(self.paths)
            except ClockworkError as exc:
                log.error("registry unreadable, keeping the current model: %s", exc)
                self.events.write("refused", self.live.card if self.live else None, f"registry: {exc}")
                return False
            version = registry["aliases"]["production"]
            if version is None or (self.live and self.live.version == version):
                return False
            try:
                card = read_card(self.paths, version)
                if card["artifact"]["sha256"] != registry["versions"][version]["sha256"]:
                    raise ClockworkError(f"model {version}: card sha256 differs from the registry's")
                pipeline = load_model(card)
            except ClockworkError as exc:
                log.error("refusing model %s, keeping %s: %s", version, self.live and self.live.version, exc)
                self.events.write("refused", read_card_quietly(self.paths, version), str(exc))
                return False
            threshold = card["threshold"] if self.threshold == "model" else float(self.threshold)
            previous = self.live
            self.live = LiveModel(version, card, pipeline, threshold, utc_now(), FastForest.compile(pipeline))
            self.events.write("swap" if previous else "start", card,
                              f"from {previous.version}" if previous else "model loaded")
            log.info("serving model %s%s", version, f" (was {previous.version})" if previous else "")
            return True

    def watch(self, interval: float) -> None:
        """Check the registry every interval seconds in a daemon thread."""
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the watcher must outlive any one bad check
                    log.exception("registry check failed")
        threading.Thread(target=loop, name="registry-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.events.write("stop", self.live.card if self.live else None, "worker exiting")


def read_card_quietly(paths: dict, version: str) -> dict | None:
    """A card for a log row about a refused model; None if even the card is unreadable."""
    try:
        return read_card(paths, version)
    except ClockworkError:
        return None


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


def create_app(params: dict, holder: ModelHolder, metrics: Metrics | None = None) -> bottle.Bottle:
    """The WSGI app. Reads no file a client names and changes no state but the append-only logs.
    The dashboard and /api/... routes (scripts/dashboard.py) only read records."""
    deployment = params["deployment"]
    requests = Requests(params["data"]["ranges"], deployment["max_batch"])
    max_body = deployment["max_body_bytes"]
    fast_max = deployment["fast_path_max_rows"]
    predictions_log = repo_path(deployment["predictions_log"])
    name = deployment["model_name"]
    metrics = metrics or Metrics()
    api_document = json.dumps(openapi.document(requests.schema, name))
    app = bottle.Bottle()

    def reply(status: int, doc: Any) -> str:
        bottle.response.status = status
        bottle.response.content_type = JSON
        live = holder.live
        if live:
            bottle.response.set_header("X-Model-Version", live.version)
        return json.dumps(doc)

    def error_page(res: bottle.HTTPError) -> str:
        bottle.response.content_type = JSON
        reason = {404: "no such endpoint", 405: f"method not allowed (allowed: {res.headers.get('Allow', '')})"}
        return json.dumps({"error": reason.get(res.status_code, res.body if isinstance(res.body, str) and res.body
                                               and res.status_code < 500 else "internal error")})

    app.default_error_handler = error_page

    def body() -> Any:
        content_type = (bottle.request.content_type or "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestError(415, "Content-Type", f"{content_type or 'none'}: send application/json")
        length = bottle.request.content_length
        if length > max_body:
            raise RequestError(413, "body", f"{length} bytes exceed the limit of {max_body}")
        raw = bottle.request.environ["wsgi.input"].read(length if length >= 0 else max_body + 1)
        if len(raw) > max_body:
            raise RequestError(413, "body", f"more than the limit of {max_body} bytes")
        return parse_json(raw)

    def request_id() -> str:
        given = bottle.request.get_header("X-Request-ID")
        return given if given and REQUEST_ID.match(given) else uuid.uuid4().hex

    def predict(readings: list[dict], rid: str, endpoint: str, started: float) -> tuple[LiveModel, list[float], list[int]]:
        live = holder.live
        if live is None:
            raise RequestError(503, "model", "no model loaded yet")
        if live.fast is not None and len(readings) <= fast_max:
            probabilities = live.fast.predict_proba(readings).tolist()
        else:
            import pandas as pd

            frame = pd.DataFrame.from_records(readings, columns=F.INPUT_COLUMNS)
            probabilities = [float(p) for p in live.pipeline.predict_proba(frame)[:, 1]]
        labels = [int(p >= live.threshold) for p in probabilities]
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lines = []
        for i, (reading, p, label) in enumerate(zip(readings, probabilities, labels, strict=True)):
            record = {"time": now, "request_id": rid, "prediction_id": f"{rid}-{i}", "endpoint": endpoint,
                      "model_version": live.version, "inputs": {c: reading[c] for c in F.INPUT_COLUMNS},
                      "failure_probability": p, "prediction": label, "threshold": live.threshold, "latency_ms": latency_ms}
            if "udi" in reading:
                record["udi"] = reading["udi"]
            if i == 0:  # every record has this shape; checking one per request keeps the cost flat
                validate(record, "prediction", str(predictions_log))
            lines.append(json.dumps(record, separators=(",", ":")))
        append_lines(predictions_log, lines, fsync=deployment["fsync_predictions"])
        for label in labels:
            metrics.predictions.labels(str(label)).inc()
        return live, probabilities, labels

    def guarded(handler: Callable[..., str]) -> Callable[..., str]:
        """Turn RequestError into its JSON answer and any other failure into a bare 500."""
        def wrapper(*args: Any, **kwargs: Any) -> str:
            try:
                return handler(*args, **kwargs)
            except RequestError as exc:
                return reply(exc.status, exc.body())
            except ClockworkError as exc:
                log.error("request failed: %s", exc)
                return reply(500, {"error": "internal error"})
        return wrapper

    @app.get("/health")
    def health() -> str:
        return reply(200, {"status": "alive", "pid": os.getpid()})

    @app.get("/ready")
    def ready() -> str:
        live = holder.live
        return reply(200, {"status": "ready", "model_version": live.version}) if live else \
            reply(503, {"error": "model: no model loaded yet"})

    @app.get("/model")
    def model() -> str:
        live = holder.live
        if live is None:
            return reply(503, {"error": "model: no model loaded yet"})
        card = live.card
        return reply(200, {
            "version": live.version, "data_version": card["data"]["version"], "algorithm": card["algorithm"],
            "params": card["params"], "metrics": card["metrics"], "git": card["git"],
            "sha256": card["artifact"]["sha256"], "threshold": live.threshold, "loaded_at": live.loaded_at,
            "created_at": card["created_at"], "features": card["features"]["inputs"], "pid": os.getpid(),
            "fast_path": live.fast is not None,
        })

    @app.get("/metrics")
    def prometheus() -> bytes:
        metrics.show_model(holder.live)
        bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
        return metrics.exposition()

    @app.post("/predict")
    @guarded
    def predict_route() -> str:
        started, rid = time.perf_counter(), request_id()
        readings, batch = requests.predict(body())
        live, probabilities, labels = predict(readings, rid, "predict", started)
        items = [{"prediction_id": f"{rid}-{i}", "request_id": rid, "model_version": live.version,
                  "failure_probability": p, "prediction": label} for i, (p, label) in enumerate(zip(probabilities, labels, strict=True))]
        if batch:
            return reply(200, {"request_id": rid, "model_version": live.version, "threshold": live.threshold,
                               "predictions": items})
        return reply(200, {**items[0], "threshold": live.threshold})

    @app.post("/invocations")
    @guarded
    def invocations() -> str:
        started, rid = time.perf_counter(), request_id()
        live, probabilities, labels = predict(requests.invocations(body()), rid, "invocations", started)
        return reply(200, {"predictions": [{"failure_probability": p, "prediction": label}
                                           for p, label in zip(probabilities, labels, strict=True)],
                           "model_version": live.version, "request_id": rid})

    def known(model_name: str) -> None:
        if model_name != name:
            raise RequestError(404, "model", f"no model named {model_name!r} (this server serves {name!r})")

    @app.get("/openapi.json")
    def openapi_json() -> str:
        bottle.response.content_type = JSON
        return api_document

    @app.get("/v2")
    def v2_server() -> str:
        return reply(200, {"name": "clockwork", "version": "1", "extensions": []})

    @app.get("/v2/health/live")
    def v2_live() -> str:
        return reply(200, {"live": True})

    @app.get("/v2/health/ready")
    def v2_ready() -> str:
        return reply(200, {"ready": True}) if holder.live else reply(503, {"error": "model: no model loaded yet"})

    @app.get("/v2/models/<model_name>")
    @guarded
    def v2_model(model_name: str) -> str:
        known(model_name)
        live = holder.live
        numbers = [{"name": c, "datatype": "FP64", "shape": [-1]} for c in F.NUMERIC_INPUTS]
        return reply(200, {
            "name": name, "versions": [live.version] if live else [], "platform": "sklearn",
            "inputs": [{"name": "type", "datatype": "BYTES", "shape": [-1]}, *numbers],
            "outputs": [{"name": "failure_probability", "datatype": "FP64", "shape": [-1]},
                        {"name": "prediction", "datatype": "INT64", "shape": [-1]}],
        })

    @app.get("/v2/models/<model_name>/ready")
    @guarded
    def v2_model_ready(model_name: str) -> str:
        known(model_name)
        live = holder.live
        return reply(200 if live else 503, {"name": name, "ready": live is not None})

    @app.post("/v2/models/<model_name>/infer")
    @guarded
    def v2_infer(model_name: str) -> str:
        known(model_name)
        started = time.perf_counter()
        doc = body()
        given = doc.get("id") if isinstance(doc, dict) else None
        rid = given if isinstance(given, str) and REQUEST_ID.match(given) else request_id()
        live, probabilities, labels = predict(requests.infer(doc), rid, "infer", started)
        n = len(labels)
        out = {"model_name": name, "model_version": live.version,
               "outputs": [{"name": "failure_probability", "datatype": "FP64", "shape": [n], "data": probabilities},
                           {"name": "prediction", "datatype": "INT64", "shape": [n], "data": labels}]}
        if given is not None:
            out["id"] = given
        return reply(200, out)

    dashboard.mount(app, params, reply, guarded)
    return instrument(app, metrics)


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
    middleware.bottle = app  # type: ignore[attr-defined]
    return middleware


# ---- the server process -------------------------------------------------------------------

def preflight(paths: dict) -> dict:
    """Before binding a port: a production model must exist and its file must match its sha256."""
    registry, card = R.production_card(paths, "serve")
    version = card["version"]
    on_disk = sha256_file(repo_path(card["artifact"]["path"]))
    if on_disk != card["artifact"]["sha256"] or on_disk != registry["versions"][version]["sha256"]:
        raise ClockworkError(f"{card['artifact']['path']}: sha256 {on_disk[:16]}... differs from the one registered for "
                             f"{version}; refusing to serve it")
    return card


def bind_options(params: dict, args: argparse.Namespace) -> dict:
    deployment = params["deployment"]
    return {"host": args.host or deployment["host"], "port": args.port or deployment["port"],
            "workers": args.workers or deployment["workers"],
            "worker_class": args.worker_class or deployment["worker_class"]}


def run_foreground(params: dict, options: dict) -> int:
    """Run gunicorn in this process until SIGTERM/SIGINT."""
    from gunicorn.app.base import BaseApplication

    deployment, paths = params["deployment"], params["paths"]
    metrics_dir = repo_path(deployment["metrics_dir"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):  # counters of a previous run
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    host_port = f"{options['host']}:{options['port']}"
    state: dict[str, ModelHolder] = {}

    def load_app() -> Any:
        holder = ModelHolder(paths, deployment["threshold"], DeploymentLog(repo_path(deployment["deployment_log"]), host_port))
        holder.refresh()
        holder.watch(deployment["reload_interval_s"])
        state["holder"] = holder
        return create_app(params, holder)

    def worker_exit(server: Any, worker: Any) -> None:
        if "holder" in state:
            state["holder"].stop()

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    settings = {
        "bind": host_port, "workers": options["workers"], "worker_class": options["worker_class"], "threads": deployment["threads"],
        "timeout": deployment["timeout_s"], "graceful_timeout": deployment["timeout_s"], "keepalive": 5,
        "pidfile": str(repo_path(deployment["pid_file"])), "accesslog": None, "errorlog": "-", "loglevel": "info",
        "proc_name": "clockwork-serve", "worker_exit": worker_exit, "child_exit": child_exit,
        "limit_request_line": 8190, "limit_request_fields": 100,
    }
    if Path("/dev/shm").is_dir():  # gunicorn's heartbeat file: on a disk-backed dir its fchmod can stall
        settings["worker_tmp_dir"] = "/dev/shm"

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load_app()

    Server().run()
    return 0


def wait_ready(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    """Poll /ready until it answers 200, the server process dies, or time runs out."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            connection = http.client.HTTPConnection(host, port, timeout=2)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start_background(params: dict, options: dict) -> int:
    """Start the server as a detached process and return once it is ready."""
    deployment = params["deployment"]
    pid_file, server_log = repo_path(deployment["pid_file"]), repo_path(deployment["server_log"])
    running = read_pid(pid_file)
    if running:
        raise ClockworkError(f"{deployment['pid_file']}: a server is already running (pid {running}); make stop first")
    with socket.socket() as probe:
        if probe.connect_ex((options["host"], options["port"])) == 0:
            raise ClockworkError(f"deployment.port: {options['host']}:{options['port']} is already in use")
    server_log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "scripts.serve", "--host", options["host"], "--port", str(options["port"]),
               "--workers", str(options["workers"]), "--worker-class", options["worker_class"]]
    with open(server_log, "ab") as out:
        proc = subprocess.Popen(command, cwd=repo_path("."), stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    if not wait_ready(options["host"], options["port"], deployment["ready_timeout_s"], proc):
        proc.terminate()
        tail = server_log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise ClockworkError(f"server did not become ready; last line of {deployment['server_log']}: {tail[0]}")
    print(f"serving http://{options['host']}:{options['port']} (pid {proc.pid}, log {deployment['server_log']})")
    return 0


def stop_background(params: dict) -> int:
    """SIGTERM the background server and wait until it has exited."""
    deployment = params["deployment"]
    pid_file = repo_path(deployment["pid_file"])
    pid = read_pid(pid_file)
    if pid is None:
        print("no server running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + deployment["timeout_s"] + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            print(f"stopped (pid {pid})")
            return 0
        time.sleep(0.1)
    raise ClockworkError(f"pid {pid} did not exit after SIGTERM")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="override deployment.host")
    parser.add_argument("--port", type=int, help="override deployment.port")
    parser.add_argument("--workers", type=int, help="override deployment.workers")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], help="override deployment.worker_class")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--background", action="store_true", help="start detached; return when /ready answers")
    mode.add_argument("--stop", action="store_true", help="stop the background server")
    args = parser.parse_args(argv)
    params = load_params()
    if args.stop:
        return stop_background(params)
    options = bind_options(params, args)
    if not 1 <= options["port"] <= 65535:
        raise ClockworkError(f"--port: {options['port']} is not a TCP port")
    preflight(params["paths"])
    if args.background:
        return start_background(params, options)
    return run_foreground(params, options)


if __name__ == "__main__":
    cli(main)
