"""`make runs`, and the record of every `make train` run that did something or failed.

Each stage recipe notes its name, the run's start and the errors it passes through in .make/run/;
a failing stage, or the end of a run in which a stage ran, calls `record` (a no-op starts no
Python). `record` appends one line to the
runs log (paths.runs_log): the outcome, the stages that ran and the one that failed, the params
file and its sha256, the data and model versions the pointers name, what is in production, the
code commit, the duration and the one-line error.

  python -m scripts.pipeline.runlog record --out .make/out --run .make/run --status N --params params.yaml [--extra FILE]
  python -m scripts.pipeline.runlog show [--all]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from scripts.core import registry as R
from scripts.core.config import ClockworkError, cli, load_params, printable
from scripts.core.runs import KILLED, STAGES, append_run, read_runs, run_record
from scripts.core.store import actor, git_info, sha256_file, utc_now

SHOWN = 20


def pointers(out: Path) -> dict[str, str]:
    found = {}
    for stage in STAGES:
        try:
            found[stage] = (out / stage).read_text().split()[0]
        except (OSError, IndexError):
            pass
    return found


def production(paths: dict) -> str | None:
    try:
        return R.load(paths)["aliases"]["production"]
    except ClockworkError:
        return None


def run_paths(params_file: Path) -> dict | None:
    """Where the runs log lives: from the params file in force, or, when that file is what failed,
    from the default params.yaml; None if neither can be read (the run's own error says why)."""
    for candidate in (params_file, None):
        try:
            return load_params(candidate)["paths"]
        except ClockworkError:
            continue
    return None


NOTES = ("stages", "started", "stderr")


def take_run(run_dir: Path, killed: bool = False) -> tuple[list[str], str | None, float | None, str]:
    """The stages, start time, duration and errors make noted for the run, cleared so the next run starts
    fresh. A killed run's duration ends at its last note."""
    def text(name: str) -> str:
        try:
            return (run_dir / name).read_text(errors="replace")
        except OSError:
            return ""
    stages, started, stderr = text("stages").split(), text("started").split(), text("stderr")
    ended = max((p.stat().st_mtime for p in map(run_dir.joinpath, NOTES) if p.exists()), default=time.time())
    for name in NOTES:
        (run_dir / name).unlink(missing_ok=True)
    if len(started) < 2 or not started[1].isdigit():
        return stages, None, None, stderr
    return stages, started[0], (ended if killed else time.time()) - int(started[1]) / 1e6, stderr


def record(args: argparse.Namespace) -> int:
    """Append the record of the run make just finished (or failed), or of one killed before it could
    (args.killed: found by the next run); exit with that run's status."""
    stages, started, seconds, stderr = take_run(args.run, args.killed)
    if not stages and (args.status == 0 or args.killed):
        return 0  # the stage markers moved without a stage running here: nothing to record
    facts = {"time": started or utc_now(), "duration_s": max(seconds or 0.0, 0.0), "killed": args.killed,
             "exit_code": KILLED if args.killed else args.status,
             "stages": stages, "stderr": stderr, "params_file": str(args.params), "extra": args.extra,
             "params_sha256": sha256_file(args.params) if args.params.is_file() else None,
             "pointers": pointers(args.out), "git": git_info(), "actor": actor()}
    paths = run_paths(args.params)
    if paths is not None:
        append_run(paths, run_record({**facts, "production": production(paths)}))
    return args.status


def table(runs: list[dict]) -> str:
    """The runs, newest first, one line each."""
    if not runs:
        return "no pipeline runs recorded yet (make train records each run that does something)"
    lines = [f"{'time':20} {'outcome':11} {'seconds':>8} {'stages':31} {'data':5} {'model':6} {'production':10} "
             f"{'params':24} commit / error"]
    for r in reversed(runs):
        params = f"{Path(r['params_file']).name}:{(r['params_sha256'] or 'missing')[:8]}"
        commit = (r["git"]["commit"] or "none")[:12] + ("+dirty" if r["git"]["dirty"] else "")
        lines.append(printable(f"{r['time']:20} {r['outcome']:11} {r['duration_s']:>8.2f} {','.join(r['stages']) or '-':31} "
                     f"{r['data_version'] or '-':5} {r['model_version'] or '-':6} {r['production'] or '-':10} {params:24} "
                     + (f"error in {r['failed_stage'] or 'make'}: {r['error']}" if r["error"] else commit)))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record", help="record the run make just finished")
    rec.add_argument("--out", type=Path, required=True, help="make's pointer directory")
    rec.add_argument("--run", type=Path, required=True, help="where the stage recipes noted the run (names, start, errors)")
    rec.add_argument("--status", type=int, default=0, help="the run's exit status")
    rec.add_argument("--killed", action="store_true", help="record the run whose notes are left as killed (the next run found them)")
    rec.add_argument("--params", type=Path, required=True, help="the params file in force")
    rec.add_argument("--extra", default="", help="the EXTRA file make retrain passes, if any")
    show = sub.add_parser("show", help="print the recorded runs, newest first")
    show.add_argument("--all", action="store_true", help=f"every run, not only the latest {SHOWN}")
    args = parser.parse_args(argv)
    if args.action == "record":
        return record(args)
    runs = read_runs(load_params()["paths"])
    print(table(runs if args.all else runs[-SHOWN:]))
    return 0


if __name__ == "__main__":
    cli(main)
