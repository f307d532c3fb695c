"""The server process: check the model before binding, run gunicorn, start and stop it in the background.

Used by `make serve`, `make serve-bg` and `make stop` (serve.py), and by the benchmarks.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from scripts.core import registry as R
from scripts.core.config import ClockworkError, repo_path
from scripts.core.preload import import_libraries
from scripts.core.store import atomic_write_text, set_aside_torn_tail, sha256_file
from scripts.serving.live import DeploymentLog, ModelHolder, fast_options

log = logging.getLogger("clockwork.serve")

# deployment.worker_class -> what gunicorn is given (the gevent one is gevent_worker.py's class)
WORKER_CLASSES = {"sync": "sync", "gthread": "gthread", "gevent": "scripts.serving.gevent_worker.BoundedGeventWorker"}


def preflight(paths: dict) -> dict:
    """Before binding a port: a production model must exist and its file must match its sha256."""
    registry, card = R.production_card(paths, "serve")
    version = card["version"]
    on_disk = sha256_file(repo_path(card["artifact"]["path"]))
    if on_disk != card["artifact"]["sha256"] or on_disk != registry["versions"][version]["sha256"]:
        raise ClockworkError(f"{card['artifact']['path']}: sha256 {on_disk[:16]}... differs from the one registered for "
                             f"{version}; refusing to serve it")
    return card


def fresh_metrics_dir(deployment: dict, port: int) -> Path:
    """This server's Prometheus multiprocess files: one folder per port, cleared of a previous run's.
    (They are memory-mapped: keep deployment.metrics_dir off the logs' filesystem, so a full logs
    disk cannot fault a worker.)"""
    directory = repo_path(deployment["metrics_dir"]) / str(port)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def origin(deployment: dict) -> str:
    """On a replica (deployment.registry names a remote): 'host <name>, registry <remote>'."""
    return f"host {socket.gethostname()}, registry {deployment['registry']}" if deployment["registry"] else ""


def set_aside_torn_tails(deployment: dict, host_port: str) -> None:
    """Before any worker appends: a torn last line (a write cut by a power loss) is moved aside, kept,
    and said so in the deployment log and the server log."""
    events = DeploymentLog(repo_path(deployment["deployment_log"]), host_port)
    for key in ("predictions_log", "shadow_log", "deployment_log"):
        aside = set_aside_torn_tail(repo_path(deployment[key]))
        if aside is not None:
            log.warning("%s ended in a torn line; moved it to %s", deployment[key], aside.name)
            events.write("repaired", None, f"{deployment[key]}: torn last line moved to {aside.name}")


def open_files_for(connections: int, spare: int = 256) -> None:
    """Let each worker hold its worker_connections (idle clients included) as open files: the soft limit
    is raised toward the hard one, which the workers inherit; a hard limit below it is said once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + spare
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        if ceiling < wanted:
            log.warning("open-file limit %d is below deployment.worker_connections + %d: a worker holds at most %d "
                        "connections (raise it with ulimit -Hn)", hard, spare, hard - spare)


def gunicorn_settings(deployment: dict, options: dict, host_port: str, worker_exit: Any, child_exit: Any) -> dict:
    settings = {
        "bind": host_port, "workers": options["workers"], "worker_class": WORKER_CLASSES[options["worker_class"]],
        "threads": deployment["threads"], "worker_connections": deployment["worker_connections"],
        "timeout": deployment["timeout_s"], "graceful_timeout": deployment["timeout_s"],
        "keepalive": deployment["keepalive_s"],
        "pidfile": str(repo_path(deployment["pid_file"])), "accesslog": None, "errorlog": "-", "loglevel": "info",
        "proc_name": "clockwork-serve", "worker_exit": worker_exit, "child_exit": child_exit,
        "limit_request_line": deployment["max_request_line_bytes"], "limit_request_fields": deployment["max_header_fields"],
    }
    if Path("/dev/shm").is_dir():  # gunicorn's heartbeat file: on a disk-backed dir its fchmod can stall
        settings["worker_tmp_dir"] = "/dev/shm"
    return settings


def run_foreground(params: dict, options: dict, sites: Iterable[str] = ()) -> int:
    """Run gunicorn in this process until SIGTERM/SIGINT; every worker serves the app with these sites
    ("module:function" names, each a Site as app.py describes it). Only workers import bottle, the app
    and the sites, after a gevent worker has patched threading: bottle's request and response are
    thread-locals made at import, which all greenlets would otherwise share. The numeric libraries,
    which hold no such state, are imported here once, so a worker starts, or is replaced, in a
    fraction of the time (core/preload.py)."""
    from gunicorn.app.base import BaseApplication

    deployment, paths = params["deployment"], params["paths"]
    host_port = f"{options['host']}:{options['port']}"
    if options["worker_class"] == "gevent":
        from scripts.serving.gevent_worker import BoundedGeventWorker

        BoundedGeventWorker.header_timeout_s = deployment["header_timeout_s"]
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_metrics_dir(deployment, options["port"]))
    open_files_for(deployment["worker_connections"])
    set_aside_torn_tails(deployment, host_port)
    state: dict[str, ModelHolder] = {}

    def load_app() -> Any:
        from scripts.serving.app import create_app

        holder = ModelHolder(paths, deployment["threshold"], DeploymentLog(repo_path(deployment["deployment_log"]), host_port,
                                                                           origin(deployment)), fast_options(deployment))
        holder.refresh()
        holder.watch(deployment["reload_interval_s"])
        state["holder"] = holder
        return create_app(params, holder, sites=[_import_name(name) for name in sites])

    def worker_exit(server: Any, worker: Any) -> None:
        if "holder" in state:
            state["holder"].stop()

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    settings = gunicorn_settings(deployment, options, host_port, worker_exit, child_exit)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load_app()

    import_libraries()  # once, here: a worker forks with them and imports only bottle, the app and the model
    with listening(deployment, options):
        Server().run()
    return 0


def _import_name(name: str) -> Any:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def wait_ready(host: str, port: int, timeout: float, alive: Callable[[], bool] | None = None) -> bool:
    """Poll /ready until it answers 200, the server process dies (alive() turns false), or time runs out."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
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


def _address_file(deployment: dict) -> Path:
    """Beside the pid file: where the running server listens (make serve and serve-bg write it)."""
    pid_file = repo_path(deployment["pid_file"])
    return pid_file.with_name(f".{pid_file.name}.address")


@contextlib.contextmanager
def listening(deployment: dict, options: dict) -> Iterator[None]:
    """Record where this server (this process, gunicorn's master) listens while it runs; gone after."""
    address, master = _address_file(deployment), os.getpid()
    atomic_write_text(address, json.dumps({"pid": master, "host": options["host"], "port": options["port"]}))
    try:
        yield
    finally:
        if os.getpid() == master:  # a worker leaves through here too (gunicorn's SystemExit): not its record
            address.unlink(missing_ok=True)


def running_address(deployment: dict) -> tuple[str, int] | None:
    """(host, port) of the server this project runs now, whatever port it was given; None if none runs."""
    pid = read_pid(repo_path(deployment["pid_file"]))
    try:
        record = json.loads(_address_file(deployment).read_text())
    except (OSError, ValueError):
        return None
    if pid is None or not isinstance(record, dict) or record.get("pid") != pid:
        return None
    return record["host"], record["port"]


def server_address(deployment: dict, host: str | None, port: int | None) -> tuple[str, int]:
    """Where to find the service: what the command was given, else the running server, else params."""
    running = running_address(deployment) or (deployment["host"], deployment["port"])
    return host or running[0], port or running[1]


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def check_free(deployment: dict, options: dict) -> None:
    """One line, before anything starts, when this project's server already runs or the port is taken."""
    running = read_pid(repo_path(deployment["pid_file"]))
    if running:
        where = running_address(deployment)
        raise ClockworkError(f"{deployment['pid_file']}: a server is already running (pid {running}"
                             + (f", http://{where[0]}:{where[1]}" if where else "") + "); make stop first")
    with socket.socket() as probe:
        if probe.connect_ex((options["host"], options["port"])) == 0:
            raise ClockworkError(f"deployment.port: {options['host']}:{options['port']} is already in use (PORT=... picks another)")


def start_background(params: dict, options: dict, serve_here: Callable[[], int]) -> int:
    """Start the server as a detached process and return once it is ready. The server is this
    process forked, not a new interpreter: run warm (make serve-bg), it starts with the numeric
    libraries already imported, and in any case it runs the code and params this process checked.
    serve_here() runs the server in the child and returns its exit status."""
    deployment = params["deployment"]
    server_log = repo_path(deployment["server_log"])
    check_free(deployment, options)
    server_log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the server: it leaves by unwinding, as the process would (cli, or the warm worker's run)
        _detach(server_log)
        raise SystemExit(serve_here())
    if not wait_ready(options["host"], options["port"], deployment["ready_timeout_s"], lambda: _running(pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        tail = server_log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise ClockworkError(f"server did not become ready; last line of {deployment['server_log']}: {tail[0]}")
    print(f"serving http://{options['host']}:{options['port']} (pid {pid}, log {deployment['server_log']})")
    return 0


def _detach(log: Path) -> None:
    """In the forked server: a session of its own (Ctrl-C in make's terminal spares it), stdin from
    /dev/null, stdout and stderr appended to the server log, and no other descriptor of the process
    that forked it (make's pipes and jobserver, a warm worker's socket)."""
    os.setsid()
    with open(os.devnull, "rb") as null, open(log, "ab") as out:
        os.dup2(null.fileno(), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    os.closerange(3, soft if soft != resource.RLIM_INFINITY else 1 << 16)


def _running(pid: int) -> bool:
    """The forked server has not exited (it is this process's child until this process exits)."""
    return os.waitpid(pid, os.WNOHANG) == (0, 0)


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
