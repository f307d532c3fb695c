"""scripts/dev/peak.py: a module's own peak memory, and with the workers it forks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORKS = """
import os, time
if os.fork() == 0:  # a worker that holds 200 MB of its own for a second
    block = bytearray(200 << 20)
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(1.0)
    os._exit(0)
os.wait()
"""


def test_the_tree_figure_counts_a_forked_workers_memory_the_processes_own_does_not(tmp_path):
    (tmp_path / "forks.py").write_text(FORKS)
    done = subprocess.run([sys.executable, "-m", "scripts.dev.peak", "forks"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}:{tmp_path}"}, check=True)
    said = dict(line.split() for line in done.stderr.splitlines() if line.startswith("PEAK_"))
    own, tree = int(said["PEAK_RSS_KB"]), int(said["PEAK_TREE_KB"])
    assert own < 100 << 10 and tree > 200 << 10, said
