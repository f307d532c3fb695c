"""The one implementation of hashing, atomic writes, metadata, locks and versions.

Every generated file goes through here, so every write is temp-file-then-rename with
fsync, every metadata document is schema-checked before it lands, and every append is a
single write(2) on an O_APPEND descriptor that concurrent writers cannot tear.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from scripts.core.config import ROOT, ClockworkError, validate

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks so size never matters."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    except OSError as exc:
        raise ClockworkError(f"{path}: cannot read: {exc.strerror}") from None
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes already in memory (hash exactly what is then used)."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal data gives equal text, whatever the key order."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_obj(obj: Any) -> str:
    """Content hash of a JSON-able value in canonical form."""
    return sha256_bytes(canonical_json(obj).encode())


def utc_now() -> str:
    """Current UTC time, ISO 8601 with a Z suffix."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact_time(iso: str | None = None) -> str:
    """A UTC time as file names and report ids carry it, 20261204T064406Z: utc_now()'s text (or the
    given time of that form) without its dashes and colons."""
    return (iso or utc_now()).replace(":", "").replace("-", "")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside path, fsync, then rename: readers see old or new, never half.
    A failure (a full disk) leaves the old file and no temp file, and names the file."""
    try:
        _atomic_write(path, data)
    except OSError as exc:
        raise ClockworkError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp makes 0600; artifacts are meant to be shared
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """atomic_write_bytes for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_if_changed(path: Path, text: str) -> bool:
    """The filechk idiom: rewrite only when the content differs, so make sees no change otherwise."""
    with contextlib.suppress(FileNotFoundError, UnicodeDecodeError):
        if path.read_text(encoding="utf-8") == text:
            return False
    atomic_write_text(path, text)
    return True


def write_json(path: Path, doc: Any, schema: str) -> None:
    """Validate doc against schemas/<schema>.schema.json, then write it atomically."""
    validate(doc, schema, str(path))
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def read_json(path: Path, schema: str) -> Any:
    """Read a JSON document and check it against its schema; a bad file is a one-line error."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClockworkError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise ClockworkError(f"{path}: corrupt JSON: {exc}") from None
    validate(doc, schema, str(path))
    return doc


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each complete, non-blank line; a missing file has none. A last line with no
    newline is a write in progress or a torn tail (power cut): it is not a record, so it is skipped.
    Streams: memory stays flat."""
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if line.endswith("\n") and line.strip():
                yield number, line


def iter_byte_blocks(path: Path, size: int = 1 << 23) -> Iterator[tuple[int, bytes]]:
    """A log's complete lines, about `size` bytes of them at a time, as (offset of the block, its bytes),
    each block ending with a newline (the torn tail iter_lines skips is left out here too): for passes
    over many lines at once. A missing file has none; memory stays one block."""
    if not path.exists():
        return
    with open(path, "rb") as handle:
        rest, offset = b"", 0
        while block := handle.read(size):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield offset, block[:cut]
                offset += cut


def iter_blocks(path: Path, size: int = 1 << 23) -> Iterator[str]:
    """iter_byte_blocks' blocks as text: for passes of a compiled pattern over many lines at once."""
    for _, block in iter_byte_blocks(path, size):
        yield block.decode("utf-8", errors="replace")


def read_csv_rows(path: Path) -> list[dict]:
    """Rows of a CSV log (a missing log has none), as written; a torn last line (no newline) is skipped,
    as iter_lines skips one in a JSON-lines log."""
    import csv

    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    return list(csv.DictReader(text[:text.rfind("\n") + 1].splitlines()))


def last_csv_rows(path: Path, count: int, block: int = 1 << 16) -> list[dict]:
    """The last `count` rows of a CSV log whose rows hold no line break, oldest first: read_csv_rows' tail,
    read from the file's end (a log of a year of minutely rows is 90 MB). A torn last line is skipped."""
    import csv

    if not path.exists() or count < 1:
        return []
    with open(path, "rb") as handle:
        header = handle.readline()
        end = handle.seek(0, os.SEEK_END)
        tail = b""
        while end > len(header) and tail.count(b"\n") <= count:  # one more break: the first line may be cut
            start = max(len(header), end - block)
            handle.seek(start)
            tail = handle.read(end - start) + tail
            end = start
    lines = tail[:tail.rfind(b"\n") + 1].splitlines()[1 if end > len(header) else 0:]  # the first may be cut
    if not header.endswith(b"\n") or not lines:
        return []
    text = (header + b"\n".join(lines[-count:]) + b"\n").decode("utf-8", errors="replace")
    return list(csv.DictReader(text.splitlines()))


def set_aside_torn_tail(path: Path) -> Path | None:
    """Move a torn last line (no newline: a write cut by a power loss, or a hand edit) out of an
    append-only log into `<log>.torn-<time>` beside it, kept, never deleted; the log keeps every complete
    line. Returns the file it went to, or None when the log ends cleanly. Every append does this first,
    under the log's lock; a caller may too, before any writer starts."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _set_aside_torn(fd, path)
    finally:
        os.close(fd)


def _set_aside_torn(fd: int, path: Path) -> Path | None:
    """set_aside_torn_tail on an open descriptor whose lock the caller holds."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    tail = os.pread(fd, min(size, 1 << 20), max(0, size - (1 << 20)))
    cut = size - len(tail) + tail.rfind(b"\n") + 1
    aside = path.with_name(f"{path.name}.torn-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')}")
    atomic_write_bytes(aside, os.pread(fd, size - cut, cut))
    os.ftruncate(fd, cut)
    os.fsync(fd)
    return aside


def parse_json_line(path: Path, number: int, line: str) -> Any:
    """One JSON-lines record; a corrupt line is an error naming the file and line. orjson reads the logs
    (the monitor parses every label of a million predictions, five times faster); it also refuses NaN,
    which JSON does not allow, and integers past 64 bits."""
    import orjson

    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ClockworkError(f"{path}: line {number}: not valid JSON") from None


def read_jsonl(path: Path) -> list[dict]:
    """Every record of a JSON-lines log (for small logs; the monitor streams instead)."""
    return [parse_json_line(path, number, line) for number, line in iter_lines(path)]


class AppendError(ClockworkError):
    """An append that did not land (a full disk, an I/O error); the log is as it was before it."""


def append_lines(path: Path, lines: list[str], fsync: bool = True) -> None:
    """Append lines (see append_chunks: one write, under the lock). Raises AppendError naming the file."""
    if any("\n" in line for line in lines):
        raise ValueError("a log line may not contain a newline")
    append_chunks(path, ["".join(line + "\n" for line in lines).encode("utf-8")], fsync)


def _pending(path: Path) -> Path:
    return path.with_name(f".{path.name}.pending")


def _pending_start(pending: Path) -> int | None:
    """The start offset a running or killed appender left in its pending file; None when there is no
    file, or only a marker cut short (written before any of the log's bytes, so it guards nothing)."""
    try:
        text = pending.read_text()
    except OSError:
        return None
    fields = text.split()
    return int(fields[0]) if text.endswith("\n") and len(fields) == 2 and fields[0].isdigit() else None


def _roll_back_killed_append(fd: int, pending: Path) -> None:
    """An append whose writer was killed (SIGKILL can cut a write part-way) left its start offset in
    the pending file: truncate the log back to it, so the killed append leaves nothing. Caller holds the lock."""
    start = _pending_start(pending)
    if start is not None and start <= os.fstat(fd).st_size:
        os.ftruncate(fd, start)
    pending.unlink(missing_ok=True)


def append_chunks(path: Path, chunks: Iterable[bytes], fsync: bool = True, at: int | None = None) -> None:
    """Append chunks of whole lines (each ends in a newline) on O_APPEND under an exclusive flock held
    for all of them: concurrent appenders never tear or interleave them, and a write that fails part-way
    (a full disk) is truncated back to where this append began, so a partial line is never followed by a
    good one and a failed append leaves nothing. A writer killed mid-append cannot truncate: it leaves
    its start offset in a pending file beside the log, and the next appender truncates back to it. A
    large append can be written as it is produced, one chunk at a time, without its whole text in
    memory. With at, the append lands only if the log is still that many bytes long. Raises AppendError
    naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise AppendError(f"{path}: cannot append: {exc.strerror}") from None
    pending = _pending(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _roll_back_killed_append(fd, pending)
        _set_aside_torn(fd, path)  # never continue a torn line: it is kept beside the log instead
        start = os.fstat(fd).st_size
        if at is not None and start != at:
            raise AppendError(f"{path}: grew from {at} to {start} bytes meanwhile; nothing appended")
        try:
            pending.write_text(f"{start} {os.getpid()}\n")
            for data in chunks:
                if data and not data.endswith(b"\n"):
                    raise ValueError("an appended chunk must end with a newline")
                written = os.write(fd, data)
                if written != len(data):  # a regular file takes it whole unless the disk is full
                    raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (wrote {written} of {len(data)} bytes)")
            if fsync:
                os.fsync(fd)
            pending.unlink()
        except OSError as exc:
            os.ftruncate(fd, start)  # we hold the lock: nothing after start is anyone else's
            pending.unlink(missing_ok=True)
            raise AppendError(f"{path}: cannot append: {exc.strerror}") from None
        except BaseException:
            os.ftruncate(fd, start)
            pending.unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)  # closing drops the lock


def settled_size(path: Path) -> int:
    """How many bytes of a log are whole appends: its size while no append runs, less what a killed
    appender left past its start offset (the next appender truncates that). 0 if the log is missing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        size = os.fstat(fd).st_size
        start = _pending_start(_pending(path))
        return size if start is None else min(size, start)
    finally:
        os.close(fd)


def append_line(path: Path, line: str) -> None:
    """Append one line (see append_lines)."""
    append_lines(path, [line])


def ensure_line(path: Path, key: str, line: str) -> bool:
    """Append line unless the log already has a line for key (its first word). Records derived from a
    committed version this way are written again by a rerun after a kill, and never twice. Caller
    holds the lock that serialises writers of this log. True if the line was appended."""
    for _, existing in iter_lines(path):
        if existing.split(" ", 1)[0] == key:
            return False
    append_line(path, line)
    return True


def sweep_temp(directory: Path, pattern: str) -> list[Path]:
    """Remove the temp files killed writers left in directory (caller holds the lock their writers hold)."""
    swept = sorted(directory.glob(pattern)) if directory.is_dir() else []
    for path in swept:
        remove_stale(path)
    return swept


def append_csv_row(path: Path, header: list[str], row: dict) -> None:
    """Append one CSV row. A new file appears with its header already in it (temp file + link),
    so a concurrent writer can never put a row above the header."""
    import csv
    import io

    def render(values: list) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(values)
        return buffer.getvalue()

    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o644)
                handle.write(render(header) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    append_line(path, render(["" if row[k] is None else row[k] for k in header]))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on path for the block; the kernel drops it if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def version_number(version: str) -> int:
    """'v12' -> 12."""
    match = re.fullmatch(r"v(\d+)", version)
    if not match:
        raise ClockworkError(f"{version}: not a version name (expected vN, e.g. v3)")
    return int(match.group(1))


def existing_versions(directory: Path, pattern: str) -> list[str]:
    """Versions whose committed metadata file exists; pattern has one '{v}' placeholder."""
    prefix, suffix = pattern.split("{v}")
    found = []
    for path in directory.glob(pattern.replace("{v}", "v*")):
        middle = path.name[len(prefix) : len(path.name) - len(suffix)]
        if re.fullmatch(r"v\d+", middle):
            found.append(middle)
    return sorted(found, key=version_number)


def next_version(versions: list[str]) -> str:
    """The version after the highest one in use."""
    return f"v{max((version_number(v) for v in versions), default=0) + 1}"


def remove_stale(path: Path) -> None:
    """Remove a partial output left by a killed run (a file or a directory)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _module_file(name: str) -> Path | None:
    """The file of a project module (a package's __init__.py), or None for a name that is not one."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_modules(path: Path) -> set[str]:
    """The project modules a file imports when it is loaded: its imports outside functions (one inside
    a function runs only when the function does; a stage that calls one declares it). Read from the
    source, never from what a process happens to have loaded."""
    import ast

    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_bytes(), str(path))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return {name for name in found if name.split(".")[0] == "scripts"}


def code_files(*modules: str) -> list[str]:
    """Every project file the given modules run when loaded: each module, the packages above it and,
    transitively, what they import. The same list however the stage runs (cold, in the warm worker,
    after a kill); tests/pipeline/test_makefile.py holds the Makefile's code lists equal to it."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            path = _module_file(".".join(parts[:depth]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_imported_modules(path))
    return sorted(str(p.relative_to(ROOT)) for p in seen)


def code_identity(*modules: str) -> dict:
    """sha256 of each file code_files(*modules) names, and of the whole: the code a stage declares."""
    files = {name: sha256_file(ROOT / name) for name in code_files(*modules)}
    return {"files": files, "sha256": sha256_obj(files)}


def git_info() -> dict:
    """The commit and whether the work tree differs from it; nulls outside a git checkout."""
    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = run("status", "--porcelain")  # untracked files count: new code not in the commit is dirt
    return {"commit": commit.strip(), "dirty": bool(status and status.strip())}


def actor() -> str:
    """Who did something: user@host, recorded in the registry's history and the runs log."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def environment() -> dict:
    """Python, platform and the versions of the libraries that shape a model's bytes."""
    from importlib import metadata

    libraries = {}
    for name in ("numpy", "pandas", "scikit-learn", "scipy", "joblib"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            libraries[name] = metadata.version(name)
    return {"python": platform.python_version(), "platform": platform.platform(), "libraries": libraries}
