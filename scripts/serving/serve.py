"""`make serve`, `make serve-bg`, `make stop`: run the prediction service (gunicorn over serving/app.py).

The service always serves the registry's production model and follows its alias (live.py). With
deployment.registry naming a remote, this clone is a replica: its registry and the models it
names are kept in step with that remote's by a follower process (scripts/remote/follow.py);
every prediction is one line in the prediction log, every start, swap, refusal and stop one
row in the deployment log.

  python -m scripts.serving.serve                 # foreground (make serve)
  python -m scripts.serving.serve --background    # start, wait for /ready, return (make serve-bg)
  python -m scripts.serving.serve --stop          # stop the background server (make stop)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from scripts.core.config import ClockworkError, cli, load_params, port_number, repo_path
from scripts.remote import sync
from scripts.serving.process import check_free, preflight, run_foreground, start_background, stop_background

SITE = "scripts.inspect.site:routes"  # the dashboard, imported by each worker (see process.run_foreground)


def bind_options(params: dict, args: argparse.Namespace) -> dict:
    deployment = params["deployment"]
    return {"host": args.host or deployment["host"], "port": args.port or deployment["port"],
            "workers": args.workers or deployment["workers"],
            "worker_class": args.worker_class or deployment["worker_class"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="override deployment.host")
    parser.add_argument("--port", type=port_number, help="override deployment.port")
    parser.add_argument("--workers", type=int, help="override deployment.workers")
    parser.add_argument("--worker-class", choices=["sync", "gthread", "gevent"], help="override deployment.worker_class")
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
    check_free(params["deployment"], options)
    following = params["deployment"]["registry"]
    if following:  # a replica: its registry and models come from a remote's
        said, _ = sync.follow(params, following)
        print(f"following the registry on {following}" + (f": {said}" if said else ""), flush=True)
    preflight(params["paths"])
    if args.background:
        return start_background(params, options, lambda: serve_here(params, options))
    return serve_here(params, options)


def serve_here(params: dict, options: dict) -> int:
    """Run the server in this process until it stops; a replica runs its follower beside it."""
    following = params["deployment"]["registry"]
    if not following:
        return run_foreground(params, options, sites=[SITE])
    follower, master = subprocess.Popen([sys.executable, "-m", "scripts.remote.follow", "--remote", following],
                                        cwd=repo_path(".")), os.getpid()
    try:
        return run_foreground(params, options, sites=[SITE])
    finally:
        if os.getpid() == master:  # gunicorn's workers leave through here too; the follower is the master's
            follower.terminate()
            follower.wait()

if __name__ == "__main__":
    cli(main)
