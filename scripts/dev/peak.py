"""Run a module as `python -m` would and say its peak memory on stderr, for the benchmarks:
`python -m scripts.dev.peak MODULE [ARGS...]`.

Two figures: PEAK_RSS_KB, the process's own high-water resident set (VmHWM of the address space exec
made new; getrusage's ru_maxrss survives exec on Linux and would report the forking parent's peak);
and PEAK_TREE_KB, the highest total of the process and its worker processes, sampled every
SAMPLE_SECONDS, each counted by its proportional set size (a page shared by n processes counts 1/n in
each: forked workers share their parent's pages, which their own RSS would count again).
"""
from __future__ import annotations

import os
import runpy
import sys
import threading
from pathlib import Path

SAMPLE_SECONDS = 0.25


def _tree(pid: int) -> list[int]:
    """The process and its descendants, as /proc lists them now."""
    out, i = [pid], 0
    while i < len(out):
        for task in Path(f"/proc/{out[i]}/task").glob("*/children"):
            try:
                out.extend(int(child) for child in task.read_text().split())
            except OSError:  # the task ended
                pass
        i += 1
    return out


def _pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # the process ended between the listing and the read
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)


def _sample(peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_SECONDS):
        peak[0] = max(peak[0], sum(map(_pss_kb, _tree(os.getpid()))))


def main() -> None:
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    peak, stop = [0], threading.Event()
    threading.Thread(target=_sample, args=(peak, stop), daemon=True).start()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        stop.set()
        peak[0] = max(peak[0], _pss_kb(os.getpid()))
        hwm = next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
        print("PEAK_RSS_KB", hwm, file=sys.stderr)
        print("PEAK_TREE_KB", peak[0], file=sys.stderr)


if __name__ == "__main__":
    main()
