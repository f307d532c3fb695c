"""What a push or pull has to do, decided from what each side holds. Pure: no I/O here.

Three kinds of state travel, each with its own rule:
- artifacts (data versions, models, cards, reports) never change once written: a path names one
  sha256 on both sides, or the two clones made different files under one name (refused);
- logs only grow: the remote keeps a log as a stream of segments that every clone adds to, and
  each clone appends the segments it lacks (logs.py);
- the registry's history only grows: one side's history must be a prefix of the other's, else the
  two diverged and the first events that differ are named.
"""
from __future__ import annotations

from typing import Any

from scripts.core.store import sha256_bytes


def empty_index() -> dict:
    return {"schema_version": 1, "files": {}, "logs": {}, "registry": None}


def file_conflicts(local: dict[str, dict], remote: dict[str, dict]) -> list[str]:
    """Paths both sides hold with different content, one line each."""
    return [f"{path}: ours has sha256 {local[path]['sha256'][:12]}, the remote's {remote[path]['sha256'][:12]} "
            "(two clones wrote different files under one name)"
            for path in sorted(set(local) & set(remote)) if local[path]["sha256"] != remote[path]["sha256"]]


def extend_log(previous: dict | None, segment: dict, first: str | None) -> dict:
    """A log's remote entry with one more segment; its chain hash names the whole sequence."""
    entry = {"bytes": 0, "chain": sha256_bytes(b""), "first_line": first, "segments": []} if previous is None else \
        {**previous, "segments": list(previous["segments"])}
    entry["segments"].append(segment)
    entry["bytes"] += segment["bytes"]
    entry["chain"] = sha256_bytes((entry["chain"] + segment["sha256"]).encode())
    return entry


def first_line(data: bytes) -> str | None:
    """The first line of some log bytes (without its newline), if they hold a whole one."""
    end = data.find(b"\n")
    return data[:end].decode("utf-8", "replace") if end >= 0 else None


def without_header(data: bytes, header: str | None) -> bytes:
    """The bytes less their first line when it repeats the file's first line (a CSV header written
    again by a replica or after a restart); JSON-lines logs never repeat a line, so nothing goes."""
    if header is not None and first_line(data) == header:
        return data[data.index(b"\n") + 1:]
    return data


def registry_relation(ours: list[dict] | None, theirs: list[dict] | None) -> str:
    """'same', 'ahead' (theirs is a prefix of ours), 'behind', or 'diverged', for two histories."""
    ours, theirs = ours or [], theirs or []
    common = len(ours) if len(ours) <= len(theirs) else len(theirs)
    if ours[:common] != theirs[:common]:
        return "diverged"
    if len(ours) == len(theirs):
        return "same"
    return "ahead" if len(ours) > len(theirs) else "behind"


def describe_event(event: dict) -> str:
    """One event in words: 'promote v3 (root@box, 2026-11-25T12:00:00Z: reason)'."""
    target = event.get("to") or event.get("from") or ""
    return f"{event['action']} {target} ({event.get('actor', '?')}, {event.get('at', '?')}: {event.get('reason', '')})".strip()


def shared_events(ours: list[dict], theirs: list[dict]) -> int:
    """How many events two histories share from their start."""
    return next((i for i, (mine, other) in enumerate(zip(ours, theirs, strict=False)) if mine != other), min(len(ours), len(theirs)))


def divergence(registry_name: str, where: str, ours: list[dict], theirs: list[dict]) -> str:
    """The one-line error for two registries whose histories parted, naming both sides' first own events."""
    shared = shared_events(ours, theirs)
    mine, other = (describe_event(h[shared]) if len(h) > shared else "nothing more" for h in (ours, theirs))
    return f"{registry_name}: diverged from {where} after {shared} shared events: ours has {mine}; the remote has {other}"


def summary(counts: dict[str, Any]) -> str:
    """'3 files (1.2 MB), 2 log segments, the registry' from counts; 'nothing' when all are zero."""
    parts = []
    if counts.get("files"):
        parts.append(f"{counts['files']} file{'s' * (counts['files'] != 1)} ({counts.get('bytes', 0) / 1e6:.1f} MB)")
    if counts.get("segments"):
        parts.append(f"{counts['segments']} log segment{'s' * (counts['segments'] != 1)}")
    if counts.get("registry"):
        parts.append(f"the registry ({counts['registry']})")
    return ", ".join(parts) or "nothing"
