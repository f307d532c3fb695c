"""`make demo`: the whole lifecycle in one command, through the same make targets a user runs.

1. train; 2. start the server in the background; 3. replay the untouched Day-2 data, then
monitor: no retrain; 4. replay the drifted data, then monitor: retrain required, and the diagnosis names the
sensor; 5. retrain: refused for a sensor fault, then forced to show the gates, which promote a
candidate only if it is no worse on the clean reference rows and better on the recent
holdout, with evidence; 6. replay fresh drifted data, then monitor: recovered after a
promotion, still flagged otherwise; 7. stop the server.
Each step prints a short summary. The demo checks the story as it goes and exits non-zero
at the first step that does not hold, so it doubles as an end-to-end test.
Logs of earlier runs are moved to logs/archive/<time>/ first (never deleted), so the
demo's verdicts judge only its own traffic.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import time

from scripts.core import registry as R
from scripts.core.config import ClockworkError, cli, error_line, load_params, port_number, repo_path
from scripts.core.store import read_csv_rows, read_json
from scripts.monitoring.diagnosis import suspect_text
from scripts.serving.process import read_pid

log = logging.getLogger("clockwork.demo")


class Demo:
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
        return read_csv_rows(repo_path(self.params["monitor"]["monitor_log"]))[-1]

    def archive_logs(self) -> None:
        """Move the previous production history aside (never delete it)."""
        keys = [("deployment", "predictions_log"), ("replay", "labels_log"), ("monitor", "reports_dir"),
                ("monitor", "monitor_log"), ("monitor", "flag"), ("retrain", "events_log")]
        moving = [repo_path(self.params[s][k]) for s, k in keys if repo_path(self.params[s][k]).exists()]
        if moving:
            target = repo_path(self.params["paths"]["logs_dir"]) / "archive" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            target.mkdir(parents=True, exist_ok=True)
            for path in moving:
                path.rename(target / path.name)
            print(f"   earlier logs moved to {target.relative_to(repo_path('.'))}/")

    def expect(self, step: str, wanted: str) -> dict:
        row = self.last_monitor()
        print(f"   model {row['model_version']}: {row['labelled']} labelled of {row['predictions']} predictions, "
              f"error rate {row['error_rate'] or '-'} (baseline {row['baseline_error_rate']}), "
              f"precision {row['precision'] or '-'}, recall {row['recall'] or '-'}")
        print(f"   drift: {row['drifted_features'] or 'none'} ({float(row['drifted_share']):.0%} of features)")
        print(f"   verdict: {row['verdict']}")
        if row["verdict"] != wanted:
            raise ClockworkError(f"step '{step}': monitor verdict {row['verdict']}, expected {wanted}")
        report = read_json(repo_path(self.params["monitor"]["reports_dir"]) / f"{row['report_id']}.json", "monitor_report")
        diagnosis = report["diagnosis"]
        print(f"   diagnosis: {diagnosis['kind']} ({diagnosis['action']})")
        for suspect in diagnosis["suspect_sensors"]:
            print(f"     {suspect_text(suspect)}")
        return row


def retrain_step(demo: Demo, before: str) -> str:
    """Step 5: retrain. After a sensor fault make retrain refuses; the demo then shows what the gates
    say of a model forced through anyway, and waits for the workers if one was promoted."""
    print("5. retrain")
    refused = demo.attempt("retrain")
    if refused.returncode:
        print(f"   refused: {error_line(refused.stderr)}")
        print("   FORCE=1 make retrain (to show what the gates say of a model trained on the faulty readings)")
    for line in demo.make("retrain", *(["FORCE=1"] if refused.returncode else [])).strip().splitlines():
        if line.startswith(("retrain:", "  pass ", "  FAIL ")):
            print("   " + line.strip())
    after = demo.production()
    if after != before:
        time.sleep(demo.params["deployment"]["reload_interval_s"] * 2 + 0.5)  # let every worker swap
        print(f"   production model: {before} -> {after}")
    else:
        print(f"   production model stays {before}")
    return after


def run(demo: Demo) -> None:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    datasets = list(demo.params["simulation"]["datasets"])
    if len(datasets) < 3:
        raise ClockworkError("simulation.datasets: the demo needs three datasets (untouched, drifted, fresh drifted)")
    clean, drifted, fresh = datasets[:3]
    demo.check_no_server()
    print("1. train")
    demo.make("train")
    history = R.load(demo.params["paths"])["history"]
    base = R.production_stack(history)[0] if R.production_stack(history) else None
    if base and demo.production() != base:  # an earlier demo left a retrained model live
        demo.make("promote", f"VERSION={base}", "REASON=demo: start from the first production model")
    demo.archive_logs()
    print(f"   production model: {demo.production()}")
    print("2. start the server")
    print("   " + demo.make("serve-bg").strip().splitlines()[-1])
    try:
        demo.make("simulate")
        print(f"3. replay {clean} (untouched), then monitor")
        print("   " + demo.make("replay", f"DATASET={clean}").strip().splitlines()[-1])
        demo.make("monitor")
        demo.expect("untouched data", "ok")
        print(f"4. replay {drifted} (drifted sensor), then monitor")
        print("   " + demo.make("replay", f"DATASET={drifted}").strip().splitlines()[-1])
        demo.make("monitor")
        demo.expect("drifted data", "retrain_required")
        before = demo.production()
        after = retrain_step(demo, before)
        print(f"6. replay {fresh} (fresh drifted data), then monitor")
        print("   " + demo.make("replay", f"DATASET={fresh}").strip().splitlines()[-1])
        demo.make("monitor")
        row = demo.expect("after the retrain", "ok" if after != before else "retrain_required")
        if row["model_version"] != after:
            raise ClockworkError(f"step 'after the retrain': the monitor judged {row['model_version']}, not {after}")
        print("   recovered" if after != before else
              f"   still flagged, and {before} still serves until the sensor is fixed or a candidate is shown better")
    finally:
        print("7. stop the server")
        print("   " + demo.make("stop").strip().splitlines()[-1])
    swaps = [r for r in read_csv_rows(repo_path(demo.params["deployment"]["deployment_log"]))
             if r["event"] == "swap" and r["time"] >= started]
    print(f"done: {len(swaps)} hot-swap rows (one per worker) in {demo.params['deployment']['deployment_log']}; "
          f"reports in {demo.params['monitor']['reports_dir']}/")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=port_number, help="override deployment.port")
    parser.add_argument("--make", default=os.environ.get("MAKE", "make"))
    args = parser.parse_args(argv)
    run(Demo(load_params(), args.make, args.port))
    return 0


if __name__ == "__main__":
    cli(main)
