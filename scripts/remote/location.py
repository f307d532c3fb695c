"""Where a remote is and how to talk to it: one fsspec filesystem per URL, and the one
conditional write the remote's index needs.

A remote is a directory (a local disk, a mounted NFS or SMB share, `file://`), an S3 bucket and
prefix (`s3://`, through s3fs: AWS S3, SeaweedFS, MinIO, Ceph, R2), or a path on an SSH host
(`ssh://`, through sshfs). Credentials never come from params: s3fs reads the AWS chain
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_PROFILE), sshfs reads
~/.ssh/config, the agent and ~/.ssh/known_hosts.

On a remote:
    objects/<sha256>   every file, stored once under the sha256 of its bytes
    index.json         what the remote holds: path -> sha256, the logs' segments, the registry

The index is the only object ever replaced, and only by `swap_index`: on S3 with If-Match on
the ETag read (If-None-Match when there was none); on a directory or SSH host under a lock
directory created exclusively (mkdir is atomic on both), broken only when its writer is dead.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from scripts.core.config import ROOT, ClockworkError
from scripts.core.store import sha256_bytes, utc_now

for _chatty in ("aiobotocore", "botocore", "s3fs", "asyncssh", "sshfs"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)  # they log every credential lookup and connection at INFO

INDEX = "index.json"
OBJECTS = "objects"
TRASH = "trash"  # objects make gc set aside: deleted once the index shows no push named them meanwhile
LOCK = "index.lock"


class RemoteError(ClockworkError):
    """The remote cannot be reached or refused an operation."""


class Conflict(ClockworkError):
    """Someone else changed the remote's index since we read it."""


def resolve(spec: str | None, section: dict) -> tuple[str, str]:
    """(name, URL) of the remote asked for: REMOTE=name-or-URL, else the default in params."""
    names = section["remotes"]
    if not spec:
        spec = section["default"]
        if spec is None:
            raise ClockworkError("no remote: name one with REMOTE=name-or-URL, or set remote.default in params.yaml")
    if spec in names:
        return spec, names[spec]
    if "://" in spec or "/" in spec or spec.startswith("."):
        return spec, spec
    known = ", ".join(sorted(names)) or "none defined"
    raise ClockworkError(f"REMOTE={spec}: not a remote named in params.yaml remote.remotes ({known}), nor a URL or path")


def _reason(exc: BaseException) -> str:
    """One line from a backend's exception: its text, or its type's name when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextlib.contextmanager
def reaching(url: str) -> Iterator[None]:
    """Turn whatever a backend raises into one line naming the remote."""
    try:
        yield
    except (ClockworkError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - backends raise their own types (botocore, asyncssh, OSError)
        raise RemoteError(f"remote {url}: {_reason(exc)}") from None


def _filesystem(url: str, timeout_s: float) -> tuple[Any, str, bool]:
    """(fsspec filesystem, root path on it, whether a put is already atomic) for a URL."""
    parts = urlsplit(url)
    scheme = parts.scheme if len(parts.scheme) > 1 else ""  # a Windows drive letter is not a scheme
    if scheme in ("", "file"):
        from fsspec.implementations.local import LocalFileSystem
        path = parts.path if scheme == "file" else url
        return LocalFileSystem(), str((ROOT / os.path.expanduser(path)).resolve()), False
    if scheme in ("s3", "s3a"):
        import s3fs
        fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                               config_kwargs={"connect_timeout": timeout_s, "read_timeout": timeout_s,
                                              "retries": {"max_attempts": 2}})
        return fs, f"{parts.netloc}{parts.path}".rstrip("/"), True
    if scheme in ("ssh", "sftp"):
        import sshfs
        options = {"port": parts.port} if parts.port else {}
        if parts.username:
            options["username"] = parts.username
        # sshfs turns host-key checking off unless told otherwise; () lets asyncssh check the host's key
        # against ~/.ssh/config's UserKnownHostsFile or ~/.ssh/known_hosts, as ssh does
        fs = sshfs.SSHFileSystem(parts.hostname, skip_instance_cache=True, connect_timeout=timeout_s, known_hosts=(), **options)
        return fs, parts.path.rstrip("/") or "/", False
    raise ClockworkError(f"remote {url}: unknown scheme {scheme}:// (a directory, file://, s3:// or ssh://)")


@dataclass
class Remote:
    """One remote, open: its filesystem, root, and the section of params that governs it."""

    url: str
    fs: Any
    root: str
    atomic_put: bool
    lock_stale_s: float

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def object_path(self, sha: str) -> str:
        return self.path(OBJECTS, sha)

    def objects(self, folder: str = OBJECTS) -> set[str]:
        """The sha256 of every complete object on the remote (one listing), or of those set aside in the trash."""
        with reaching(self.url):
            try:
                names = self.fs.ls(self.path(folder), detail=False)
            except FileNotFoundError:
                return set()
        return {name.rsplit("/", 1)[-1] for name in names if len(name.rsplit("/", 1)[-1]) == 64}

    def set_aside(self, shas: list[str], back: bool = False) -> None:
        """Move objects to the trash (make gc), or back from it; one already gone is no error."""
        with reaching(self.url):
            if shas and not back:
                self.fs.makedirs(self.path(TRASH), exist_ok=True)
            for sha in shas:
                source, target = self.path(TRASH, sha), self.object_path(sha)
                with contextlib.suppress(FileNotFoundError):
                    self.fs.mv(*((source, target) if back else (target, source)))

    def _store(self, sha: str, write: Callable[[str], None]) -> None:
        """Write objects/<sha> with write(path), never visible half-written: an S3 PUT is visible only
        once complete; elsewhere it is written under a temporary name and renamed."""
        target = self.object_path(sha)
        with reaching(self.url):
            if self.atomic_put:
                write(target)
                return
            self.fs.makedirs(self.path(OBJECTS), exist_ok=True)
            temp = f"{target}.{uuid.uuid4().hex}.tmp"
            write(temp)
            self.fs.mv(temp, target)

    def put(self, local: Path, sha: str) -> None:
        """Store a file as objects/<sha>."""
        self._store(sha, lambda path: self.fs.put_file(str(local), path))

    def put_bytes(self, data: bytes) -> str:
        """Store bytes as an object; returns its sha256."""
        sha = sha256_bytes(data)
        self._store(sha, lambda path: self.fs.pipe_file(path, data))
        return sha

    def delete(self, shas: list[str], folder: str = OBJECTS) -> None:
        """Delete objects, or objects set aside in the trash (make gc); one already gone is no error."""
        with reaching(self.url):
            for sha in shas:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(self.path(folder, sha))

    def get_bytes(self, sha: str) -> bytes:
        """An object's bytes, checked against its sha256."""
        with reaching(self.url):
            try:
                data = self.fs.cat_file(self.object_path(sha))
            except FileNotFoundError:
                raise RemoteError(f"remote {self.url}: object {sha[:12]} is missing (named by its index)") from None
        if sha256_bytes(data) != sha:
            raise RemoteError(f"remote {self.url}: object {sha[:12]} does not match its sha256 (damaged on the remote)")
        return data

    def get_file(self, sha: str, temp: Path) -> None:
        """Download an object to temp (the caller checks its sha256 and moves it into place)."""
        with reaching(self.url):
            try:
                self.fs.get_file(self.object_path(sha), str(temp))
            except FileNotFoundError:
                raise RemoteError(f"remote {self.url}: object {sha[:12]} is missing (named by its index)") from None

    def read_index(self) -> tuple[dict | None, str | None]:
        """The index and the token a swap must present (S3: its ETag; otherwise its sha256)."""
        with reaching(self.url):
            for _ in range(5):
                try:
                    before = self.fs.info(self.path(INDEX)).get("ETag") if self.atomic_put else None
                    data = self.fs.cat_file(self.path(INDEX))
                    after = self.fs.info(self.path(INDEX)).get("ETag") if self.atomic_put else None
                except FileNotFoundError:
                    self._check_bucket()
                    return None, None
                if before == after:
                    break
            else:
                raise Conflict(f"remote {self.url}: {INDEX} kept changing while read")
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise RemoteError(f"remote {self.url}: {INDEX} is not JSON ({exc})") from None
        return doc, before if self.atomic_put else sha256_bytes(data)

    def _check_bucket(self) -> None:
        """On S3, a missing bucket is an error to name, not an empty remote."""
        bucket = self.root.split("/", 1)[0]
        if self.atomic_put and not self.fs.exists(bucket):
            raise RemoteError(f"remote {self.url}: bucket {bucket} does not exist; create it first "
                              f"(for example: aws s3 mb s3://{bucket})")

    def swap_index(self, data: bytes, token: str | None) -> None:
        """Replace the index only if it is still the one read with token (None: there was none)."""
        if self.atomic_put:
            condition = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
            with reaching(self.url):
                try:
                    self.fs.pipe_file(self.path(INDEX), data, **condition)
                except OSError as exc:
                    if "pre-condition" in str(exc) or "PreconditionFailed" in str(exc) or "412" in str(exc):
                        raise Conflict(f"remote {self.url}: {INDEX} changed since it was read") from None
                    raise
            return
        with self._lock():
            _, current = self.read_index()
            if current != token:
                raise Conflict(f"remote {self.url}: {INDEX} changed since it was read")
            with reaching(self.url):
                temp = self.path(f".{INDEX}.{uuid.uuid4().hex}.tmp")
                self.fs.pipe_file(temp, data)
                self.fs.mv(temp, self.path(INDEX))

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the remote's lock directory (directory and SSH remotes)."""
        lock, owner = self.path(LOCK), {"host": socket.gethostname(), "pid": os.getpid(), "at": utc_now(), "t": time.time()}
        deadline = time.monotonic() + self.lock_stale_s * 2
        with reaching(self.url):
            self.fs.makedirs(self.root, exist_ok=True)
            while True:
                try:
                    self.fs.mkdir(lock, create_parents=False)
                    break
                except FileExistsError:
                    self._break_if_stale(lock)
                if time.monotonic() > deadline:
                    raise RemoteError(f"remote {self.url}: {LOCK} is held by another writer; if none runs, remove it")
                time.sleep(0.05)
            self.fs.pipe_file(f"{lock}/owner.json", json.dumps(owner).encode())
        try:
            yield
        finally:
            with reaching(self.url):
                self.fs.rm(lock, recursive=True)

    def _break_if_stale(self, lock: str) -> None:
        """Remove a lock whose writer is dead (same host, pid gone) or older than lock_stale_s."""
        try:
            owner = json.loads(self.fs.cat_file(f"{lock}/owner.json"))
        except (FileNotFoundError, ValueError):
            return  # its writer is between mkdir and writing its name
        dead = owner.get("host") == socket.gethostname() and not _alive(owner.get("pid", 0))
        if dead or time.time() - owner.get("t", 0) > self.lock_stale_s:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(lock, recursive=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_remote(spec: str | None, section: dict) -> tuple[str, Remote]:
    """(name, Remote) for REMOTE=spec or the default remote."""
    name, url = resolve(spec, section)
    with reaching(url):
        fs, root, atomic = _filesystem(url, section["timeout_s"])
    return name, Remote(url, fs, root, atomic, section["lock_stale_s"])
