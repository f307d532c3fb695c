"""`make demo`: the whole lifecycle in one command, through the same make targets a user runs.

1. train; 2. start the server in the background; 3. replay the untouched Day-2 data, then
monitor: no retrain; 4. replay the drifted data, then monitor: retrain required, and the diagnosis names the
sensor; 5. retrain: refused for a sensor fault, then forced to show the gates, which promote a
candidate only if it is no worse on the clean reference rows and better on the recent
holdout, with evidence; 6. replay fresh drifted data, then monitor: recovered after a
promotion, still flagged otherwise; 7. stop the server.
Each step prints a short summary. With simulation.demo_checks (AI4I's params) the demo checks the
story as it goes and exits non-zero at the first step that does not hold, so it doubles as an
end-to-end test; on a table make init declared it runs the same steps and says each verdict.
It runs in a throwaway copy of the project (its sources and built state, none of its logs), on a
free port unless PORT= says which, and leaves the project itself byte for byte as it was; KEEP=1
keeps the copy to look into.
"""
from __future__ import annotations

import argparse
import logging
import os
import time

from scripts.core import registry as R
from scripts.core.config import ClockworkError, cli, error_line, load_params, port_number, repo_path
from scripts.core.store import read_csv_rows
from scripts.dev.loop import Demo
from scripts.dev.sandbox import free_port, run_in_copy

log = logging.getLogger("clockwork.demo")


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
    checked = demo.params["simulation"]["demo_checks"]  # a table make init declared: its story is not known
    demo.check_no_server()
    print("1. train")
    demo.make("train")
    history = R.load(demo.params["paths"])["history"]
    base = R.production_stack(history)[0] if R.production_stack(history) else None
    if base and demo.production() != base:  # the project serves a retrained model: start from the first
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
        demo.expect("untouched data", "ok" if checked else None)
        print(f"4. replay {drifted} (drifted sensor), then monitor")
        print("   " + demo.make("replay", f"DATASET={drifted}").strip().splitlines()[-1])
        demo.make("monitor")
        demo.expect("drifted data", "retrain_required" if checked else None)
        before = demo.production()
        after = retrain_step(demo, before)
        print(f"6. replay {fresh} (fresh drifted data), then monitor")
        print("   " + demo.make("replay", f"DATASET={fresh}").strip().splitlines()[-1])
        demo.make("monitor")
        row = demo.expect("after the retrain", ("ok" if after != before else "retrain_required") if checked else None)
        if row["model_version"] != after:
            raise ClockworkError(f"step 'after the retrain': the monitor judged {row['model_version']}, not {after}")
        if checked:
            print("   recovered" if after != before else
                  f"   still flagged, and {before} still serves until the sensor is fixed or a candidate is shown better")
        else:
            print("   (verdicts said, not checked: simulation.demo_checks is false for this data set)")
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
    parser.add_argument("--keep", action="store_true", help="keep the throwaway copy it runs in")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # inside the copy
    args = parser.parse_args(argv)
    if not args.here:
        return run_in_copy("demo", "scripts.dev.demo", ["--here", "--port", str(args.port or free_port())], args.keep)
    run(Demo(load_params(), args.make, args.port))
    return 0


if __name__ == "__main__":
    cli(main)
