"""Push and pull timings, for `make bench-remote`.

In a throwaway copy of the project after `make train`: a full `make push` (cold stat cache, so it
hashes every file as a first push does), a no-op push, and `make pull` into a fresh copy of the
sources (its .venv linked, so the venv's set-up is not timed), against a directory and a SeaweedFS
S3 server started for the run. With --dvc PATH (DVC installed in a throwaway venv, with
dvc-s3; make bench-remote DVC=path), the same files go through `dvc add` and `dvc push` to the same S3 server in the same run,
and a no-op `dvc push`: a benchmark, never a test. Medians of `repeats` runs, each to a new prefix.
Last, a replica (a fresh copy whose deployment.registry is the directory remote) serves, and the
time from promote + push on the training copy until the replica answers with the new version.
Writes logs/bench/remote-<time>.json (schemas/bench_remote.schema.json).

  python -m scripts.dev.bench_remote [--smoke] [--dvc PATH]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.core.config import ClockworkError, cli, load_params, repo_path
from scripts.core.store import compact_time, write_json
from scripts.dev.sandbox import copy_repo, edit_params, with_model
from scripts.remote.seaweed import create_bucket, free_ports, launch, stop

TRACKED = ["data/processed", "data/production", "models"]  # what dvc add tracks: the artifacts a push sends
BUCKET = "bench"


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise ClockworkError(f"{' '.join(command)}: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}")
    return elapsed, done.stdout


def fresh(where: Path) -> Path:
    where.mkdir(parents=True)
    copy_repo(where)
    for empty in ("data/processed", "data/production", "models", "logs"):
        (where / empty).mkdir(parents=True, exist_ok=True)
    return where


def ours(built: Path, scratch: Path, remote: str, env: dict, run: int) -> dict:
    """One full push (cold stat cache), one no-op push, one pull into fresh sources."""
    (built / ".make/statcache.json").unlink(missing_ok=True)
    full, said = timed(["make", "push", f"REMOTE={remote}"], built, env)
    noop, again = timed(["make", "push", f"REMOTE={remote}"], built, env)
    if "pushed nothing" not in again:
        raise ClockworkError(f"a second push sent something: {again.strip()}")
    clone = fresh(scratch / f"clone-{run}")
    pull, _ = timed(["make", "pull", f"REMOTE={remote}"], clone, env)
    shutil.rmtree(clone)
    return {"full_push_s": full, "noop_push_s": noop, "pull_s": pull, "said": said.strip()}


def dvc(dvc_bin: str, built: Path, scratch: Path, endpoint: str, env: dict, run: int) -> dict:
    """dvc add of the same files, dvc push to the same S3 server, and a no-op dvc push."""
    work = scratch / f"dvc-{run}"
    shutil.copytree(built, work, symlinks=True, ignore=shutil.ignore_patterns(".make"))
    timed([dvc_bin, "init", "--no-scm", "-q"], work, env)
    timed([dvc_bin, "remote", "add", "-d", "bench", f"s3://{BUCKET}/dvc-{run}"], work, env)
    timed([dvc_bin, "remote", "modify", "bench", "endpointurl", endpoint], work, env)
    add, _ = timed([dvc_bin, "add", "-q", *TRACKED], work, env)
    push, _ = timed([dvc_bin, "push", "-q"], work, env)
    noop, _ = timed([dvc_bin, "push", "-q"], work, env)
    shutil.rmtree(work)
    return {"add_s": add, "push_s": push, "noop_push_s": noop}


def _served(port: int) -> str:
    import http.client
    import json
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/model")
    version = json.loads(connection.getresponse().read())["version"]
    connection.close()
    return version


def propagation(built: Path, scratch: Path, remote: str) -> float:
    """Seconds from `make promote` + `make push` on the training clone until a replica following the
    remote answers with the new version ten times in a row (each of its workers swaps on its own)."""
    from scripts.dev.sandbox import free_port
    replica, port = fresh(scratch / "replica"), free_port()
    edit_params(replica, lambda params: params["deployment"].update(registry=remote))
    timed(["make", "serve-bg", f"PORT={port}"], replica)
    try:
        target = "v1" if _served(port) != "v1" else "v2"
        timed(["make", "promote", f"VERSION={target}", "REASON=bench", "FORCE=1"], built)
        started = time.perf_counter()
        timed(["make", "push", f"REMOTE={remote}"], built)
        streak = 0
        while streak < 10 and time.perf_counter() - started < 60:
            streak = streak + 1 if _served(port) == target else 0
            time.sleep(0.01)
        return time.perf_counter() - started
    finally:
        timed(["make", "stop"], replica)


def medians(runs: list[dict]) -> dict:
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0] if key != "said"}


def measure(scratch: Path, repeats: int, dvc_bin: str | None) -> dict:
    built = fresh(scratch / "built")
    timed(["make", "train"], built)
    params = load_params()
    with_model(built, {"seed": params["model"]["seed"] + 1})
    timed(["make", "train"], built)  # a second version (another seed, whatever the model), for the replica to swap to
    files = [p for top in TRACKED for p in (built / top).rglob("*") if p.is_file() and not p.name.startswith(".")]
    store = scratch / "seaweedfs"
    port = free_ports(1)[0]
    server = launch(store / "data", "127.0.0.1", port, store.with_suffix(".log"))
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    try:
        create_bucket(endpoint, BUCKET)
        directory = [ours(built, scratch, str(scratch / f"remote-{i}"), {}, i) for i in range(repeats)]
        s3 = [ours(built, scratch, f"s3://{BUCKET}/ours-{i}", env, repeats + i) for i in range(repeats)]
        theirs = [dvc(dvc_bin, built, scratch, endpoint, env, i) for i in range(repeats)] if dvc_bin else None
        swap = propagation(built, scratch, str(scratch / "remote-0"))
    finally:
        stop(server, 2)
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "said": directory[0]["said"],
            "directory": medians(directory), "s3": medians(s3), "dvc_s3": medians(theirs) if theirs else None,
            "replica_swap_s": round(swap, 3)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one run of each, no DVC")
    parser.add_argument("--dvc", help="a dvc executable (with dvc-s3) to run beside ours on the same files")
    args = parser.parse_args(argv)
    params = load_params(sections=("paths",))
    dvc_bin = None if args.smoke else args.dvc
    repeats = 1 if args.smoke else 3
    started = compact_time()
    with tempfile.TemporaryDirectory(prefix="clockwork-bench-remote-") as tmp:
        result = measure(Path(tmp), repeats, dvc_bin)
    doc = {"kind": "remote", "started_at": started, "smoke": args.smoke, "repeats": repeats,
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "dvc": subprocess.run([dvc_bin, "--version"], capture_output=True, text=True).stdout.strip() if dvc_bin else None,
           **result}
    out = repo_path(params["paths"]["logs_dir"]) / "bench" / f"remote-{started}.json"
    write_json(out, doc, "bench_remote")
    print(f"{result['files']} files, {result['bytes'] / 1e6:.1f} MB ({result['said']})")
    for name in ("directory", "s3", "dvc_s3"):
        if result[name]:
            print(f"  {name:10s} " + ", ".join(f"{k} {v:.2f}" for k, v in result[name].items()))
    print(f"  a replica following the directory remote served the promoted version {result['replica_swap_s']:.2f} s "
          "after make promote + make push began")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    cli(main)
