"""Append-only logs on a remote: each log is a stream of segments that clones and replicas add to.

A push sends the bytes of a log that this clone has not sent or received before, as one new
segment; a pull appends the segments this clone lacks. So two replicas that each served traffic
both push their lines, and each, after a pull, holds every line of both (in its own order), and
nothing already on the remote is ever rewritten. A CSV log's header line is written once per file.

What a clone has exchanged with a remote is kept beside the logs, in
<logs_dir>/.remote/<key>.json: per log, how many of its bytes are on the remote (synced), a hash of
its start (to see a log that was rewritten or restarted since), and which remote segments it
holds. A log restarted after being archived (make demo, make scenarios) starts afresh, since its
earlier lines travel as the archived file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from scripts.core.config import ROOT, ClockworkError, repo_path
from scripts.core.store import CHUNK, append_chunks, atomic_write_text, settled_size, sha256_bytes
from scripts.remote import plan
from scripts.remote.location import Remote

HEAD_BYTES = 1 << 16  # how much of a log's start the record hashes


def record_path(paths: dict, url: str) -> Path:
    return repo_path(paths["logs_dir"]) / ".remote" / f"{sha256_bytes(url.encode())[:16]}.json"


def read_record(path: Path, url: str) -> dict:
    """This clone's record of what it exchanged with the remote at url (empty if none yet)."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {"url": url, "logs": {}}
    except (OSError, ValueError) as exc:
        raise ClockworkError(f"{path}: unreadable record of what was exchanged with {url} ({exc}); "
                             "remove it, and the next push sends each log whole") from None
    if not isinstance(record, dict) or not isinstance(record.get("logs"), dict):
        raise ClockworkError(f"{path}: not a record of logs exchanged with {url}; remove it to start afresh")
    return record


def write_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _read(path: Path, start: int, end: int) -> bytes:
    if end <= start:
        return b""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    if len(data) != end - start:
        raise ClockworkError(f"{path.relative_to(ROOT)}: shorter than {end} bytes while read")
    return data


def head(path: Path, size: int) -> str:
    """sha256 of a log's first size bytes, up to HEAD_BYTES: what the record keeps of its start."""
    return sha256_bytes(_read(path, 0, min(size, HEAD_BYTES)))


def _leading_segments(path: Path, size: int, segments: list[dict]) -> int:
    """How many of the remote's segments the local file reproduces, in order, from its start."""
    done, offset = 0, 0
    if not size or not segments:
        return 0
    with open(path, "rb") as handle:
        for segment in segments:
            if offset + segment["bytes"] > size:
                break
            digest, left = hashlib.sha256(), segment["bytes"]
            while left:
                block = handle.read(min(CHUNK, left))
                digest.update(block)
                left -= len(block)
            if digest.hexdigest() != segment["sha256"]:
                break
            done, offset = done + 1, offset + segment["bytes"]
    return done


def local_state(path: Path, entry: dict | None, mine: dict | None, archived: Callable[[dict], bool]) -> tuple[int, list[str]]:
    """(bytes of the local log known to be on the remote, the remote segments it holds)."""
    relative, size = path.relative_to(ROOT).as_posix(), settled_size(path)
    if mine and size >= mine["synced"] and head(path, mine["synced"]) == mine["head"]:
        return mine["synced"], list(mine["segments"])
    if mine and mine["synced"]:
        if archived(mine):
            return 0, []  # restarted after being archived: its earlier lines travel as the archived file
        raise ClockworkError(f"{relative}: its first {mine['synced']} bytes, already exchanged with the remote, have "
                             "changed here (rewritten or cut short?); nothing was sent")
    if entry is None:
        return 0, []
    count = _leading_segments(path, size, entry["segments"])
    return sum(s["bytes"] for s in entry["segments"][:count]), [s["sha256"] for s in entry["segments"][:count]]


def push_log(remote: Remote, path: Path, entry: dict | None, mine: dict | None, archived: Callable[[dict], bool],
             present: set[str], sources: dict[str, Path | bytes]) -> tuple[dict | None, dict, int]:
    """(the log's new remote entry or None if unchanged, this clone's new record of it, segments sent);
    a new segment's bytes go in sources, to send again if a concurrent make gc sets it aside."""
    size = settled_size(path)
    synced, holds = local_state(path, entry, mine, archived)
    new = _read(path, synced, size)
    if synced == 0 and entry and entry["segments"]:
        new = plan.without_header(new, entry["first_line"])
    record = {"synced": size, "head": head(path, size), "segments": holds}
    if not new:
        return None, record, 0
    segment = {"sha256": sha256_bytes(new), "bytes": len(new)}
    sources[segment["sha256"]] = new
    if segment["sha256"] not in present:
        remote.put_bytes(new)
    record["segments"] = holds + [segment["sha256"]]
    return plan.extend_log(entry, segment, plan.first_line(new)), record, 1


def pull_plan(path: Path, entry: dict, mine: dict | None, archived: Callable[[dict], bool]) -> tuple[list[dict], list[str], str]:
    """(segments to append, segments held, a note if this log is left alone)."""
    relative = path.relative_to(ROOT).as_posix()
    synced, holds = local_state(path, entry, mine, archived)
    unsent = settled_size(path) - synced
    if unsent:
        return [], holds, f"{relative}: {unsent} bytes here are not on the remote yet; make push, then pull"
    held = set(holds)
    return [s for s in entry["segments"] if s["sha256"] not in held], holds, ""


def pull_log(remote: Remote, path: Path, missing: list[dict], holds: list[str]) -> dict:
    """Append the missing segments (each checked against its sha256); this clone's new record of the log."""
    size = settled_size(path)
    first = plan.first_line(_read(path, 0, min(size, HEAD_BYTES))) if size else None

    def chunks():
        nonlocal first
        for segment in missing:
            data = remote.get_bytes(segment["sha256"])
            data = plan.without_header(data, first) if first is not None else data
            first = first if first is not None else plan.first_line(data)
            yield data

    path.parent.mkdir(parents=True, exist_ok=True)
    append_chunks(path, chunks(), at=size)
    size = settled_size(path)
    return {"synced": size, "head": head(path, size), "segments": holds + [s["sha256"] for s in missing]}
