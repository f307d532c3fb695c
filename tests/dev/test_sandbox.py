"""The demos' throwaway copy: Ctrl-C in the middle of `make demo` leaves no copy, no server and no
change in the project it ran from."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from scripts.dev.sandbox import free_port
from tests.conftest import Repo, copy_of, snapshot


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_in_a_demo_stops_its_server_and_removes_its_copy(built: Repo, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    before, port, tmp = snapshot(repo), free_port(), tmp_path / "tmp"
    tmp.mkdir()
    # started as from a terminal, whatever this test runs under (a background job ignores SIGINT)
    demo = subprocess.Popen(["make", "demo", f"PORT={port}"], cwd=repo.path, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if line.startswith("3. replay"):
            break
    assert any("in a throwaway copy of this project" in line for line in lines), lines
    assert listening(port), "the demo's server is up"
    os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
    rest = demo.communicate(timeout=120)[0]
    assert demo.returncode != 0 and "7. stop the server" in rest, rest
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and listening(port):
        time.sleep(0.2)
    assert not listening(port), "no server is left behind"
    assert list(tmp.iterdir()) == [], "the copy is removed"
    assert snapshot(repo) == before
