"""make objectstore: a local S3 to try an s3:// remote with, that a push then reaches as printed."""
from __future__ import annotations

import os
import re
import signal
import subprocess

from scripts.remote.seaweed import free_ports
from tests.conftest import copy_of


def test_make_objectstore_serves_s3_that_a_push_reaches(built, tmp_path):
    repo = copy_of(built, tmp_path / "repo")
    repo.set_param("remote", "objectstore", {"dir": ".objectstore", "host": "127.0.0.1", "port": 8333, "bucket": "clockwork",
                                             "stop_grace_s": 2})
    port = free_ports(1)[0]
    # stopped with Ctrl-C as from a terminal, whatever this test runs under (a background job ignores SIGINT)
    store = subprocess.Popen(["make", "objectstore", f"PORT={port}"], cwd=repo.path, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        printed = [store.stdout.readline() for _ in range(3)]
        assert printed[0].startswith(f"S3 on http://127.0.0.1:{port}"), printed
        env = dict(re.findall(r"(AWS_\w+)=(\S+)", printed[1]))
        target = re.search(r"make push REMOTE=(\S+)", printed[2]).group(1)
        done = subprocess.run(["make", "push", f"REMOTE={target}"], cwd=repo.path, capture_output=True, text=True,
                              env={**os.environ, **env})
        assert done.returncode == 0 and done.stdout.startswith("pushed "), done.stdout + done.stderr
    finally:
        os.killpg(store.pid, signal.SIGINT)
        store.wait(timeout=60)
    assert (repo.path / ".objectstore").is_dir()
