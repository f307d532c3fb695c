"""The production loop driven through make, as a user would drive it: the demo and the scenarios.

A library for scripts/dev/demo.py and scripts/dev/scenarios.py: each step is a real make target
(serve-bg, replay, monitor, retrain, promote, stop) run in this repository.
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from scripts.core import registry as R
from scripts.core.config import ClockworkError, error_line, repo_path
from scripts.core.reports import monitor_runs, read_report, suspect_text
from scripts.core.store import compact_time
from scripts.serving.process import read_pid


class Demo:
    """make, with this port and a quiet log, and the checks and records the loop reads."""

    def __init__(self, params: dict, make: str, port: int | None):
        self.params, self.make_cmd, self.port = params, make, port
        self.env = {**os.environ, "CLOCKWORK_LOG": "WARNING"}

    def attempt(self, *targets: str) -> subprocess.CompletedProcess:
        port = [f"PORT={self.port}"] if self.port else []
        return subprocess.run([self.make_cmd, "--no-print-directory", *targets, *port], cwd=repo_path("."),
                              capture_output=True, text=True, env=self.env)

    def make(self, *targets: str) -> str:
        done = self.attempt(*targets)
        if done.returncode:
            raise ClockworkError(f"make {' '.join(targets)}: {error_line(done.stderr or done.stdout)}")
        return done.stdout

    def check_no_server(self) -> None:
        """Refuse before changing anything if a server already runs (make serve-bg would refuse later,
        after the logs were archived)."""
        deployment = self.params["deployment"]
        running = read_pid(repo_path(deployment["pid_file"]))
        if running:
            raise ClockworkError(f"{deployment['pid_file']}: a server is already running (pid {running}); make stop first")
        host, port = deployment["host"], self.port or deployment["port"]
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                raise ClockworkError(f"deployment.port: {host}:{port} is already in use (PORT= picks another)")

    def production(self) -> str:
        return R.load(self.params["paths"])["aliases"]["production"]

    def last_monitor(self) -> dict:
        return monitor_runs(self.params["monitor"])[-1]

    def archive_logs(self) -> None:
        """Move the previous production history aside (never delete it)."""
        keys = [("deployment", "predictions_log"), ("replay", "labels_log"), ("monitor", "reports_dir"),
                ("monitor", "monitor_log"), ("monitor", "flag"), ("retrain", "events_log")]
        moving = [repo_path(self.params[s][k]) for s, k in keys if repo_path(self.params[s][k]).exists()]
        if moving:
            target = _new_dir(repo_path(self.params["paths"]["logs_dir"]) / "archive", compact_time())
            for path in moving:
                path.rename(target / path.name)
            print(f"   earlier logs moved to {target.relative_to(repo_path('.'))}/")

    def expect(self, step: str, wanted: str | None) -> dict:
        """Say the latest monitor run's figures, verdict and diagnosis; stop unless the verdict is the
        wanted one (None: any verdict, said but not checked)."""
        row = self.last_monitor()
        print(f"   model {row['model_version']}: {row['labelled']} labelled of {row['predictions']} predictions, "
              f"error rate {row['error_rate'] or '-'} (baseline {row['baseline_error_rate']}), "
              f"precision {row['precision'] or '-'}, recall {row['recall'] or '-'}")
        print(f"   drift: {row['drifted_features'] or 'none'} ({float(row['drifted_share']):.0%} of features)")
        print(f"   verdict: {row['verdict']}")
        if wanted is not None and row["verdict"] != wanted:
            raise ClockworkError(f"step '{step}': monitor verdict {row['verdict']}, expected {wanted}")
        report = read_report(self.params["monitor"], row["report_id"])
        diagnosis = report["diagnosis"]
        print(f"   diagnosis: {diagnosis['kind']} ({diagnosis['action']})")
        for suspect in diagnosis["suspect_sensors"]:
            print(f"     {suspect_text(suspect)}")
        return row


def _new_dir(parent: Path, name: str) -> Path:
    """A directory made now under parent: `name`, or `name-2`, `name-3`... when one of that name is there
    (two archives within one second must not meet)."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        target = parent / (name if n == 1 else f"{name}-{n}")
        try:
            target.mkdir()
            return target
        except FileExistsError:
            continue
    raise ClockworkError(f"{parent}: a thousand directories named {name}: cannot make another")
